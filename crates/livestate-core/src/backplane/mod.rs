//! The [`Backplane`]: what several livestate nodes share so that they behave as one server.
//!
//! One process with in-memory state needs none of it: [`MemoryBackplane::new`] is a
//! standalone node ([`Backplane::cluster`] is false), and its key authorities commit nowhere
//! and forward nothing. Several processes share keys through a cluster backplane (Redis, in
//! `livestate-redis`; [`MemoryCluster`] simulates one in a single process for tests).
//!
//! ## How a cluster works
//!
//! Every key has at most one *authority* in the cluster: the node holding its lease. An
//! authority [`acquire`](Backplane::acquire)s the lease, which carries an *epoch* (a fencing
//! token, higher for every new holder), keeps it alive with [`renew`](Backplane::renew), and
//! [`commit`](Backplane::commit)s every change under it. Other nodes with subscribers to the
//! key are *followers*: they [`subscribe`](Backplane::subscribe) to its committed changes,
//! keep a replica of its state, and [`forward`](Backplane::forward) their clients' events to
//! the authority, which [`serve`](Backplane::serve)s them and [`answer`](Backplane::answer)s
//! refusals. When an authority dies its lease expires, and the next node that needs one
//! acquires it with a higher epoch and continues from the last committed state.
//!
//! ## Guarantees every cluster backend gives
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

mod memory;

pub use memory::{MemoryBackplane, MemoryCluster, MemoryNode};

use crate::acl::Caller;
use crate::channel::Assigns;
use futures_util::future::BoxFuture;
use livestate_protocol::PatchOp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

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

/// What [`Backplane::acquire`] gives: the lease, and the state to continue from, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Acquired {
    /// The lease now held.
    pub lease: Lease,
    /// The last committed state, or `None` for a key never committed (or expired).
    pub snapshot: Option<Snapshot>,
}

/// Identifies a client event or an API call across the cluster, so that a retry is
/// recognised: `node/counter`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EventId(pub String);

/// Where a forwarded event came from: the origin node delivers the reply events and the
/// acknowledgement to its subscriber when the change is published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Origin {
    /// The event's id.
    pub event: EventId,
    /// The node the sender is connected to.
    pub node: String,
    /// The sender's subscription on that node.
    pub sub: u64,
    /// The ref of the sender's push, if it wants a reply.
    pub r#ref: Option<String>,
    /// The reply events of the handler, for the sender only, in order.
    pub events: Vec<(String, Value)>,
}

/// One change among those committed together.
#[derive(Debug, Clone, Copy)]
pub struct Staged<'a> {
    /// The patch from the previous version's state to this one.
    pub patch: &'a [PatchOp],
    /// Whether the change is a reset (subscribers of the server API see a `reset`).
    pub reset: bool,
    /// The event or call it comes from, for at-most-once: a commit naming an id already
    /// committed commits nothing and answers [`Committed::Duplicate`].
    pub event: Option<&'a EventId>,
    /// Where the event came from, when it was forwarded or when its sender wants a reply.
    pub origin: Option<&'a Origin>,
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

/// A committed change as subscribers receive it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The epoch of the authority that committed it.
    pub epoch: u64,
    /// The version it produced.
    pub version: u64,
    /// The patch from the previous version.
    pub patch: Vec<PatchOp>,
    /// Whether it is a reset.
    pub reset: bool,
    /// Where the event came from, if anyone waits for it.
    pub origin: Option<Origin>,
}

/// A presence entry: one join tracked under a key, on some node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresenceEntry {
    /// The node the join is on.
    pub node: String,
    /// Its `phx_ref`, unique on that node.
    pub phx_ref: String,
    /// The presence key (a user id, say).
    pub key: String,
    /// Its metadata (with the `phx_ref`).
    pub meta: Value,
}

/// What a subscriber of a key receives.
#[derive(Debug, Clone, PartialEq)]
pub enum Published {
    /// A committed change.
    Change(Arc<Change>),
    /// Presence joins and leaves on some node.
    Presence {
        /// Who joined.
        joins: Vec<PresenceEntry>,
        /// Who left.
        leaves: Vec<PresenceEntry>,
    },
    /// Messages may have been lost: reload the snapshot (and the presence).
    Gap,
}

