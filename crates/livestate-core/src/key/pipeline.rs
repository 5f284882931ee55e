//! The one way a change goes, for every role: a follower forwards it (`follow`); a leader
//! or a standalone key runs it here. The handlers of the events waiting run one after
//! another (up to [`MAX_BATCH`], or [`GROUP_TIME`] of handlers), their changes are committed
//! in one step (`lead` commits to the backplane; a standalone key just settles), and then
//! each goes out in order: reply events to its sender, the patch to every subscriber, the
//! acknowledgement to its sender. A change refused or failed among others leaves theirs (its
//! own are undone); a commit that fails refuses them all and changes nothing.

use super::job::{Asker, CommitError, Edit, From, Job, Ran, Work};
use super::{Exit, KeyAuthority};
use crate::acl::{Caller, Permission, Permissions};
use crate::calls::ApiError;
use crate::channel::{Channel, ChannelError};
use crate::mailbox::{ApiReply, Command, EventRequest};
use crate::outbox::Slot;
use crate::subscriber::{Answer, Delivery, SubId};
use crate::wire::{ApiCall, Refusal, Request, RequestBody};
use livestate_protocol::PatchOp;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The most changes run and committed together.
pub(super) const MAX_BATCH: usize = 64;

/// How long a group's handlers may run before it is committed (the events still waiting
/// go in the next group), so slow handlers do not hold the first event's acknowledgement
/// back for long.
pub(super) const GROUP_TIME: Duration = Duration::from_millis(2);

/// Where the next change of a group comes from: the mailbox and the forwarded requests in
/// turn, so neither waits behind the other, each until it has none ready.
struct Sources {
    local: bool,
    forwarded: bool,
    local_turn: bool,
}

impl<C: Channel> KeyAuthority<C> {
    /// A client event from a subscriber.
    pub(super) async fn on_event(&mut self, req: EventRequest) -> Option<Exit> {
        match self.event_job(req) {
            Some(job) => self.submit(job).await,
            None => None,
        }
    }

    /// An event refused before it got here: answered in its place among the others.
    pub(super) async fn on_refuse(
        &mut self,
        sub: SubId,
        r#ref: Option<String>,
        slot: Option<Slot>,
        reason: String,
        received: std::time::Instant,
    ) -> Option<Exit> {
        let job = Job {
            work: Work::Refuse(reason),
            caller: Caller::Group,
            from: From::Here(Asker::Sub {
                sub,
                r#ref,
                slot,
                received,
            }),
        };
        self.submit(job).await
    }

    /// The job of a subscriber's event; `None` when the subscription ended (its channel
    /// failed or left) while the event was queued.
    fn event_job(&self, req: EventRequest) -> Option<Job> {
        let EventRequest {
            sub,
            r#ref,
            name,
            payload,
            slot,
            received,
        } = req;
        let Some(ctx) = self.subs.get(sub).and_then(|s| s.ctx.clone()) else {
            tracing::debug!(topic = %self.topic, "event from a subscription that ended");
            return None;
        };
        Some(Job {
            work: Work::Event { name, payload, ctx },
            caller: Caller::Group,
            from: From::Here(Asker::Sub {
                sub,
                r#ref,
                slot,
                received,
            }),
        })
    }

    /// The job of a forwarded request (`None`: it asks for no change: `Init`, which
    /// `lead` handles).
    pub(super) fn remote_job(&self, request: Request) -> Option<Job> {
        let Request {
            id,
            from,
            body,
            retry,
        } = request;
        let (work, caller) = match body {
            RequestBody::Event {
                name,
                payload,
                socket,
                assigns,
                ..
            } => {
                let ctx = crate::channel::EventContext {
                    topic: self.topic.to_string(),
                    socket: Arc::new(socket),
                    assigns: Arc::new(assigns),
                };
                (Work::Event { name, payload, ctx }, Caller::Group)
            }
            RequestBody::Api { caller, call } => {
                let work = match call {
                    ApiCall::Reset => Work::Reset,
                    ApiCall::Message(message) => Work::Message(message),
                    ApiCall::Rewrite => Work::Rewrite,
                    ApiCall::Init(_) => return None,
                    call => Work::Edit(Edit::Call(call)),
                };
                (work, caller)
            }
        };
        let from = From::Remote {
            id,
            node: from,
            retry,
        };
        Some(Job { work, caller, from })
    }

