//! Client events and messages from Rust: run the handler, commit, deliver, reply.

use super::*;

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
        let outbox = sender.outbox.clone();
        let join_ref = sender.join_ref.clone();
        let ctx = sender.ctx.clone();
        let reply_to = Sender {
            sub,
            outbox: &outbox,
            join_ref: &join_ref,
            r#ref: r#ref.as_deref(),
            slot,
        };
        if self.state.is_none() {
            let reason = match &self.init_error {
                Some(e) => format!("{} has no state: init failed: {e}", self.topic),
                None => format!("{} has no state", self.topic),
            };
            self.reply(reply_to, Status::Error, &Reason { reason: &reason });
            return None;
        }
        if !payload.is_object() {
            self.refuse(reply_to, "payload must be a JSON object");
            return None;
        }
        let needs = self.channel.permissions_for(&name, &payload);
        if let Err(denied) = self.acl.check_all(Caller::Group, needs) {
            self.refuse(reply_to, &denied.to_string());
            return None;
        }
        let timeout = self.hub.limits().handler_timeout;
        let channel = self.channel.clone();
        let tracked = self.state.as_mut()?;
        let run = AssertUnwindSafe(channel.handle_event(&name, payload, &mut tracked.state, &ctx))
            .catch_unwind();
        let outcome = tokio::time::timeout(timeout, run).await;
        let reply = match outcome {
            Ok(Ok(Ok(reply))) => reply,
            Ok(Ok(Err(e))) => {
                tracked.rollback();
                self.refuse(reply_to, &e.to_string());
                return None;
            }
            Ok(Err(_panic)) => {
                tracked.rollback();
                tracing::error!(topic = %self.topic, event = %name, "handler panicked");
                self.fail(sub, &format!("handler for {name:?} failed"));
                return None;
            }
            Err(_) => {
                tracked.rollback();
                self.refuse(
                    reply_to,
                    &format!("handler for {name:?} timed out after {timeout:?}"),
                );
                return None;
            }
        };
        let patch = match self.commit().await {
            Ok(patch) => patch,
            Err(e) => {
                let lost = e.lost_lease();
                self.refuse(reply_to, &e.to_string());
                return lost.then_some(Exit::LeaseLost);
            }
        };
        for (event_name, payload) in &reply.events {
            outbox.try_push(frame::push(
                Some(&join_ref),
                &self.topic,
                event_name,
                payload,
            ));
        }
        let wire = self.deliver(&patch, false);
        self.reply(reply_to, Status::Ok, &Ack { version: wire });
        None
    }

    /// A message from Rust code: init the key if it has no state yet (with empty params),
    /// run `handle_message`, commit and deliver.
    pub(super) async fn on_message(&mut self, req: MessageRequest) -> Option<Exit> {
        let MessageRequest { message, done } = req;
        if let Some(reason) = &self.unavailable {
            let _ = done.send(Err(ChannelError::refused(reason.clone())));
            return None;
        }
        if self.state.is_none() {
            let ctx = JoinContext {
                topic: self.topic.to_string(),
                ..JoinContext::default()
            };
            match self.init(&Value::Object(Default::default()), &ctx).await {
                Ok(state) => {
                    self.state = Some(state);
                    self.init_error = None;
                    self.send_state_to_waiting();
                }
                Err(e) => {
                    let _ = done.send(Err(ChannelError::refused(format!("init failed: {e}"))));
                    return None;
                }
            }
        }
        let timeout = self.hub.limits().handler_timeout;
        let channel = self.channel.clone();
        let ctx = MessageContext {
            topic: self.topic.to_string(),
        };
        let tracked = self.state.as_mut()?;
        let run = AssertUnwindSafe(channel.handle_message(message, &mut tracked.state, &ctx))
            .catch_unwind();
        let refusal = match tokio::time::timeout(timeout, run).await {
            Ok(Ok(Ok(()))) => None,
            Ok(Ok(Err(e))) => Some(e),
            Ok(Err(_panic)) => {
                tracing::error!(topic = %self.topic, "message handler panicked");
                Some(ChannelError::refused("the message handler failed"))
            }
            Err(_) => Some(ChannelError::refused(format!(
                "the message handler timed out after {timeout:?}"
            ))),
        };
        if let Some(e) = refusal {
            tracked.rollback();
            let _ = done.send(Err(e));
            return None;
        }
        match self.commit().await {
            Ok(patch) => {
                let wire = self.deliver(&patch, false);
                let _ = done.send(Ok(wire));
                None
            }
            Err(e) => {
                let lost = e.lost_lease();
                let _ = done.send(Err(ChannelError::refused(e.to_string())));
                lost.then_some(Exit::LeaseLost)
            }
        }
    }

    /// A refused event: the sender gets the current state (so a page waiting for a change
    /// after its event goes on) and the reason.
    fn refuse(&mut self, to: Sender<'_>, reason: &str) {
        if let Some(change) = self.state_change() {
            if to.outbox.try_push(change) == Pushed::Queued {
                if let Some(s) = self.subs.get_mut(&to.sub) {
                    if s.lagging {
                        s.lagging = false;
                        self.lagging -= 1;
                    }
                }
            }
        }
        self.reply(to, Status::Error, &Reason { reason });
    }

    /// The `phx_reply` to the sender's push (when it had a ref), in its reserved slot.
    fn reply<R: serde::Serialize>(&self, to: Sender<'_>, status: Status, response: &R) {
        if let Some(r) = to.r#ref {
            let reply = frame::reply(Some(to.join_ref), Some(r), &self.topic, status, response);
            match to.slot {
                Some(slot) => slot.send(reply),
                None => {
                    to.outbox.try_push(reply);
                }
            }
        }
    }

    /// A failed (panicked) handler: its sender's channel is closed with `phx_error`; the
    /// client rejoins and gets the state as it was before the event.
    fn fail(&mut self, sub: SubId, reason: &str) {
        if let Some(s) = self.subs.get(&sub) {
            s.outbox
                .try_push(frame::error(&s.join_ref, &self.topic, reason));
            let _ = s.ended.send(sub);
        }
        self.remove(sub);
    }
}

/// The sender of an event, to reply to.
struct Sender<'a> {
    sub: SubId,
    outbox: &'a Outbox,
    join_ref: &'a str,
    r#ref: Option<&'a str>,
    slot: Option<Slot>,
}
