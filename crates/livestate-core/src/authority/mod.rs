//! The key authority: one task per live key, the only code that changes the key's state.
//!
//! Sessions send it commands (join, leave, event, refresh) through a bounded mailbox. It
//! handles them one at a time, so handlers never run concurrently for a key and versions
//! are consecutive. For an event it runs the handler, commits the change to the backplane,
//! and only then delivers: reply events to the sender, the patch (encoded once) to every
//! subscriber, and the `phx_reply` acknowledgement to the sender, in that order.
//!
//! ## What a subscriber sees
//!
//! - On join: the join reply, then `state:change` (or, when `init` failed, the `error`
//!   push; it gets `state:change` once a later joiner's `init` succeeds).
//! - After every change: `state:patch` with the next wire version. The key keeps one
//!   internal version that never wraps; the wire version is it modulo `max_version + 1`,
//!   so every joiner of a key sees the same versions and one encoded frame serves all.
//! - After its own event: handled → reply events, patch, `phx_reply ok {"version": N}`
//!   (a handler that changes nothing still moves the version, as LiveState does);
//!   refused → `state:change` (the current state) and `phx_reply error {"reason": ...}`;
//!   panicked → `phx_error` (it rejoins and gets the state, which is as before the event).
//!
//! ## Lagging
//!
//! Frames are queued with [`Outbox::try_push`]. A full outbox marks the subscription
//! lagging: it gets no patches until its outbox has drained to half, then one
//! `state:change` brings it to the current version. See [`crate::outbox`]. Rust
//! subscribers ([`crate::api::Subscription`]) lag the same way and catch up with a
//! `reset` change carrying the whole state.
//!
//! ## In a cluster
//!
//! With a cluster backplane, every node with subscribers to a key runs a task for it. The
//! one holding the key's lease is its *leader* and works as above, committing each change
//! to the backplane, which publishes it. The others are *followers*: they keep a replica
//! of the state from the published changes (reloading the snapshot on a gap or a new
//! epoch), deliver them to their subscribers, and forward their subscribers' events and API
//! calls to the leader; when no leader answers they take the lease themselves. See
//! [`crate::backplane`].
//!
//! Modules: `join` (joins, presence), `events` (client events, messages), `api` (the
//! server API and Rust subscribers), `cluster` (leading, following, forwarding).

use crate::acl::{Acl, Caller, Permission, Permissions};
use crate::api::{ApiError, Change, Current, EditFn};
use crate::backplane::{
    BackplaneError, Commit, Committed, EventId, Lease, Origin, PresenceEntry, Published, Request,
    Staged,
};
use crate::channel::{
    Channel, ChannelError, EventContext, JoinContext, MessageContext, Reply, Scope, Ttl,
};
use crate::hub::Hub;
use crate::outbox::{Outbox, Pushed, Slot};
use crate::state::{LiveState, StateError, Tracked};
use futures_util::FutureExt;
use indexmap::IndexMap;
use livestate_protocol::PatchOp;
use livestate_protocol::livestate::{Ack, ErrorPush, Reason, StateChange, StatePatch};
use livestate_protocol::{Status, Text, event, frame};
use serde_json::Value;
use std::panic::AssertUnwindSafe;
use std::pin::pin;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, MissedTickBehavior};

mod api;
mod batch;
mod cluster;
mod events;
mod join;

use cluster::Cluster;

/// A subscription's id, unique within the process.
pub(crate) type SubId = u64;

/// What a session asks of a key's authority.
pub(crate) enum Command {
    Join(JoinRequest),
    Leave {
        sub: SubId,
    },
    Event(EventRequest),
    Refresh {
        sub: SubId,
    },
    Message(MessageRequest),
    Api(ApiRequest),
    /// A Rust subscriber detaches.
    Detach {
        sub: SubId,
    },
    /// The answer to a request this node forwarded (routed by the hub).
    Answer(crate::backplane::Answer),
    /// An event refused before it reached the authority (its frame held a number that
    /// does not fit 64 bits): answered as a refused event, in its place among the others.
    Refuse {
        sub: SubId,
        r#ref: Option<String>,
        slot: Option<Slot>,
        reason: String,
    },
}