    /// Every change goes here: a follower forwards it (with the events waiting behind
    /// it); a leader or a standalone key runs it (with the events waiting behind it).
    pub(super) async fn submit(&mut self, first: Job) -> Option<Exit> {
        if self.role.follows() {
            self.forward_jobs(first).await;
            return None;
        }
        let started = Instant::now();
        let (mut ran, mut failed) = (Vec::new(), Vec::new());
        let groupable = first.groupable();
        self.run_job(first, &mut ran, &mut failed).await;
        let mut sources = Sources {
            local: groupable,
            forwarded: groupable,
            local_turn: false,
        };
        while ran.len() + failed.len() < MAX_BATCH && started.elapsed() < GROUP_TIME {
            let Some(job) = self.next_groupable(&mut sources) else {
                break;
            };
            self.run_job(job, &mut ran, &mut failed).await;
        }
        let exit = if ran.is_empty() {
            None
        } else {
            self.commit_group(ran).await
        };
        for (from, refusal) in failed {
            self.fail_job(from, refusal).await;
        }
        exit
    }

    /// The next change to take into the group, from the mailbox and the forwarded
    /// requests in turn.
    fn next_groupable(&mut self, sources: &mut Sources) -> Option<Job> {
        for _ in 0..2 {
            sources.local_turn = !sources.local_turn;
            if sources.local_turn && sources.local {
                let job = self.next_local_job();
                sources.local = job.is_some();
                if job.is_some() {
                    return job;
                }
            } else if !sources.local_turn && sources.forwarded {
                let job = self.next_forwarded_job();
                sources.forwarded = job.is_some();
                if job.is_some() {
                    return job;
                }
            }
        }
        None
    }

    /// The next event in the mailbox, if the next command is one (anything else waits in
    /// `stashed` for its turn, and ends the gathering).
    fn next_local_job(&mut self) -> Option<Job> {
        while self.stashed.is_none() {
            match self.mailbox.try_recv().ok()? {
                Command::Event(req) => {
                    if let Some(job) = self.event_job(req) {
                        return Some(job);
                    }
                }
                Command::Refuse {
                    sub,
                    r#ref,
                    slot,
                    reason,
                    received,
                } => {
                    return Some(Job {
                        work: Work::Refuse(reason),
                        caller: Caller::Group,
                        from: From::Here(Asker::Sub {
                            sub,
                            r#ref,
                            slot,
                            received,
                        }),
                    });
                }
                other => self.stashed = Some(other),
            }
        }
        None
    }

    /// The next forwarded request, if it may join a group (anything else stays first in
    /// the queue, for the run loop).
    fn next_forwarded_job(&mut self) -> Option<Job> {
        let lead = self.role.lead_mut()?;
        if lead.queue.is_empty() {
            let requests = lead.requests.try_recv().ok()?;
            lead.queue.extend(requests);
        }
        // a first attempt of an event joins the group; anything else waits for the run loop
        let first = lead.queue.front()?;
        if first.retry || !matches!(first.body, RequestBody::Event { .. }) {
            return None;
        }
        let request = lead.queue.pop_front()?;
        self.remote_job(request)
    }

    /// Run one change, keeping its patch (taken) or undoing it.
    async fn run_job(&mut self, job: Job, ran: &mut Vec<Ran>, failed: &mut Vec<(From, Refusal)>) {
        let Job { work, caller, from } = job;
        let reset = matches!(work, Work::Reset);
        let whole = matches!(work, Work::Rewrite);
        let outcome = self
            .run_work(work, caller, ran.len())
            .await
            .and_then(|events| {
                let Some(tracked) = self.state.tracked.as_mut() else {
                    return Err(Refusal::Api(ApiError::Refused(
                        self.state.missing(&self.topic),
                    )));
                };
                match tracked.take_changes() {
                    Ok(patch) => Ok((patch, events)),
                    Err(e) => {
                        tracked.rollback_untaken();
                        Err(Refusal::Api(ApiError::from(ChannelError::State(e))))
                    }
                }
            });
        match outcome {
            Ok((patch, events)) => ran.push(Ran {
                patch,
                reset,
                whole,
                events,
                from,
            }),
            Err(refusal) => failed.push((from, refusal)),
        }
    }

