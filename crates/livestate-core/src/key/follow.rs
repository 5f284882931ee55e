//! Following another node's lead: a replica of the key's state kept from the published
//! changes (reloaded from the snapshot on a gap, a new epoch or a change that does not
//! apply), and the changes of this node's subscribers and callers forwarded to the leader.
//!
//! A forwarded change is *pending* (see `pending`) until its outcome comes back: as the
//! published change whose note names it (then its sender gets its reply events, everyone
//! the patch, and it the acknowledgement, as on the leader), or as an answer. An answer
//! "committed at version v" (a retry found to be a duplicate) waits until the replica has
//! reached v. An edit computed on the replica and refused because the key moved on is
//! computed again on the next tick, on the newer replica.

use super::job::{Asker, Edit, From, Job, Work};
use super::pending::{Forward, Recompute};
use super::pipeline::MAX_BATCH;
use super::{Exit, KeyAuthority};
use crate::acl::{Caller, Permission};
use crate::calls::ApiError;
use crate::channel::{Channel, ChannelError};
use crate::wire::{self, Answer, ApiCall, Note, Refusal, Request, RequestBody};
use livestate_backplane::{BackplaneError, Change, EventId, Published};
use livestate_doc::Doc;
use tokio::time::Instant;

impl<C: Channel> KeyAuthority<C> {
    pub(super) async fn on_published(&mut self, msg: Option<Published>) -> Option<Exit> {
        let Some(msg) = msg else {
            // the subscription ended: subscribe again and reload
            let cluster = self.role.cluster_mut()?;
            cluster.bus = cluster.backplane.subscribe(&self.topic).await.ok();
            cluster.needs_resync = true;
            return None;
        };
        match msg {
            Published::Change(change) => return self.on_change(&change).await,
            Published::Presence { joins, leaves } => self.on_remote_presence(joins, leaves),
            // a gap, or a message this version does not know: reload to be safe
            _ => self.resync().await,
        }
        None
    }

    async fn on_change(&mut self, change: &Change) -> Option<Exit> {
        if let Some(lead) = self.role.lead() {
            // our own commits come back; a later one from another epoch means we lost the key
            if change.epoch != lead.lease.epoch && change.version > self.state.version() {
                tracing::warn!(topic = %self.topic, "another node committed to the key: stepping down");
                return Some(Exit::LeaseLost);
            }
            return None;
        }
        if self.state.has_state() && change.version <= self.state.version() {
            return None;
        }
        if !self.state.has_state() || change.version != self.state.version() + 1 {
            self.resync().await;
            return None;
        }
        let tracked = self.state.tracked.as_mut()?;
        // what the leader committed was within the limits once: replaying it checks depth
        let applied = tracked
            .edit(|doc| doc.replay(&change.patch).map_err(ChannelError::from))
            .map_err(|e| e.to_string())
            .and_then(|()| tracked.take_changes().map_err(|e| e.to_string()));
        if let Err(e) = applied {
            tracked.rollback();
            tracing::error!(topic = %self.topic, "a published change does not apply to the replica: {e}; reloading");
            self.resync().await;
            return None;
        }
        tracked.settle();
        self.state.set_version(change.version);
        let note = change.note.as_ref().and_then(Note::from_value);
        let asker = note
            .as_ref()
            .filter(|n| n.node == self.node.id)
            .and_then(|n| self.role.cluster_mut()?.pending.remove(&n.id))
            .map(|f| f.asker);
        let events = match (&asker, &note) {
            (Some(_), Some(note)) => &note.events[..],
            _ => &[],
        };
        self.deliver(&change.patch, change.reset, asker, events);
        self.complete_answered();
        None
    }

    /// Reload the replica and bring every local subscriber up to date.
    pub(super) async fn resync(&mut self) {
        if !self.role.follows() {
            return;
        }
        if self.load_replica().await {
            self.resync_subscribers();
            self.complete_answered();
        }
        if self.config.settings.presence {
            self.load_presence().await;
            self.send_presence_state();
        }
    }

    /// A follower's replica from the stored snapshot; `false` when there is none yet or it
    /// could not be read.
    pub(super) async fn load_replica(&mut self) -> bool {
        let Some(backplane) = self.role.cluster().map(|c| c.backplane.clone()) else {
            return false;
        };
        let loaded = backplane.load(&self.topic).await;
        let ok = match loaded {
            Ok(Some(snapshot)) => {
                self.adopt(snapshot.state, snapshot.version);
                self.state.has_state()
            }
            Ok(None) => return false,
            Err(e @ BackplaneError::Corrupt { .. }) => {
                // never applied blindly: the leader writes its state again
                tracing::error!(topic = %self.topic, "{e}; asking the leader to store its state again");
                let body = RequestBody::Api {
                    caller: Caller::Group,
                    call: ApiCall::Rewrite,
                };
                self.forward_all(vec![(body, Asker::Init, None)]).await;
                false
            }
            Err(e) => {
                tracing::warn!(topic = %self.topic, "cannot load the key's state: {e}");
                false
            }
        };
        if let Some(cluster) = self.role.cluster_mut() {
            cluster.needs_resync = !ok;
        }
        ok
    }

