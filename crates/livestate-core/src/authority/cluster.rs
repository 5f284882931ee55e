//! Leading and following a key in a cluster.
//!
//! A key's task starts by subscribing to the key's published changes (so nothing committed
//! after that is missed), then tries to take the lease: if it gets it, it *leads* (it runs
//! handlers and commits, and serves the requests other nodes forward to it); if another
//! node holds it, it *follows* (it loads the snapshot and applies the published changes to
//! its replica). A follower forwards what it cannot do itself (events, API writes, an
//! `init`) with an id, and keeps it *pending* until the outcome arrives: as the published
//! change naming it (which carries the handler's reply events), or as an answer (a
//! refusal). When nobody serves the key, the follower takes the lease and does the pending
//! work itself; the ids make sure nothing applies twice.

use super::events::HandlerError;
use super::*;
use crate::backplane::{Answer, ApiCall, Change, Refusal, RequestBody, Staged};
use std::collections::HashMap;
use std::time::Duration;

/// How often a cluster task looks at its timers (renewal, attachment, pending requests).
pub(super) const TICK: Duration = Duration::from_millis(100);

/// A key task's part in a cluster.
pub(super) struct Cluster {
    /// The key's published changes and presence diffs.
    changes: Option<mpsc::Receiver<Published>>,
    /// Requests forwarded to this node while it leads.
    pub(super) requests: Option<mpsc::Receiver<Request>>,
    /// This node's forwarded requests waiting for their outcome.
    pub(super) pending: HashMap<EventId, Pending>,
    /// Presence entries of other nodes.
    pub(super) remote_presence: Vec<PresenceEntry>,
    /// When the lease was last renewed.
    renewed: Instant,
    /// The attachment last reported: how many, and when.
    attached: Option<(usize, Instant)>,
    /// How many other nodes have subscribers (counted by the leader when idle here).
    pub(super) elsewhere: usize,
    /// Set when the replica must be reloaded (a gap, a failed load).
    needs_resync: bool,
}

/// A forwarded request waiting for its outcome.
pub(super) struct Pending {
    request: Request,
    pub(super) waiter: Waiter,
    /// When the caller gets an error instead.
    deadline: Instant,
    /// When it reached an authority (`None`: it is sent again on the next tick). One not
    /// answered within a lease time is sent again too: its authority may have died, and
    /// its id keeps it from applying twice.
    sent: Option<Instant>,
    /// An answer said it was committed at this version, before the change itself arrived.
    answered: Option<u64>,
    /// When it was made, among this node's requests: resent ones go in this order.
    order: u64,
}

/// Who waits for a forwarded request.
pub(super) enum Waiter {
    /// A subscriber's client event.
    Event {
        sub: SubId,
        r#ref: Option<String>,
        slot: Option<Slot>,
    },
    /// A server API call (an edit is recomputed on the replica when the version moved on).
    Api {
        done: oneshot::Sender<Result<ApiReply, ApiError>>,
        edit: Option<(Permissions, EditFn)>,
        attempts: u32,
    },
    /// A message for `handle_message`.
    Message {
        done: oneshot::Sender<Result<u64, ChannelError>>,
    },
    /// Joiners waiting for the key's first state.
    Init,
}

/// How a forwarded request ended.
enum Outcome {
    /// Committed at this (internal) version.
    Done(u64),
    Refused(Refusal),
}

/// What a cluster task receives from the backplane.
pub(super) enum Input {
    /// A published message (`None`: the subscription ended).
    Published(Option<Published>),
    /// A forwarded request, while leading (`None`: the queue ended).
    Request(Option<Request>),
}

