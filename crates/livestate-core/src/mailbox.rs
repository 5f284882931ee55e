//! What sessions, the server API and the hub ask of a key's authority: [`Command`]s, sent
//! through a bounded mailbox behind a [`KeyHandle`].

use crate::acl::{Caller, Permission, Permissions};
use crate::calls::{ApiError, Current};
use crate::channel::{ChannelError, JoinContext};
use crate::outbox::Slot;
use crate::subscriber::{Sink, SubId};
use livestate_doc::Doc;
use serde_json::Value;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};

/// What a key's authority is asked to do.
pub(crate) enum Command {
    Join(JoinRequest),
    Leave {
        sub: SubId,
    },
    Event(EventRequest),
    Refresh {
        sub: SubId,
    },
    Message(MessageRequest),
    Api(ApiRequest),
    /// A Rust subscriber detaches.
    Detach {
        sub: SubId,
    },
    /// An answer to a request this node forwarded (routed here by the hub).
    Answer(crate::wire::Answer),
    /// An event refused before it reached the authority (its frame held a number that
    /// does not fit 64 bits): answered as a refused event, in its place among the others.
    Refuse {
        sub: SubId,
        r#ref: Option<String>,
        slot: Option<Slot>,
        reason: String,
        received: Instant,
    },
}

/// A socket joins the key.
pub(crate) struct JoinRequest {
    pub(crate) sub: SubId,
    /// Where the key's changes for it go.
    pub(crate) sink: Box<dyn Sink>,
    pub(crate) params: Value,
    pub(crate) ctx: JoinContext,
    /// Sends the join reply into the room reserved for it: ok, or the refusal's reason.
    pub(crate) reply: JoinReply,
    /// Answered `true` once the subscriber is attached, `false` when the join was refused
    /// (the reply said why); dropped unanswered when the authority is stopping, and the
    /// session then retries with a fresh authority.
    pub(crate) joined: oneshot::Sender<bool>,
}

/// Sends a join's reply: ok, or the refusal's reason.
pub(crate) type JoinReply = Box<dyn FnOnce(Result<(), &str>) + Send>;

/// A client event `lvs_evt:NAME` from a subscriber.
pub(crate) struct EventRequest {
    pub(crate) sub: SubId,
    pub(crate) r#ref: Option<String>,
    pub(crate) name: String,
    pub(crate) payload: Value,
    /// Room reserved in the sender's outbox for the `phx_reply` (when there is a ref), so
    /// the acknowledgement is never dropped, even when the sender lags.
    pub(crate) slot: Option<Slot>,
    /// When the session took it, for the event latency.
    pub(crate) received: Instant,
}

/// A message for `handle_message`, from Rust code.
pub(crate) struct MessageRequest {
    pub(crate) message: Value,
    /// Answered with the wire version of the commit, or why the message was refused.
    pub(crate) done: oneshot::Sender<Result<u64, ApiError>>,
}

/// A call of the server API.
pub(crate) struct ApiRequest {
    pub(crate) caller: Caller,
    pub(crate) op: ApiOp,
    pub(crate) done: oneshot::Sender<Result<ApiReply, ApiError>>,
}

/// An edit of a key's state through a [`Doc`], run on its authority (possibly again, if
/// the authority it reached was stopping, or the version moved on under a follower).
pub(crate) type EditFn = Arc<dyn Fn(&mut Doc) -> Result<(), ChannelError> + Send + Sync>;

/// What a server API call does.
pub(crate) enum ApiOp {
    /// The whole state, or the value at a path.
    Get { path: Option<String> },
    /// Change the state through a `Doc`; the caller needs `needs`.
    Edit(Edit),
    /// Re-run `init` and replace the state with its result.
    Reset,
    /// Attach a Rust subscriber.
    Attach { sub: SubId, sink: Box<dyn Sink> },
}

/// An edit, and the same change as a call another node's authority can run on its own
/// state, when there is one (put, delete and patch; a closure has none, so a follower
/// computes its patch on its replica and the authority takes it only at that version).
#[derive(Clone)]
pub(crate) struct Edit {
    pub(crate) needs: Permissions,
    pub(crate) run: EditFn,
    pub(crate) shipped: Option<crate::wire::ApiCall>,
}

impl ApiOp {
    /// The permissions the op needs.
    pub(crate) fn needs(&self) -> Permissions {
        match self {
            ApiOp::Get { .. } | ApiOp::Attach { .. } => Permissions::NONE.with(Permission::Read),
            ApiOp::Edit(edit) => edit.needs,
            ApiOp::Reset => Permissions::NONE.with(Permission::Reset),
        }
    }
}

/// What a server API call gives back.
#[derive(Debug)]
pub(crate) enum ApiReply {
    Current(Current),
    Value(Value),
    /// The wire version of the commit.
    Committed(u64),
}

/// A handle on a key's authority.
#[derive(Clone, Debug)]
pub(crate) struct KeyHandle {
    tx: mpsc::Sender<Command>,
}

impl KeyHandle {
    /// A handle and the mailbox it sends to.
    pub(crate) fn new(capacity: usize) -> (KeyHandle, mpsc::Receiver<Command>) {
        let (tx, rx) = mpsc::channel(capacity);
        (KeyHandle { tx }, rx)
    }

    /// Send a command, waiting for room in the mailbox. `Err` gives the command back when
    /// the authority has stopped.
    pub(crate) async fn send(&self, cmd: Command) -> Result<(), Command> {
        self.tx.send(cmd).await.map_err(|e| e.0)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    pub(crate) fn same_as(&self, other: &KeyHandle) -> bool {
        self.tx.same_channel(&other.tx)
    }
}