    /// Run what a change does; on success its changes wait in the state, with the reply
    /// events for its sender. `before`: how many changes of the group ran before it.
    async fn run_work(
        &mut self,
        work: Work,
        caller: Caller,
        before: usize,
    ) -> Result<Vec<(String, Value)>, Refusal> {
        let needs = match &work {
            Work::Event { .. } | Work::Refuse(_) | Work::Rewrite => Permissions::NONE,
            Work::Message(_) => Permissions::NONE.with(Permission::Write),
            Work::Edit(Edit::Run { needs, .. }) => *needs,
            Work::Edit(Edit::Call(call)) => call_needs(call),
            Work::Reset => Permissions::NONE.with(Permission::Reset),
        };
        self.config
            .settings
            .acl
            .check_all(caller, needs)
            .map_err(|denied| Refusal::Api(ApiError::Denied(denied)))?;
        if matches!(work, Work::Message(_) | Work::Edit(_) | Work::Reset) {
            let empty = Value::Object(Default::default());
            self.ensure_state(&empty).await.map_err(Refusal::Api)?;
        }
        match work {
            Work::Refuse(reason) => Err(Refusal::Api(ApiError::Refused(reason))),
            Work::Event { name, payload, ctx } => {
                let reply = self.run_event(&name, payload, &ctx).await?;
                Ok(reply.events)
            }
            Work::Message(message) => self.run_message(message).await.map(|()| Vec::new()),
            Work::Reset => self.run_reset().await.map(|()| Vec::new()),
            Work::Rewrite => Ok(Vec::new()),
            Work::Edit(edit) => {
                let version = self.state.version() + before as u64;
                let Some(tracked) = self.state.tracked.as_mut() else {
                    return Err(Refusal::Api(ApiError::UnknownKey(self.topic.to_string())));
                };
                let edited = match edit {
                    Edit::Run { run, .. } => tracked.edit(|doc| run(doc)),
                    // computed by a follower on its replica at `expect`: only at that
                    // version, and not bounded in ops as a client's patch is
                    Edit::Call(ApiCall::Patch {
                        expect: Some(v), ..
                    }) if v != version => return Err(Refusal::Conflict),
                    Edit::Call(call) => tracked.edit(|doc| match call {
                        ApiCall::Patch {
                            ops,
                            expect: Some(_),
                            ..
                        } => doc.replay(&ops).map_err(ChannelError::from),
                        ApiCall::Patch { ops, .. } => doc.apply(&ops).map_err(ChannelError::from),
                        ApiCall::Set { path, value } => {
                            doc.set(&path, value).map_err(ChannelError::from)
                        }
                        ApiCall::Remove { path } => {
                            doc.remove(&path).map(drop).map_err(ChannelError::from)
                        }
                        _ => Err(ChannelError::refused("not an edit")),
                    }),
                };
                edited.map(|()| Vec::new()).map_err(|e| {
                    tracked.rollback_untaken();
                    Refusal::Api(ApiError::from(e))
                })
            }
        }
    }

    /// Commit a group's changes in one step; then each goes out in order.
    async fn commit_group(&mut self, ran: Vec<Ran>) -> Option<Exit> {
        match self.commit(&ran).await {
            Ok(()) => {
                for r in ran {
                    self.state.bump();
                    self.deliver_ran(r);
                }
                None
            }
            // a retried request that was committed before: it is done, at that version
            Err(CommitError::Duplicate(version)) if ran.len() == 1 => {
                for r in ran {
                    self.finish(r.from, Ok(version)).await;
                }
                None
            }
            Err(e) => {
                let lost = e.lost_lease();
                let refusal = match e {
                    CommitError::Duplicate(_) => Refusal::Api(ApiError::Refused(
                        "the change could not be committed; try again".into(),
                    )),
                    CommitError::NoState => {
                        Refusal::Api(ApiError::Refused(self.state.missing(&self.topic)))
                    }
                    CommitError::Backplane(e) => {
                        tracing::warn!(topic = %self.topic, "cannot commit: {e}");
                        Refusal::Unavailable(e.to_string())
                    }
                };
                for r in ran {
                    self.fail_job(r.from, refusal.clone()).await;
                }
                lost.then_some(Exit::LeaseLost)
            }
        }
    }

