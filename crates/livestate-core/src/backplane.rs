//! The [`Backplane`]: where a key's authority takes its lease and commits its changes.
//!
//! A key's state has one authority at a time. The backplane decides which: an authority
//! [`acquire`](Backplane::acquire)s the key's lease, which carries an *epoch* (a fencing
//! token, higher for every new holder), and every [`commit`](Backplane::commit) names that
//! epoch. A commit under an epoch that is no longer current fails with
//! [`BackplaneError::Fenced`], so an authority that lost its lease can never overwrite the
//! state of the one that took over.
//!
//! ## Guarantees every backend gives
//!
//! - **Ordering per key.** Commits of one key are totally ordered by version; a commit of
//!   version `v` is accepted only right after version `v - 1` under the same epoch (or as
//!   the first commit of a new epoch, from the snapshot it acquired).
//! - **Atomicity.** A commit (version, patch, resulting state) is applied whole or not at
//!   all; nothing of a refused commit is visible.
//! - **Fencing.** After `acquire` returns epoch `e`, no commit under an epoch below `e`
//!   succeeds.
//! - **Durability of what was acknowledged.** A commit that returned `Ok` is what the next
//!   `acquire` of the key starts from (for the memory backend: while the process lives).
//!
//! ## Backends
//!
//! [`MemoryBackplane`] is the default: one process, state in memory, nothing to run. It is
//! the right choice until one process is not enough (or a restart must keep state); then
//! run several nodes on the Redis backplane (`livestate-redis`).

use futures_util::future::BoxFuture;
use livestate_protocol::PatchOp;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;

/// A held lease on a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The key.
    pub key: String,
    /// The fencing token: strictly higher for every new holder of the key.
    pub epoch: u64,
}

/// A key's committed state.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// The state.
    pub state: Value,
    /// Its version (the key's internal version, which never wraps).
    pub version: u64,
}

/// What [`Backplane::acquire`] gives: the lease, and the state to continue from, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Acquired {
    /// The lease now held.
    pub lease: Lease,
    /// The last committed state, or `None` for a key never committed (or expired).
    pub snapshot: Option<Snapshot>,
}

/// One change to commit.
#[derive(Debug, Clone, Copy)]
pub struct Commit<'a> {
    /// The version this change produces (the previous one plus one).
    pub version: u64,
    /// The patch from the previous version's state to this one.
    pub patch: &'a [PatchOp],
    /// The state after the change.
    pub state: &'a Value,
}

/// A backplane failure. None of them leaves a partial commit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackplaneError {
    /// The lease was taken by a newer authority: stop acting for the key.
    #[error("lease on {key} lost: epoch {epoch} is no longer current")]
    Fenced {
        /// The key.
        key: String,
        /// The stale epoch.
        epoch: u64,
    },
    /// The backend cannot be reached; nothing was committed.
    #[error("backplane unavailable: {0}")]
    Unavailable(String),
}

/// Where leases are taken and changes committed. See the module docs for the guarantees.
pub trait Backplane: Send + Sync + 'static {
    /// Take the lease on `key` with a new, higher epoch, and return the state to continue
    /// from.
    fn acquire<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Acquired, BackplaneError>>;

    /// Commit one change under `lease`.
    fn commit<'a>(
        &'a self,
        lease: &'a Lease,
        commit: Commit<'a>,
    ) -> BoxFuture<'a, Result<(), BackplaneError>>;

    /// Give up the lease. With `keep`, the next `acquire` starts from that snapshot; without,
    /// the key's state is dropped and the next authority runs `init` again.
    fn release<'a>(
        &'a self,
        lease: &'a Lease,
        keep: Option<Snapshot>,
    ) -> BoxFuture<'a, Result<(), BackplaneError>>;
}

/// The in-memory backplane: one process, leases and versions in a map.
///
/// Within one process the key registry already guarantees one authority per key; the
/// lease here fences an authority that stopped (expired) against one started after it.
#[derive(Debug, Default)]
pub struct MemoryBackplane {
    keys: Mutex<Keys>,
}

