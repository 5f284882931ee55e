//! Events taken together in a cluster: a leader runs the handlers of the events waiting for
//! it one after another and commits their changes in one step; a follower forwards the
//! events waiting for it in one message. Either way a busy key pays one round trip to the
//! backplane per group of events, not per event, and every event keeps its place: the
//! changes are committed in the order the events came (each source in order), and each
//! sender's reply follows its event's patch.
//!
//! An event that is refused or whose handler fails among others leaves their changes (its
//! own are undone with `rollback_untaken`); a commit that fails refuses them all and changes
//! nothing. A retried forwarded request (one that may be committed already) is never taken
//! into a group: it runs alone, where a duplicate is answered with its version.

use super::events::HandlerError;
use super::*;
use crate::backplane::{Answer, RequestBody};
use cluster::Waiter;

/// The most events run and committed together.
pub(super) const MAX_BATCH: usize = 64;

/// How long a group's handlers may run before it is committed (the events still waiting
/// go in the next group).
pub(super) const GROUP_TIME: std::time::Duration = std::time::Duration::from_millis(2);

/// An event waiting to run in a group.
pub(super) enum Queued {
    /// From a subscriber on this node.
    Local(EventRequest),
    /// Forwarded by another node (a first attempt).
    Forwarded(Request),
}

/// An event whose handler ran; its change waits to be committed with the others.
struct Ran {
    patch: Vec<PatchOp>,
    who: Who,
}

enum Who {
    Local {
        sub: SubId,
        r#ref: Option<String>,
        slot: Option<Slot>,
        events: Vec<(String, Value)>,
    },
    Forwarded {
        origin: Origin,
    },
}

/// What is said after the group's commit: an event refused or failed on its own.
enum After {
    Refuse {
        sub: SubId,
        r#ref: Option<String>,
        slot: Option<Slot>,
        reason: String,
    },
    Fail {
        sub: SubId,
        reason: String,
    },
    Answer {
        node: String,
        id: EventId,
        code: &'static str,
        reason: String,
    },
}

/// Whether a forwarded request can be taken into a group.
pub(super) fn groupable(request: &Request) -> bool {
    !request.retry && matches!(request.body, RequestBody::Event { .. })
}

impl<C: Channel> KeyAuthority<C> {
    /// The next event waiting in the mailbox, if the next command is one (anything else
    /// waits in `stashed_command` for its turn, and ends the gathering).
    fn next_local_event(&mut self) -> Option<EventRequest> {
        if self.stashed_command.is_some() {
            return None;
        }
        match self.mailbox.try_recv() {
            Ok(Command::Event(e)) => Some(e),
            Ok(other) => {
                self.stashed_command = Some(other);
                None
            }
            Err(_) => None,
        }
    }

    /// The next first-attempt forwarded event waiting, if the next request is one
    /// (anything else waits in `stashed_request`).
    fn next_forwarded_event(&mut self) -> Option<Request> {
        if self.stashed_request.is_some() {
            return None;
        }
        let rx = self.cluster.as_mut()?.requests.as_mut()?;
        match rx.try_recv() {
            Ok(r) if groupable(&r) => Some(r),
            Ok(other) => {
                self.stashed_request = Some(other);
                None
            }
            Err(_) => None,
        }
    }

    /// More events from the mailbox, up to `room`.
    fn more_local_events(&mut self, room: usize) -> Vec<EventRequest> {
        let mut out = Vec::new();
        while out.len() < room {
            match self.next_local_event() {
                Some(e) => out.push(e),
                None => break,
            }
        }
        out
    }

    /// A leader runs `first` and the events waiting behind it, and commits their changes
    /// together.
    pub(super) async fn run_group(&mut self, first: Queued) -> Option<Exit> {
        let started = Instant::now();
        let mut ran = Vec::new();
        let mut after = Vec::new();
        // taken from both sources in turn, so neither waits behind the other; a group closes
        // after MAX_BATCH events or GROUP_TIME of handlers, so slow handlers do not hold
        // the first event's acknowledgement back for long
        let (mut local, mut forwarded, mut local_turn) = (true, true, false);
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(queued) = next.take() {
            self.run_one(queued, &mut ran, &mut after).await;
            taken += 1;
            if taken >= MAX_BATCH || started.elapsed() >= GROUP_TIME {
                break;
            }
            for _ in 0..2 {
                local_turn = !local_turn;
                if local_turn && local {
                    next = self.next_local_event().map(Queued::Local);
                    local = next.is_some();
                } else if !local_turn && forwarded {
                    next = self.next_forwarded_event().map(Queued::Forwarded);
                    forwarded = next.is_some();
                }
                if next.is_some() {
                    break;
                }
            }
        }
        let exit = if ran.is_empty() {
            None
        } else {
            self.commit_group(ran).await
        };
        for a in after {
            self.say_after(a).await;
        }
        exit
    }

