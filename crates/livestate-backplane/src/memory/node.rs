//! One node of a [`MemoryCluster`]: every part of the backplane, on the shared store.

use super::{KeyRecord, MemoryCluster, SUBSCRIBER_QUEUE, Store, Subscriber};
use crate::bus::{Broadcast, Bus, Change, Published};
use crate::error::BackplaneError;
use crate::forward::Forwarding;
use crate::lease::{Acquired, Lease, Leases, Snapshot};
use crate::log::{Commit, CommitLog, Committed};
use crate::presence::{Presence, PresenceEntry};
use crate::{Backplane, Fut};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// One node of a [`MemoryCluster`].
pub struct MemoryNode {
    cluster: MemoryCluster,
    id: String,
    answers: Mutex<Option<mpsc::Receiver<Bytes>>>,
    broadcasts: Mutex<Option<mpsc::Receiver<Broadcast>>>,
}

fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    Box::pin(std::future::ready(value))
}

impl MemoryNode {
    pub(super) fn new(
        cluster: MemoryCluster,
        id: &str,
        answers: mpsc::Receiver<Bytes>,
        broadcasts: mpsc::Receiver<Broadcast>,
    ) -> MemoryNode {
        MemoryNode {
            cluster,
            id: id.to_owned(),
            answers: Mutex::new(Some(answers)),
            broadcasts: Mutex::new(Some(broadcasts)),
        }
    }

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
    fn node(&self) -> &str {
        &self.id
    }
}

impl Leases for MemoryNode {
    fn lease_time(&self) -> Duration {
        self.cluster.lease_time
    }

    fn acquire<'a>(&'a self, key: &'a str) -> Fut<'a, Acquired> {
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

    fn renew<'a>(&'a self, lease: &'a Lease) -> Fut<'a, ()> {
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

    fn release<'a>(&'a self, lease: &'a Lease, drop_state: bool) -> Fut<'a, ()> {
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
}

impl CommitLog for MemoryNode {
    fn load<'a>(&'a self, key: &'a str) -> Fut<'a, Option<Snapshot>> {
        ready(
            self.alive().map(|()| {
                self.with(|store, _| store.keys.get(key).and_then(|r| r.snapshot.clone()))
            }),
        )
    }

    fn commit<'a>(&'a self, lease: &'a Lease, commit: Commit<'a>) -> Fut<'a, Committed> {
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
                        note: staged.note.cloned(),
                    })));
                }
                Ok(Committed::Done)
            })
        }))
    }
}

impl Bus for MemoryNode {
    fn subscribe<'a>(&'a self, key: &'a str) -> Fut<'a, mpsc::Receiver<Published>> {
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

    fn broadcast<'a>(&'a self, message: Broadcast) -> Fut<'a, ()> {
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
}

impl Forwarding for MemoryNode {
    fn forward<'a>(&'a self, key: &'a str, message: Bytes) -> Fut<'a, ()> {
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
                tx.try_send(message).map_err(|_| {
                    BackplaneError::Unavailable(format!("the authority of {key} is overloaded"))
                })
            })
        }))
    }

    fn serve<'a>(&'a self, lease: &'a Lease) -> Fut<'a, mpsc::Receiver<Bytes>> {
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

    fn answer<'a>(&'a self, node: &'a str, message: Bytes) -> Fut<'a, ()> {
        ready(self.alive().map(|()| {
            self.with(|store, _| {
                if let Some(tx) = store.answers.get(node) {
                    // a node that does not read its answers loses them; its requests time out
                    let _ = tx.try_send(message);
                }
            })
        }))
    }

    fn take_answers(&self) -> Option<mpsc::Receiver<Bytes>> {
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }
}

impl Presence for MemoryNode {
    fn attach<'a>(&'a self, key: &'a str, count: usize) -> Fut<'a, ()> {
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

    fn attached_elsewhere<'a>(&'a self, key: &'a str) -> Fut<'a, usize> {
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
    ) -> Fut<'a, ()> {
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

    fn presence<'a>(&'a self, key: &'a str) -> Fut<'a, Vec<PresenceEntry>> {
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
