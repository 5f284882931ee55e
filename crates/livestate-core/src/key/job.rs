//! A change waiting to run on a key's state ([`Job`]), and who hears how it ended
//! ([`From`], [`Asker`]). Every change goes through the one pipeline (`pipeline`): a
//! client event, a message, an API edit or reset, whether it was asked here or forwarded.

use crate::acl::{Caller, Permissions};
use crate::calls::ApiError;
use crate::channel::EventContext;
use crate::mailbox::{ApiReply, EditFn};
use crate::outbox::Slot;
use crate::subscriber::SubId;
use crate::wire::{ApiCall, Note};
use livestate_backplane::{BackplaneError, EventId};
use livestate_protocol::PatchOp;
use serde_json::Value;
use std::time::Instant;
use tokio::sync::oneshot;

/// A change to run on the key's state.
pub(super) struct Job {
    pub(super) work: Work,
    /// Whose permissions it runs with.
    pub(super) caller: Caller,
    pub(super) from: From,
}

/// What a job does.
pub(super) enum Work {
    /// A client event `lvs_evt:NAME`, with what its handler sees of the sender.
    Event {
        name: String,
        payload: Value,
        ctx: EventContext,
    },
    /// `handle_message`.
    Message(Value),
    /// An edit through a `Doc`.
    Edit(Edit),
    /// Re-run `init` and replace the state with its result.
    Reset,
    /// An event refused before it got here, with the reason.
    Refuse(String),
    /// Store the whole state again, as a change of nothing (a follower found the stored
    /// state malformed).
    Rewrite,
}

/// An edit: a closure of this node's, or a call forwarded by another.
pub(super) enum Edit {
    Run { run: EditFn, needs: Permissions },
    Call(ApiCall),
}

impl Job {
    /// Whether it may run in a group with others: client events (a forwarded one only on
    /// its first attempt; a retry runs alone, where a duplicate is recognised).
    pub(super) fn groupable(&self) -> bool {
        let first_attempt = match &self.from {
            From::Here(_) => true,
            From::Remote { retry, .. } => !retry,
        };
        first_attempt && matches!(self.work, Work::Event { .. } | Work::Refuse(_))
    }
}

/// Where a job came from.
pub(super) enum From {
    /// This node: the asker waits here.
    Here(Asker),
    /// Forwarded by `node` (possibly this one, for requests it forwarded before it took
    /// the lease): its asker is in that node's pending table.
    Remote {
        id: EventId,
        node: String,
        retry: bool,
    },
}

/// Who waits on this node for a change's outcome.
pub(super) enum Asker {
    /// A subscriber's client event; `ref` when it wants a reply (in `slot`).
    Sub {
        sub: SubId,
        r#ref: Option<String>,
        slot: Option<Slot>,
        /// When its session took it, for the event latency.
        received: Instant,
    },
    /// A server API call.
    Api(oneshot::Sender<Result<ApiReply, ApiError>>),
    /// A message from Rust code.
    Message(oneshot::Sender<Result<u64, ApiError>>),
    /// Joiners waiting for the key's first state (a follower asked the leader to build it).
    Init,
}

/// A change whose handler ran: its patch waits to be committed with the others of its
/// group.
pub(super) struct Ran {
    pub(super) patch: Vec<PatchOp>,
    pub(super) reset: bool,
    /// Store the whole state with the commit.
    pub(super) whole: bool,
    /// The reply events for its sender.
    pub(super) events: Vec<(String, Value)>,
    pub(super) from: From,
}

impl Ran {
    /// What the leader publishes with it: for a forwarded change, who asked and their
    /// reply events.
    pub(super) fn note(&self) -> Option<Note> {
        match &self.from {
            From::Here(_) => None,
            From::Remote { id, node, .. } => Some(Note {
                id: id.clone(),
                node: node.clone(),
                events: self.events.clone(),
            }),
        }
    }

    /// The event id the commit records, for at-most-once.
    pub(super) fn event(&self) -> Option<&EventId> {
        match &self.from {
            From::Here(_) => None,
            From::Remote { id, .. } => Some(id),
        }
    }
}

/// Why a group's changes were not committed (they were rolled back).
#[derive(Debug)]
pub(super) enum CommitError {
    /// The key has no state.
    NoState,
    Backplane(BackplaneError),
    /// The change's event was committed before, at this version.
    Duplicate(u64),
}

impl CommitError {
    pub(super) fn lost_lease(&self) -> bool {
        matches!(self, CommitError::Backplane(BackplaneError::Fenced { .. }))
    }
}
