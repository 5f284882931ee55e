//! In-memory backplanes: [`MemoryBackplane`], a standalone node (the default), and
//! [`MemoryCluster`], several nodes sharing one store in one process, with the semantics of
//! a real cluster backend (leases that expire, fencing, ordered publication, forwarding),
//! for tests and for the behavioural suite every backend passes.

use super::*;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::time::Instant;

/// A standalone node: one process, state in memory, nothing shared. This is the default,
/// and the right choice until one process is not enough; then run several nodes on a
/// cluster backplane (Redis).
#[derive(Debug, Default)]
pub struct MemoryBackplane;

impl MemoryBackplane {
    /// A standalone node.
    pub fn new() -> MemoryBackplane {
        MemoryBackplane
    }
}

fn standalone<T: Send + 'static>() -> BoxFuture<'static, Result<T, BackplaneError>> {
    Box::pin(async {
        Err(BackplaneError::Unavailable(
            "a standalone node shares nothing".into(),
        ))
    })
}

impl Backplane for MemoryBackplane {
    fn cluster(&self) -> bool {
        false
    }
    fn node(&self) -> &str {
        "standalone"
    }
    fn lease_time(&self) -> Duration {
        Duration::MAX
    }
    fn acquire<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Acquired, BackplaneError>> {
        standalone()
    }
    fn renew<'a>(&'a self, _: &'a Lease) -> BoxFuture<'a, Result<(), BackplaneError>> {
        standalone()
    }
    fn release<'a>(&'a self, _: &'a Lease, _: bool) -> BoxFuture<'a, Result<(), BackplaneError>> {
        standalone()
    }
    fn load<'a>(&'a self, _: &'a str) -> BoxFuture<'a, Result<Option<Snapshot>, BackplaneError>> {
        standalone()
    }
    fn commit<'a>(
        &'a self,
        _: &'a Lease,
        _: Commit<'a>,
    ) -> BoxFuture<'a, Result<Committed, BackplaneError>> {
        standalone()
    }
    fn subscribe<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<mpsc::Receiver<Published>, BackplaneError>> {
        standalone()
    }
    fn forward<'a>(
        &'a self,
        _: &'a str,
        _: Vec<Request>,
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        standalone()
    }
    fn serve<'a>(
        &'a self,
        _: &'a Lease,
    ) -> BoxFuture<'a, Result<mpsc::Receiver<Request>, BackplaneError>> {
        standalone()
    }
    fn answer<'a>(&'a self, _: &'a str, _: Answer) -> BoxFuture<'a, Result<(), BackplaneError>> {
        standalone()
    }
    fn take_answers(&self) -> Option<mpsc::Receiver<Answer>> {
        None
    }
    fn broadcast<'a>(&'a self, _: Broadcast) -> BoxFuture<'a, Result<(), BackplaneError>> {
        standalone()
    }
    fn take_broadcasts(&self) -> Option<mpsc::Receiver<Broadcast>> {
        None
    }
    fn attach<'a>(&'a self, _: &'a str, _: usize) -> BoxFuture<'a, Result<(), BackplaneError>> {
        standalone()
    }
    fn attached_elsewhere<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<usize, BackplaneError>> {
        standalone()
    }
    fn track<'a>(
        &'a self,
        _: &'a str,
        _: Vec<PresenceEntry>,
        _: Vec<PresenceEntry>,
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        standalone()
    }
    fn presence<'a>(
        &'a self,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Vec<PresenceEntry>, BackplaneError>> {
        standalone()
    }
}

/// How many published messages a subscriber may have unread before it gets a gap.
const SUBSCRIBER_QUEUE: usize = 4096;

/// Several nodes in one process sharing one store: a cluster without a network, with the
/// guarantees of the [`Backplane`] docs. Leases expire on tokio's clock.
///
/// ```
/// use livestate_core::backplane::{Backplane, MemoryCluster};
/// use std::time::Duration;
///
/// let cluster = MemoryCluster::new(Duration::from_secs(3));
/// let a = cluster.node("a");
/// let b = cluster.node("b");
/// assert!(a.cluster() && a.node() != b.node());
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
    answers: HashMap<String, mpsc::Sender<Answer>>,
    /// Every node's broadcast messages.
    broadcasts: HashMap<String, mpsc::Sender<Broadcast>>,
    /// Nodes that were killed (a simulated crash): their subscriptions and attachments are
    /// gone, their leases run out.
    dead: std::collections::HashSet<String>,
}

#[derive(Default)]
struct KeyRecord {
    /// Holder, epoch, expiry.
    lease: Option<(String, u64, Instant)>,
    snapshot: Option<Snapshot>,
    events: HashMap<EventId, u64>,
    subscribers: Vec<Subscriber>,
    /// The authority's request queue, with the epoch it serves under.
    server: Option<(u64, mpsc::Sender<Request>)>,
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
        Arc::new(MemoryNode {
            cluster: self.clone(),
            id: id.to_owned(),
            answers: Mutex::new(Some(rx)),
            broadcasts: Mutex::new(Some(brx)),
        })
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

/// One node of a [`MemoryCluster`].
pub struct MemoryNode {
    cluster: MemoryCluster,
    id: String,
    answers: Mutex<Option<mpsc::Receiver<Answer>>>,
    broadcasts: Mutex<Option<mpsc::Receiver<Broadcast>>>,
}

fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

impl MemoryNode {
    fn with<T>(&self, f: impl FnOnce(&mut Store, Instant) -> T) -> T {
        let mut store = self.cluster.lock();
        f(&mut store, Instant::now())
    }

