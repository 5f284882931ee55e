//! The key authority: one task per live key, the only code that changes the key's state.
//!
//! Sessions, the server API and the hub send it [`Command`]s through a bounded mailbox. It
//! handles them one at a time, so handlers never run concurrently for a key and versions
//! are consecutive. Every change (a client event, a message, an API edit or reset) is a
//! job of one pipeline (`pipeline`): the handlers of the jobs waiting run one after
//! another, their changes are committed as a group, and then each is delivered in order:
//! reply events to its sender, the patch (encoded once) to every subscriber, the
//! acknowledgement to its sender.
//!
//! ## What a subscriber sees
//!
//! - On join: the join reply, then `state:change` (or, when `init` failed, the `error`
//!   push; it gets `state:change` once a later joiner's `init` succeeds).
//! - After every change: `state:patch` with the next wire version (see `state`).
//! - After its own event: handled → reply events, patch, `phx_reply ok {"version": N}`
//!   (a handler that changes nothing still moves the version, with an empty patch, as
//!   LiveState does); refused → `state:change` (the current state) and `phx_reply error
//!   {"reason": ...}`; panicked → `phx_error` (it rejoins and gets the state, which is as
//!   before the event).
//! - A subscriber that cannot keep up lags and catches up with the whole state (see
//!   [`crate::subscriber`]).
//!
//! ## Roles
//!
//! A standalone node's key (or a connection's) commits nowhere. In a cluster every node
//! with subscribers to a key runs a task for it: the one holding the key's lease *leads*
//! (`lead`: it runs every change, commits it to the backplane, which publishes it, and
//! serves the requests other nodes forward); the others *follow* (`follow`: they keep a
//! replica from the published changes, deliver them, and forward their changes to the
//! leader; when no leader answers they take the lease themselves). One [`Role`] value
//! says which.
//!
//! Modules: `state` (the state and its versions), `job` (what a change is, who waits for
//! it), `pending` (a follower's forwarded requests), `role`; and the authority's work,
//! each an `impl` of [`KeyAuthority`]: `handlers` (running the channel's callbacks),
//! `pipeline` (run, commit, deliver), `join` (joins and leaves), `presence`, `api` (the
//! server API), `lead`, `follow`.

mod api;
mod coalesce;
mod follow;
mod handlers;
mod job;
mod join;
mod lead;
mod pending;
mod pipeline;
mod presence;
mod role;
mod state;

use crate::channel::{Channel, Scope, Ttl};
use crate::mailbox::{Command, KeyHandle};
use crate::metrics::LeaseChange;
use crate::registry::Node;
use crate::subscriber::Subscribers;
use livestate_doc::StateLimits;
use role::{Input, Role};
use state::KeyState;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};

/// How often a clustered task looks at its timers (renewal, attachment, pending requests).
const TICK: Duration = Duration::from_millis(100);

/// Start the authority of `topic` and return its handle.
pub(crate) fn spawn<C: Channel>(
    channel: Arc<C>,
    node: Arc<Node>,
    topic: String,
    scope: Scope,
) -> KeyHandle {
    let (handle, mailbox) = KeyHandle::new(node.limits.mailbox_capacity);
    let limits = &node.limits;
    let settings = channel.settings();
    let config = Config {
        // how long the key lives without subscribers: per connection, not at all
        ttl: match (scope, settings.ttl) {
            (Scope::Connection, _) => Some(Duration::ZERO),
            (Scope::Shared, Ttl::Default) => Some(limits.ttl),
            (Scope::Shared, Ttl::After(ttl)) => Some(ttl),
            (Scope::Shared, Ttl::Never) => None,
        },
        limits: settings.limits.unwrap_or(limits.state),
        // one state per connection has one subscriber, who sent every change
        coalesce: settings.coalesce.filter(|_| scope == Scope::Shared),
        scope,
        settings,
    };
    let authority = KeyAuthority {
        topic: topic.into(),
        state: KeyState::new(config.settings.max_version, config.coalesce.is_some()),
        batch: config.coalesce.map(coalesce::Batch::new),
        channel,
        config,
        subs: Subscribers::default(),
        role: Role::Standalone,
        unavailable: None,
        node,
        mailbox,
        me: handle.clone(),
        stashed: None,
    };
    // the key's logs carry it (a span of a disabled level costs nothing); it belongs to no
    // socket, whichever started it
    let span = tracing::debug_span!(parent: None, "key", key = %authority.topic);
    tokio::spawn(tracing::Instrument::instrument(authority.run(), span));
    handle
}

