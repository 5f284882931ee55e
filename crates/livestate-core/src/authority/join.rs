//! Joining a key: the join reply, `init`, `state:change`; refreshing a subscriber.

use super::*;

impl<C: Channel> KeyAuthority<C> {
    pub(super) async fn on_join(&mut self, req: JoinRequest) {
        let JoinRequest {
            sub,
            outbox,
            join_ref,
            r#ref,
            params,
            ctx,
            slot,
            ended,
            joined,
        } = req;
        if let Some(reason) = &self.unavailable {
            slot.send(frame::reply_error(
                Some(&join_ref),
                r#ref.as_deref(),
                &self.topic,
                reason,
            ));
            let _ = joined.send(false);
            return;
        }
        slot.send(frame::reply_ok(
            Some(&join_ref),
            r#ref.as_deref(),
            &self.topic,
        ));
        let mut has_state = self.state.is_some();
        if !has_state {
            match self.init(&params, &ctx).await {
                Ok(state) => {
                    self.state = Some(state);
                    self.init_error = None;
                    has_state = true;
                    self.send_state_to_waiting();
                }
                Err(message) => {
                    outbox.try_push(frame::push(
                        Some(&join_ref),
                        &self.topic,
                        event::ERROR,
                        &ErrorPush { message: &message },
                    ));
                    self.init_error = Some(message);
                }
            }
        }
        let mut lagging = false;
        if has_state {
            if let Some(change) = self.state_change() {
                lagging = outbox.try_push(change) == Pushed::Full;
            }
        }
        if lagging {
            self.lagging += 1;
        }
        self.subs.insert(
            sub,
            Subscriber {
                outbox,
                ended,
                join_ref,
                ctx: EventContext {
                    topic: self.topic.to_string(),
                    socket: ctx.socket,
                    assigns: Arc::new(ctx.assigns),
                },
                has_state,
                lagging,
            },
        );
        let _ = joined.send(true);
    }

    /// After an `init` succeeded: the subscribers that joined while it was failing get
    /// the state now.
    pub(super) fn send_state_to_waiting(&mut self) {
        let Some(change) = self.state_change() else {
            return;
        };
        for sub in self.subs.values_mut().filter(|s| !s.has_state) {
            sub.has_state = true;
            if sub.outbox.try_push(change.clone()) == Pushed::Full && !sub.lagging {
                sub.lagging = true;
                self.lagging += 1;
            }
        }
    }

    pub(super) fn refresh(&mut self, sub: SubId) {
        let Some(change) = self.state_change() else {
            return;
        };
        if let Some(s) = self.subs.get_mut(&sub) {
            if s.outbox.try_push(change) == Pushed::Queued {
                s.has_state = true;
                if s.lagging {
                    s.lagging = false;
                    self.lagging -= 1;
                }
            }
        }
    }
}