/// A request forwarded to a key's authority.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Its id (a retry keeps it).
    pub id: EventId,
    /// The node that forwarded it, for the answer.
    pub from: String,
    /// What is asked.
    pub body: RequestBody,
    /// Sent before: it may have been committed already, so the authority runs it alone
    /// (a commit that finds it a duplicate answers with the version it was committed at).
    #[serde(default)]
    pub retry: bool,
}

/// What a forwarded request asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RequestBody {
    /// A client event (`lvs_evt:NAME`) from a subscriber on the origin node.
    Event {
        /// The sender's subscription on its node.
        sub: u64,
        /// The ref of the sender's push.
        r#ref: Option<String>,
        /// The event's name.
        name: String,
        /// Its payload.
        payload: Value,
        /// The sender's socket assigns.
        socket: Assigns,
        /// The sender's join assigns.
        assigns: Assigns,
    },
    /// A server API call.
    Api {
        /// Group or public.
        caller: Caller,
        /// What to do.
        op: ApiCall,
    },
}

/// A server API call that can cross nodes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ApiCall {
    /// Apply an RFC 6902 patch; with `expect`, only at that version.
    Patch {
        /// The ops.
        ops: Vec<PatchOp>,
        /// The version the patch was computed against (compare-and-set).
        expect: Option<u64>,
        /// Whether the ops need delete (else write).
        deletes: bool,
    },
    /// Set the value at a path (add or replace, as [`crate::Doc::set`]).
    Set {
        /// The JSON Pointer.
        path: String,
        /// The value.
        value: Value,
    },
    /// Remove the value at a path.
    Remove {
        /// The JSON Pointer.
        path: String,
    },
    /// Re-run `init`.
    Reset,
    /// Hand a message to `handle_message`.
    Message(Value),
    /// Build the key's state with `init` and these join params, if it has none.
    Init(Value),
    /// Store the leader's state again (a follower found the stored one malformed).
    Rewrite,
}

/// The answer to a forwarded request: the internal version committed, or a refusal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// The request's id.
    pub id: EventId,
    /// The key.
    pub key: String,
    /// The version committed, or why not.
    pub outcome: Result<u64, Refusal>,
}

/// A message for the connection-scoped channels of a topic on every node (see
/// [`crate::Hub::broadcast`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Broadcast {
    /// The node it was sent from (which delivers it to its own channels itself).
    pub origin: String,
    /// The topic.
    pub topic: String,
    /// The message, for `handle_message`.
    pub message: Value,
}

/// A refusal crossing nodes: a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// `refused`, `permission_denied`, `bad_request`, `property_not_found`, `test_failed`,
    /// `unavailable`, `conflict` (the expected version moved on).
    pub code: String,
    /// For people.
    pub message: String,
}

/// A backplane failure. None of them leaves a partial commit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BackplaneError {
    /// The lease was taken by a newer authority, or expired: stop acting for the key.
    #[error("lease on {key} lost: epoch {epoch} is no longer current")]
    Fenced {
        /// The key.
        key: String,
        /// The stale epoch.
        epoch: u64,
    },
    /// Another node holds the key's lease.
    #[error("{key} is held by node {holder}")]
    Held {
        /// The key.
        key: String,
        /// The node holding it.
        holder: String,
    },
    /// No node serves the key (its authority is gone): take the lease.
    #[error("no authority serves {0}")]
    NoAuthority(String),
    /// A commit's version does not follow the stored one (someone else committed).
    #[error("{key}: version {version} does not follow the stored version {stored}")]
    OutOfOrder {
        /// The key.
        key: String,
        /// The version committed.
        version: u64,
        /// The version stored.
        stored: u64,
    },
    /// The backend holds something under livestate's prefix that is not what livestate
    /// writes; it is reported and not used.
    #[error("malformed data in the backplane for {key}: {message}")]
    Corrupt {
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The backend cannot be reached; nothing was done.
    #[error("backplane unavailable: {0}")]
    Unavailable(String),
}