/// A call of the server API.
pub(crate) struct ApiRequest {
    pub(crate) caller: Caller,
    pub(crate) op: ApiOp,
    pub(crate) done: oneshot::Sender<Result<ApiReply, ApiError>>,
}

pub(crate) enum ApiOp {
    /// The whole state, or the value at a path.
    Get { path: Option<String> },
    /// Change the state through a `Doc`; the caller needs `needs`. `shipped`: the same
    /// change as a call another node's authority runs on its own state (put, delete and
    /// patch); without it (a closure), a follower computes the patch on its replica and
    /// the authority takes it only at that version.
    Edit {
        needs: Permissions,
        run: EditFn,
        shipped: Option<crate::backplane::ApiCall>,
    },
    /// Re-run `init` and replace the state with its result.
    Reset,
    /// Attach a Rust subscriber.
    Attach {
        sub: SubId,
        changes: mpsc::Sender<Change>,
    },
}

impl ApiOp {
    /// The permissions the op needs.
    pub(crate) fn needs(&self) -> Permissions {
        match self {
            ApiOp::Get { .. } | ApiOp::Attach { .. } => Permissions::NONE.with(Permission::Read),
            ApiOp::Edit { needs, .. } => *needs,
            ApiOp::Reset => Permissions::NONE.with(Permission::Reset),
        }
    }
}

#[derive(Debug)]
pub(crate) enum ApiReply {
    Current(Current),
    Value(Value),
    Committed(u64),
}

pub(crate) struct MessageRequest {
    pub(crate) message: Value,
    /// Answered with the wire version of the commit, or why the message was refused.
    pub(crate) done: oneshot::Sender<Result<u64, ChannelError>>,
}

pub(crate) struct JoinRequest {
    pub(crate) sub: SubId,
    pub(crate) outbox: Outbox,
    pub(crate) join_ref: Arc<str>,
    pub(crate) r#ref: Option<String>,
    pub(crate) params: Value,
    pub(crate) ctx: JoinContext,
    /// Room reserved in the joiner's outbox for the join reply.
    pub(crate) slot: Slot,
    /// Where to say that the authority ended this subscription (failed handler, lost
    /// lease), so the session forgets the channel as Phoenix forgets a crashed one.
    pub(crate) ended: mpsc::UnboundedSender<SubId>,
    /// Answered `true` once the subscriber is attached, `false` when the join was refused
    /// (the authority sent the error reply); dropped unanswered when the authority is
    /// stopping, and the session then retries with a fresh authority.
    pub(crate) joined: oneshot::Sender<bool>,
}

pub(crate) struct EventRequest {
    pub(crate) sub: SubId,
    pub(crate) r#ref: Option<String>,
    pub(crate) name: String,
    pub(crate) payload: Value,
    /// Room reserved in the sender's outbox for the `phx_reply` (when there is a ref), so
    /// the acknowledgement is never dropped, even when the sender lags.
    pub(crate) slot: Option<Slot>,
}

/// A session's handle on a key's authority.
#[derive(Clone, Debug)]
pub(crate) struct KeyHandle {
    tx: mpsc::Sender<Command>,
}