    /// A committed change of the group goes out: with its asker when it is here.
    fn deliver_ran(&mut self, r: Ran) {
        let asker = match r.from {
            From::Here(asker) => Some(asker),
            // the origin node replies to its sender when the published change reaches it;
            // a request of this very node completes here
            From::Remote { id, node, .. } if node == self.node.id => self
                .role
                .cluster_mut()
                .and_then(|c| c.pending.remove(&id))
                .map(|f| f.asker),
            From::Remote { .. } => None,
        };
        let events = if asker.is_some() { &r.events[..] } else { &[] };
        self.deliver(&r.patch, r.reset, asker, events);
    }

    /// Deliver a committed change (at the current version): reply events to its asker's
    /// subscriber, the patch to every subscriber (encoded once), then the asker's
    /// acknowledgement.
    pub(super) fn deliver(
        &mut self,
        patch: &[PatchOp],
        reset: bool,
        asker: Option<Asker>,
        events: &[(String, Value)],
    ) {
        if let Some(Asker::Sub { sub, .. }) = &asker {
            if let Some(s) = self.subs.get_mut(*sub) {
                for (name, payload) in events {
                    s.sink.push(&self.topic, name, payload);
                }
            }
        }
        let wire = match self.batch.as_mut() {
            None => {
                let wire = self.state.wire_version();
                self.send_patch(patch, reset, wire);
                wire
            }
            Some(batch) => {
                batch.add(patch, reset);
                self.state.wait();
                // a socket's own change goes out at once (its client takes the patch as
                // the answer to its event), with what waited; so does a quiet key's
                let own = matches!(asker, Some(Asker::Sub { .. }));
                if own || batch.due(tokio::time::Instant::now()) {
                    self.flush();
                }
                // a waiting change is acknowledged now, at the version that will carry it
                self.state.wire_version()
            }
        };
        if let Some(asker) = asker {
            self.done(asker, wire);
        }
    }

    /// A coalescing key's waiting changes go out now, as one patch.
    pub(super) fn flush(&mut self) {
        let Some(batch) = self.batch.as_mut().filter(|b| b.is_waiting()) else {
            return;
        };
        let (ops, reset) = batch.take(tokio::time::Instant::now());
        let wire = self.state.show();
        self.send_patch(&ops, reset, wire);
    }

    /// A patch to every subscriber in step, encoded once.
    fn send_patch(&mut self, patch: &[PatchOp], reset: bool, wire: u64) {
        let gone = match self.state.tracked.as_ref() {
            Some(tracked) => {
                let state = tracked.json();
                let delivery = Delivery::new(&self.topic, patch, reset, wire, &state);
                let (sent, gone) = self.subs.deliver(&delivery);
                let metrics = &self.node.metrics;
                metrics.patches.inc();
                metrics.deliveries.inc_by(sent as u64);
                gone
            }
            None => Vec::new(),
        };
        self.gone(gone);
    }

