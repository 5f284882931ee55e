//! The [`Channel`] trait: what an application writes to serve a topic.
//!
//! A channel is LiveState's unit: `init` builds the state for a topic, `handle_event` turns
//! a client event into a new state, and livestate sends every joiner the state and then
//! the patches. The one choice LiveState does not offer is [`Scope`]: a `Shared` channel
//! keeps one state per topic for all its joiners, a `Connection` channel one per join.
//!
//! Handlers report failures as values ([`ChannelError`]); the client gets the reason and
//! the key's state stays as it was before the event.
//!
//! ```
//! use livestate_core::{Channel, ChannelError, Doc, EventContext, JoinContext, Reply};
//! use serde_json::{json, Value};
//!
//! struct Counter;
//!
//! impl Channel for Counter {
//!     type State = Doc;
//!
//!     async fn init(&self, _topic: &str, _params: &Value, _ctx: &JoinContext) -> Result<Doc, ChannelError> {
//!         Ok(Doc::new(json!({"count": 0})))
//!     }
//!
//!     async fn handle_event(&self, event: &str, _payload: Value, state: &mut Doc, _ctx: &EventContext)
//!         -> Result<Reply, ChannelError>
//!     {
//!         match event {
//!             "increment" => { state.increment("/count", 1)?; Ok(Reply::none()) }
//!             other => Err(ChannelError::unknown_event(other)),
//!         }
//!     }
//! }
//! ```

use crate::acl::{Acl, Denied, Permission, Permissions};
use crate::doc::{OpError, PatchError};
use crate::pointer::PointerError;
pub use crate::state::LiveState;
use serde_json::{Map, Value};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// A channel callback's result: `Result<T, ChannelError>`.
pub type Result<T, E = ChannelError> = std::result::Result<T, E>;

/// LiveState's default `max_version`: versions count 0..=1000 and wrap to 0.
pub const DEFAULT_MAX_VERSION: u64 = 1000;

/// Values attached to a socket or a join: strings to JSON, readable in every callback.
pub type Assigns = Map<String, Value>;

/// Whether joiners of a topic share one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scope {
    /// One state per topic, one authority for it, every joiner sees the same state.
    #[default]
    Shared,
    /// One state per joined channel, as LiveState does.
    Connection,
}

/// A channel: the code behind a topic pattern.
///
/// Every method has `&self`: a channel value is shared by all its topics and keys. Keep
/// per-key data in the state, per-socket data in the assigns.
pub trait Channel: Send + Sync + 'static {
    /// The state of one key: a [`Doc`](crate::Doc) (explicit operations, patches that
    /// cost what changed), or any `Serialize + Deserialize` type (diffed after each change).
    /// See [`crate::state`].
    type State: LiveState;

    /// Whether joiners share one state ([`Scope::Shared`], the default) or get one each.
    fn scope(&self) -> Scope {
        Scope::Shared
    }

    /// Versions wrap to 0 after this (LiveState's `max_version`, default 1000).
    fn max_version(&self) -> u64 {
        DEFAULT_MAX_VERSION
    }

    /// Who may do what to this channel's keys (see [`crate::acl`]; default: the group
    /// everything, the public read).
    fn acl(&self) -> Acl {
        Acl::default()
    }

    /// The permissions the client event `event` needs (default: write). A channel whose
    /// events remove or reset things says so here, so the ACL can tell them apart.
    fn permissions_for(&self, event: &str, payload: &Value) -> Permissions {
        let _ = (event, payload);
        Permissions::NONE.with(Permission::Write)
    }

    /// How long a shared key lives after its last subscriber left (default: the hub's
    /// TTL, 60 s unless configured).
    fn ttl(&self) -> Ttl {
        Ttl::Default
    }

    /// What this channel's states may become: nesting depth, size as JSON, ops per patch
    /// (see [`StateLimits`](crate::doc::StateLimits)). `None`, the default: the hub's
    /// ([`Limits::state`](crate::Limits::state)). A change that would break one is refused
    /// with an error naming the limit.
    fn state_limits(&self) -> Option<crate::doc::StateLimits> {
        None
    }

    /// Whether joiners get `presence_state` and `presence_diff` (phoenix.js `Presence`):
    /// who is attached, with what `authorize` tracked ([`JoinContext::track`]).
    fn presence(&self) -> bool {
        false
    }

    /// Decide whether this join may proceed; a refusal reaches the client as the join
    /// error `{"reason": ...}`. May add assigns for this join. Runs on every join.
    fn authorize(
        &self,
        topic: &str,
        params: &Value,
        ctx: &mut JoinContext,
    ) -> impl Future<Output = Result<(), ChannelError>> + Send {
        let _ = (topic, params, ctx);
        async { Ok(()) }
    }

    /// Build the initial state. For a shared key it runs for the first joiner only (and
    /// again after the key expired); a failure reaches that joiner as the `error` push
    /// `{"message": ...}` and the next joiner tries again.
    fn init(
        &self,
        topic: &str,
        params: &Value,
        ctx: &JoinContext,
    ) -> impl Future<Output = Result<Self::State, ChannelError>> + Send;

    /// Handle the client event `lvs_evt:<event>`. Change `state` in place; return reply
    /// events for the sender (pushed before the patch). An error leaves the state as it was
    /// and reaches the sender as `{"reason": ...}`. The default refuses every event
    /// (`unknown event "..."`), for channels that only show state.
    fn handle_event(
        &self,
        event: &str,
        payload: Value,
        state: &mut Self::State,
        ctx: &EventContext,
    ) -> impl Future<Output = Result<Reply, ChannelError>> + Send {
        let _ = (payload, state, ctx);
        let refusal = ChannelError::unknown_event(event);
        async move { Err(refusal) }
    }

    /// Handle a message sent by Rust code or over HTTP, the PubSub case: a background job or
    /// a controller changing what joiners see. A shared key gets it through
    /// [`Hub::send`](crate::Hub::send) and every joiner gets the patch; on a
    /// [`Scope::Connection`] channel, [`Hub::broadcast`](crate::Hub::broadcast) hands it to
    /// every joined connection of the topic on every node, each changing its own state.
    /// Change `state` in place. The default ignores messages.
    fn handle_message(
        &self,
        message: Value,
        state: &mut Self::State,
        ctx: &MessageContext,
    ) -> impl Future<Output = Result<(), ChannelError>> + Send {
        let _ = (message, state, ctx);
        async { Ok(()) }
    }
}