    /// Forward `first` and the events waiting behind it, in one message.
    pub(super) async fn forward_jobs(&mut self, first: Job) {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH && jobs[0].groupable() {
            let Some(job) = self.next_event_job() else {
                break;
            };
            jobs.push(job);
        }
        let mut items = Vec::with_capacity(jobs.len());
        for job in jobs {
            if let Some(item) = self.forwardable(job) {
                items.push(item);
            }
        }
        if !items.is_empty() {
            self.forward_all(items).await;
        }
    }

    /// What a change is as a request, and who waits for it (`None`: answered here already).
    fn forwardable(&mut self, job: Job) -> Option<(RequestBody, Asker, Option<Recompute>)> {
        let Job { work, caller, from } = job;
        let From::Here(asker) = from else {
            return None;
        };
        let refused = |this: &mut Self, asker, refusal| {
            this.refuse(asker, refusal);
            None
        };
        let (call, recompute) = match work {
            Work::Event { name, payload, ctx } => {
                let Asker::Sub { sub, r#ref, .. } = &asker else {
                    return None;
                };
                if !self.state.has_state() {
                    let reason = self.state.missing(&self.topic);
                    return refused(self, asker, Refusal::Api(ApiError::Refused(reason)));
                }
                if let Err(refusal) = self.check_event(&name, &payload) {
                    return refused(self, asker, refusal);
                }
                let body = RequestBody::Event {
                    sub: *sub,
                    r#ref: r#ref.clone(),
                    name,
                    payload,
                    socket: (*ctx.socket).clone(),
                    assigns: (*ctx.assigns).clone(),
                };
                return Some((body, asker, None));
            }
            Work::Refuse(reason) => {
                return refused(self, asker, Refusal::Api(ApiError::Refused(reason)));
            }
            Work::Message(message) => (ApiCall::Message(message), None),
            Work::Reset => (ApiCall::Reset, None),
            Work::Rewrite => (ApiCall::Rewrite, None),
            Work::Edit(Edit::Call(call)) => (call, None),
            Work::Edit(Edit::Run { run, needs }) => {
                // the ACL is the same on every node: refuse here what the leader would
                if let Err(denied) = self.config.settings.acl.check_all(caller, needs) {
                    return refused(self, asker, Refusal::Api(ApiError::Denied(denied)));
                }
                let recompute = (needs, run);
                match self.edit_on_replica(&recompute) {
                    Ok(call) => (call, Some(recompute)),
                    Err(e) => return refused(self, asker, Refusal::Api(e)),
                }
            }
        };
        Some((RequestBody::Api { caller, call }, asker, recompute))
    }

    /// An edit's patch, computed on the replica, to be taken only at its version.
    fn edit_on_replica(&self, (needs, run): &Recompute) -> Result<ApiCall, ApiError> {
        let Some(json) = self.state.json() else {
            return Err(ApiError::UnknownKey(self.topic.to_string()));
        };
        let mut doc = Doc::with_limits(json, self.config.limits);
        run(&mut doc).map_err(ApiError::from)?;
        Ok(ApiCall::Patch {
            ops: doc.take_patch(),
            expect: Some(self.state.version()),
            deletes: needs.contains(Permission::Delete),
        })
    }

    /// The next event waiting in the mailbox, as a job (see the pipeline's gathering).
    fn next_event_job(&mut self) -> Option<Job> {
        use crate::mailbox::Command;
        while self.stashed.is_none() {
            match self.mailbox.try_recv().ok()? {
                Command::Event(req) => {
                    let Some(ctx) = self.subs.get(req.sub).and_then(|s| s.ctx.clone()) else {
                        continue;
                    };
                    return Some(Job {
                        work: Work::Event {
                            name: req.name,
                            payload: req.payload,
                            ctx,
                        },
                        caller: Caller::Group,
                        from: From::Here(Asker::Sub {
                            sub: req.sub,
                            r#ref: req.r#ref,
                            slot: req.slot,
                            received: req.received,
                        }),
                    });
                }
                other => self.stashed = Some(other),
            }
        }
        None
    }

    /// Forward requests to the key's leader, in order, as one message (or lead, if nobody
    /// does), and keep them pending.
    pub(super) async fn forward_all(
        &mut self,
        items: Vec<(RequestBody, Asker, Option<Recompute>)>,
    ) {
        let Some(cluster) = self.role.cluster() else {
            return;
        };
        let deadline = Instant::now() + cluster.backplane.forward_timeout();
        let mut ids = Vec::with_capacity(items.len());
        for (body, asker, recompute) in items {
            let n = self.node.next_id();
            let id = EventId(format!("{}/{}/{n}", self.node.id, self.node.instance));
            let request = Request {
                id: id.clone(),
                from: self.node.id.clone(),
                body,
                retry: false,
            };
            if let Some(cluster) = self.role.cluster_mut() {
                cluster
                    .pending
                    .insert(Forward::new(request, asker, recompute, deadline, n));
            }
            ids.push(id);
        }
        self.send_pending(&ids).await;
    }

