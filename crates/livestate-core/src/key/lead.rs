//! Leading a key in a cluster, and joining and leaving the cluster.
//!
//! A key's task starts by subscribing to the key's bus (so nothing committed after that is
//! missed), then tries to take the lease: if it gets it, it leads; if another node holds
//! it, it follows (see `follow`). The leader commits every group of changes under its
//! lease, renews the lease every third of its lifetime, and runs the requests other nodes
//! forward to it; a change of its own commits that comes back with another epoch means
//! another node took the key, and it steps down. A follower that finds no leader takes the
//! lease itself: what it had forwarded and not seen done is its to run now (the ids make
//! sure nothing applies twice).

use super::job::{CommitError, Ran};
use super::role::{Cluster, Lead, Role};
use super::{Exit, KeyAuthority};
use crate::channel::Channel;
use crate::metrics::LeaseChange;
use crate::wire::{self, Answer, ApiCall, Refusal, Request, RequestBody};
use bytes::Bytes;
use livestate_backplane::{Backplane, BackplaneError, Commit, Committed, EventId, Staged};
use livestate_doc::{LiveState, Tracked};
use serde_json::Value;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

impl<C: Channel> KeyAuthority<C> {
    /// Subscribe to the key's bus, then lead or follow.
    pub(super) async fn join_cluster(&mut self, backplane: Arc<dyn Backplane>) {
        let bus = match backplane.subscribe(&self.topic).await {
            Ok(rx) => rx,
            Err(e) => {
                tracing::warn!(topic = %self.topic, "cannot follow the key: {e}");
                self.unavailable = Some(e.to_string());
                // expire at once when idle, so that the next join tries again
                self.config.ttl = Some(Duration::ZERO);
                return;
            }
        };
        self.role = Role::Follower(Box::new(Cluster {
            backplane,
            bus: Some(bus),
            pending: Default::default(),
            remote_presence: Vec::new(),
            presence_out: (Vec::new(), Vec::new()),
            attached: None,
            needs_resync: false,
        }));
        if !self.try_lead().await {
            self.load_replica().await;
        }
        if self.config.settings.presence {
            self.load_presence().await;
        }
    }

    /// Take the lease if nobody holds it; `true` when this task leads now.
    pub(super) async fn try_lead(&mut self) -> bool {
        let Some(backplane) = self.role.cluster().map(|c| c.backplane.clone()) else {
            return false;
        };
        if self.role.lead().is_some() {
            return true;
        }
        let acquired = match backplane.acquire(&self.topic).await {
            Ok(acquired) => acquired,
            Err(BackplaneError::Held { .. }) => return false,
            Err(e) => {
                tracing::warn!(topic = %self.topic, "cannot take the key's lease: {e}");
                return false;
            }
        };
        let requests = match backplane.serve(&acquired.lease).await {
            Ok(rx) => decoded(rx, self.topic.clone()),
            Err(e) => {
                tracing::warn!(topic = %self.topic, "cannot serve the key: {e}");
                let _ = backplane.release(&acquired.lease, false).await;
                return false;
            }
        };
        tracing::info!(topic = %self.topic, epoch = acquired.lease.epoch, "lease acquired: leading the key");
        self.node.metrics.lease(LeaseChange::Acquired);
        let behind = acquired
            .snapshot
            .as_ref()
            .is_some_and(|s| !self.state.has_state() || s.version != self.state.version());
        if let Some(snapshot) = acquired.snapshot.filter(|_| behind) {
            self.adopt(snapshot.state, snapshot.version);
        }
        // what waited for a leader is this task's to run now, in the order it was made
        let queue: VecDeque<Request> = match self.role.cluster() {
            Some(c) => c.pending.requests(&c.pending.all()).into(),
            None => VecDeque::new(),
        };
        self.role.promote(Lead {
            lease: acquired.lease,
            requests,
            queue,
            renewed: Instant::now(),
            elsewhere: 0,
        });
        if behind {
            self.resync_subscribers();
        }
        // a replica the backplane does not have (it lost its data): keep it there
        self.commit_initial().await;
        true
    }

    /// Replace the state with `state` at `version` (a snapshot).
    pub(super) fn adopt(&mut self, state: Value, version: u64) {
        let limits = self.config.limits;
        match C::State::restore(state).and_then(|s| Tracked::with_limits(s, limits)) {
            Ok(tracked) => {
                self.state.set(tracked);
                self.state.set_version(version);
            }
            Err(e) => {
                tracing::error!(topic = %self.topic, "the stored state does not fit the channel: {e}");
            }
        }
    }

    /// Commit a group's changes, taken from the state: a leader writes them to the
    /// backplane under its lease first; then they are settled. On failure, or when a change
    /// was committed before, they are all rolled back.
    pub(super) async fn commit(&mut self, ran: &[Ran]) -> Result<(), CommitError> {
        let version = self.state.version() + 1;
        let Some(tracked) = self.state.tracked.as_mut() else {
            return Err(CommitError::NoState);
        };
        if let Role::Leader(cluster, lead) = &self.role {
            let notes: Vec<Option<Value>> =
                ran.iter().map(|r| r.note().map(|n| n.to_value())).collect();
            let staged: Vec<Staged<'_>> = ran
                .iter()
                .zip(&notes)
                .map(|(r, note)| Staged {
                    patch: &r.patch,
                    reset: r.reset,
                    event: r.event(),
                    note: note.as_ref(),
                })
                .collect();
            let state = tracked.json();
            let commit = Commit {
                version,
                state: &state,
                whole: ran.iter().any(|r| r.whole),
                changes: &staged,
            };
            let started = std::time::Instant::now();
            let committed = cluster.backplane.commit(&lead.lease, commit).await;
            self.node.metrics.commit_latency.observe(started.elapsed());
            drop(state);
            match committed {
                Ok(Committed::Done) => {}
                Ok(Committed::Duplicate { version, .. }) => {
                    tracked.rollback();
                    return Err(CommitError::Duplicate(version));
                }
                Err(e) => {
                    tracked.rollback();
                    return Err(CommitError::Backplane(e));
                }
            }
        }
        tracked.settle();
        Ok(())
    }

