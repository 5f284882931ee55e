//! Coalescing: a busy key's changes go out as one patch per window.
//!
//! A channel may set a window ([`Settings::coalesce`](crate::Settings::coalesce)). A change
//! that comes when the key sent nothing for a window goes out at once; the changes that
//! follow within the window wait, and go out together at its end as one `state:patch`: their
//! ops in commit order (a `replace` that a later `replace` of the same path overwrites is
//! dropped), with the next version. Clients see versions that count these messages, so
//! every patch is `last + 1` for every subscriber (phx-live-state accepts nothing else).
//!
//! What never waits: a socket's own change (its sender treats the `state:patch` as the
//! answer to its event): it goes out at once with what was waiting, and the window starts
//! again from it; acknowledgements (a waiting change is acknowledged at the version of
//! the message that will carry it); and the whole state (a joiner, a refresh, a lagging
//! subscriber catching up): what waits goes out first, so no change is ever applied twice.

use livestate_protocol::PatchOp;
use std::time::Duration;
use tokio::time::Instant;

/// How many ops back a `replace` looks for an earlier `replace` of its path to drop.
const LOOK_BACK: usize = 32;

/// The changes of a coalescing key that wait for the end of the window.
#[derive(Debug)]
pub(super) struct Batch {
    window: Duration,
    ops: Vec<PatchOp>,
    reset: bool,
    /// How many changes wait (an empty patch counts: the version moves).
    waiting: usize,
    /// When the last message went out.
    sent: Option<Instant>,
}

impl Batch {
    pub(super) fn new(window: Duration) -> Batch {
        Batch {
            window,
            ops: Vec::new(),
            reset: false,
            waiting: 0,
            sent: None,
        }
    }

    /// Add a committed change.
    pub(super) fn add(&mut self, patch: &[PatchOp], reset: bool) {
        self.waiting += 1;
        if reset {
            // the whole state is replaced: what came before it is moot
            self.ops.clear();
            self.reset = true;
        }
        for op in patch {
            self.push(op.clone());
        }
    }

    /// Append `op`, dropping an earlier `replace` of the same path that nothing between
    /// the two could have moved or read (only `replace`s of unrelated paths between).
    fn push(&mut self, op: PatchOp) {
        if let PatchOp::Replace { path, .. } = &op {
            let start = self.ops.len().saturating_sub(LOOK_BACK);
            for i in (start..self.ops.len()).rev() {
                match &self.ops[i] {
                    PatchOp::Replace { path: earlier, .. } if earlier == path => {
                        self.ops.remove(i);
                        break;
                    }
                    PatchOp::Replace { path: other, .. } if !related(other, path) => {}
                    _ => break,
                }
            }
        }
        self.ops.push(op);
    }

    /// Whether changes wait.
    pub(super) fn is_waiting(&self) -> bool {
        self.waiting > 0
    }

    /// When what waits goes out, if anything does.
    pub(super) fn deadline(&self) -> Option<Instant> {
        if self.waiting == 0 {
            return None;
        }
        Some(self.sent.map_or_else(Instant::now, |at| at + self.window))
    }

    /// Whether what waits goes out now: the window since the last message is over.
    pub(super) fn due(&self, now: Instant) -> bool {
        self.deadline().is_some_and(|at| at <= now)
    }

    /// Take what waits, as one patch (and whether it resets the state); the window starts
    /// again now.
    pub(super) fn take(&mut self, now: Instant) -> (Vec<PatchOp>, bool) {
        self.waiting = 0;
        self.sent = Some(now);
        (
            std::mem::take(&mut self.ops),
            std::mem::take(&mut self.reset),
        )
    }
}

/// Whether one JSON Pointer is the other or contains it.
fn related(a: &str, b: &str) -> bool {
    let within = |outer: &str, inner: &str| {
        inner == outer
            || (inner.starts_with(outer) && inner.as_bytes().get(outer.len()) == Some(&b'/'))
    };
    within(a, b) || within(b, a)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn replace(path: &str, v: i64) -> PatchOp {
        PatchOp::Replace {
            path: path.into(),
            value: json!(v),
        }
    }

    #[test]
    fn a_replace_overwritten_later_is_dropped_only_when_nothing_between_touches_it() {
        let mut batch = Batch::new(Duration::from_millis(50));
        batch.add(&[replace("/n", 1)], false);
        batch.add(&[replace("/m", 1)], false);
        batch.add(&[replace("/n", 2)], false);
        assert_eq!(batch.ops, vec![replace("/m", 1), replace("/n", 2)]);
        // an op on a parent between the two keeps the first
        batch.add(&[replace("", 0)], false);
        batch.add(&[replace("/n", 3)], false);
        assert_eq!(batch.ops.len(), 4);
        // an add between (it may shift an array) keeps it too
        let add = PatchOp::Add {
            path: "/l/0".into(),
            value: json!(1),
        };
        batch.add(
            &[replace("/l/1", 1), add.clone(), replace("/l/1", 2)],
            false,
        );
        assert_eq!(
            batch.ops[batch.ops.len() - 3..],
            [replace("/l/1", 1), add, replace("/l/1", 2)]
        );
        assert_eq!(batch.waiting, 6, "one per change, whatever its ops");
    }

    #[test]
    fn pointers_are_related_by_whole_segments() {
        assert!(related("/a", "/a/b"));
        assert!(related("/a/b", "/a"));
        assert!(related("", "/a"));
        assert!(!related("/a", "/ab"));
        assert!(!related("/a/b", "/a/c"));
    }

    #[test]
    fn a_reset_drops_what_waited_before_it() {
        let mut batch = Batch::new(Duration::from_millis(50));
        batch.add(&[replace("/n", 1)], false);
        batch.add(&[replace("", 0)], true);
        let (ops, reset) = batch.take(Instant::now());
        assert_eq!(ops, vec![replace("", 0)]);
        assert!(reset);
        assert!(!batch.is_waiting());
    }
}
