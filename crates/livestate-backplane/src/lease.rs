//! Leases: which node is a key's authority, fenced by an epoch.

use crate::Fut;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;

/// A held lease on a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The key.
    pub key: String,
    /// The fencing token: strictly higher for every new holder of the key.
    pub epoch: u64,
    /// The node holding it.
    pub node: String,
}

/// A key's committed state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// The state.
    pub state: Value,
    /// Its version (the key's internal version, which never wraps).
    pub version: u64,
    /// The epoch it was committed under.
    pub epoch: u64,
}

/// What [`Leases::acquire`] gives: the lease, and the state to continue from, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Acquired {
    /// The lease now held.
    pub lease: Lease,
    /// The last committed state, or `None` for a key never committed (or dropped).
    pub snapshot: Option<Snapshot>,
}

/// Who leads each key. One holder at a time; a lease not renewed within
/// [`lease_time`](Leases::lease_time) lapses, and the next holder gets a higher epoch.
pub trait Leases: Send + Sync {
    /// How long a lease lives without renewal; authorities renew every third of it.
    fn lease_time(&self) -> Duration;

    /// Take the lease on `key` with a new, higher epoch, and return the state to continue
    /// from; [`BackplaneError::Held`](crate::BackplaneError::Held) when another node holds
    /// a live lease.
    fn acquire<'a>(&'a self, key: &'a str) -> Fut<'a, Acquired>;

    /// Keep the lease alive; [`BackplaneError::Fenced`](crate::BackplaneError::Fenced)
    /// when it was lost.
    fn renew<'a>(&'a self, lease: &'a Lease) -> Fut<'a, ()>;

    /// Give up the lease; with `drop_state`, the key's state and log go too (its TTL
    /// expired).
    fn release<'a>(&'a self, lease: &'a Lease, drop_state: bool) -> Fut<'a, ()>;
}
