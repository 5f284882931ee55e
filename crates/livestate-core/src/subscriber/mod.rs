//! A key's subscribers: whatever takes a key's changes (a socket's channel, a Rust
//! subscription, and next a live view) behind one [`Sink`], and [`Subscribers`], a key's
//! set of them with its lag accounting. The key authority fans out to sinks without
//! knowing which kind each is.
//!
//! ## Encoded once
//!
//! A change reaches every sink as one [`Delivery`]: the patch, the wire version, the state
//! after it. What a kind of sink sends is computed from it once, on first use, and shared
//! by every sink of that kind: the `state:patch` frame for sockets, the list of
//! [`Change`]s for Rust subscribers. The whole state ([`Whole`]) works the same way.
//!
//! ## Lagging
//!
//! Sinks never make the authority wait: a sink that cannot take a change now is marked
//! lagging and gets nothing more until it has drained ([`Sink::has_drained`]); then it
//! gets the whole state once ([`Sink::whole`]) and is back in step. A socket's client
//! sees a fresh `state:change`, a Rust subscriber a `reset` change: never a wrong state.
//! [`Subscribers`] keeps this bookkeeping in one place.
//!
//! Modules: `channel` (a socket's channel: LiveState frames into its outbox), `watch` (a
//! Rust subscription: [`Change`]s into a queue).

mod channel;
mod watch;

pub(crate) use channel::ChannelSink;
pub(crate) use watch::WatchSink;

use crate::calls::Change;
use crate::channel::EventContext;
use crate::outbox::{Pushed, Slot};
use indexmap::IndexMap;
use livestate_protocol::livestate::{StateChange, StatePatch};
use livestate_protocol::{PatchOp, Text, event, frame};
use serde_json::Value;
use std::sync::OnceLock;

/// A subscription's id, unique within the process.
pub(crate) type SubId = u64;

/// A committed change, as every subscriber of a key receives it.
pub(crate) struct Delivery<'a> {
    /// The key's topic.
    pub(crate) topic: &'a str,
    /// The patch from the previous version.
    pub(crate) patch: &'a [PatchOp],
    /// Whether it is a reset (Rust subscribers then get the whole state).
    pub(crate) reset: bool,
    /// The wire version it produced.
    pub(crate) version: u64,
    /// The state after it.
    pub(crate) state: &'a Value,
    frame: OnceLock<Text>,
    changes: OnceLock<Vec<Change>>,
}

impl<'a> Delivery<'a> {
    pub(crate) fn new(
        topic: &'a str,
        patch: &'a [PatchOp],
        reset: bool,
        version: u64,
        state: &'a Value,
    ) -> Delivery<'a> {
        Delivery {
            topic,
            patch,
            reset,
            version,
            state,
            frame: OnceLock::new(),
            changes: OnceLock::new(),
        }
    }

    /// `state:patch`, encoded once.
    pub(crate) fn patch_frame(&self) -> &Text {
        self.frame.get_or_init(|| {
            frame::broadcast(
                self.topic,
                event::STATE_PATCH,
                &StatePatch {
                    patch: self.patch,
                    version: self.version,
                    reset: self.reset,
                },
            )
        })
    }

    /// The change in PhoenixLiveState's terms, computed once.
    pub(crate) fn changes(&self) -> &[Change] {
        self.changes.get_or_init(|| {
            if self.reset {
                vec![watch::reset_change(self.state.clone(), self.version)]
            } else {
                watch::changes_of(self.patch, self.state, self.version)
            }
        })
    }
}

/// A key's whole state at one version: what a subscriber gets when it joins, when its event
/// is refused, or when it has caught up after lagging.
pub(crate) struct Whole<'a> {
    pub(crate) topic: &'a str,
    pub(crate) state: &'a Value,
    /// The wire version.
    pub(crate) version: u64,
    /// `state:change`, encoded once per version (the authority keeps it between uses).
    pub(crate) frame: &'a OnceLock<Text>,
}

impl Whole<'_> {
    /// `state:change` (without a join_ref), encoded once.
    pub(crate) fn frame(&self) -> &Text {
        self.frame.get_or_init(|| {
            frame::broadcast(
                self.topic,
                event::STATE_CHANGE,
                &StateChange {
                    state: self.state,
                    version: self.version,
                },
            )
        })
    }
}

/// A frame for every socket of a key that the authority encodes once (a presence diff).
pub(crate) struct Broadcast<'a> {
    pub(crate) topic: &'a str,
    pub(crate) event: &'a str,
    pub(crate) payload: &'a Value,
    frame: OnceLock<Text>,
}

