//! A key task's [`Role`]: standalone (a standalone node's key, or a connection's), the
//! cluster's leader for the key, or a follower of another node's lead. What a clustered
//! task keeps either way is its [`Cluster`] part; what only the leader has is its
//! [`Lead`].

use super::pending::Pending;
use crate::wire::Request;
use livestate_backplane::{Backplane, Lease, PresenceEntry, Published};
use std::collections::VecDeque;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TryRecvError;
use tokio::time::Instant;

pub(super) enum Role {
    /// Commits nowhere, forwards nothing.
    Standalone,
    /// Holds the key's lease: runs every change and commits it to the backplane.
    Leader(Box<Cluster>, Lead),
    /// Keeps a replica from the published changes and forwards its changes to the leader.
    Follower(Box<Cluster>),
}

/// A clustered key task's link to the cluster.
pub(super) struct Cluster {
    pub(super) backplane: Arc<dyn Backplane>,
    /// The key's published changes and presence diffs (`None` after the subscription
    /// ended, until it is made again).
    pub(super) bus: Option<mpsc::Receiver<Published>>,
    /// This node's forwarded requests waiting for their outcome.
    pub(super) pending: Pending,
    /// Presence entries of other nodes.
    pub(super) remote_presence: Vec<PresenceEntry>,
    /// Local presence joins and leaves not yet shared.
    pub(super) presence_out: (Vec<PresenceEntry>, Vec<PresenceEntry>),
    /// The attachment last reported: how many, and when.
    pub(super) attached: Option<(usize, Instant)>,
    /// Set when the replica must be reloaded (a gap, a failed load).
    pub(super) needs_resync: bool,
}

/// What only the leader has.
pub(super) struct Lead {
    pub(super) lease: Lease,
    /// The requests other nodes forward to this one for the key, a message at a time
    /// (decoded off this task: see `lead`).
    pub(super) requests: mpsc::Receiver<Vec<Request>>,
    /// Requests of a message taken but not yet run, in order.
    pub(super) queue: VecDeque<Request>,
    /// When the lease was last renewed.
    pub(super) renewed: Instant,
    /// How many other nodes have subscribers (counted when none is here).
    pub(super) elsewhere: usize,
}

/// What a clustered key task receives from the backplane.
pub(super) enum Input {
    /// A published message (`None`: the subscription ended).
    Published(Option<Published>),
    /// A forwarded message's requests, while leading (`None`: the queue ended, the key
    /// moved).
    Forwarded(Option<Vec<Request>>),
}

impl Role {
    pub(super) fn cluster(&self) -> Option<&Cluster> {
        match self {
            Role::Standalone => None,
            Role::Leader(c, _) | Role::Follower(c) => Some(c),
        }
    }

    pub(super) fn cluster_mut(&mut self) -> Option<&mut Cluster> {
        match self {
            Role::Standalone => None,
            Role::Leader(c, _) | Role::Follower(c) => Some(c),
        }
    }

    pub(super) fn lead(&self) -> Option<&Lead> {
        match self {
            Role::Leader(_, lead) => Some(lead),
            _ => None,
        }
    }

    pub(super) fn lead_mut(&mut self) -> Option<&mut Lead> {
        match self {
            Role::Leader(_, lead) => Some(lead),
            _ => None,
        }
    }

    pub(super) fn follows(&self) -> bool {
        matches!(self, Role::Follower(_))
    }

    /// The follower takes the lead.
    pub(super) fn promote(&mut self, lead: Lead) {
        if let Role::Follower(cluster) = std::mem::replace(self, Role::Standalone) {
            *self = Role::Leader(cluster, lead);
        }
    }

    /// The next input of a clustered task (never, for a standalone one): a forwarded
    /// request first, then the key's published messages.
    pub(super) async fn next_input(&mut self) -> Input {
        let (cluster, lead) = match self {
            Role::Standalone => return std::future::pending().await,
            Role::Leader(c, lead) => (c, Some(lead)),
            Role::Follower(c) => (c, None),
        };
        let published = async {
            match cluster.bus.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        let forwarded = async {
            match lead {
                Some(lead) => lead.requests.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            msg = forwarded => Input::Forwarded(msg),
            msg = published => Input::Published(msg),
        }
    }

    /// An input already waiting, if any: a forwarded request first, then a published
    /// message.
    pub(super) fn try_input(&mut self) -> Option<Input> {
        if let Some(lead) = self.lead_mut() {
            match lead.requests.try_recv() {
                Ok(msg) => return Some(Input::Forwarded(Some(msg))),
                Err(TryRecvError::Disconnected) => return Some(Input::Forwarded(None)),
                Err(TryRecvError::Empty) => {}
            }
        }
        let rx = self.cluster_mut()?.bus.as_mut()?;
        match rx.try_recv() {
            Ok(msg) => Some(Input::Published(Some(msg))),
            Err(TryRecvError::Disconnected) => Some(Input::Published(None)),
            Err(TryRecvError::Empty) => None,
        }
    }
}