/// What a message handler can see.
#[derive(Debug, Clone, Default)]
pub struct MessageContext {
    /// The topic of the key.
    pub topic: String,
}

/// How long a key lives after its last subscriber left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ttl {
    /// The hub's default ([`Limits::ttl`](crate::Limits::ttl), 60 s).
    #[default]
    Default,
    /// This long.
    After(Duration),
    /// Forever: the key's state is kept while the node lives.
    Never,
}

/// What a join's callbacks can see and set.
#[derive(Debug, Clone, Default)]
pub struct JoinContext {
    /// The joined topic.
    pub topic: String,
    /// The socket's assigns (set at connect).
    pub socket: Arc<Assigns>,
    /// This join's assigns; `authorize` may add to them. Event handlers see both.
    pub assigns: Assigns,
    /// The presence entry of this join: its key (a user id, say) and metadata.
    pub presence: Option<(String, Value)>,
}

impl JoinContext {
    /// Show this join in the key's presence under `key` (several joins may share a key:
    /// one user, two tabs) with `meta`. Only for channels whose [`Channel::presence`] is on.
    pub fn track(&mut self, key: impl Into<String>, meta: impl Into<Value>) {
        self.presence = Some((key.into(), meta.into()));
    }

    /// Attach a value to this join, readable in later callbacks as `ctx.get(key)`.
    pub fn assign(&mut self, key: impl Into<String>, value: impl Into<Value>) {
        self.assigns.insert(key.into(), value.into());
    }

    /// A join or socket assign.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.assigns.get(key).or_else(|| self.socket.get(key))
    }
}

/// What an event handler can see of the event's sender.
#[derive(Debug, Clone, Default)]
pub struct EventContext {
    /// The topic of the key.
    pub topic: String,
    /// The sender's socket assigns.
    pub socket: Arc<Assigns>,
    /// The sender's join assigns.
    pub assigns: Arc<Assigns>,
}

impl EventContext {
    /// A join assign, else a socket assign, of the sender.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.assigns.get(key).or_else(|| self.socket.get(key))
    }
}

/// Reply events for the sender of an event, pushed to it (only) before the patch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reply {
    pub(crate) events: Vec<(String, Value)>,
}

impl Reply {
    /// No reply events.
    pub fn none() -> Reply {
        Reply::default()
    }

    /// One reply event.
    pub fn event(name: impl Into<String>, payload: impl Into<Value>) -> Reply {
        Reply::none().and(name, payload)
    }

    /// One more reply event.
    pub fn and(mut self, name: impl Into<String>, payload: impl Into<Value>) -> Reply {
        self.events.push((name.into(), payload.into()));
        self
    }

    /// The reply events, in order.
    pub fn events(&self) -> &[(String, Value)] {
        &self.events
    }
}

/// Why a channel refused a join or an event. The message reaches the client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChannelError {
    /// The application refused, with this reason.
    #[error("{0}")]
    Refused(String),
    /// The payload does not have the shape the event needs.
    #[error("bad payload for {event}: {reason}")]
    BadPayload {
        /// The event.
        event: String,
        /// What is wrong, naming the field.
        reason: String,
    },
    /// No handler for this event.
    #[error("unknown event {0:?}")]
    UnknownEvent(String),
    /// A state operation failed.
    #[error(transparent)]
    Op(#[from] OpError),
    /// An RFC 6902 patch failed.
    #[error(transparent)]
    Patch(#[from] PatchError),
    /// The state could not be turned into JSON (or back).
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// The caller lacks a permission.
    #[error(transparent)]
    Denied(#[from] Denied),
}

impl ChannelError {
    /// A refusal with a reason.
    pub fn refused(reason: impl Into<String>) -> ChannelError {
        ChannelError::Refused(reason.into())
    }

    /// No handler for `event`.
    pub fn unknown_event(event: &str) -> ChannelError {
        ChannelError::UnknownEvent(event.to_owned())
    }

    /// A payload that could not be decoded for `event`.
    pub fn bad_payload(event: &str, reason: impl std::fmt::Display) -> ChannelError {
        ChannelError::BadPayload {
            event: event.to_owned(),
            reason: reason.to_string(),
        }
    }
}

impl From<PointerError> for ChannelError {
    fn from(e: PointerError) -> ChannelError {
        ChannelError::Op(OpError::Pointer(e))
    }
}

/// Decode an event payload into `T`, naming the field that does not fit.
///
/// ```
/// use livestate_core::channel::decode_payload;
/// #[derive(serde::Deserialize)]
/// struct Put { path: String }
/// let err = decode_payload::<Put>("put", serde_json::json!({})).err().unwrap();
/// assert_eq!(err.to_string(), "bad payload for put: missing field `path`");
/// ```
pub fn decode_payload<T: serde::de::DeserializeOwned>(
    event: &str,
    payload: Value,
) -> Result<T, ChannelError> {
    serde_json::from_value(payload).map_err(|e| ChannelError::bad_payload(event, e))
}
