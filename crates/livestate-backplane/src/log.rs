//! The commit log: a key's committed changes, stored before anyone sees them, at most once
//! per event, and published in version order.

use crate::Fut;
use crate::lease::{Lease, Snapshot};
use livestate_protocol::PatchOp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Identifies a client event or an API call across the cluster, so that a retry is
/// recognised.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EventId(pub String);

/// One change among those committed together.
#[derive(Debug, Clone, Copy)]
pub struct Staged<'a> {
    /// The patch from the previous version's state to this one.
    pub patch: &'a [PatchOp],
    /// Whether the change is a reset.
    pub reset: bool,
    /// The event or call it comes from, for at-most-once: a commit naming an id already
    /// committed commits nothing and answers [`Committed::Duplicate`].
    pub event: Option<&'a EventId>,
    /// What the engine publishes with the change for the node waiting for it (who asked,
    /// the reply events); opaque to the backplane.
    pub note: Option<&'a Value>,
}

/// Changes to commit together, in order: all of them, or none.
///
/// An authority with several events waiting runs their handlers one after another and
/// commits their changes in one step, so a key's throughput is not one round trip to the
/// backend per change.
#[derive(Debug, Clone, Copy)]
pub struct Commit<'a> {
    /// The version the first change produces (the previous one plus one; 0 for a key's
    /// first commit); each further change produces the next.
    pub version: u64,
    /// The state after the last change. A backend may store only the patches most of the
    /// time and the whole state now and then (so a commit costs what the changes weigh,
    /// not what the state weighs); loading gives the state at the last committed version.
    pub state: &'a Value,
    /// Store the whole state with this commit: a key's first commit, or a rewrite of data
    /// found corrupt.
    pub whole: bool,
    /// The changes, in order; at least one.
    pub changes: &'a [Staged<'a>],
}

impl Commit<'_> {
    /// The version the last change produces.
    pub fn last_version(&self) -> u64 {
        self.version + self.changes.len().saturating_sub(1) as u64
    }
}

/// What came of a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Committed {
    /// Committed and published.
    Done,
    /// The event of one of the changes was committed before (at this version); nothing
    /// was committed.
    Duplicate {
        /// Which change (its index in [`Commit::changes`]).
        index: usize,
        /// The version its event was committed at.
        version: u64,
    },
}

/// Where each key's committed changes are kept. Every commit is fenced by the lease it is
/// made under, and publishes its changes on the key's bus in the same step.
pub trait CommitLog: Send + Sync {
    /// The key's last committed state.
    fn load<'a>(&'a self, key: &'a str) -> Fut<'a, Option<Snapshot>>;

    /// Commit changes under `lease` and publish them to the key's subscribers, in order,
    /// atomically: all of them or none.
    fn commit<'a>(&'a self, lease: &'a Lease, commit: Commit<'a>) -> Fut<'a, Committed>;
}