    /// The leader stores the state it just built (or kept) as the key's first commit.
    pub(super) async fn commit_initial(&mut self) {
        let (Role::Leader(cluster, lead), Some(tracked)) = (&self.role, &self.state.tracked) else {
            return;
        };
        let state = tracked.json();
        let staged = [Staged {
            patch: &[],
            reset: false,
            event: None,
            note: None,
        }];
        let commit = Commit {
            version: self.state.version(),
            state: &state,
            whole: true,
            changes: &staged,
        };
        match cluster.backplane.commit(&lead.lease, commit).await {
            Ok(_) | Err(BackplaneError::OutOfOrder { .. }) => {}
            Err(e) => tracing::warn!(topic = %self.topic, "cannot store the initial state: {e}"),
        }
    }

    /// Keep the lease alive (every third of its lifetime).
    pub(super) async fn renew(&mut self) -> Option<Exit> {
        let Role::Leader(cluster, lead) = &mut self.role else {
            return None;
        };
        let now = Instant::now();
        if now < lead.renewed + cluster.backplane.lease_time() / 3 {
            return None;
        }
        match cluster.backplane.renew(&lead.lease).await {
            Ok(()) => lead.renewed = now,
            Err(BackplaneError::Fenced { .. }) => {
                tracing::warn!(topic = %self.topic, "the key's lease was lost");
                return Some(Exit::LeaseLost);
            }
            Err(e) => tracing::warn!(topic = %self.topic, "cannot renew the key's lease: {e}"),
        }
        None
    }

    /// How many other nodes have subscribers (a leader with none here).
    pub(super) async fn count_elsewhere(&mut self) {
        let Role::Leader(cluster, lead) = &mut self.role else {
            return;
        };
        match cluster.backplane.attached_elsewhere(&self.topic).await {
            Ok(n) => lead.elsewhere = n,
            Err(e) => {
                tracing::warn!(topic = %self.topic, "cannot count the key's subscribers elsewhere: {e}")
            }
        }
    }

    /// Leaving the cluster: no more attached here; a leader whose key expired drops its
    /// state and gives the lease up.
    pub(super) async fn leave_cluster(&mut self, expired: bool) {
        let Some(cluster) = self.role.cluster() else {
            return;
        };
        let backplane = cluster.backplane.clone();
        if let Err(e) = backplane.attach(&self.topic, 0).await {
            tracing::debug!(topic = %self.topic, "cannot report leaving the key: {e}");
        }
        if let Some(lead) = self.role.lead() {
            match backplane.release(&lead.lease, expired).await {
                Ok(()) => {
                    tracing::info!(topic = %self.topic, epoch = lead.lease.epoch, "lease released");
                    self.node.metrics.lease(LeaseChange::Released);
                }
                Err(e) => tracing::warn!(topic = %self.topic, "releasing the lease failed: {e}"),
            }
        }
    }

    /// A request forwarded to this leader (or made by this node before it took the
    /// lease): a change goes into the pipeline; `init` builds the state if there is none.
    pub(super) async fn on_request(&mut self, request: Request) -> Option<Exit> {
        if let RequestBody::Api {
            call: ApiCall::Init(params),
            ..
        } = &request.body
        {
            let outcome = match self.ensure_state(params).await {
                Ok(()) => Ok(self.state.version()),
                Err(e) => Err(Refusal::Api(e)),
            };
            let from = super::job::From::Remote {
                id: request.id,
                node: request.from,
                retry: request.retry,
            };
            self.finish(from, outcome).await;
            return None;
        }
        let job = self.remote_job(request)?;
        self.submit(job).await
    }

    /// Answer a request another node forwarded.
    pub(super) async fn answer(&mut self, node: &str, id: EventId, outcome: Result<u64, Refusal>) {
        let Some(cluster) = self.role.cluster() else {
            return;
        };
        let answer = Answer {
            id,
            key: self.topic.to_string(),
            outcome,
        };
        let message = wire::encode_answer(&answer);
        if let Err(e) = cluster.backplane.answer(node, message).await {
            tracing::warn!(topic = %self.topic, "cannot answer {node}: {e}");
        }
    }
}

/// The requests of each message forwarded to the key, decoded on a task of their own, so
/// a busy key's authority does not parse what other nodes send it.
fn decoded(mut messages: mpsc::Receiver<Bytes>, topic: Arc<str>) -> mpsc::Receiver<Vec<Request>> {
    let (tx, rx) = mpsc::channel(messages.max_capacity());
    tokio::spawn(async move {
        while let Some(message) = messages.recv().await {
            match wire::decode_requests(&message) {
                Ok(requests) => {
                    if tx.send(requests).await.is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::warn!(topic = %topic, "a forwarded message does not decode: {e}")
                }
            }
        }
    });
    rx
}