impl<'a> Broadcast<'a> {
    pub(crate) fn new(topic: &'a str, event: &'a str, payload: &'a Value) -> Broadcast<'a> {
        Broadcast {
            topic,
            event,
            payload,
            frame: OnceLock::new(),
        }
    }

    pub(crate) fn frame(&self) -> &Text {
        self.frame
            .get_or_init(|| frame::broadcast(self.topic, self.event, self.payload))
    }
}

/// What an authority says to the one subscriber that sent an event.
pub(crate) enum Answer<'a> {
    /// Handled: the wire version it produced.
    Ok(u64),
    /// Refused, with the reason.
    Refused(&'a str),
}

/// Where a subscriber's share of a key goes. The authority calls it from its own task:
/// nothing here may wait.
pub(crate) trait Sink: Send + 'static {
    /// A committed change.
    fn change(&mut self, delivery: &Delivery<'_>) -> Pushed;

    /// The whole state.
    fn whole(&mut self, whole: &Whole<'_>) -> Pushed;

    /// A push for this subscriber only (reply events, `presence_state`, the `error` of a
    /// failed `init`). Only a socket's channel takes these.
    fn push(&mut self, topic: &str, event: &str, payload: &Value) {
        let _ = (topic, event, payload);
    }

    /// A frame for every socket of the key (a presence diff).
    fn broadcast(&mut self, broadcast: &Broadcast<'_>) -> Pushed {
        let _ = broadcast;
        Pushed::Queued
    }

    /// The answer to this subscriber's own event (`ref`: its push's ref), in the room
    /// reserved for it when there is one.
    fn answer(&mut self, topic: &str, r#ref: Option<&str>, slot: Option<Slot>, answer: Answer<'_>) {
        let _ = (topic, r#ref, slot, answer);
    }

    /// The authority ends the subscription (its handler failed, the key moved): the
    /// subscriber is told why and forgets it.
    fn end(&mut self, topic: &str, reason: &str);

    /// Whether a lagging sink has drained enough to take the whole state.
    fn has_drained(&self) -> bool;

    /// Whether whoever reads the sink is gone.
    fn is_closed(&self) -> bool;
}

/// One subscriber of a key.
pub(crate) struct Subscriber {
    pub(crate) sink: Box<dyn Sink>,
    /// What its events' handlers see of it (a socket's channel; `None` for a Rust
    /// subscription, which sends no events).
    pub(crate) ctx: Option<EventContext>,
    /// Its presence entry: key, and metadata with its `phx_ref`.
    pub(crate) presence: Option<(String, Value)>,
    /// Whether it has been sent the state (false while the key's `init` keeps failing).
    has_state: bool,
    /// Set when its sink overflowed; it gets no changes until it has caught up.
    lagging: bool,
}

impl Subscriber {
    pub(crate) fn new(
        sink: Box<dyn Sink>,
        ctx: Option<EventContext>,
        presence: Option<(String, Value)>,
    ) -> Subscriber {
        Subscriber {
            sink,
            ctx,
            presence,
            has_state: false,
            lagging: false,
        }
    }

    /// One that has the state already (a Rust subscription gets it in its attach reply).
    pub(crate) fn with_state(mut self) -> Subscriber {
        self.has_state = true;
        self
    }

    pub(crate) fn has_state(&self) -> bool {
        self.has_state
    }
}

/// A key's subscribers, in the order they came, and how many of them lag.
#[derive(Default)]
pub(crate) struct Subscribers {
    map: IndexMap<SubId, Subscriber>,
    lagging: usize,
}

impl Subscribers {
    pub(crate) fn insert(&mut self, id: SubId, sub: Subscriber) {
        let lagging = sub.lagging;
        if let Some(old) = self.map.insert(id, sub) {
            self.lagging -= usize::from(old.lagging);
        }
        self.lagging += usize::from(lagging);
    }

    pub(crate) fn remove(&mut self, id: SubId) -> Option<Subscriber> {
        let sub = self.map.swap_remove(&id)?;
        self.lagging -= usize::from(sub.lagging);
        Some(sub)
    }

    pub(crate) fn get(&self, id: SubId) -> Option<&Subscriber> {
        self.map.get(&id)
    }

    pub(crate) fn get_mut(&mut self, id: SubId) -> Option<&mut Subscriber> {
        self.map.get_mut(&id)
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// How many lag.
    pub(crate) fn lagging(&self) -> usize {
        self.lagging
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&SubId, &Subscriber)> {
        self.map.iter()
    }

    /// Remove and return every subscriber.
    pub(crate) fn drain(&mut self) -> Vec<(SubId, Subscriber)> {
        self.lagging = 0;
        self.map.drain(..).collect()
    }

    /// A committed change to every subscriber that has the state and is in step; returns
    /// how many took it, and those whose sink is gone (removed).
    pub(crate) fn deliver(&mut self, delivery: &Delivery<'_>) -> (usize, Vec<Subscriber>) {
        self.each(|s| s.has_state && !s.lagging, |sink| sink.change(delivery))
    }

    /// A frame for every socket that has the state and is in step.
    pub(crate) fn broadcast(&mut self, broadcast: &Broadcast<'_>) -> Vec<Subscriber> {
        let (_, gone) = self.each(
            |s| s.has_state && !s.lagging,
            |sink| sink.broadcast(broadcast),
        );
        gone
    }

    /// The whole state to one subscriber: it has the state and is in step if it took it,
    /// and lags if it had no room.
    pub(crate) fn whole_to(&mut self, id: SubId, whole: &Whole<'_>) -> Pushed {
        let Some(sub) = self.map.get_mut(&id) else {
            return Pushed::Closed;
        };
        let pushed = sub.sink.whole(whole);
        self.lagging = apply(sub, pushed, self.lagging);
        pushed
    }

    /// The whole state to every subscriber (`waiting_only`: those that have none yet);
    /// returns those whose sink is gone (removed).
    pub(crate) fn whole_to_all(
        &mut self,
        whole: &Whole<'_>,
        waiting_only: bool,
    ) -> Vec<Subscriber> {
        let ids: Vec<SubId> = self
            .map
            .iter()
            .filter(|(_, s)| !waiting_only || !s.has_state)
            .map(|(id, _)| *id)
            .collect();
        let gone: Vec<SubId> = ids
            .into_iter()
            .filter(|id| self.whole_to(*id, whole) == Pushed::Closed)
            .collect();
        gone.into_iter().filter_map(|id| self.remove(id)).collect()
    }

    /// Lagging subscribers that have drained get the whole state; returns how many took
    /// it, and those whose sink is gone (removed).
    pub(crate) fn catch_up(&mut self, whole: &Whole<'_>) -> (usize, Vec<Subscriber>) {
        if self.lagging == 0 {
            return (0, Vec::new());
        }
        let mut gone = Vec::new();
        let mut ready = Vec::new();
        for (id, sub) in self.map.iter().filter(|(_, s)| s.lagging) {
            if sub.sink.is_closed() {
                gone.push(*id);
            } else if sub.sink.has_drained() {
                ready.push(*id);
            }
        }
        let mut resynced = 0;
        for id in ready {
            match self.whole_to(id, whole) {
                Pushed::Closed => gone.push(id),
                Pushed::Queued => resynced += 1,
                Pushed::Full => {}
            }
        }
        let gone = gone.into_iter().filter_map(|id| self.remove(id)).collect();
        (resynced, gone)
    }

    /// Run `push` on the sinks of the subscribers `which` picks, marking those that had no
    /// room as lagging and removing those that are gone; how many took it.
    fn each(
        &mut self,
        which: impl Fn(&Subscriber) -> bool,
        mut push: impl FnMut(&mut dyn Sink) -> Pushed,
    ) -> (usize, Vec<Subscriber>) {
        let mut gone = Vec::new();
        let mut sent = 0;
        for (id, sub) in self.map.iter_mut() {
            if !which(sub) {
                continue;
            }
            match push(sub.sink.as_mut()) {
                Pushed::Queued => sent += 1,
                Pushed::Full => {
                    sub.lagging = true;
                    self.lagging += 1;
                }
                Pushed::Closed => gone.push(*id),
            }
        }
        let gone = gone.into_iter().filter_map(|id| self.remove(id)).collect();
        (sent, gone)
    }
}

/// A subscriber's flags after the whole state was pushed to it; the new lagging count.
fn apply(sub: &mut Subscriber, pushed: Pushed, lagging: usize) -> usize {
    match pushed {
        Pushed::Queued => {
            sub.has_state = true;
            if std::mem::take(&mut sub.lagging) {
                return lagging - 1;
            }
            lagging
        }
        Pushed::Full => {
            // it has a state to catch up with once it drains
            sub.has_state = true;
            if sub.lagging {
                lagging
            } else {
                sub.lagging = true;
                lagging + 1
            }
        }
        Pushed::Closed => lagging,
    }
}

#[cfg(test)]
mod tests;