/// What a key takes from its channel once, at start.
struct Config {
    /// The channel's settings.
    settings: crate::Settings,
    /// The key's scope (a connection-scoped channel's keys are its connections).
    scope: Scope,
    /// How long the key lives without subscribers; `None`: forever.
    ttl: Option<Duration>,
    /// What the state may become.
    limits: StateLimits,
    /// The coalescing window, if the key has one.
    coalesce: Option<Duration>,
}

struct KeyAuthority<C: Channel> {
    topic: Arc<str>,
    channel: Arc<C>,
    config: Config,
    state: KeyState<C::State>,
    subs: Subscribers,
    /// A coalescing key's changes waiting for the end of the window.
    batch: Option<coalesce::Batch>,
    role: Role,
    /// Set when the cluster could not be reached at start: joins and calls are refused
    /// with it.
    unavailable: Option<String>,
    node: Arc<Node>,
    mailbox: mpsc::Receiver<Command>,
    /// This authority's own handle, to unregister exactly itself.
    me: KeyHandle,
    /// A command taken from the mailbox while gathering a group, to handle next.
    stashed: Option<Command>,
}

/// How an authority's run ends.
enum Exit {
    /// No subscriber for the TTL, or the mailbox closed, or a refusal left nothing.
    Expired,
    /// Another authority holds the key now.
    LeaseLost,
}

