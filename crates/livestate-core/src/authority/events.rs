//! Client events and messages from Rust: run the handler, commit, deliver, reply. A
//! follower forwards them to the key's leader (see `cluster`).

use super::*;
use crate::backplane::RequestBody;
use cluster::Waiter;

/// Why a handler did not produce a change. The state is rolled back.
pub(super) enum HandlerError {
    /// Refused, with the reason for the sender.
    Refused(String),
    /// Panicked (the sender's channel fails).
    Failed(String),
}

impl<C: Channel> KeyAuthority<C> {
    pub(super) async fn on_event(&mut self, req: EventRequest) -> Option<Exit> {
        let EventRequest {
            sub,
            r#ref,
            name,
            payload,
            slot,
        } = req;
        let Some(sender) = self.subs.get(&sub) else {
            // The subscription ended (its channel failed or left) while this was queued.
            tracing::debug!(topic = %self.topic, "event from a subscription that ended");
            return None;
        };
        let ctx = sender.ctx.clone();
        if self.state.is_none() {
            let reason = match &self.init_error {
                Some(e) => format!("{} has no state: init failed: {e}", self.topic),
                None => format!("{} has no state", self.topic),
            };
            self.ack(sub, r#ref.as_deref(), slot, Err(&reason));
            return None;
        }
        if self.cluster.is_some() {
            // a follower forwards, a leader runs it with the events waiting behind it
            let req = EventRequest {
                sub,
                r#ref,
                name,
                payload,
                slot,
            };
            if self.follows() {
                self.forward_group(req).await;
                return None;
            }
            return self.run_group(batch::Queued::Local(req)).await;
        }
        let reply = match self.run_handler(&name, payload, &ctx).await {
            Ok(reply) => reply,
            Err(HandlerError::Refused(reason)) => {
                self.refuse_sub(sub, r#ref.as_deref(), slot, &reason);
                return None;
            }
            Err(HandlerError::Failed(reason)) => {
                self.fail(sub, &reason);
                return None;
            }
        };
        let patch = match self.commit(None, None, false).await {
            Ok(patch) => patch,
            Err(e) => {
                self.refuse_sub(sub, r#ref.as_deref(), slot, &e.to_string());
                return e.lost_lease().then_some(Exit::LeaseLost);
            }
        };
        if let Some(s) = self.subs.get(&sub) {
            for (event_name, payload) in &reply.events {
                s.outbox.try_push(frame::push(
                    Some(&s.join_ref),
                    &self.topic,
                    event_name,
                    payload,
                ));
            }
        }
        let wire = self.deliver(&patch, false);
        self.ack(sub, r#ref.as_deref(), slot, Ok(wire));
        None
    }

    /// What every node checks before running or forwarding an event.
    pub(super) fn check_event(&self, name: &str, payload: &Value) -> Result<(), String> {
        if !payload.is_object() {
            return Err("payload must be a JSON object".to_owned());
        }
        let needs = self.channel.permissions_for(name, payload);
        self.acl
            .check_all(Caller::Group, needs)
            .map_err(|denied| denied.to_string())
    }

    /// Run the channel's handler for an event. On success the changes wait in the state to
    /// be committed; on failure they are rolled back.
    pub(super) async fn run_handler(
        &mut self,
        name: &str,
        payload: Value,
        ctx: &EventContext,
    ) -> Result<Reply, HandlerError> {
        self.check_event(name, &payload)
            .map_err(HandlerError::Refused)?;
        let timeout = self.hub.limits().handler_timeout;
        let channel = self.channel.clone();
        let Some(tracked) = self.state.as_mut() else {
            return Err(HandlerError::Refused(format!(
                "{} has no state",
                self.topic
            )));
        };
        let run = AssertUnwindSafe(channel.handle_event(name, payload, &mut tracked.state, ctx))
            .catch_unwind();
        let outcome = tokio::time::timeout(timeout, run).await;
        let failure = match outcome {
            Ok(Ok(Ok(reply))) => return Ok(reply),
            Ok(Ok(Err(e))) => HandlerError::Refused(e.to_string()),
            Ok(Err(_panic)) => {
                tracing::error!(topic = %self.topic, event = %name, "handler panicked");
                HandlerError::Failed(format!("handler for {name:?} failed"))
            }
            Err(_) => {
                HandlerError::Refused(format!("handler for {name:?} timed out after {timeout:?}"))
            }
        };
        // only this event's changes: others taken before it (in a group) stay
        tracked.rollback_untaken();
        Err(failure)
    }

    /// A message from Rust code: init the key if it has no state yet (with empty params),
    /// run `handle_message`, commit and deliver (a follower forwards it).
    pub(super) async fn on_message(&mut self, req: MessageRequest) -> Option<Exit> {
        let MessageRequest { message, done } = req;
        if let Some(reason) = &self.unavailable {
            let _ = done.send(Err(ChannelError::refused(reason.clone())));
            return None;
        }
        if self.follows() {
            let body = RequestBody::Api {
                caller: Caller::Group,
                op: crate::backplane::ApiCall::Message(message),
            };
            self.forward(body, Waiter::Message { done }).await;
            return None;
        }
        if self.scope == Scope::Connection && (self.state.is_none() || self.subs.is_empty()) {
            // a connection's state comes from its own join params, never from a message;
            // one that left is going away
            let reason = format!("{}: no joined connection here", self.topic);
            let _ = done.send(Err(ChannelError::refused(reason)));
            return None;
        }
        if let Err(e) = self
            .ensure_state_with(&Value::Object(Default::default()))
            .await
        {
            let _ = done.send(Err(ChannelError::refused(e.to_string())));
            return None;
        }
        if let Err(e) = self.run_message(message).await {
            if let Some(tracked) = self.state.as_mut() {
                tracked.rollback();
            }
            let _ = done.send(Err(e));
            return self.untouched().then_some(Exit::Expired);
        }
        match self.commit(None, None, false).await {
            Ok(patch) => {
                let wire = self.deliver(&patch, false);
                let _ = done.send(Ok(wire));
                None
            }
            Err(e) => {
                let lost = e.lost_lease();
                let error = match e {
                    // a typed state over its limits: the caller learns which one
                    CommitError::State(e) if e.limit().is_some() => ChannelError::State(e),
                    e => ChannelError::refused(e.to_string()),
                };
                let _ = done.send(Err(error));
                lost.then_some(Exit::LeaseLost)
            }
        }
    }

    /// Run `handle_message`; the changes wait to be committed (the caller rolls back on
    /// error).
    pub(super) async fn run_message(&mut self, message: Value) -> Result<(), ChannelError> {
        let timeout = self.hub.limits().handler_timeout;
        let channel = self.channel.clone();
        let ctx = MessageContext {
            topic: self.topic.to_string(),
        };
        let Some(tracked) = self.state.as_mut() else {
            return Err(ChannelError::refused(format!(
                "{} has no state",
                self.topic
            )));
        };
        let run = AssertUnwindSafe(channel.handle_message(message, &mut tracked.state, &ctx))
            .catch_unwind();
        match tokio::time::timeout(timeout, run).await {
            Ok(Ok(result)) => result,
            Ok(Err(_panic)) => {
                tracing::error!(topic = %self.topic, "message handler panicked");
                Err(ChannelError::refused("the message handler failed"))
            }
            Err(_) => Err(ChannelError::refused(format!(
                "the message handler timed out after {timeout:?}"
            ))),
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
        if let (Some(change), Some(s)) = (self.state_change(), self.subs.get_mut(&sub)) {
            if s.outbox.try_push(frame::for_channel(&s.join_ref, &change)) == Pushed::Queued {
                s.has_state = true;
                if s.lagging {
                    s.lagging = false;
                    self.lagging -= 1;
                }
            }
        }
        self.ack(sub, r#ref, slot, Err(reason));
    }

    /// The `phx_reply` to a subscriber's push (when it had a ref): ok with the wire version,
    /// or error with the reason; in its reserved slot.
    pub(super) fn ack(
        &self,
        sub: SubId,
        r#ref: Option<&str>,
        slot: Option<Slot>,
        result: Result<u64, &str>,
    ) {
        let (Some(r), Some(s)) = (r#ref, self.subs.get(&sub)) else {
            return;
        };
        let reply = match result {
            Ok(version) => frame::reply(
                Some(&s.join_ref),
                Some(r),
                &self.topic,
                Status::Ok,
                &Ack { version },
            ),
            Err(reason) => frame::reply(
                Some(&s.join_ref),
                Some(r),
                &self.topic,
                Status::Error,
                &Reason { reason },
            ),
        };
        match slot {
            Some(slot) => slot.send(reply),
            None => {
                s.outbox.try_push(reply);
            }
        }
    }

    /// A failed (panicked) handler: its sender's channel is closed with `phx_error`; the
    /// client rejoins and gets the state as it was before the event.
    pub(super) fn fail(&mut self, sub: SubId, reason: &str) {
        if let Some(s) = self.subs.get(&sub) {
            s.outbox
                .try_push(frame::error(&s.join_ref, &self.topic, reason));
            let _ = s.ended.send(sub);
        }
        self.remove(sub);
    }
}
