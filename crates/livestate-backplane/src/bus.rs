//! The bus: a key's committed changes and presence diffs for every node following it, in
//! order; and broadcasts to every node.

use crate::Fut;
use crate::presence::PresenceEntry;
use livestate_protocol::PatchOp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::mpsc;

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
    /// The engine's note on it ([`Staged::note`](crate::Staged::note)), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<Value>,
}

/// What a subscriber of a key receives.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
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

/// A message for every node's connection-scoped channels of a topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Broadcast {
    /// The node it was sent from (which delivers it to its own channels itself).
    pub origin: String,
    /// The topic.
    pub topic: String,
    /// The message.
    pub message: Value,
}

/// What nodes hear of each other.
pub trait Bus: Send + Sync {
    /// Receive the key's committed changes and presence diffs from now on (dropping the
    /// receiver unsubscribes).
    fn subscribe<'a>(&'a self, key: &'a str) -> Fut<'a, mpsc::Receiver<Published>>;

    /// Send a message to every other live node. Fire and forget: a node that is down
    /// when it is sent never sees it. One node's broadcasts arrive in the order sent.
    fn broadcast<'a>(&'a self, message: Broadcast) -> Fut<'a, ()>;

    /// The messages other nodes broadcast (taken once, by the node's hub).
    fn take_broadcasts(&self) -> Option<mpsc::Receiver<Broadcast>>;
}
