//! [`ChannelSink`]: a socket's joined channel as a subscriber. It turns what the key
//! authority delivers into LiveState's frames (Phoenix Channels V2) in the socket's
//! outbox: the shared `state:patch` and presence diffs as they were encoded once, and the
//! channel's own pushes and replies with its join_ref.

use super::{Answer, Broadcast, Delivery, Sink, SubId, Whole};
use crate::outbox::{Outbox, Pushed, Slot};
use livestate_protocol::livestate::{Ack, Reason};
use livestate_protocol::{Status, frame};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::mpsc;

/// A socket's channel on a key.
pub(crate) struct ChannelSink {
    outbox: Outbox,
    join_ref: Arc<str>,
    /// Tells the socket's session when the authority ends the subscription.
    ended: mpsc::UnboundedSender<SubId>,
    sub: SubId,
}

impl ChannelSink {
    pub(crate) fn new(
        outbox: Outbox,
        join_ref: Arc<str>,
        ended: mpsc::UnboundedSender<SubId>,
        sub: SubId,
    ) -> ChannelSink {
        ChannelSink {
            outbox,
            join_ref,
            ended,
            sub,
        }
    }
}

impl Sink for ChannelSink {
    fn change(&mut self, delivery: &Delivery<'_>) -> Pushed {
        self.outbox.try_push(delivery.patch_frame().clone())
    }

    fn whole(&mut self, whole: &Whole<'_>) -> Pushed {
        self.outbox
            .try_push(frame::for_channel(&self.join_ref, whole.frame()))
    }

    fn push(&mut self, topic: &str, event: &str, payload: &Value) {
        self.outbox
            .try_push(frame::push(Some(&self.join_ref), topic, event, payload));
    }

    fn broadcast(&mut self, broadcast: &Broadcast<'_>) -> Pushed {
        self.outbox.try_push(broadcast.frame().clone())
    }

    fn answer(&mut self, topic: &str, r#ref: Option<&str>, slot: Option<Slot>, answer: Answer<'_>) {
        let Some(r) = r#ref else {
            return;
        };
        let jr = Some(&*self.join_ref);
        let reply = match answer {
            Answer::Ok(version) => frame::reply(jr, Some(r), topic, Status::Ok, &Ack { version }),
            Answer::Refused(reason) => {
                frame::reply(jr, Some(r), topic, Status::Error, &Reason { reason })
            }
        };
        match slot {
            Some(slot) => slot.send(reply),
            None => {
                self.outbox.try_push(reply);
            }
        }
    }

    fn end(&mut self, topic: &str, reason: &str) {
        self.outbox
            .try_push(frame::error(&self.join_ref, topic, reason));
        let _ = self.ended.send(self.sub);
    }

    fn has_drained(&self) -> bool {
        self.outbox.has_drained()
    }

    fn is_closed(&self) -> bool {
        self.outbox.is_closed()
    }
}
