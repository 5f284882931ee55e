//! The backplane: what the nodes of a livestate cluster share so that they behave as one
//! server. A standalone node has none. The engine (`livestate-core`) depends on this
//! contract only; backends implement it (Redis, in `livestate-redis`; `memory` simulates
//! one in a single process for tests, behind the `test-util` feature).
//!
//! ```
//! # #[cfg(feature = "test-util")]
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
//! use livestate_backplane::memory::MemoryCluster;
//! use livestate_backplane::{BackplaneError, Bus, Commit, CommitLog, Leases, Published, Staged};
//! use livestate_protocol::PatchOp;
//! use serde_json::json;
//! use std::time::Duration;
//!
//! // two nodes of one cluster (in memory here; `livestate-redis` is the real thing)
//! let cluster = MemoryCluster::new(Duration::from_secs(3));
//! let (a, b) = (cluster.node("a"), cluster.node("b"));
//! let mut changes = b.subscribe("doc:x").await?;
//!
//! // one authority per key: `a` leads `doc:x`, `b` is told who does
//! let lease = a.acquire("doc:x").await?.lease;
//! assert!(matches!(b.acquire("doc:x").await, Err(BackplaneError::Held { holder, .. }) if holder == "a"));
//!
//! // the authority commits a key's first version; followers receive it
//! let patch = [PatchOp::Add { path: "/n".into(), value: json!(1) }];
//! let staged = [Staged { patch: &patch, reset: false, event: None, note: None }];
//! let commit = Commit { version: 0, state: &json!({"n": 1}), whole: true, changes: &staged };
//! a.commit(&lease, commit).await?;
//! match changes.recv().await {
//!     Some(Published::Change(change)) => assert_eq!((change.version, &change.patch[..]), (0, &patch[..])),
//!     _ => panic!("no change"),
//! }
//! assert_eq!(b.load("doc:x").await?.map(|s| s.state), Some(json!({"n": 1})));
//! # Ok::<(), BackplaneError>(()) }).unwrap();
//! ```
//!
//! ## How a cluster works
//!
//! Every key has at most one *authority* in the cluster: the node holding its lease. An
//! authority [`acquire`](Leases::acquire)s the lease, which carries an *epoch* (a fencing
//! token, higher for every new holder), keeps it alive with [`renew`](Leases::renew), and
//! [`commit`](CommitLog::commit)s every change under it. Other nodes with subscribers to the
//! key are *followers*: they [`subscribe`](Bus::subscribe) to its committed changes, keep a
//! replica of its state, and [`forward`](Forwarding::forward) their clients' events to the
//! authority, which [`serve`](Forwarding::serve)s them and [`answer`](Forwarding::answer)s.
//! When an authority dies its lease expires, and the next node that needs one acquires it
//! with a higher epoch and continues from the last committed state.
//!
//! ## The parts
//!
//! | part | trait | what it keeps |
//! |---|---|---|
//! | leases | [`Leases`] | who leads each key, with an epoch that fences the others |
//! | commit log | [`CommitLog`] | each key's committed changes, at most once per event, published in order |
//! | bus | [`Bus`] | a key's published changes and presence diffs, in order; broadcasts to every node |
//! | forwarding | [`Forwarding`] | opaque requests to a key's authority, opaque answers to a node |
//! | presence | [`Presence`] | presence entries, and which nodes have subscribers of a key |
//!
//! A [`Backplane`] is all five. What crosses nodes on behalf of the engine (forwarded
//! requests, answers, the note on a change) is bytes or JSON the engine encodes: no
//! application type travels here.
//!
//! ## Guarantees every backend gives
//!
//! - **Fencing.** A lease is held by one node at a time. After `acquire` returns epoch `e`,
//!   no commit under another lease succeeds: a node that lost its lease (paused past its
//!   expiry, say) can never overwrite what its successor committed.
//! - **Atomic, ordered commits.** A commit of versions `v..=w` succeeds only under the
//!   current lease, only right after version `v - 1` (or as a key's first commit, version
//!   0), and stores the changes (their patches, or the whole state), the versions, the
//!   event ids and the published changes in one step; nothing of a refused commit is
//!   visible.
//! - **Durability of what was acknowledged.** A committed change is in the backend before
//!   `commit` returns, so before any client sees it or is told it was applied.
//! - **At most once per event.** A commit naming an event id already committed commits
//!   nothing and answers [`Committed::Duplicate`], so a forwarded event that is retried
//!   applies once.
//! - **Ordering per key.** Subscribers receive a key's [`Published::Change`]s in version
//!   order. A subscriber that may have missed some (its connection dropped, it fell behind)
//!   receives [`Published::Gap`] and reloads the snapshot; a change whose version is not the
//!   next one, or whose epoch is new, tells it the same.
//! - **Forwarding in order.** The messages one node forwards to a key's authority arrive in
//!   the order sent; a forward with no authority serving the key fails with
//!   [`BackplaneError::NoAuthority`] and delivers nothing.
//!
//! Modules: [`lease`], [`log`], [`bus`], [`forward`], [`presence`], [`error`], and
//! `memory` (feature `test-util`).

pub mod bus;
pub mod error;
pub mod forward;
pub mod lease;
pub mod log;
#[cfg(feature = "test-util")]
pub mod memory;
pub mod presence;

pub use bus::{Broadcast, Bus, Change, Published};
pub use error::BackplaneError;
pub use forward::{DEFAULT_FORWARD_TIMEOUT, Forwarding};
pub use lease::{Acquired, Lease, Leases, Snapshot};
pub use log::{Commit, CommitLog, Committed, EventId, Staged};
pub use presence::{Presence, PresenceEntry};

/// Every part of a cluster backend, for one node of the cluster.
pub trait Backplane:
    Leases + CommitLog + Bus + Forwarding + Presence + Send + Sync + 'static
{
    /// This node's id, unique in the cluster.
    fn node(&self) -> &str;
}

/// What the backplane's methods return: a boxed future, so the traits can be objects.
pub type Fut<'a, T> = futures_util::future::BoxFuture<'a, Result<T, BackplaneError>>;