    fn alive(&self) -> Result<(), BackplaneError> {
        if self.cluster.lock().dead.contains(&self.id) {
            return Err(BackplaneError::Unavailable(format!(
                "node {} was killed",
                self.id
            )));
        }
        Ok(())
    }
}

impl Backplane for MemoryNode {
    fn cluster(&self) -> bool {
        true
    }

    fn node(&self) -> &str {
        &self.id
    }

    fn lease_time(&self) -> Duration {
        self.cluster.lease_time
    }

    fn acquire<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Acquired, BackplaneError>> {
        let lease_time = self.cluster.lease_time;
        ready(self.alive().and_then(|()| {
            self.with(|store, now| {
                let record = store.keys.entry(key.to_owned()).or_default();
                if let Some((holder, _, _)) = record.lease_live(now) {
                    if holder != &self.id {
                        return Err(BackplaneError::Held {
                            key: key.to_owned(),
                            holder: holder.clone(),
                        });
                    }
                }
                store.last_epoch += 1;
                let epoch = store.last_epoch;
                let record = store.keys.entry(key.to_owned()).or_default();
                record.lease = Some((self.id.clone(), epoch, now + lease_time));
                record.server = None;
                Ok(Acquired {
                    lease: Lease {
                        key: key.to_owned(),
                        epoch,
                        node: self.id.clone(),
                    },
                    snapshot: record.snapshot.clone(),
                })
            })
        }))
    }

    fn renew<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), BackplaneError>> {
        let lease_time = self.cluster.lease_time;
        ready(self.alive().and_then(|()| {
            self.with(|store, now| match store.keys.get_mut(&lease.key) {
                Some(record) if holds(record, lease, now) => {
                    record.lease = Some((lease.node.clone(), lease.epoch, now + lease_time));
                    Ok(())
                }
                _ => Err(fenced(lease)),
            })
        }))
    }

