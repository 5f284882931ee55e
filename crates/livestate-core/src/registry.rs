//! [`Node`]: what every key authority of one node shares: the limits, the backplane (none
//! for a standalone node), the node's id, and the registry of live authorities, from which
//! an authority removes itself when it stops.

use crate::limits::Limits;
use crate::mailbox::KeyHandle;
use crate::metrics::Metrics;
use livestate_backplane::Backplane;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// One node's shared context.
pub(crate) struct Node {
    pub(crate) limits: Limits,
    /// The cluster this node is part of; `None`: a standalone node.
    pub(crate) cluster: Option<Arc<dyn Backplane>>,
    /// This node's id in the cluster (`standalone` without one).
    pub(crate) id: String,
    /// Different for every start of a node, so request ids never repeat across restarts.
    pub(crate) instance: u64,
    /// What this node counts, for `/metrics`.
    pub(crate) metrics: Metrics,
    ids: AtomicU64,
    /// The authority of every live shared key, by topic.
    keys: Mutex<HashMap<String, KeyHandle>>,
    /// The authorities of connection-scoped topics joined on this node, by topic: where a
    /// broadcast is delivered.
    connections: Mutex<HashMap<String, Vec<KeyHandle>>>,
}

impl Node {
    pub(crate) fn new(limits: Limits, cluster: Option<Arc<dyn Backplane>>) -> Node {
        let id = cluster
            .as_ref()
            .map_or_else(|| "standalone".to_owned(), |c| c.node().to_owned());
        Node {
            limits,
            cluster,
            id,
            instance: instance_id(),
            metrics: Metrics::new(),
            ids: AtomicU64::new(1),
            keys: Mutex::new(HashMap::new()),
            connections: Mutex::new(HashMap::new()),
        }
    }

    /// A number unique within this process (subscriptions, request ids).
    pub(crate) fn next_id(&self) -> u64 {
        self.ids.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn keys(&self) -> MutexGuard<'_, HashMap<String, KeyHandle>> {
        // Nothing panics while holding this lock; recover rather than spread a poison.
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn connections(&self) -> MutexGuard<'_, HashMap<String, Vec<KeyHandle>>> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The authority of a shared key, if it is live.
    pub(crate) fn live_key(&self, topic: &str) -> Option<KeyHandle> {
        self.keys().get(topic).filter(|h| !h.is_closed()).cloned()
    }

    /// An authority that stops takes itself out of the registry (and only itself: a newer
    /// authority of the same key may be registered already).
    pub(crate) fn unregister(&self, topic: &str, shared: bool, me: &KeyHandle) {
        if shared {
            let mut keys = self.keys();
            if keys.get(topic).is_some_and(|h| h.same_as(me)) {
                keys.remove(topic);
            }
        } else {
            let mut connections = self.connections();
            if let Some(list) = connections.get_mut(topic) {
                list.retain(|h| !h.same_as(me));
                if list.is_empty() {
                    connections.remove(topic);
                }
            }
        }
    }
}

/// A number that differs between starts of a node: the start time and the process id.
fn instance_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 48)
}