    /// Run one event's handler, keeping its change (taken) or undoing it.
    async fn run_one(&mut self, queued: Queued, ran: &mut Vec<Ran>, after: &mut Vec<After>) {
        let (name, payload, ctx, who) = match queued {
            Queued::Local(EventRequest {
                sub,
                r#ref,
                name,
                payload,
                slot,
            }) => {
                let Some(sender) = self.subs.get(&sub) else {
                    return;
                };
                let ctx = sender.ctx.clone();
                let who = Who::Local {
                    sub,
                    r#ref,
                    slot,
                    events: Vec::new(),
                };
                (name, payload, ctx, who)
            }
            Queued::Forwarded(Request { id, from, body, .. }) => {
                let RequestBody::Event {
                    sub,
                    r#ref,
                    name,
                    payload,
                    socket,
                    assigns,
                } = body
                else {
                    return;
                };
                let ctx = EventContext {
                    topic: self.topic.to_string(),
                    socket: Arc::new(socket),
                    assigns: Arc::new(assigns),
                };
                let origin = Origin {
                    event: id,
                    node: from,
                    sub,
                    r#ref,
                    events: Vec::new(),
                };
                (name, payload, ctx, Who::Forwarded { origin })
            }
        };
        let outcome = match self.run_handler(&name, payload, &ctx).await {
            Ok(reply) => match self.state.as_mut().map(|t| t.take_changes()) {
                Some(Ok(patch)) => Ok((reply.events, patch)),
                Some(Err(e)) => {
                    if let Some(t) = self.state.as_mut() {
                        t.rollback_untaken();
                    }
                    Err(HandlerError::Refused(e.to_string()))
                }
                None => Err(HandlerError::Refused(format!(
                    "{} has no state",
                    self.topic
                ))),
            },
            Err(e) => Err(e),
        };
        match (outcome, who) {
            (
                Ok((events, patch)),
                Who::Local {
                    sub, r#ref, slot, ..
                },
            ) => ran.push(Ran {
                patch,
                who: Who::Local {
                    sub,
                    r#ref,
                    slot,
                    events,
                },
            }),
            (Ok((events, patch)), Who::Forwarded { mut origin }) => {
                origin.events = events;
                ran.push(Ran {
                    patch,
                    who: Who::Forwarded { origin },
                });
            }
            (
                Err(HandlerError::Refused(reason)),
                Who::Local {
                    sub, r#ref, slot, ..
                },
            ) => {
                after.push(After::Refuse {
                    sub,
                    r#ref,
                    slot,
                    reason,
                });
            }
            (Err(HandlerError::Failed(reason)), Who::Local { sub, .. }) => {
                after.push(After::Fail { sub, reason });
            }
            (Err(e), Who::Forwarded { origin }) => {
                let (code, reason) = match e {
                    HandlerError::Refused(r) => ("refused", r),
                    HandlerError::Failed(r) => ("failed", r),
                };
                after.push(After::Answer {
                    node: origin.node,
                    id: origin.event,
                    code,
                    reason,
                });
            }
        }
    }