    /// Send pending requests to the leader, in order, as one message; with no leader,
    /// lead (and run them).
    async fn send_pending(&mut self, ids: &[EventId]) {
        let Some(cluster) = self.role.cluster() else {
            return;
        };
        let requests = cluster.pending.requests(ids);
        let backplane = cluster.backplane.clone();
        if requests.is_empty() {
            return;
        }
        if let Some(lead) = self.role.lead_mut() {
            lead.queue.extend(requests);
            return;
        }
        match backplane
            .forward(&self.topic, wire::encode_requests(&requests))
            .await
        {
            Ok(()) => {
                self.node.metrics.forwards.inc_by(ids.len() as u64);
                if let Some(cluster) = self.role.cluster_mut() {
                    cluster.pending.mark_sent(ids, Instant::now());
                }
            }
            Err(BackplaneError::NoAuthority(_)) => {
                // nobody leads: take the lease (its queue runs what is pending); if another
                // node just did, the next tick sends it there
                self.try_lead().await;
            }
            Err(e) => {
                tracing::warn!(topic = %self.topic, "cannot forward to the key's leader: {e}");
                for id in ids {
                    let forward = self.role.cluster_mut().and_then(|c| c.pending.remove(id));
                    if let Some(forward) = forward {
                        let refusal = Refusal::Api(ApiError::Unavailable(self.topic.to_string()));
                        self.refuse(forward.asker, refusal);
                    }
                }
            }
        }
    }

    /// An answer to one of this node's forwarded requests (routed here by the hub).
    pub(super) fn on_answer(&mut self, answer: Answer) {
        let Some(cluster) = self.role.cluster_mut() else {
            return;
        };
        match answer.outcome {
            Ok(version) => {
                if let Some(forward) = cluster.pending.get_mut(&answer.id) {
                    forward.answered = Some(version);
                }
                self.complete_answered();
            }
            Err(Refusal::Conflict) => {
                // an edit computed on an older replica: compute it again on the next tick
                cluster.pending.mark_unsent(&answer.id);
                cluster.needs_resync = true;
            }
            Err(refusal) => {
                if let Some(forward) = cluster.pending.remove(&answer.id) {
                    self.refuse(forward.asker, refusal);
                }
            }
        }
    }

    /// Complete the pending requests an answer said were committed, once the replica has
    /// caught up with them.
    fn complete_answered(&mut self) {
        let version = self.state.version();
        let Some(cluster) = self.role.cluster_mut() else {
            return;
        };
        for (committed, forward) in cluster.pending.take_answered(version) {
            let wire = self.state.wire(committed);
            self.done(forward.asker, wire);
        }
    }

    /// Time out pending requests past their deadline; send again those due.
    pub(super) async fn pending_tick(&mut self) {
        let Some(cluster) = self.role.cluster_mut() else {
            return;
        };
        let now = Instant::now();
        let lease_time = cluster.backplane.lease_time();
        let timeout = cluster.backplane.forward_timeout();
        let late = cluster.pending.take_late(now);
        let due = cluster.pending.due(now, lease_time);
        for (id, forward) in late {
            tracing::warn!(
                topic = %self.topic,
                "a forwarded request ({}) got no outcome within {timeout:?} (sent: {}, answered: {:?}, replica at {})",
                id.0,
                forward.sent_ago(now),
                forward.answered,
                self.state.version(),
            );
            let e = ApiError::Unavailable(self.topic.to_string());
            self.refuse(forward.asker, Refusal::Api(e));
        }
        for id in &due {
            self.recompute_edit(id);
        }
        self.send_pending(&due).await;
    }

    /// An edit refused for a moved-on version is computed again on the replica.
    fn recompute_edit(&mut self, id: &EventId) {
        let Some(recompute) = self
            .role
            .cluster_mut()
            .and_then(|c| c.pending.get_mut(id))
            .and_then(|f| f.recompute.clone())
        else {
            return;
        };
        let Ok(call) = self.edit_on_replica(&recompute) else {
            return;
        };
        let forward = self.role.cluster_mut().and_then(|c| c.pending.get_mut(id));
        if let Some(RequestBody::Api { call: sent, .. }) = forward.map(|f| &mut f.request.body) {
            *sent = call;
        }
    }

    /// `state:change` to every local subscriber (a `reset` to every Rust one).
    pub(super) fn resync_subscribers(&mut self) {
        self.flush();
        let gone = self
            .state
            .with_whole(&self.topic, |whole| self.subs.whole_to_all(whole, false))
            .unwrap_or_default();
        self.gone(gone);
    }
}