/// The next input of a cluster task: its key's published messages, and the requests
/// forwarded to it while it leads.
pub(super) async fn next_input(cluster: &mut Option<Cluster>) -> Input {
    let Some(c) = cluster.as_mut() else {
        return std::future::pending().await;
    };
    let changes = async {
        match c.changes.as_mut() {
            Some(rx) => rx.recv().await,
            None => std::future::pending().await,
        }
    };
    let requests = async {
        match c.requests.as_mut() {
            Some(rx) => rx.recv().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        msg = changes => Input::Published(msg),
        req = requests => Input::Request(req),
    }
}

/// A cluster input already waiting, if any: a forwarded request first, then a published
/// message.
pub(super) fn try_input(cluster: &mut Option<Cluster>) -> Option<Input> {
    use tokio::sync::mpsc::error::TryRecvError;
    let c = cluster.as_mut()?;
    if let Some(rx) = c.requests.as_mut() {
        match rx.try_recv() {
            Ok(req) => return Some(Input::Request(Some(req))),
            Err(TryRecvError::Disconnected) => return Some(Input::Request(None)),
            Err(TryRecvError::Empty) => {}
        }
    }
    if let Some(rx) = c.changes.as_mut() {
        match rx.try_recv() {
            Ok(msg) => return Some(Input::Published(Some(msg))),
            Err(TryRecvError::Disconnected) => return Some(Input::Published(None)),
            Err(TryRecvError::Empty) => {}
        }
    }
    None
}

fn refusal(code: &str, message: impl Into<String>) -> Refusal {
    Refusal {
        code: code.to_owned(),
        message: message.into(),
    }
}

fn refusal_of(e: &ApiError) -> Refusal {
    refusal(e.code(), e.to_string())
}

/// The server API's error for a refusal that crossed nodes.
fn api_error(r: Refusal, key: &str) -> ApiError {
    match r.code.as_str() {
        "permission_denied" => ApiError::Refused(r.message),
        "property_not_found" => {
            ApiError::PropertyNotFound(r.message.trim_start_matches("no value at ").to_owned())
        }
        "test_failed" => ApiError::TestFailed(r.message),
        "bad_request" => ApiError::BadRequest(r.message),
        "limit_exceeded" => ApiError::Limit(r.message),
        "unavailable" | "conflict" => ApiError::Unavailable(key.to_owned()),
        "unknown_key" => ApiError::UnknownKey(key.to_owned()),
        _ => ApiError::Refused(r.message),
    }
}

impl<C: Channel> KeyAuthority<C> {
    /// Whether this task leads the key in a cluster.
    pub(super) fn leads_cluster(&self) -> bool {
        self.cluster.is_some() && self.lease.is_some()
    }

    /// Whether this task follows another node's lead.
    pub(super) fn follows(&self) -> bool {
        self.cluster.is_some() && self.lease.is_none()
    }

    pub(super) fn backplane(&self) -> Arc<dyn crate::backplane::Backplane> {
        self.hub.inner.backplane.clone()
    }

    /// Subscribe, then lead or follow.
    pub(super) async fn start_cluster(&mut self) {
        let changes = match self.backplane().subscribe(&self.topic).await {
            Ok(rx) => rx,
            Err(e) => {
                tracing::warn!(topic = %self.topic, "cannot follow the key: {e}");
                self.unavailable = Some(e.to_string());
                // expire at once when idle, so that the next join tries again
                self.ttl = Some(Duration::ZERO);
                return;
            }
        };
        self.cluster = Some(Cluster {
            changes: Some(changes),
            requests: None,
            pending: HashMap::new(),
            remote_presence: Vec::new(),
            renewed: Instant::now(),
            attached: None,
            elsewhere: 0,
            needs_resync: false,
        });
        if !self.try_lead().await {
            self.load_replica().await;
        }
        if self.presence {
            self.load_presence().await;
        }
    }

    /// Take the lease if nobody holds it; `true` when this task leads now.
    async fn try_lead(&mut self) -> bool {
        let backplane = self.backplane();
        let acquired = match backplane.acquire(&self.topic).await {
            Ok(acquired) => acquired,
            Err(BackplaneError::Held { .. }) => return false,
            Err(e) => {
                tracing::warn!(topic = %self.topic, "cannot take the key's lease: {e}");
                return false;
            }
        };
        let requests = match backplane.serve(&acquired.lease).await {
            Ok(rx) => rx,
            Err(e) => {
                tracing::warn!(topic = %self.topic, "cannot serve the key: {e}");
                let _ = backplane.release(&acquired.lease, false).await;
                return false;
            }
        };
        tracing::debug!(topic = %self.topic, epoch = acquired.lease.epoch, "leading the key");
        let behind = match &acquired.snapshot {
            Some(s) => self.state.is_none() || s.version != self.version,
            None => false,
        };
        if let Some(snapshot) = acquired.snapshot {
            if behind {
                self.adopt(snapshot.state, snapshot.version);
            }
        }
        self.lease = Some(acquired.lease);
        if let Some(c) = self.cluster.as_mut() {
            c.requests = Some(requests);
            c.renewed = Instant::now();
        }
        if behind {
            self.resync_subscribers();
        }
        if self.state.is_some() && self.hub.inner.backplane.cluster() {
            // a replica the backplane does not have (it lost its data): keep it there
            self.commit_initial().await;
        }
        // what waited for a leader is this task's to do now
        let mine: Vec<EventId> = self.in_order(
            self.cluster
                .as_ref()
                .map(|c| c.pending.keys().cloned().collect())
                .unwrap_or_default(),
        );
        for id in mine {
            let request = self
                .cluster
                .as_ref()
                .and_then(|c| c.pending.get(&id))
                .map(|p| p.request.clone());
            if let Some(request) = request {
                self.execute(Some(request)).await;
            }
        }
        true
    }

    /// Replace the state with `state` at `version` (a snapshot).
    fn adopt(&mut self, state: Value, version: u64) {
        let limits = self.state_limits;
        match C::State::restore(state).and_then(|s| Tracked::with_limits(s, limits)) {
            Ok(tracked) => {
                self.state = Some(tracked);
                self.version = version;
                self.change_cache = None;
            }
            Err(e) => {
                tracing::error!(topic = %self.topic, "the stored state does not fit the channel: {e}");
            }
        }
    }

    /// The leader stores the state it just built (or kept) as the key's first commit.
    pub(super) async fn commit_initial(&mut self) {
        let (Some(lease), Some(tracked)) = (&self.lease, &self.state) else {
            return;
        };
        let state = tracked.json();
        let staged = [Staged {
            patch: &[],
            reset: false,
            event: None,
            origin: None,
        }];
        let commit = Commit {
            version: self.version,
            state: &state,
            whole: true,
            changes: &staged,
        };
        match self.hub.inner.backplane.commit(lease, commit).await {
            Ok(_) | Err(BackplaneError::OutOfOrder { .. }) => {}
            Err(e) => tracing::warn!(topic = %self.topic, "cannot store the initial state: {e}"),
        }
    }

    /// A follower's replica from the stored snapshot; `false` when there is none yet or it
    /// could not be read.
    async fn load_replica(&mut self) -> bool {
        match self.backplane().load(&self.topic).await {
            Ok(Some(snapshot)) => {
                self.adopt(snapshot.state, snapshot.version);
                if let Some(c) = self.cluster.as_mut() {
                    c.needs_resync = false;
                }
                self.state.is_some()
            }
            Ok(None) => false,
            Err(e @ BackplaneError::Corrupt { .. }) => {
                // never applied blindly: the leader writes its state again
                tracing::error!(topic = %self.topic, "{e}; asking the leader to store its state again");
                let body = RequestBody::Api {
                    caller: Caller::Group,
                    op: ApiCall::Rewrite,
                };
                self.forward(body, Waiter::Init).await;
                self.mark_resync();
                false
            }
            Err(e) => {
                tracing::warn!(topic = %self.topic, "cannot load the key's state: {e}");
                self.mark_resync();
                false
            }
        }
    }

    fn mark_resync(&mut self) {
        if let Some(c) = self.cluster.as_mut() {
            c.needs_resync = true;
        }
    }

    async fn load_presence(&mut self) {
        match self.backplane().presence(&self.topic).await {
            Ok(entries) => {
                let node = self.node.clone();
                if let Some(c) = self.cluster.as_mut() {
                    c.remote_presence = entries.into_iter().filter(|e| e.node != node).collect();
                }
            }
            Err(e) => tracing::warn!(topic = %self.topic, "cannot load the key's presence: {e}"),
        }
    }

    /// Reload the replica and bring every local subscriber and watcher up to date.
    async fn resync(&mut self) {
        if self.leads_cluster() {
            return;
        }
        if self.load_replica().await {
            self.resync_subscribers();
            self.complete_answered();
        }
        if self.presence {
            self.load_presence().await;
            let state = self.presence_map();
            let frame = frame::broadcast(&self.topic, event::PRESENCE_STATE, &state);
            self.fan_out(&frame);
        }
    }

    /// `state:change` to every local subscriber, a `reset` to every watcher.
    fn resync_subscribers(&mut self) {
        let Some(change) = self.state_change() else {
            return;
        };
        let mut gone = Vec::new();
        for (id, sub) in self.subs.iter_mut() {
            sub.has_state = true;
            match sub.outbox.try_push(change.clone()) {
                Pushed::Queued => {
                    if sub.lagging {
                        sub.lagging = false;
                        self.lagging -= 1;
                    }
                }
                Pushed::Full => {
                    if !sub.lagging {
                        sub.lagging = true;
                        self.lagging += 1;
                    }
                }
                Pushed::Closed => gone.push(*id),
            }
        }
        for id in gone {
            self.remove(id);
        }
        if !self.watchers.is_empty() {
            self.notify_watchers(&[], true);
        }
    }

    pub(super) async fn on_published(&mut self, msg: Option<Published>) -> Option<Exit> {
        let Some(msg) = msg else {
            // the subscription ended: subscribe again and reload
            let rx = self.backplane().subscribe(&self.topic).await.ok();
            if let Some(c) = self.cluster.as_mut() {
                c.changes = rx;
                c.needs_resync = true;
            }
            return None;
        };
        match msg {
            Published::Change(change) => return self.on_change(&change).await,
            Published::Presence { joins, leaves } => self.on_remote_presence(joins, leaves),
            Published::Gap => self.resync().await,
        }
        None
    }

    async fn on_change(&mut self, change: &Change) -> Option<Exit> {
        if let Some(lease) = &self.lease {
            // our own commits come back; a later one from another epoch means we lost the key
            if change.epoch != lease.epoch && change.version > self.version {
                tracing::warn!(topic = %self.topic, "another node committed to the key: stepping down");
                return Some(Exit::LeaseLost);
            }
            return None;
        }
        if self.state.is_none() {
            self.resync().await;
            return None;
        }
        if change.version <= self.version {
            return None;
        }
        if change.version != self.version + 1 {
            self.resync().await;
            return None;
        }
        let applied = match self.state.as_mut() {
            Some(tracked) => {
                let result = tracked
                    .edit(&mut |doc| doc.replay(&change.patch).map_err(ChannelError::from))
                    .map_err(|e| e.to_string())
                    .and_then(|()| tracked.take_changes().map_err(|e| e.to_string()));
                match result {
                    Ok(_) => {
                        tracked.settle();
                        true
                    }
                    Err(e) => {
                        tracked.rollback();
                        tracing::error!(topic = %self.topic, "a published change does not apply to the replica: {e}; reloading");
                        false
                    }
                }
            }
            None => false,
        };
        if !applied {
            self.resync().await;
            return None;
        }
        self.version = change.version;
        let mine = change
            .origin
            .as_ref()
            .filter(|o| o.node == self.node)
            .and_then(|o| Some((o, self.cluster.as_mut()?.pending.remove(&o.event)?)));
        match mine {
            Some((origin, pending)) => {
                self.complete_change(origin, pending, &change.patch, change.reset)
            }
            None => {
                self.deliver(&change.patch, change.reset);
            }
        }
        self.complete_answered();
        None
    }

    /// A change this node's subscriber asked for: reply events to it first, then the patch
    /// to everyone, then its acknowledgement.
    pub(super) fn complete_change(
        &mut self,
        origin: &Origin,
        pending: Pending,
        patch: &[PatchOp],
        reset: bool,
    ) {
        match pending.waiter {
            Waiter::Event { sub, r#ref, slot } => {
                if let Some(s) = self.subs.get(&sub) {
                    for (name, payload) in &origin.events {
                        s.outbox.try_push(frame::push(
                            Some(&s.join_ref),
                            &self.topic,
                            name,
                            payload,
                        ));
                    }
                }
                let wire = self.deliver(patch, reset);
                self.ack(sub, r#ref.as_deref(), slot, Ok(wire));
            }
            waiter => {
                let wire = self.deliver(patch, reset);
                self.finish(waiter, Outcome::Done(self.version), Some(wire));
            }
        }
    }

    /// Complete the pending requests an answer said were committed, once the replica has
    /// caught up with them.
    fn complete_answered(&mut self) {
        let version = self.version;
        let ready: Vec<EventId> = match &self.cluster {
            Some(c) => c
                .pending
                .iter()
                .filter(|(_, p)| p.answered.is_some_and(|v| v <= version))
                .map(|(id, _)| id.clone())
                .collect(),
            None => return,
        };
        for id in ready {
            if let Some(p) = self.cluster.as_mut().and_then(|c| c.pending.remove(&id)) {
                let v = p.answered.unwrap_or(version);
                self.finish(p.waiter, Outcome::Done(v), None);
            }
        }
    }

    /// Answer a waiter with a refusal.
    pub(super) fn finish_refused(&mut self, waiter: Waiter, refusal: Refusal) {
        self.finish(waiter, Outcome::Refused(refusal), None);
    }

    /// Answer a waiter with an outcome (`wire`: the wire version, when known).
    fn finish(&mut self, waiter: Waiter, outcome: Outcome, wire: Option<u64>) {
        let key = self.topic.to_string();
        match (waiter, outcome) {
            (Waiter::Event { sub, r#ref, slot }, Outcome::Done(v)) => {
                let wire = wire.unwrap_or_else(|| self.wire(v));
                self.ack(sub, r#ref.as_deref(), slot, Ok(wire));
            }
            (Waiter::Event { sub, r#ref, slot }, Outcome::Refused(r)) => {
                if r.code == "failed" {
                    self.fail(sub, &r.message);
                } else {
                    self.refuse_sub(sub, r#ref.as_deref(), slot, &r.message);
                }
            }
            (Waiter::Api { done, .. }, Outcome::Done(v)) => {
                let _ = done.send(Ok(ApiReply::Committed(
                    wire.unwrap_or_else(|| self.wire(v)),
                )));
            }
            (Waiter::Api { done, .. }, Outcome::Refused(r)) => {
                let _ = done.send(Err(api_error(r, &key)));
            }
            (Waiter::Message { done }, Outcome::Done(v)) => {
                let _ = done.send(Ok(wire.unwrap_or_else(|| self.wire(v))));
            }
            (Waiter::Message { done }, Outcome::Refused(r)) => {
                let _ = done.send(Err(ChannelError::refused(r.message)));
            }
            (Waiter::Init, Outcome::Done(_)) => {}
            (Waiter::Init, Outcome::Refused(r)) => self.init_failed_for_waiting(&r.message),
        }
    }

    fn on_remote_presence(&mut self, joins: Vec<PresenceEntry>, leaves: Vec<PresenceEntry>) {
        let node = self.node.clone();
        let joins: Vec<PresenceEntry> = joins.into_iter().filter(|e| e.node != node).collect();
        let leaves: Vec<PresenceEntry> = leaves.into_iter().filter(|e| e.node != node).collect();
        if joins.is_empty() && leaves.is_empty() {
            return;
        }
        if let Some(c) = self.cluster.as_mut() {
            c.remote_presence.retain(|e| {
                !leaves
                    .iter()
                    .any(|l| l.node == e.node && l.phx_ref == e.phx_ref)
            });
            c.remote_presence.extend(joins.iter().cloned());
        }
        if self.presence {
            let diff = serde_json::json!({
                "joins": presence_group(&joins),
                "leaves": presence_group(&leaves),
            });
            let frame = frame::broadcast(&self.topic, event::PRESENCE_DIFF, &diff);
            self.fan_out(&frame);
        }
    }

    /// Tell the cluster about this node's presence joins and leaves.
    pub(super) async fn track(&mut self, joins: Vec<PresenceEntry>, leaves: Vec<PresenceEntry>) {
        if self.cluster.is_none() {
            return;
        }
        if let Err(e) = self.backplane().track(&self.topic, joins, leaves).await {
            tracing::warn!(topic = %self.topic, "cannot share presence: {e}");
        }
    }

    /// A new id for a request of this node, and its place in the node's order.
    fn next_event_id(&self) -> (EventId, u64) {
        let n = self.hub.next_id();
        let id = EventId(format!("{}/{}/{n}", self.node, self.hub.inner.instance));
        (id, n)
    }

    /// Pending requests' ids in the order they were made.
    fn in_order(&self, mut ids: Vec<EventId>) -> Vec<EventId> {
        if let Some(c) = &self.cluster {
            ids.sort_by_key(|id| c.pending.get(id).map_or(0, |p| p.order));
        }
        ids
    }

    /// Forward a request to the key's leader (or lead, if nobody does) and keep it pending.
    pub(super) async fn forward(&mut self, body: RequestBody, waiter: Waiter) {
        self.forward_all(vec![(body, waiter)]).await;
    }

    /// Forward requests to the key's leader, in order, as one message (or lead, if nobody
    /// does), and keep them pending.
    pub(super) async fn forward_all(&mut self, items: Vec<(RequestBody, Waiter)>) {
        let deadline = Instant::now() + self.backplane().forward_timeout();
        let mut ids = Vec::with_capacity(items.len());
        for (body, waiter) in items {
            let (id, order) = self.next_event_id();
            let request = Request {
                id: id.clone(),
                from: self.node.clone(),
                body,
                retry: false,
            };
            if let Some(c) = self.cluster.as_mut() {
                c.pending.insert(
                    id.clone(),
                    Pending {
                        request,
                        waiter,
                        deadline,
                        sent: None,
                        answered: None,
                        order,
                    },
                );
            }
            ids.push(id);
        }
        self.send_pending(&ids).await;
    }

    /// Send pending requests to the leader, in order, as one message; with no leader, lead.
    async fn send_pending(&mut self, ids: &[EventId]) {
        let requests: Vec<Request> = match &self.cluster {
            Some(c) => ids
                .iter()
                .filter_map(|id| c.pending.get(id).map(|p| p.request.clone()))
                .collect(),
            None => return,
        };
        if requests.is_empty() {
            return;
        }
        if self.leads_cluster() {
            for request in requests {
                self.execute(Some(request)).await;
            }
            return;
        }
        match self.backplane().forward(&self.topic, requests).await {
            Ok(()) => {
                let now = Instant::now();
                if let Some(c) = self.cluster.as_mut() {
                    for id in ids {
                        if let Some(p) = c.pending.get_mut(id) {
                            p.sent = Some(now);
                            // from now on it may have been committed: a resend is a retry
                            p.request.retry = true;
                        }
                    }
                }
            }
            Err(BackplaneError::NoAuthority(_)) => {
                // nobody leads: take the lease (it runs what is pending); if another node
                // just did, the next tick sends it there
                self.try_lead().await;
            }
            Err(e) => {
                for id in ids {
                    if let Some(p) = self.cluster.as_mut().and_then(|c| c.pending.remove(id)) {
                        self.finish(
                            p.waiter,
                            Outcome::Refused(refusal("unavailable", e.to_string())),
                            None,
                        );
                    }
                }
            }
        }
    }

    /// A request forwarded to this leader: a first-attempt event runs in a group with the
    /// events waiting behind it; anything else runs alone.
    pub(super) async fn on_request(&mut self, request: Request) -> Option<Exit> {
        if self.leads_cluster() && self.state.is_some() && batch::groupable(&request) {
            return self.run_group(batch::Queued::Forwarded(request)).await;
        }
        self.execute(Some(request)).await
    }

    /// A leader runs a request (forwarded, or its own after taking the lease).
    pub(super) async fn execute(&mut self, request: Option<Request>) -> Option<Exit> {
        let Request { id, from, body, .. } = request?;
        let local = from == self.node;
        let (outcome, exit) = match body {
            RequestBody::Event {
                sub,
                r#ref,
                name,
                payload,
                socket,
                assigns,
            } => {
                let ctx = EventContext {
                    topic: self.topic.to_string(),
                    socket: Arc::new(socket),
                    assigns: Arc::new(assigns),
                };
                self.execute_event(&id, &from, sub, r#ref, name, payload, ctx)
                    .await
            }
            RequestBody::Api { caller, op } => self.execute_api(&id, caller, op).await,
        };
        match (local, outcome) {
            // done already (delivered in execute_event / execute_api)
            (_, None) => {}
            (true, Some(outcome)) => {
                if let Some(p) = self.cluster.as_mut().and_then(|c| c.pending.remove(&id)) {
                    self.finish(p.waiter, outcome, None);
                }
            }
            (false, Some(outcome)) => {
                let outcome = match outcome {
                    Outcome::Done(v) => Ok(v),
                    Outcome::Refused(r) => Err(r),
                };
                let answer = Answer {
                    id,
                    key: self.topic.to_string(),
                    outcome,
                };
                if let Err(e) = self.backplane().answer(&from, answer).await {
                    tracing::warn!(topic = %self.topic, "cannot answer {from}: {e}");
                }
            }
        }
        exit
    }

    /// Run a forwarded client event. `None` outcome: delivered (with the pending waiter,
    /// when it is this node's own).
    #[allow(clippy::too_many_arguments)]
    async fn execute_event(
        &mut self,
        id: &EventId,
        from: &str,
        sub: SubId,
        r#ref: Option<String>,
        name: String,
        payload: Value,
        ctx: EventContext,
    ) -> (Option<Outcome>, Option<Exit>) {
        if self.state.is_none() {
            let reason = match &self.init_error {
                Some(e) => format!("{} has no state: init failed: {e}", self.topic),
                None => format!("{} has no state", self.topic),
            };
            return (Some(Outcome::Refused(refusal("refused", reason))), None);
        }
        let reply = match self.run_handler(&name, payload, &ctx).await {
            Ok(reply) => reply,
            Err(HandlerError::Refused(reason)) => {
                return (Some(Outcome::Refused(refusal("refused", reason))), None);
            }
            Err(HandlerError::Failed(reason)) => {
                return (Some(Outcome::Refused(refusal("failed", reason))), None);
            }
        };
        let origin = Origin {
            event: id.clone(),
            node: from.to_owned(),
            sub,
            r#ref: r#ref.clone(),
            events: reply.events.clone(),
        };
        match self.commit(Some(id), Some(&origin), false).await {
            Ok(patch) => {
                let pending = (from == self.node)
                    .then(|| self.cluster.as_mut().and_then(|c| c.pending.remove(id)))
                    .flatten();
                match pending {
                    Some(p) => self.complete_change(&origin, p, &patch, false),
                    None => {
                        self.deliver(&patch, false);
                    }
                }
                (None, None)
            }
            Err(CommitError::Duplicate(v)) => (Some(Outcome::Done(v)), None),
            Err(e) => {
                let exit = e.lost_lease().then_some(Exit::LeaseLost);
                (
                    Some(Outcome::Refused(refusal("unavailable", e.to_string()))),
                    exit,
                )
            }
        }
    }

    /// Run a forwarded API call.
    async fn execute_api(
        &mut self,
        id: &EventId,
        caller: Caller,
        op: ApiCall,
    ) -> (Option<Outcome>, Option<Exit>) {
        let needs = match &op {
            ApiCall::Patch { deletes: true, .. } => Permissions::NONE
                .with(Permission::Write)
                .with(Permission::Delete),
            ApiCall::Patch { .. } | ApiCall::Message(_) | ApiCall::Set { .. } => {
                Permissions::NONE.with(Permission::Write)
            }
            ApiCall::Remove { .. } => Permissions::NONE.with(Permission::Delete),
            ApiCall::Reset => Permissions::NONE.with(Permission::Reset),
            ApiCall::Init(_) | ApiCall::Rewrite => Permissions::NONE,
        };
        if let Err(denied) = self.acl.check_all(caller, needs) {
            return (
                Some(Outcome::Refused(refusal(
                    "permission_denied",
                    denied.to_string(),
                ))),
                None,
            );
        }
        let params = match &op {
            ApiCall::Init(params) => params.clone(),
            _ => Value::Object(Default::default()),
        };
        if let Err(e) = self.ensure_state_with(&params).await {
            return (Some(Outcome::Refused(refusal_of(&e))), None);
        }
        let reset = matches!(op, ApiCall::Reset);
        let rewrite = matches!(op, ApiCall::Rewrite);
        let prepared: Result<(), ApiError> = match op {
            ApiCall::Patch {
                expect: Some(v), ..
            } if v != self.version => {
                return (
                    Some(Outcome::Refused(refusal(
                        "conflict",
                        format!("the key is at version {} now", self.version),
                    ))),
                    None,
                );
            }
            // a patch with an expected version was computed by a follower's own code (an
            // `update` closure): not a client's, so not bounded in ops
            ApiCall::Patch { ops, expect, .. } => match self.state.as_mut() {
                Some(tracked) => tracked
                    .edit(&mut |doc| {
                        let applied = match expect {
                            Some(_) => doc.replay(&ops),
                            None => doc.apply(&ops),
                        };
                        applied.map_err(ChannelError::from)
                    })
                    .map_err(ApiError::from),
                None => Err(ApiError::UnknownKey(self.topic.to_string())),
            },
            ApiCall::Set { path, value } => match self.state.as_mut() {
                Some(tracked) => tracked
                    .edit(&mut |doc| doc.set(&path, value.clone()).map_err(ChannelError::from))
                    .map_err(ApiError::from),
                None => Err(ApiError::UnknownKey(self.topic.to_string())),
            },
            ApiCall::Remove { path } => match self.state.as_mut() {
                Some(tracked) => tracked
                    .edit(&mut |doc| doc.remove(&path).map(drop).map_err(ChannelError::from))
                    .map_err(ApiError::from),
                None => Err(ApiError::UnknownKey(self.topic.to_string())),
            },
            ApiCall::Reset => self.fresh_state().await,
            ApiCall::Message(message) => self.run_message(message).await.map_err(ApiError::from),
            // the state exists now (ensure_state_with ran init if it had to)
            ApiCall::Init(_) => return (Some(Outcome::Done(self.version)), None),
            ApiCall::Rewrite => Ok(()),
        };
        if let Err(e) = prepared {
            if let Some(t) = self.state.as_mut() {
                t.rollback();
            }
            return (Some(Outcome::Refused(refusal_of(&e))), None);
        }
        match self.commit_as(Some(id), None, reset, rewrite).await {
            Ok(patch) => {
                self.deliver(&patch, reset);
                (Some(Outcome::Done(self.version)), None)
            }
            Err(CommitError::Duplicate(v)) => (Some(Outcome::Done(v)), None),
            Err(e) => {
                let exit = e.lost_lease().then_some(Exit::LeaseLost);
                (
                    Some(Outcome::Refused(refusal("unavailable", e.to_string()))),
                    exit,
                )
            }
        }
    }

    /// Answers to this node's forwarded requests (routed here by the hub).
    pub(super) fn on_answer(&mut self, answer: Answer) {
        let Some(c) = self.cluster.as_mut() else {
            return;
        };
        match answer.outcome {
            Ok(version) => {
                if let Some(p) = c.pending.get_mut(&answer.id) {
                    p.answered = Some(version);
                }
                self.complete_answered();
            }
            Err(r) if r.code == "conflict" => {
                // an edit computed on an older replica: compute it again on the next tick
                if let Some(p) = c.pending.get_mut(&answer.id) {
                    p.sent = None;
                }
                c.needs_resync = true;
            }
            Err(r) => {
                if let Some(p) = c.pending.remove(&answer.id) {
                    self.finish(p.waiter, Outcome::Refused(r), None);
                }
            }
        }
    }

    /// Renew the lease, report the attachment, count other nodes, send again or time out
    /// pending requests, reload a replica that needs it.
    pub(super) async fn cluster_tick(&mut self) -> Option<Exit> {
        let backplane = self.backplane();
        let now = Instant::now();
        let third = backplane.lease_time() / 3;
        if let (Some(lease), Some(c)) = (self.lease.clone(), self.cluster.as_mut()) {
            if now >= c.renewed + third {
                match backplane.renew(&lease).await {
                    Ok(()) => {
                        if let Some(c) = self.cluster.as_mut() {
                            c.renewed = now;
                        }
                    }
                    Err(BackplaneError::Fenced { .. }) => {
                        tracing::warn!(topic = %self.topic, "the key's lease was lost");
                        return Some(Exit::LeaseLost);
                    }
                    Err(e) => {
                        tracing::warn!(topic = %self.topic, "cannot renew the key's lease: {e}")
                    }
                }
            }
        }
        let local = self.subs.len() + self.watchers.len();
        let report = match self.cluster.as_ref().and_then(|c| c.attached) {
            Some((count, at)) => count != local || (local > 0 && now >= at + third),
            None => local > 0,
        };
        if report {
            match backplane.attach(&self.topic, local).await {
                Ok(()) => {
                    if let Some(c) = self.cluster.as_mut() {
                        c.attached = Some((local, now));
                    }
                }
                Err(e) => {
                    tracing::warn!(topic = %self.topic, "cannot report the key's subscribers: {e}")
                }
            }
        }
        if self.leads_cluster() && local == 0 {
            self.count_elsewhere().await;
        }
        if self.cluster.as_ref().is_some_and(|c| c.needs_resync) {
            self.resync().await;
        }
        self.pending_tick(now).await;
        None
    }

    /// How many other nodes have subscribers (a leader with none here).
    pub(super) async fn count_elsewhere(&mut self) {
        match self.backplane().attached_elsewhere(&self.topic).await {
            Ok(n) => {
                if let Some(c) = self.cluster.as_mut() {
                    c.elsewhere = n;
                }
            }
            Err(e) => {
                tracing::warn!(topic = %self.topic, "cannot count the key's subscribers elsewhere: {e}")
            }
        }
    }

    async fn pending_tick(&mut self, now: Instant) {
        let lease = self.backplane().lease_time();
        let (late, unsent): (Vec<EventId>, Vec<EventId>) = match &self.cluster {
            Some(c) => (
                c.pending
                    .iter()
                    .filter(|(_, p)| p.deadline <= now)
                    .map(|(id, _)| id.clone())
                    .collect(),
                c.pending
                    .iter()
                    .filter(|(_, p)| p.deadline > now && p.sent.is_none_or(|at| now >= at + lease))
                    .map(|(id, _)| id.clone())
                    .collect(),
            ),
            None => return,
        };
        let timeout = self.backplane().forward_timeout();
        for id in late {
            if let Some(p) = self.cluster.as_mut().and_then(|c| c.pending.remove(&id)) {
                tracing::warn!(
                    topic = %self.topic,
                    "a forwarded request ({}) got no outcome within {timeout:?} (sent: {}, answered: {:?}, replica at {})",
                    id.0,
                    p.sent.map_or("never".to_owned(), |at| format!("{:?} ago", now - at)),
                    p.answered,
                    self.version,
                );
                let message =
                    format!("the key's authority did not answer within {timeout:?}; try again");
                self.finish(
                    p.waiter,
                    Outcome::Refused(refusal("unavailable", message)),
                    None,
                );
            }
        }
        let unsent = self.in_order(unsent);
        for id in &unsent {
            self.recompute_edit(id);
        }
        self.send_pending(&unsent).await;
    }

    /// An edit refused for a moved-on version is computed again on the replica.
    fn recompute_edit(&mut self, id: &EventId) {
        let version = self.version;
        let json = match self.state.as_ref() {
            Some(t) => t.json().into_owned(),
            None => return,
        };
        let Some(p) = self.cluster.as_mut().and_then(|c| c.pending.get_mut(id)) else {
            return;
        };
        if let Waiter::Api {
            edit: Some((needs, run)),
            attempts,
            ..
        } = &mut p.waiter
        {
            *attempts += 1;
            let mut doc = crate::doc::Doc::with_limits(json, self.state_limits);
            if run(&mut doc).is_ok() {
                let ops = doc.take_patch();
                if let RequestBody::Api { op, .. } = &mut p.request.body {
                    *op = ApiCall::Patch {
                        ops,
                        expect: Some(version),
                        deletes: needs.contains(Permission::Delete),
                    };
                }
            }
        }
    }

    /// Leaving the cluster: no more attached here; a leader whose key expired drops its
    /// state and gives the lease up.
    pub(super) async fn leave_cluster(&mut self, expired: bool) {
        let backplane = self.backplane();
        if let Err(e) = backplane.attach(&self.topic, 0).await {
            tracing::debug!(topic = %self.topic, "cannot report leaving the key: {e}");
        }
        if let Some(lease) = self.lease.take() {
            if let Err(e) = backplane.release(&lease, expired).await {
                tracing::warn!(topic = %self.topic, "releasing the lease failed: {e}");
            }
        }
    }
}

/// `{key: {"metas": [meta, ...]}}` of some presence entries.
fn presence_group(entries: &[PresenceEntry]) -> serde_json::Map<String, Value> {
    let mut map = serde_json::Map::new();
    for e in entries {
        let entry = map
            .entry(e.key.clone())
            .or_insert_with(|| serde_json::json!({"metas": []}));
        if let Some(metas) = entry["metas"].as_array_mut() {
            metas.push(e.meta.clone());
        }
    }
    map
}
