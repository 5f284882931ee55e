//! Presence and attachment: who is joined to a key on which node, and which nodes have
//! subscribers of it (a key's authority keeps it alive while any node does).

use crate::Fut;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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

/// Presence entries and attachments, per key, on every live node. A node's entries and
/// attachments lapse when it dies.
pub trait Presence: Send + Sync {
    /// Say that this node has `count` subscribers of `key` (0: none); an attachment lapses
    /// unless repeated within the lease time.
    fn attach<'a>(&'a self, key: &'a str, count: usize) -> Fut<'a, ()>;

    /// How many other live nodes have subscribers of `key`.
    fn attached_elsewhere<'a>(&'a self, key: &'a str) -> Fut<'a, usize>;

    /// Record presence joins and leaves of this node and publish them on the key's bus.
    fn track<'a>(
        &'a self,
        key: &'a str,
        joins: Vec<PresenceEntry>,
        leaves: Vec<PresenceEntry>,
    ) -> Fut<'a, ()>;

    /// The presence entries of the key on every live node.
    fn presence<'a>(&'a self, key: &'a str) -> Fut<'a, Vec<PresenceEntry>>;
}
