//! Lag accounting: a sink with no room lags and gets nothing more until it drains, then
//! the whole state once; the count of lagging subscribers is always right.

use super::*;
use std::sync::{Arc, Mutex};

/// A sink with room for `room` more items, recording what it took.
#[derive(Clone, Default)]
struct Fake(Arc<Mutex<FakeInner>>);

#[derive(Default)]
struct FakeInner {
    room: usize,
    closed: bool,
    took: Vec<String>,
}

impl Fake {
    fn with_room(room: usize) -> Fake {
        let fake = Fake::default();
        fake.0.lock().unwrap().room = room;
        fake
    }

    fn take(&self, what: String) -> Pushed {
        let mut inner = self.0.lock().unwrap();
        if inner.closed {
            Pushed::Closed
        } else if inner.room == 0 {
            Pushed::Full
        } else {
            inner.room -= 1;
            inner.took.push(what);
            Pushed::Queued
        }
    }

    fn drain(&self, room: usize) {
        self.0.lock().unwrap().room = room;
    }

    fn took(&self) -> Vec<String> {
        self.0.lock().unwrap().took.clone()
    }
}

impl Sink for Fake {
    fn change(&mut self, delivery: &Delivery<'_>) -> Pushed {
        self.take(format!("change {}", delivery.version))
    }

    fn whole(&mut self, whole: &Whole<'_>) -> Pushed {
        self.take(format!("whole {}", whole.version))
    }

    fn end(&mut self, _topic: &str, _reason: &str) {}

    fn has_drained(&self) -> bool {
        self.0.lock().unwrap().room > 0
    }

    fn is_closed(&self) -> bool {
        self.0.lock().unwrap().closed
    }
}

fn deliver(subs: &mut Subscribers, version: u64) -> usize {
    let state = serde_json::json!({"n": version});
    subs.deliver(&Delivery::new("t", &[], false, version, &state))
        .1
        .len()
}

fn catch_up(subs: &mut Subscribers, version: u64) -> usize {
    let state = serde_json::json!({"n": version});
    let frame = OnceLock::new();
    let whole = Whole {
        topic: "t",
        state: &state,
        version,
        frame: &frame,
    };
    subs.catch_up(&whole).1.len()
}

#[test]
fn a_full_sink_lags_until_it_drains_then_gets_the_whole_state() {
    let (fast, slow) = (Fake::with_room(100), Fake::with_room(1));
    let mut subs = Subscribers::default();
    subs.insert(
        1,
        Subscriber::new(Box::new(fast.clone()), None, None).with_state(),
    );
    subs.insert(
        2,
        Subscriber::new(Box::new(slow.clone()), None, None).with_state(),
    );
    for v in 1..=3 {
        assert_eq!(deliver(&mut subs, v), 0);
    }
    assert_eq!(subs.lagging(), 1);
    assert_eq!(slow.took(), ["change 1"]);
    // not drained: nothing
    assert_eq!(catch_up(&mut subs, 3), 0);
    assert_eq!(subs.lagging(), 1);
    slow.drain(10);
    assert_eq!(deliver(&mut subs, 4), 0);
    assert_eq!(slow.took(), ["change 1"], "a lagging sink gets no changes");
    assert_eq!(catch_up(&mut subs, 4), 0);
    assert_eq!(subs.lagging(), 0);
    assert_eq!(deliver(&mut subs, 5), 0);
    assert_eq!(slow.took(), ["change 1", "whole 4", "change 5"]);
    assert_eq!(fast.took().len(), 5);
}

#[test]
fn gone_sinks_are_removed_and_the_count_stays_right() {
    let (a, b) = (Fake::with_room(0), Fake::with_room(5));
    let mut subs = Subscribers::default();
    subs.insert(
        1,
        Subscriber::new(Box::new(a.clone()), None, None).with_state(),
    );
    subs.insert(
        2,
        Subscriber::new(Box::new(b.clone()), None, None).with_state(),
    );
    deliver(&mut subs, 1);
    assert_eq!(subs.lagging(), 1);
    a.0.lock().unwrap().closed = true;
    // a lagging sink that is gone goes at the next catch-up
    assert_eq!(catch_up(&mut subs, 1), 1);
    assert_eq!((subs.len(), subs.lagging()), (1, 0));
    b.0.lock().unwrap().closed = true;
    assert_eq!(deliver(&mut subs, 2), 1);
    assert!(subs.is_empty());
    // removing a lagging one directly
    let c = Fake::with_room(0);
    subs.insert(3, Subscriber::new(Box::new(c), None, None).with_state());
    deliver(&mut subs, 3);
    assert_eq!(subs.lagging(), 1);
    assert!(subs.remove(3).is_some());
    assert_eq!(subs.lagging(), 0);
}

#[test]
fn only_subscribers_with_the_state_get_changes() {
    let (waiting, joined) = (Fake::with_room(10), Fake::with_room(10));
    let mut subs = Subscribers::default();
    subs.insert(1, Subscriber::new(Box::new(waiting.clone()), None, None));
    subs.insert(
        2,
        Subscriber::new(Box::new(joined.clone()), None, None).with_state(),
    );
    deliver(&mut subs, 1);
    assert!(waiting.took().is_empty());
    let state = serde_json::json!({});
    let frame = OnceLock::new();
    let whole = Whole {
        topic: "t",
        state: &state,
        version: 1,
        frame: &frame,
    };
    assert!(subs.whole_to_all(&whole, true).is_empty());
    assert_eq!(waiting.took(), ["whole 1"]);
    assert_eq!(
        joined.took(),
        ["change 1"],
        "only the waiting one got the state"
    );
    assert!(subs.get(1).is_some_and(Subscriber::has_state));
}