    /// Tell an asker its change was committed at the wire version `wire`.
    pub(super) fn done(&mut self, asker: Asker, wire: u64) {
        match asker {
            Asker::Sub {
                sub,
                r#ref,
                slot,
                received,
            } => {
                self.node.metrics.event_latency.observe(received.elapsed());
                if let Some(s) = self.subs.get_mut(sub) {
                    s.sink
                        .answer(&self.topic, r#ref.as_deref(), slot, Answer::Ok(wire));
                }
            }
            Asker::Api(done) => {
                let _ = done.send(Ok(ApiReply::Committed(wire)));
            }
            Asker::Message(done) => {
                let _ = done.send(Ok(wire));
            }
            Asker::Init => {}
        }
    }

    /// A change of `from` is done at the internal version `version` (a duplicate), or
    /// refused.
    pub(super) async fn finish(&mut self, from: From, outcome: Result<u64, Refusal>) {
        match from {
            From::Here(asker) => self.settle_asker(asker, outcome),
            From::Remote { id, node, .. } if node == self.node.id => {
                let forward = self.role.cluster_mut().and_then(|c| c.pending.remove(&id));
                if let Some(forward) = forward {
                    self.settle_asker(forward.asker, outcome);
                }
            }
            From::Remote { id, node, .. } => self.answer(&node, id, outcome).await,
        }
    }

    /// A change of `from` was refused.
    pub(super) async fn fail_job(&mut self, from: From, refusal: Refusal) {
        self.finish(from, Err(refusal)).await;
    }

    /// An asker here learns the outcome of a change that is not delivered here now.
    pub(super) fn settle_asker(&mut self, asker: Asker, outcome: Result<u64, Refusal>) {
        match outcome {
            Ok(version) => {
                let wire = self.state.wire(version);
                self.done(asker, wire);
            }
            Err(refusal) => self.refuse(asker, refusal),
        }
    }

    /// Tell an asker here its change was refused.
    pub(super) fn refuse(&mut self, asker: Asker, refusal: Refusal) {
        if !matches!(asker, Asker::Init) {
            self.node.metrics.refused(refusal_code(&refusal));
        }
        if let Asker::Sub { received, .. } = &asker {
            self.node.metrics.event_latency.observe(received.elapsed());
        }
        match (asker, refusal) {
            (Asker::Sub { sub, .. }, Refusal::Failed(reason)) => {
                tracing::debug!(topic = %self.topic, sub, "event failed: {reason}");
                self.fail_sub(sub, &reason);
            }
            (
                Asker::Sub {
                    sub, r#ref, slot, ..
                },
                refusal,
            ) => {
                self.refuse_sub(sub, r#ref.as_deref(), slot, &reason(&refusal));
            }
            (Asker::Api(done), refusal) => {
                tracing::debug!(topic = %self.topic, "call refused: {}", reason(&refusal));
                let _ = done.send(Err(api_error(refusal, &self.topic)));
            }
            (Asker::Message(done), refusal) => {
                tracing::debug!(topic = %self.topic, "message refused: {}", reason(&refusal));
                let _ = done.send(Err(api_error(refusal, &self.topic)));
            }
            (Asker::Init, refusal) => self.init_failed_for_waiting(&reason(&refusal)),
        }
    }

    /// A refused event: the sender gets the current state (so a page waiting for a change
    /// after its event goes on) and the reason.
    pub(super) fn refuse_sub(
        &mut self,
        sub: SubId,
        r#ref: Option<&str>,
        slot: Option<Slot>,
        reason: &str,
    ) {
        tracing::debug!(topic = %self.topic, sub, "event refused: {reason}");
        self.flush();
        self.state
            .with_whole(&self.topic, |whole| self.subs.whole_to(sub, whole));
        if let Some(s) = self.subs.get_mut(sub) {
            s.sink
                .answer(&self.topic, r#ref, slot, Answer::Refused(reason));
        }
    }

    /// A failed (panicked) handler: its sender's channel is closed with `phx_error`; the
    /// client rejoins and gets the state as it was before the event.
    pub(super) fn fail_sub(&mut self, sub: SubId, reason: &str) {
        if let Some(s) = self.subs.get_mut(sub) {
            s.sink.end(&self.topic, reason);
        }
        self.remove(sub);
    }
}

/// The permissions a forwarded call needs.
fn call_needs(call: &ApiCall) -> Permissions {
    let write = Permissions::NONE.with(Permission::Write);
    match call {
        ApiCall::Patch { deletes: true, .. } => write.with(Permission::Delete),
        ApiCall::Patch { .. } | ApiCall::Message(_) | ApiCall::Set { .. } => write,
        ApiCall::Remove { .. } => Permissions::NONE.with(Permission::Delete),
        ApiCall::Reset => Permissions::NONE.with(Permission::Reset),
        ApiCall::Init(_) | ApiCall::Rewrite => Permissions::NONE,
    }
}

/// What a subscriber is told of a refusal.
pub(super) fn reason(refusal: &Refusal) -> String {
    match refusal {
        Refusal::Api(e) => e.to_string(),
        Refusal::Failed(reason) | Refusal::Unavailable(reason) => reason.clone(),
        Refusal::Conflict => "the key moved on; try again".to_owned(),
    }
}

/// The code a refusal is counted under in the metrics.
fn refusal_code(refusal: &Refusal) -> &'static str {
    match refusal {
        Refusal::Api(e) => e.code(),
        Refusal::Failed(_) => "failed",
        Refusal::Unavailable(_) => "unavailable",
        Refusal::Conflict => "conflict",
    }
}

/// What a Rust caller is told of a refusal.
fn api_error(refusal: Refusal, topic: &str) -> ApiError {
    match refusal {
        Refusal::Api(e) => e,
        Refusal::Failed(reason) => ApiError::Refused(reason),
        Refusal::Unavailable(reason) => ApiError::Unavailable(reason),
        Refusal::Conflict => ApiError::Unavailable(topic.to_owned()),
    }
}