#[derive(Debug, Default)]
struct Keys {
    /// Epochs come from one counter for all keys, so a key whose record was dropped (its
    /// state expired) never hands out an epoch it gave before.
    last_epoch: u64,
    records: HashMap<String, KeyRecord>,
}

#[derive(Debug, Default)]
struct KeyRecord {
    epoch: u64,
    version: u64,
    kept: Option<Snapshot>,
}

impl MemoryBackplane {
    /// An empty backplane.
    pub fn new() -> MemoryBackplane {
        MemoryBackplane::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Keys) -> T) -> T {
        // A poisoned lock means a panic inside one of the short closures below, none of
        // which can panic; recover the map rather than spreading the panic.
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut keys)
    }

    /// The last committed version of `key` (for tests).
    pub fn version(&self, key: &str) -> Option<u64> {
        self.with(|keys| keys.records.get(key).map(|r| r.version))
    }
}

impl Backplane for MemoryBackplane {
    fn acquire<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Acquired, BackplaneError>> {
        let acquired = self.with(|keys| {
            keys.last_epoch += 1;
            let record = keys.records.entry(key.to_owned()).or_default();
            record.epoch = keys.last_epoch;
            let snapshot = record.kept.take();
            record.version = snapshot.as_ref().map_or(0, |s| s.version);
            Acquired {
                lease: Lease {
                    key: key.to_owned(),
                    epoch: record.epoch,
                },
                snapshot,
            }
        });
        Box::pin(async move { Ok(acquired) })
    }

    fn commit<'a>(
        &'a self,
        lease: &'a Lease,
        commit: Commit<'a>,
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        let result = self.with(|keys| match keys.records.get_mut(&lease.key) {
            Some(record) if record.epoch == lease.epoch => {
                record.version = commit.version;
                Ok(())
            }
            _ => Err(BackplaneError::Fenced {
                key: lease.key.clone(),
                epoch: lease.epoch,
            }),
        });
        Box::pin(async move { result })
    }

    fn release<'a>(
        &'a self,
        lease: &'a Lease,
        keep: Option<Snapshot>,
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        self.with(|keys| {
            let current = keys.records.get_mut(&lease.key);
            match (current, keep) {
                (Some(record), Some(snapshot)) if record.epoch == lease.epoch => {
                    record.kept = Some(snapshot);
                }
                (Some(record), None) if record.epoch == lease.epoch => {
                    keys.records.remove(&lease.key);
                }
                _ => {}
            }
        });
        Box::pin(async { Ok(()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn a_new_epoch_fences_the_old_one() {
        let bp = MemoryBackplane::new();
        let first = bp.acquire("k").await.unwrap();
        assert_eq!(first.snapshot, None);
        let state = json!({});
        let c = Commit {
            version: 1,
            patch: &[],
            state: &state,
        };
        bp.commit(&first.lease, c).await.unwrap();
        let second = bp.acquire("k").await.unwrap();
        assert!(second.lease.epoch > first.lease.epoch);
        assert!(matches!(
            bp.commit(&first.lease, c).await,
            Err(BackplaneError::Fenced { .. })
        ));
        bp.commit(&second.lease, c).await.unwrap();
    }

    #[tokio::test]
    async fn release_keeps_or_drops_the_state() {
        let bp = MemoryBackplane::new();
        let a = bp.acquire("k").await.unwrap();
        let kept = Snapshot {
            state: json!({"a": 1}),
            version: 7,
        };
        bp.release(&a.lease, Some(kept.clone())).await.unwrap();
        let b = bp.acquire("k").await.unwrap();
        assert_eq!(b.snapshot, Some(kept));
        bp.release(&b.lease, None).await.unwrap();
        let c = bp.acquire("k").await.unwrap();
        assert_eq!(c.snapshot, None);
        assert!(c.lease.epoch > b.lease.epoch);
    }
}
