//! [`MemoryCluster`]: several nodes in one process sharing one store, with the semantics of
//! a real backend (leases that expire on tokio's clock, fencing, ordered publication,
//! forwarding), for tests and for the behavioural suite every backend passes. The store
//! and the cluster's handles are here; what a node does is in `node`.

mod node;

pub use node::MemoryNode;

use crate::bus::{Broadcast, Published};
use crate::lease::Snapshot;
use crate::log::EventId;
use crate::presence::PresenceEntry;
use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How many published messages a subscriber may have unread before it gets a gap.
const SUBSCRIBER_QUEUE: usize = 4096;

/// Several nodes in one process sharing one store: a cluster without a network, with the
/// guarantees of the crate's docs. Leases expire on tokio's clock.
///
/// ```
/// use livestate_backplane::Backplane;
/// use livestate_backplane::memory::MemoryCluster;
/// use std::time::Duration;
///
/// let cluster = MemoryCluster::new(Duration::from_secs(3));
/// let a = cluster.node("a");
/// let b = cluster.node("b");
/// assert_ne!(a.node(), b.node());
/// ```
#[derive(Clone, Default)]
pub struct MemoryCluster {
    store: Arc<Mutex<Store>>,
    lease_time: Duration,
}

#[derive(Default)]
struct Store {
    /// Epochs come from one counter, so they only ever grow.
    last_epoch: u64,
    keys: HashMap<String, KeyRecord>,
    /// Every node's answers.
    answers: HashMap<String, mpsc::Sender<Bytes>>,
    /// Every node's broadcast messages.
    broadcasts: HashMap<String, mpsc::Sender<Broadcast>>,
    /// Nodes that were killed (a simulated crash): their subscriptions and attachments are
    /// gone, their leases run out.
    dead: HashSet<String>,
}

#[derive(Default)]
struct KeyRecord {
    /// Holder, epoch, expiry.
    lease: Option<(String, u64, Instant)>,
    snapshot: Option<Snapshot>,
    events: HashMap<EventId, u64>,
    subscribers: Vec<Subscriber>,
    /// The authority's request queue, with the epoch it serves under.
    server: Option<(u64, mpsc::Sender<Bytes>)>,
    /// Node → (subscribers, expiry).
    attached: HashMap<String, (usize, Instant)>,
    presence: Vec<PresenceEntry>,
    /// Commits made (changes committed together count once).
    commits: u64,
}

struct Subscriber {
    node: String,
    tx: mpsc::Sender<Published>,
    /// A message was dropped: it gets a gap when there is room.
    lagging: bool,
}

impl KeyRecord {
    fn lease_live(&self, now: Instant) -> Option<&(String, u64, Instant)> {
        self.lease.as_ref().filter(|(_, _, expires)| *expires > now)
    }

    fn publish(&mut self, message: &Published) {
        self.subscribers.retain_mut(|s| {
            if s.tx.is_closed() {
                return false;
            }
            if s.lagging {
                if s.tx.try_send(Published::Gap).is_err() {
                    return true;
                }
                s.lagging = false;
            }
            if let Err(mpsc::error::TrySendError::Full(_)) = s.tx.try_send(message.clone()) {
                s.lagging = true;
            }
            true
        });
    }
}

impl MemoryCluster {
    /// A cluster whose leases live `lease_time`.
    pub fn new(lease_time: Duration) -> MemoryCluster {
        MemoryCluster {
            store: Arc::default(),
            lease_time,
        }
    }

    /// A node of the cluster called `id`.
    pub fn node(&self, id: &str) -> Arc<MemoryNode> {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
        let (btx, brx) = mpsc::channel(SUBSCRIBER_QUEUE);
        let mut store = self.lock();
        store.answers.insert(id.to_owned(), tx);
        store.broadcasts.insert(id.to_owned(), btx);
        store.dead.remove(id);
        Arc::new(MemoryNode::new(self.clone(), id, rx, brx))
    }

    /// Simulate the crash of node `id`: its subscriptions, attachments, presence and request
    /// queues vanish at once; its leases run out in their own time.
    pub fn kill(&self, id: &str) {
        let mut store = self.lock();
        store.dead.insert(id.to_owned());
        store.answers.remove(id);
        store.broadcasts.remove(id);
        for record in store.keys.values_mut() {
            record.subscribers.retain(|s| s.node != id);
            record.attached.remove(id);
            if record
                .lease
                .as_ref()
                .is_some_and(|(holder, _, _)| holder == id)
            {
                record.server = None;
            }
            let leaves: Vec<PresenceEntry> = record
                .presence
                .iter()
                .filter(|e| e.node == id)
                .cloned()
                .collect();
            if !leaves.is_empty() {
                record.presence.retain(|e| e.node != id);
                record.publish(&Published::Presence {
                    joins: vec![],
                    leaves,
                });
            }
        }
    }

    /// The snapshot stored for `key` (for tests).
    pub fn snapshot(&self, key: &str) -> Option<Snapshot> {
        self.lock().keys.get(key).and_then(|r| r.snapshot.clone())
    }

    /// How many commits `key` had (changes committed together count once; for tests).
    pub fn commits(&self, key: &str) -> u64 {
        self.lock().keys.get(key).map_or(0, |r| r.commits)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        // Nothing panics while holding this lock; recover rather than spread a poison.
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }
}