impl KeyHandle {
    /// Send a command, waiting for room in the mailbox. `Err` gives the command back when
    /// the authority has stopped.
    pub(crate) async fn send(&self, cmd: Command) -> Result<(), Command> {
        self.tx.send(cmd).await.map_err(|e| e.0)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    pub(crate) fn same_as(&self, other: &KeyHandle) -> bool {
        self.tx.same_channel(&other.tx)
    }
}

/// Start the authority of `topic` and return its handle.
pub(crate) fn spawn<C: Channel>(
    channel: Arc<C>,
    hub: Hub,
    topic: String,
    scope: Scope,
) -> KeyHandle {
    let (tx, mailbox) = mpsc::channel(hub.inner.limits.mailbox_capacity);
    let handle = KeyHandle { tx };
    let max_version = channel.max_version();
    let limits = hub.limits();
    // How long the key lives without subscribers: per connection, not at all.
    let ttl = match (scope, channel.ttl()) {
        (Scope::Connection, _) => Some(std::time::Duration::ZERO),
        (Scope::Shared, Ttl::Default) => Some(limits.ttl),
        (Scope::Shared, Ttl::After(ttl)) => Some(ttl),
        (Scope::Shared, Ttl::Never) => None,
    };
    let acl = channel.acl();
    let presence = channel.presence();
    let state_limits = channel.state_limits().unwrap_or(limits.state);
    let node = hub.inner.backplane.node().to_owned();
    let authority = KeyAuthority {
        topic: topic.into(),
        scope,
        channel,
        state: None,
        init_error: None,
        version: 0,
        max_version,
        subs: IndexMap::new(),
        watchers: IndexMap::new(),
        lagging: 0,
        ttl,
        acl,
        presence,
        state_limits,
        mailbox,
        me: handle.clone(),
        hub,
        lease: None,
        unavailable: None,
        change_cache: None,
        node,
        cluster: None,
        presence_out: (Vec::new(), Vec::new()),
        stashed_command: None,
        stashed_request: None,
    };
    tokio::spawn(authority.run());
    handle
}

struct Subscriber {
    outbox: Outbox,
    /// Tells the subscriber's session when the authority ends the subscription itself.
    ended: mpsc::UnboundedSender<SubId>,
    join_ref: Arc<str>,
    ctx: EventContext,
    /// Whether it has been sent the state (false while the key's init keeps failing).
    has_state: bool,
    /// Set when its outbox overflowed; it gets no patches until resynced.
    lagging: bool,
    /// Its presence entry: key, and metadata with its `phx_ref`.
    presence: Option<(String, Value)>,
}

/// A Rust subscriber.
struct Watcher {
    changes: mpsc::Sender<Change>,
    lagging: bool,
}

struct KeyAuthority<C: Channel> {
    topic: Arc<str>,
    scope: Scope,
    channel: Arc<C>,
    /// `None` until an `init` succeeds (or a snapshot was restored).
    state: Option<Tracked<C::State>>,
    /// Why the last `init` failed, for events that arrive while there is no state.
    init_error: Option<String>,
    /// The internal version: consecutive, never wraps.
    version: u64,
    max_version: u64,
    subs: IndexMap<SubId, Subscriber>,
    /// Rust subscribers.
    watchers: IndexMap<SubId, Watcher>,
    /// How many subscribers and watchers are lagging.
    lagging: usize,
    /// How long the key lives without subscribers; `None`: forever.
    ttl: Option<std::time::Duration>,
    acl: Acl,
    /// Whether joiners get presence events.
    presence: bool,
    /// What the state may become.
    state_limits: crate::doc::StateLimits,
    mailbox: mpsc::Receiver<Command>,
    /// This authority's own handle, to unregister exactly itself.
    me: KeyHandle,
    hub: Hub,
    /// The backplane lease (shared keys only).
    lease: Option<Lease>,
    /// Set when the lease could not be taken: every join is refused with it.
    unavailable: Option<String>,
    /// `state:change` encoded for the version it was encoded at.
    change_cache: Option<(u64, Text)>,
    /// This node's id in the cluster (`standalone` without one).
    node: String,
    /// Leading or following in a cluster; `None` for a standalone node or a connection.
    cluster: Option<Cluster>,
    /// Local presence joins and leaves not yet shared with the cluster.
    presence_out: (Vec<PresenceEntry>, Vec<PresenceEntry>),
    /// A command taken from the mailbox while gathering events, to handle next.
    stashed_command: Option<Command>,
    /// A forwarded request taken while gathering events, to run next.
    stashed_request: Option<Request>,
}

/// How an authority's run ends.
enum Exit {
    /// No subscriber for the TTL, or the mailbox closed.
    Expired,
    /// Another authority holds the key now.
    LeaseLost,
}

impl<C: Channel> KeyAuthority<C> {
    async fn run(mut self) {
        if self.scope == Scope::Shared && self.hub.inner.backplane.cluster() {
            self.start_cluster().await;
        }
        let limits = self.hub.limits().clone();
        let mut resync = tokio::time::interval(limits.resync_interval);
        resync.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut cluster_tick = tokio::time::interval(cluster::TICK);
        cluster_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // Until the first join arrives the key is idle too: the countdown covers a join
        // that never comes. A key that lives forever never counts down.
        let first = self.ttl.unwrap_or_default().max(limits.resync_interval);
        let mut expiry = pin!(tokio::time::sleep(first));
        let mut counting_down = self.ttl.is_some();
        // When the timers last ran: a key busy with input every time round still runs them
        // (below), or a loaded leader would starve its lease renewal and lose the key.
        let mut ticked = Instant::now();
        let mut resynced = Instant::now();
        // After a command, the cluster's waiting input goes first: a mailbox that is never
        // empty must not starve forwarded requests and published changes.
        let mut cluster_turn = false;
        let exit = loop {
            // what a group of events left waiting goes first, in its order
            if let Some(cmd) = self.stashed_command.take() {
                cluster_turn = true;
                if let Some(exit) = self.handle(cmd).await {
                    break exit;
                }
            } else if let Some(req) = self.stashed_request.take() {
                if let Some(exit) = self.on_request(req).await {
                    break exit;
                }
            } else if let Some(input) = cluster_turn
                .then(|| cluster::try_input(&mut self.cluster))
                .flatten()
            {
                cluster_turn = false;
                if let Some(exit) = self.on_input(input).await {
                    break exit;
                }
            } else {
                tokio::select! {
                    biased;
                    cmd = self.mailbox.recv() => match cmd {
                        Some(cmd) => {
                            cluster_turn = true;
                            if let Some(exit) = self.handle(cmd).await {
                                break exit;
                            }
                        }
                        None => break Exit::Expired,
                    },
                    input = cluster::next_input(&mut self.cluster), if self.cluster.is_some() => {
                        if let Some(exit) = self.on_input(input).await {
                            break exit;
                        }
                    }
                    _ = cluster_tick.tick(), if self.cluster.is_some() => {
                        ticked = Instant::now();
                        if let Some(exit) = self.cluster_tick().await {
                            break exit;
                        }
                    }
                    _ = resync.tick(), if self.lagging > 0 => {
                        resynced = Instant::now();
                        self.resync_lagging();
                    }
                    () = &mut expiry, if counting_down => {
                        if self.still_idle().await {
                            break Exit::Expired;
                        }
                        counting_down = false;
                    }
                }
            }
            let now = Instant::now();
            if self.cluster.is_some() && now >= ticked + cluster::TICK {
                ticked = now;
                cluster_tick.reset();
                if let Some(exit) = self.cluster_tick().await {
                    break exit;
                }
            }
            if self.lagging > 0 && now >= resynced + limits.resync_interval {
                resynced = now;
                resync.reset();
                self.resync_lagging();
            }
            if !self.presence_out.0.is_empty() || !self.presence_out.1.is_empty() {
                let (joins, leaves) = std::mem::take(&mut self.presence_out);
                self.track(joins, leaves).await;
            }
            let ttl = if self.follows() {
                Some(std::time::Duration::ZERO)
            } else {
                self.ttl
            };
            match (self.idle(), counting_down, ttl) {
                (true, false, Some(ttl)) => {
                    expiry.as_mut().reset(Instant::now() + ttl);
                    counting_down = true;
                }
                (false, true, _) => counting_down = false,
                _ => {}
            }
        };
        self.stop(exit).await;
    }