/// How long forwarded requests wait for their answer by default.
pub const DEFAULT_FORWARD_TIMEOUT: Duration = Duration::from_secs(5);

/// Where leases are taken, changes committed and published, and requests forwarded. See
/// the module docs for what every cluster backend guarantees.
pub trait Backplane: Send + Sync + 'static {
    /// Whether this is a cluster (else a standalone node: nothing is committed, forwarded
    /// or published, and the other methods are not called).
    fn cluster(&self) -> bool;

    /// This node's id, unique in the cluster.
    fn node(&self) -> &str;

    /// How long a lease lives without renewal; authorities renew every third of it.
    fn lease_time(&self) -> Duration;

    /// How long a forwarded request waits for its outcome.
    fn forward_timeout(&self) -> Duration {
        DEFAULT_FORWARD_TIMEOUT
    }

    /// Take the lease on `key` with a new, higher epoch, and return the state to continue
    /// from; [`BackplaneError::Held`] when another node holds a live lease.
    fn acquire<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Acquired, BackplaneError>>;

    /// Keep the lease alive; [`BackplaneError::Fenced`] when it was lost.
    fn renew<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), BackplaneError>>;

    /// Give up the lease; with `drop_state`, the key's state goes too (its TTL expired).
    fn release<'a>(
        &'a self,
        lease: &'a Lease,
        drop_state: bool,
    ) -> BoxFuture<'a, Result<(), BackplaneError>>;

    /// The key's last committed state.
    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Snapshot>, BackplaneError>>;

    /// Commit changes under `lease` and publish them to the key's subscribers, in order,
    /// atomically: all of them or none.
    fn commit<'a>(
        &'a self,
        lease: &'a Lease,
        commit: Commit<'a>,
    ) -> BoxFuture<'a, Result<Committed, BackplaneError>>;

    /// Receive the key's committed changes and presence diffs from now on (dropping the
    /// receiver unsubscribes).
    fn subscribe<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<mpsc::Receiver<Published>, BackplaneError>>;

    /// Send requests to the key's authority, in order, as one message;
    /// [`BackplaneError::NoAuthority`] when no node serves the key (then none was sent).
    fn forward<'a>(
        &'a self,
        key: &'a str,
        requests: Vec<Request>,
    ) -> BoxFuture<'a, Result<(), BackplaneError>>;

    /// Receive the requests forwarded to the key while holding `lease`.
    fn serve<'a>(
        &'a self,
        lease: &'a Lease,
    ) -> BoxFuture<'a, Result<mpsc::Receiver<Request>, BackplaneError>>;

    /// Answer a forwarded request on the node it came from.
    fn answer<'a>(
        &'a self,
        node: &'a str,
        answer: Answer,
    ) -> BoxFuture<'a, Result<(), BackplaneError>>;

    /// This node's answers (taken once, by the hub).
    fn take_answers(&self) -> Option<mpsc::Receiver<Answer>>;

    /// Send a message to the connection-scoped channels of its topic on every other live
    /// node. Fire and forget: a node that is down when it is sent never sees it.
    fn broadcast<'a>(&'a self, message: Broadcast) -> BoxFuture<'a, Result<(), BackplaneError>>;

    /// The messages other nodes broadcast (taken once, by the hub).
    fn take_broadcasts(&self) -> Option<mpsc::Receiver<Broadcast>>;

    /// Say that this node has `count` subscribers of `key` (0: none); an attachment lapses
    /// unless repeated within the lease time.
    fn attach<'a>(
        &'a self,
        key: &'a str,
        count: usize,
    ) -> BoxFuture<'a, Result<(), BackplaneError>>;

    /// How many other live nodes have subscribers of `key`.
    fn attached_elsewhere<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<usize, BackplaneError>>;

    /// Record presence joins and leaves of this node and publish them to the key's
    /// subscribers.
    fn track<'a>(
        &'a self,
        key: &'a str,
        joins: Vec<PresenceEntry>,
        leaves: Vec<PresenceEntry>,
    ) -> BoxFuture<'a, Result<(), BackplaneError>>;

    /// The presence entries of the key on every live node.
    fn presence<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Vec<PresenceEntry>, BackplaneError>>;
}
