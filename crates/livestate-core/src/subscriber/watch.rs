//! [`WatchSink`]: a Rust subscription (`api::Subscription`) as a subscriber. It
//! takes each change as PhoenixLiveState's kinds of [`Change`] (new, updated, deleted),
//! and the whole state as one `reset` change.

use super::{Delivery, Sink, Whole};
use crate::calls::{Change, ChangeKind};
use crate::outbox::Pushed;
use livestate_protocol::PatchOp;
use serde_json::Value;
use tokio::sync::mpsc;

/// A Rust subscription's queue of changes.
pub(crate) struct WatchSink {
    changes: mpsc::Sender<Change>,
}

impl WatchSink {
    pub(crate) fn new(changes: mpsc::Sender<Change>) -> WatchSink {
        WatchSink { changes }
    }

    fn send(&self, change: Change) -> Pushed {
        match self.changes.try_send(change) {
            Ok(()) => Pushed::Queued,
            Err(mpsc::error::TrySendError::Full(_)) => Pushed::Full,
            Err(mpsc::error::TrySendError::Closed(_)) => Pushed::Closed,
        }
    }
}

impl Sink for WatchSink {
    fn change(&mut self, delivery: &Delivery<'_>) -> Pushed {
        for change in delivery.changes() {
            let pushed = self.send(change.clone());
            if pushed != Pushed::Queued {
                return pushed;
            }
        }
        Pushed::Queued
    }

    fn whole(&mut self, whole: &Whole<'_>) -> Pushed {
        self.send(reset_change(whole.state.clone(), whole.version))
    }

    fn end(&mut self, _topic: &str, _reason: &str) {
        // the subscription ends when the authority drops this sink
    }

    fn has_drained(&self) -> bool {
        self.changes.capacity() * 2 >= self.changes.max_capacity()
    }

    fn is_closed(&self) -> bool {
        self.changes.is_closed()
    }
}

/// The whole state as one `reset` change.
pub(super) fn reset_change(state: Value, version: u64) -> Change {
    Change {
        kind: ChangeKind::Reset,
        path: String::new(),
        value: Some(state),
        version,
    }
}

/// The changes a patch made, in PhoenixLiveState's terms: `add` is new, `replace` updated,
/// `remove` deleted (a `move` both), with the value now at the path.
pub(super) fn changes_of(patch: &[PatchOp], state: &Value, version: u64) -> Vec<Change> {
    let at = |path: &str| state.pointer(path).cloned();
    let change = |kind, path: &str, value| Change {
        kind,
        path: path.to_owned(),
        value,
        version,
    };
    patch
        .iter()
        .flat_map(|op| match op {
            PatchOp::Add { path, value } => {
                vec![change(ChangeKind::New, path, Some(value.clone()))]
            }
            PatchOp::Replace { path, value } => {
                vec![change(ChangeKind::Updated, path, Some(value.clone()))]
            }
            PatchOp::Remove { path } => vec![change(ChangeKind::Deleted, path, None)],
            PatchOp::Move { from, path } => vec![
                change(ChangeKind::Deleted, from, None),
                change(ChangeKind::New, path, at(path)),
            ],
            PatchOp::Copy { path, .. } => vec![change(ChangeKind::New, path, at(path))],
            PatchOp::Test { .. } => vec![],
        })
        .collect()
}
