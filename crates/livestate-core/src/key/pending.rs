//! A follower's forwarded requests waiting for their outcome.
//!
//! A request is *pending* from the moment it is made until its outcome arrives: as the
//! published change naming it (which carries the handler's reply events), or as an answer
//! (a refusal, or "committed at version v" for a retry found to be a duplicate). Until the
//! request reaches an authority it is sent again on every tick; one that reached one but got
//! no outcome within a lease time is sent again too (its authority may have died), marked
//! as a retry, so that the authority recognises it if it was committed. Its id keeps it
//! from applying twice. At its deadline the asker gets `unavailable`.

use super::job::Asker;
use crate::acl::Permissions;
use crate::mailbox::EditFn;
use crate::wire::Request;
use livestate_backplane::EventId;
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;

/// An edit of this node's, kept to compute again on a newer replica: the permissions it
/// needs, and the closure.
pub(super) type Recompute = (Permissions, EditFn);

/// One forwarded request.
pub(super) struct Forward {
    pub(super) request: Request,
    pub(super) asker: Asker,
    /// An edit computed on the replica: its closure, to compute again on a newer replica
    /// when the key has moved on.
    pub(super) recompute: Option<Recompute>,
    /// When the asker gets an error instead.
    deadline: Instant,
    /// When it reached an authority (`None`: not yet; it is sent on the next tick).
    sent: Option<Instant>,
    /// An answer said it was committed at this version, before the change itself arrived.
    pub(super) answered: Option<u64>,
    /// Its place among this node's requests: resent ones go in this order.
    order: u64,
}

impl Forward {
    pub(super) fn new(
        request: Request,
        asker: Asker,
        recompute: Option<Recompute>,
        deadline: Instant,
        order: u64,
    ) -> Forward {
        Forward {
            request,
            asker,
            recompute,
            deadline,
            sent: None,
            answered: None,
            order,
        }
    }

    /// How long ago it was sent, for the log.
    pub(super) fn sent_ago(&self, now: Instant) -> String {
        self.sent
            .map_or("never".to_owned(), |at| format!("{:?} ago", now - at))
    }
}

/// This node's forwarded requests of one key.
#[derive(Default)]
pub(super) struct Pending {
    map: HashMap<EventId, Forward>,
}

impl Pending {
    pub(super) fn insert(&mut self, forward: Forward) {
        self.map.insert(forward.request.id.clone(), forward);
    }

    pub(super) fn remove(&mut self, id: &EventId) -> Option<Forward> {
        self.map.remove(id)
    }

    pub(super) fn get_mut(&mut self, id: &EventId) -> Option<&mut Forward> {
        self.map.get_mut(id)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The requests with these ids, in the order they were made.
    pub(super) fn requests(&self, ids: &[EventId]) -> Vec<Request> {
        ids.iter()
            .filter_map(|id| self.map.get(id).map(|f| f.request.clone()))
            .collect()
    }

    /// Every request's id, in the order they were made.
    pub(super) fn all(&self) -> Vec<EventId> {
        self.in_order(|_| true)
    }

    /// Those past their deadline, taken out.
    pub(super) fn take_late(&mut self, now: Instant) -> Vec<(EventId, Forward)> {
        let late = self.in_order(|f| f.deadline <= now);
        late.into_iter()
            .filter_map(|id| self.map.remove(&id).map(|f| (id, f)))
            .collect()
    }

    /// Those to send (again): never sent, or sent a lease time ago with no outcome.
    pub(super) fn due(&self, now: Instant, lease_time: Duration) -> Vec<EventId> {
        self.in_order(|f| f.sent.is_none_or(|at| now >= at + lease_time))
    }

    /// They reached an authority: from now on they may have been committed, so a resend
    /// is a retry.
    pub(super) fn mark_sent(&mut self, ids: &[EventId], now: Instant) {
        for id in ids {
            if let Some(f) = self.map.get_mut(id) {
                f.sent = Some(now);
                f.request.retry = true;
            }
        }
    }

    /// Send it again on the next tick (its edit is to be computed again).
    pub(super) fn mark_unsent(&mut self, id: &EventId) {
        if let Some(f) = self.map.get_mut(id) {
            f.sent = None;
        }
    }

    /// Those an answer said were committed at a version the replica has reached, taken out.
    pub(super) fn take_answered(&mut self, version: u64) -> Vec<(u64, Forward)> {
        let ready = self.in_order(|f| f.answered.is_some_and(|v| v <= version));
        ready
            .into_iter()
            .filter_map(|id| self.map.remove(&id))
            .map(|f| (f.answered.unwrap_or(version), f))
            .collect()
    }

    fn in_order(&self, which: impl Fn(&Forward) -> bool) -> Vec<EventId> {
        let mut picked: Vec<(&EventId, &Forward)> =
            self.map.iter().filter(|(_, f)| which(f)).collect();
        picked.sort_by_key(|(_, f)| f.order);
        picked.into_iter().map(|(id, _)| id.clone()).collect()
    }
}