    fn release<'a>(
        &'a self,
        lease: &'a Lease,
        drop_state: bool,
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        ready(self.with(|store, now| {
            if let Some(record) = store.keys.get_mut(&lease.key) {
                if holds(record, lease, now) {
                    record.lease = None;
                    record.server = None;
                    if drop_state {
                        record.snapshot = None;
                        record.events.clear();
                    }
                }
            }
            Ok(())
        }))
    }

    fn load<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Option<Snapshot>, BackplaneError>> {
        ready(
            self.alive().map(|()| {
                self.with(|store, _| store.keys.get(key).and_then(|r| r.snapshot.clone()))
            }),
        )
    }

    fn commit<'a>(
        &'a self,
        lease: &'a Lease,
        commit: Commit<'a>,
    ) -> BoxFuture<'a, Result<Committed, BackplaneError>> {
        ready(self.alive().and_then(|()| {
            self.with(|store, now| {
                let record = store.keys.entry(lease.key.clone()).or_default();
                if !holds(record, lease, now) {
                    return Err(fenced(lease));
                }
                for (index, staged) in commit.changes.iter().enumerate() {
                    if let Some(version) = staged.event.and_then(|e| record.events.get(e)) {
                        return Ok(Committed::Duplicate {
                            index,
                            version: *version,
                        });
                    }
                }
                let first_reset = commit.changes.first().is_some_and(|c| c.reset);
                let stored = record.snapshot.as_ref().map(|s| s.version);
                let follows = match stored {
                    None => commit.version == 0,
                    Some(v) => commit.version == v + 1 || (commit.version == 0 && first_reset),
                };
                if !follows || commit.changes.is_empty() {
                    return Err(BackplaneError::OutOfOrder {
                        key: lease.key.clone(),
                        version: commit.version,
                        stored: stored.unwrap_or(0),
                    });
                }
                record.snapshot = Some(Snapshot {
                    state: commit.state.clone(),
                    version: commit.last_version(),
                    epoch: lease.epoch,
                });
                record.commits += 1;
                for (i, staged) in commit.changes.iter().enumerate() {
                    let version = commit.version + i as u64;
                    if let Some(event) = staged.event {
                        record.events.insert(event.clone(), version);
                    }
                    record.publish(&Published::Change(Arc::new(Change {
                        epoch: lease.epoch,
                        version,
                        patch: staged.patch.to_vec(),
                        reset: staged.reset,
                        origin: staged.origin.cloned(),
                    })));
                }
                Ok(Committed::Done)
            })
        }))
    }

    fn subscribe<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<mpsc::Receiver<Published>, BackplaneError>> {
        ready(self.alive().map(|()| {
            let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
            self.with(|store, _| {
                store
                    .keys
                    .entry(key.to_owned())
                    .or_default()
                    .subscribers
                    .push(Subscriber {
                        node: self.id.clone(),
                        tx,
                        lagging: false,
                    });
            });
            rx
        }))
    }

    fn forward<'a>(
        &'a self,
        key: &'a str,
        requests: Vec<Request>,
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        ready(self.alive().and_then(|()| {
            self.with(|store, now| {
                let record = store.keys.get(key);
                let server = record.and_then(|r| {
                    let (_, epoch, _) = r.lease_live(now)?;
                    r.server
                        .as_ref()
                        .filter(|(e, tx)| e == epoch && !tx.is_closed())
                });
                let Some((_, tx)) = server else {
                    return Err(BackplaneError::NoAuthority(key.to_owned()));
                };
                // one message: all of it is queued, or none
                let Ok(permits) = tx.try_reserve_many(requests.len()) else {
                    return Err(BackplaneError::Unavailable(format!(
                        "the authority of {key} is overloaded"
                    )));
                };
                for (permit, request) in permits.zip(requests) {
                    permit.send(request);
                }
                Ok(())
            })
        }))
    }

    fn serve<'a>(
        &'a self,
        lease: &'a Lease,
    ) -> BoxFuture<'a, Result<mpsc::Receiver<Request>, BackplaneError>> {
        ready(self.alive().and_then(|()| {
            self.with(|store, now| {
                let record = store.keys.entry(lease.key.clone()).or_default();
                if !holds(record, lease, now) {
                    return Err(fenced(lease));
                }
                let (tx, rx) = mpsc::channel(SUBSCRIBER_QUEUE);
                record.server = Some((lease.epoch, tx));
                Ok(rx)
            })
        }))
    }

    fn answer<'a>(
        &'a self,
        node: &'a str,
        answer: Answer,
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        ready(self.alive().map(|()| {
            self.with(|store, _| {
                if let Some(tx) = store.answers.get(node) {
                    // a node that does not read its answers loses them; its requests time out
                    let _ = tx.try_send(answer);
                }
            })
        }))
    }

    fn take_answers(&self) -> Option<mpsc::Receiver<Answer>> {
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    fn broadcast<'a>(&'a self, message: Broadcast) -> BoxFuture<'a, Result<(), BackplaneError>> {
        ready(self.alive().map(|()| {
            self.with(|store, _| {
                for (node, tx) in &store.broadcasts {
                    if *node != self.id {
                        // a node that does not keep up loses them, as pub/sub does
                        let _ = tx.try_send(message.clone());
                    }
                }
            })
        }))
    }

    fn take_broadcasts(&self) -> Option<mpsc::Receiver<Broadcast>> {
        self.broadcasts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    fn attach<'a>(
        &'a self,
        key: &'a str,
        count: usize,
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        let lease_time = self.cluster.lease_time;
        ready(self.alive().map(|()| {
            self.with(|store, now| {
                let record = store.keys.entry(key.to_owned()).or_default();
                if count == 0 {
                    record.attached.remove(&self.id);
                } else {
                    record
                        .attached
                        .insert(self.id.clone(), (count, now + lease_time));
                }
            })
        }))
    }

    fn attached_elsewhere<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<usize, BackplaneError>> {
        ready(self.alive().map(|()| {
            self.with(|store, now| {
                store.keys.get(key).map_or(0, |r| {
                    r.attached
                        .iter()
                        .filter(|(node, (count, expires))| {
                            *node != &self.id && *count > 0 && *expires > now
                        })
                        .count()
                })
            })
        }))
    }

    fn track<'a>(
        &'a self,
        key: &'a str,
        joins: Vec<PresenceEntry>,
        leaves: Vec<PresenceEntry>,
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        ready(self.alive().map(|()| {
            self.with(|store, _| {
                let record = store.keys.entry(key.to_owned()).or_default();
                record.presence.retain(|e| {
                    !leaves
                        .iter()
                        .any(|l| l.node == e.node && l.phx_ref == e.phx_ref)
                });
                record.presence.extend(joins.iter().cloned());
                record.publish(&Published::Presence { joins, leaves });
            })
        }))
    }

    fn presence<'a>(
        &'a self,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Vec<PresenceEntry>, BackplaneError>> {
        ready(self.alive().map(|()| {
            self.with(|store, _| {
                let dead = &store.dead;
                store.keys.get(key).map_or_else(Vec::new, |r| {
                    r.presence
                        .iter()
                        .filter(|e| !dead.contains(&e.node))
                        .cloned()
                        .collect()
                })
            })
        }))
    }
}

fn holds(record: &KeyRecord, lease: &Lease, now: Instant) -> bool {
    record
        .lease_live(now)
        .is_some_and(|(holder, epoch, _)| *holder == lease.node && *epoch == lease.epoch)
}

fn fenced(lease: &Lease) -> BackplaneError {
    BackplaneError::Fenced {
        key: lease.key.clone(),
        epoch: lease.epoch,
    }
}