    /// A published message or a forwarded request.
    async fn on_input(&mut self, input: cluster::Input) -> Option<Exit> {
        match input {
            cluster::Input::Published(msg) => self.on_published(msg).await,
            // the queue ended: this node does not serve the key any more
            cluster::Input::Request(None) => Some(Exit::LeaseLost),
            cluster::Input::Request(Some(req)) => self.on_request(req).await,
        }
    }

    async fn handle(&mut self, cmd: Command) -> Option<Exit> {
        match cmd {
            Command::Join(req) => self.on_join(req).await,
            Command::Leave { sub } => self.remove(sub),
            Command::Event(req) => return self.on_event(req).await,
            Command::Refresh { sub } => self.refresh(sub),
            Command::Message(req) => return self.on_message(req).await,
            Command::Api(req) => return self.on_api(req).await,
            Command::Detach { sub } => self.detach(sub),
            Command::Answer(answer) => self.on_answer(answer),
            Command::Refuse {
                sub,
                r#ref,
                slot,
                reason,
            } => self.refuse_sub(sub, r#ref.as_deref(), slot, &reason),
        }
        None
    }

    /// Whether nobody is attached here (and, for a cluster's leader, anywhere else).
    fn idle(&self) -> bool {
        let local = self.subs.is_empty() && self.watchers.is_empty();
        match &self.cluster {
            None => local,
            Some(c) => local && c.pending.is_empty() && (self.lease.is_none() || c.elsewhere == 0),
        }
    }

    /// Whether the key holds nothing anybody made: no change was ever committed, and
    /// nobody is attached. A key started only for a call that was refused stops at once,
    /// so a refusal leaves no key, no authority and no memory behind.
    fn untouched(&self) -> bool {
        self.version == 0 && self.idle()
    }

    /// At the end of a countdown: still idle? (A leader asks the cluster once more.)
    async fn still_idle(&mut self) -> bool {
        if self.leads_cluster() {
            self.count_elsewhere().await;
        }
        self.idle()
    }

    async fn stop(mut self, exit: Exit) {
        self.mailbox.close();
        // Joins already queued are dropped unanswered: their sessions retry and reach the
        // next authority of the key.
        while self.mailbox.try_recv().is_ok() {}
        if self.cluster.is_some() {
            self.leave_cluster(matches!(exit, Exit::Expired)).await;
        }
        if let Exit::LeaseLost = exit {
            for (id, sub) in self.subs.drain(..) {
                sub.outbox.try_push(frame::error(
                    &sub.join_ref,
                    &self.topic,
                    "the key moved; rejoin",
                ));
                let _ = sub.ended.send(id);
            }
        }
        if self.scope == Scope::Shared {
            let mut keys = self.hub.inner.lock_keys();
            if keys.get(&*self.topic).is_some_and(|h| h.same_as(&self.me)) {
                keys.remove(&*self.topic);
            }
        } else {
            let mut connections = self.hub.inner.lock_connections();
            if let Some(list) = connections.get_mut(&*self.topic) {
                list.retain(|h| !h.same_as(&self.me));
                if list.is_empty() {
                    connections.remove(&*self.topic);
                }
            }
        }
        tracing::debug!(topic = %self.topic, "key authority stopped");
    }

    fn wire_version(&self) -> u64 {
        self.wire(self.version)
    }

    /// The wire version of an internal version: it wraps after `max_version`.
    fn wire(&self, version: u64) -> u64 {
        match self.max_version.checked_add(1) {
            Some(modulus) => version % modulus,
            None => version,
        }
    }

    /// `state:change` for the current version, encoded once per version.
    fn state_change(&mut self) -> Option<Text> {
        let state = self.state.as_ref()?;
        if let Some((version, text)) = &self.change_cache {
            if *version == self.version {
                return Some(text.clone());
            }
        }
        let text = frame::broadcast(
            &self.topic,
            event::STATE_CHANGE,
            &StateChange {
                state: &*state.json(),
                version: self.wire_version(),
            },
        );
        self.change_cache = Some((self.version, text.clone()));
        Some(text)
    }

    async fn init(
        &mut self,
        params: &Value,
        ctx: &JoinContext,
    ) -> Result<Tracked<C::State>, String> {
        let timeout = self.hub.limits().handler_timeout;
        let channel = self.channel.clone();
        let run = AssertUnwindSafe(channel.init(&self.topic, params, ctx)).catch_unwind();
        match tokio::time::timeout(timeout, run).await {
            Ok(Ok(Ok(state))) => {
                Tracked::with_limits(state, self.state_limits).map_err(|e| e.to_string())
            }
            Ok(Ok(Err(e))) => Err(e.to_string()),
            Ok(Err(_panic)) => {
                tracing::error!(topic = %self.topic, "init panicked");
                Err("init failed".to_owned())
            }
            Err(_) => Err(format!("init timed out after {timeout:?}")),
        }
    }

    fn remove(&mut self, sub: SubId) {
        if let Some(s) = self.subs.swap_remove(&sub) {
            if s.lagging {
                self.lagging -= 1;
            }
            if let Some(entry) = s.presence {
                self.presence_left(entry);
            }
        }
    }

    /// Commit what the handler changed: take its patch, write it to the backplane under
    /// the lease (a cluster's leader), settle it, and move the version on. On failure, or
    /// when the event was committed before, the change is rolled back.
    async fn commit(
        &mut self,
        event: Option<&EventId>,
        origin: Option<&Origin>,
        reset: bool,
    ) -> Result<Vec<PatchOp>, CommitError> {
        self.commit_as(event, origin, reset, false).await
    }

    /// [`Self::commit`], storing the whole state in the backplane when `whole` (a rewrite).
    async fn commit_as(
        &mut self,
        event: Option<&EventId>,
        origin: Option<&Origin>,
        reset: bool,
        whole: bool,
    ) -> Result<Vec<PatchOp>, CommitError> {
        let Some(tracked) = self.state.as_mut() else {
            return Err(CommitError::State(StateError::new("the key has no state")));
        };
        let patch = match tracked.take_changes() {
            Ok(patch) => patch,
            Err(e) => {
                tracked.rollback();
                return Err(CommitError::State(e));
            }
        };
        let staged = [Staged {
            patch: &patch,
            reset,
            event,
            origin,
        }];
        self.commit_taken(&staged, whole).await?;
        self.version += 1;
        Ok(patch)
    }

    /// Write changes already taken from the state (their patches, in order) to the
    /// backplane under the lease (a cluster's leader), then settle them; on failure or a
    /// duplicate, roll them all back. The caller moves the version on.
    async fn commit_taken(
        &mut self,
        staged: &[Staged<'_>],
        whole: bool,
    ) -> Result<(), CommitError> {
        let Some(tracked) = self.state.as_mut() else {
            return Err(CommitError::State(StateError::new("the key has no state")));
        };
        if let Some(lease) = &self.lease {
            let committed = {
                let state = tracked.json();
                let commit = Commit {
                    version: self.version + 1,
                    state: &state,
                    whole,
                    changes: staged,
                };
                self.hub.inner.backplane.commit(lease, commit).await
            };
            match committed {
                Ok(Committed::Done) => {}
                Ok(Committed::Duplicate { version, .. }) => {
                    tracked.rollback();
                    return Err(CommitError::Duplicate(version));
                }
                Err(e) => {
                    tracked.rollback();
                    return Err(CommitError::Backplane(e));
                }
            }
        }
        tracked.settle();
        Ok(())
    }

    /// Send a committed patch to every subscriber, encoded once, and its changes to every
    /// Rust subscriber (a reset as one `reset` change); returns its wire version.
    fn deliver(&mut self, patch: &[PatchOp], reset: bool) -> u64 {
        let wire = self.wire_version();
        let patch_frame = frame::broadcast(
            &self.topic,
            event::STATE_PATCH,
            &StatePatch {
                patch,
                version: wire,
            },
        );
        self.fan_out(&patch_frame);
        if !self.watchers.is_empty() {
            self.notify_watchers(patch, reset);
        }
        wire
    }

    /// Queue `frame` to every subscriber that has the state and is not lagging.
    fn fan_out(&mut self, frame: &Text) {
        let mut gone = Vec::new();
        for (id, sub) in self.subs.iter_mut() {
            if !sub.has_state || sub.lagging {
                continue;
            }
            match sub.outbox.try_push(frame.clone()) {
                Pushed::Queued => {}
                Pushed::Full => {
                    sub.lagging = true;
                    self.lagging += 1;
                }
                Pushed::Closed => gone.push(*id),
            }
        }
        for id in gone {
            self.remove(id);
        }
    }

    /// Resync lagging subscribers whose outbox has drained.
    fn resync_lagging(&mut self) {
        self.resync_watchers();
        let Some(change) = self.state_change() else {
            return;
        };
        let mut gone = Vec::new();
        for (id, sub) in self.subs.iter_mut().filter(|(_, s)| s.lagging) {
            if sub.outbox.is_closed() {
                gone.push(*id);
            } else if sub.outbox.has_drained()
                && sub
                    .outbox
                    .try_push(frame::for_channel(&sub.join_ref, &change))
                    == Pushed::Queued
            {
                sub.lagging = false;
                self.lagging -= 1;
            }
        }
        for id in gone {
            self.remove(id);
        }
    }
}

/// Why a change was not committed (it was rolled back).
#[derive(Debug, thiserror::Error)]
enum CommitError {
    #[error(transparent)]
    State(StateError),
    #[error(transparent)]
    Backplane(BackplaneError),
    /// The event was committed before, at this version.
    #[error("already committed at version {0}")]
    Duplicate(u64),
}

impl CommitError {
    fn lost_lease(&self) -> bool {
        matches!(self, CommitError::Backplane(BackplaneError::Fenced { .. }))
    }
}