    /// Commit the group's changes in one step; then each patch goes out in order, each
    /// sender's reply events before its patch and its acknowledgement after. A failed
    /// commit refuses them all.
    async fn commit_group(&mut self, ran: Vec<Ran>) -> Option<Exit> {
        let committed = {
            let staged: Vec<Staged<'_>> = ran
                .iter()
                .map(|r| match &r.who {
                    Who::Local { .. } => Staged {
                        patch: &r.patch,
                        reset: false,
                        event: None,
                        origin: None,
                    },
                    Who::Forwarded { origin } => Staged {
                        patch: &r.patch,
                        reset: false,
                        event: Some(&origin.event),
                        origin: Some(origin),
                    },
                })
                .collect();
            self.commit_taken(&staged, false).await
        };
        match committed {
            Ok(()) => {
                for r in ran {
                    self.version += 1;
                    match r.who {
                        Who::Local {
                            sub,
                            r#ref,
                            slot,
                            events,
                        } => {
                            if let Some(s) = self.subs.get(&sub) {
                                for (name, payload) in &events {
                                    s.outbox.try_push(frame::push(
                                        Some(&s.join_ref),
                                        &self.topic,
                                        name,
                                        payload,
                                    ));
                                }
                            }
                            let wire = self.deliver(&r.patch, false);
                            self.ack(sub, r#ref.as_deref(), slot, Ok(wire));
                        }
                        Who::Forwarded { origin } => {
                            // the origin node replies to its sender when the change reaches
                            // it; a request of this very node completes here
                            let pending = (origin.node == self.node)
                                .then(|| {
                                    self.cluster
                                        .as_mut()
                                        .and_then(|c| c.pending.remove(&origin.event))
                                })
                                .flatten();
                            match pending {
                                Some(p) => self.complete_change(&origin, p, &r.patch, false),
                                None => {
                                    self.deliver(&r.patch, false);
                                }
                            }
                        }
                    }
                }
                None
            }
            Err(e) => {
                // a first attempt cannot be a duplicate; if the backplane says so anyway,
                // nothing was committed and the senders try again
                let reason = match &e {
                    CommitError::Duplicate(_) => {
                        "the change could not be committed; try again".to_owned()
                    }
                    other => other.to_string(),
                };
                for r in ran {
                    match r.who {
                        Who::Local {
                            sub, r#ref, slot, ..
                        } => self.refuse_sub(sub, r#ref.as_deref(), slot, &reason),
                        Who::Forwarded { origin } => {
                            self.say_after(After::Answer {
                                node: origin.node,
                                id: origin.event,
                                code: "unavailable",
                                reason: reason.clone(),
                            })
                            .await;
                        }
                    }
                }
                e.lost_lease().then_some(Exit::LeaseLost)
            }
        }
    }

    async fn say_after(&mut self, after: After) {
        match after {
            After::Refuse {
                sub,
                r#ref,
                slot,
                reason,
            } => self.refuse_sub(sub, r#ref.as_deref(), slot, &reason),
            After::Fail { sub, reason } => self.fail(sub, &reason),
            After::Answer {
                node,
                id,
                code,
                reason,
            } => {
                if node == self.node {
                    if let Some(p) = self.cluster.as_mut().and_then(|c| c.pending.remove(&id)) {
                        let r = crate::backplane::Refusal {
                            code: code.to_owned(),
                            message: reason,
                        };
                        self.finish_refused(p.waiter, r);
                    }
                    return;
                }
                let answer = Answer {
                    id,
                    key: self.topic.to_string(),
                    outcome: Err(crate::backplane::Refusal {
                        code: code.to_owned(),
                        message: reason,
                    }),
                };
                if let Err(e) = self.backplane().answer(&node, answer).await {
                    tracing::warn!(topic = %self.topic, "cannot answer {node}: {e}");
                }
            }
        }
    }

    /// A follower forwards `first` and the events waiting behind it in one message.
    pub(super) async fn forward_group(&mut self, first: EventRequest) {
        let mut events = vec![first];
        events.extend(self.more_local_events(MAX_BATCH - 1));
        let mut items = Vec::with_capacity(events.len());
        for EventRequest {
            sub,
            r#ref,
            name,
            payload,
            slot,
        } in events
        {
            let Some(sender) = self.subs.get(&sub) else {
                continue;
            };
            let ctx = sender.ctx.clone();
            if let Err(reason) = self.check_event(&name, &payload) {
                self.refuse_sub(sub, r#ref.as_deref(), slot, &reason);
                continue;
            }
            let body = RequestBody::Event {
                sub,
                r#ref: r#ref.clone(),
                name,
                payload,
                socket: (*ctx.socket).clone(),
                assigns: (*ctx.assigns).clone(),
            };
            items.push((body, Waiter::Event { sub, r#ref, slot }));
        }
        if !items.is_empty() {
            self.forward_all(items).await;
        }
    }
}