impl<C: Channel> KeyAuthority<C> {
    async fn run(mut self) {
        self.node.metrics.keys.inc();
        if self.config.scope == Scope::Shared {
            if let Some(backplane) = self.node.cluster.clone() {
                self.join_cluster(backplane).await;
            }
        }
        let limits = self.node.limits.clone();
        let mut resync = tokio::time::interval(limits.resync_interval);
        resync.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut cluster_tick = tokio::time::interval(TICK);
        cluster_tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        // Until the first join arrives the key is idle too: the countdown covers a join
        // that never comes. A key that lives forever never counts down.
        let first = self
            .config
            .ttl
            .unwrap_or_default()
            .max(limits.resync_interval);
        let mut expiry = pin!(tokio::time::sleep(first));
        let mut counting_down = self.config.ttl.is_some();
        // When the timers last ran: a key busy with input every time round still runs them
        // (below), or a loaded leader would starve its lease renewal and lose the key.
        let (mut ticked, mut resynced) = (Instant::now(), Instant::now());
        // After a command, the cluster's waiting input goes first: a mailbox that is never
        // empty must not starve forwarded requests and published changes.
        let mut cluster_turn = false;
        let exit = loop {
            let exit = if let Some(cmd) = self.stashed.take() {
                // what a group left waiting goes first, in its order
                cluster_turn = true;
                self.handle(cmd).await
            } else if let Some(request) = self.role.lead_mut().and_then(|l| l.queue.pop_front()) {
                self.on_request(request).await
            } else if let Some(input) = cluster_turn.then(|| self.role.try_input()).flatten() {
                cluster_turn = false;
                self.on_input(input).await
            } else {
                let clustered = self.role.cluster().is_some();
                let lagging = self.subs.lagging() > 0;
                let flush_at = self.batch.as_ref().and_then(coalesce::Batch::deadline);
                tokio::select! {
                    biased;
                    cmd = self.mailbox.recv() => match cmd {
                        Some(cmd) => {
                            cluster_turn = true;
                            self.handle(cmd).await
                        }
                        None => Some(Exit::Expired),
                    },
                    input = self.role.next_input(), if clustered => self.on_input(input).await,
                    _ = cluster_tick.tick(), if clustered => {
                        ticked = Instant::now();
                        self.cluster_tick().await
                    }
                    _ = resync.tick(), if lagging => {
                        resynced = Instant::now();
                        self.catch_up();
                        None
                    }
                    // lazy: a key without a window never makes this timer
                    () = async { if let Some(at) = flush_at { tokio::time::sleep_until(at).await } }, if flush_at.is_some() => {
                        self.flush();
                        None
                    }
                    () = &mut expiry, if counting_down => {
                        counting_down = false;
                        self.still_idle().await.then_some(Exit::Expired)
                    }
                }
            };
            if let Some(exit) = exit {
                break exit;
            }
            let now = Instant::now();
            if self.role.cluster().is_some() && now >= ticked + TICK {
                ticked = now;
                cluster_tick.reset();
                if let Some(exit) = self.cluster_tick().await {
                    break exit;
                }
            }
            // a mailbox that is never empty must not hold a busy key's changes back
            if self.batch.as_ref().is_some_and(|b| b.due(now)) {
                self.flush();
            }
            if self.subs.lagging() > 0 && now >= resynced + limits.resync_interval {
                resynced = now;
                resync.reset();
                self.catch_up();
            }
            self.share_presence().await;
            // a follower has nothing to keep: it goes as soon as nobody is attached here
            let ttl = match self.role {
                Role::Follower(_) => Some(Duration::ZERO),
                _ => self.config.ttl,
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

    async fn handle(&mut self, cmd: Command) -> Option<Exit> {
        match cmd {
            Command::Join(req) => self.on_join(req).await,
            Command::Leave { sub } | Command::Detach { sub } => {
                self.remove(sub);
                None
            }
            Command::Event(req) => self.on_event(req).await,
            Command::Refresh { sub } => {
                self.refresh(sub);
                None
            }
            Command::Message(req) => self.on_message(req).await,
            Command::Api(req) => self.on_api(req).await,
            Command::Answer(answer) => {
                self.on_answer(answer);
                None
            }
            Command::Refuse {
                sub,
                r#ref,
                slot,
                reason,
                received,
            } => self.on_refuse(sub, r#ref, slot, reason, received).await,
        }
    }

    /// A published message or a forwarded message.
    async fn on_input(&mut self, input: Input) -> Option<Exit> {
        match input {
            Input::Published(msg) => self.on_published(msg).await,
            // the queue ended: this node does not serve the key any more
            Input::Forwarded(None) => Some(Exit::LeaseLost),
            Input::Forwarded(Some(requests)) => {
                if let Some(lead) = self.role.lead_mut() {
                    lead.queue.extend(requests);
                }
                None
            }
        }
    }

    /// Renew the lease, report the attachment, count other nodes, send again or time out
    /// pending requests, reload a replica that needs it.
    async fn cluster_tick(&mut self) -> Option<Exit> {
        if let Some(exit) = self.renew().await {
            return Some(exit);
        }
        self.report_attachment().await;
        if self.role.lead().is_some() && self.subs.is_empty() {
            self.count_elsewhere().await;
        }
        if self.role.cluster().is_some_and(|c| c.needs_resync) {
            self.resync().await;
        }
        self.pending_tick().await;
        None
    }

    /// Whether nobody is attached here (and, for a cluster's leader, anywhere else).
    fn idle(&self) -> bool {
        let local = self.subs.is_empty();
        match &self.role {
            Role::Standalone => local,
            Role::Follower(c) => local && c.pending.is_empty(),
            Role::Leader(c, lead) => local && c.pending.is_empty() && lead.elsewhere == 0,
        }
    }

    /// Whether the key holds nothing anybody made: no change was ever committed, and
    /// nobody is attached. A key started only for a call that was refused stops at once,
    /// so a refusal leaves no key, no authority and no memory behind.
    fn untouched(&self) -> bool {
        self.state.version() == 0 && self.idle()
    }

    /// At the end of a countdown: still idle? (A leader asks the cluster once more.)
    async fn still_idle(&mut self) -> bool {
        if self.role.lead().is_some() {
            self.count_elsewhere().await;
        }
        self.idle()
    }

    async fn stop(mut self, exit: Exit) {
        self.flush();
        self.mailbox.close();
        if let (Exit::LeaseLost, Some(lead)) = (&exit, self.role.lead()) {
            tracing::info!(topic = %self.topic, epoch = lead.lease.epoch, "lease lost");
            self.node.metrics.lease(LeaseChange::Lost);
        }
        // Joins already queued are dropped unanswered: their sessions retry and reach the
        // next authority of the key.
        while self.mailbox.try_recv().is_ok() {}
        self.leave_cluster(matches!(exit, Exit::Expired)).await;
        if let Exit::LeaseLost = &exit {
            for (_, mut sub) in self.subs.drain() {
                sub.sink.end(&self.topic, "the key moved; rejoin");
            }
        }
        let shared = self.config.scope == Scope::Shared;
        self.node.unregister(&self.topic, shared, &self.me);
        let why = match exit {
            Exit::Expired => "nobody attached",
            Exit::LeaseLost => "the key moved",
        };
        tracing::debug!(topic = %self.topic, node = %self.node.id, "key authority stopped: {why}");
        self.node.metrics.keys.dec();
    }

    /// Lagging subscribers that have drained get the whole state.
    fn catch_up(&mut self) {
        self.flush();
        let (resynced, gone) = self
            .state
            .with_whole(&self.topic, |whole| self.subs.catch_up(whole))
            .unwrap_or_default();
        if resynced > 0 {
            self.node.metrics.resyncs.inc_by(resynced as u64);
            tracing::warn!(
                topic = %self.topic,
                resynced,
                still_lagging = self.subs.lagging(),
                "lagging subscribers resynced with the whole state"
            );
        }
        self.gone(gone);
    }
}
