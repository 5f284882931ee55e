//! The [`Channel`] trait: what an application writes to serve a topic.
//!
//! A channel is LiveState's unit: `init` builds the state for a topic, `handle_event` turns
//! a client event into a new state, and livestate sends every joiner the state and then
//! the patches. A channel names its client events as a serde type ([`Channel::Event`],
//! typically an enum whose variants are the events' names, see [`crate::event`]) and its
//! join params as another ([`Channel::Params`]); the engine decodes both and answers a
//! client whose event or params do not fit with an error naming the event and the field.
//! How its keys behave is one value, [`Settings`]: whether joiners share one state
//! ([`Scope`]), the ACL, the TTL, presence, the state limits, the permissions of events.
//!
//! Handlers report failures as values ([`ChannelError`]): a refusal reaches the client
//! with its reason and the key's state stays as it was before the event; an internal
//! failure ([`ChannelError::internal`]) reaches the client as `internal error` and the
//! server's log with its details.
//!
//! ```
//! use livestate_core::{Channel, ChannelError, Doc, EventContext, JoinContext, Reply};
//! use serde::Deserialize;
//! use serde_json::json;
//!
//! struct Counter;
//!
//! #[derive(Deserialize)]
//! #[serde(rename_all = "snake_case")]
//! enum CounterEvent {
//!     Increment { by: i64 },
//!     Reset,
//! }
//!
//! impl Channel for Counter {
//!     type State = Doc;
//!     type Event = CounterEvent;
//!     type Params = serde::de::IgnoredAny;
//!
//!     async fn init(&self, _: &Self::Params, _: &JoinContext) -> Result<Doc, ChannelError> {
//!         Ok(Doc::new(json!({"count": 0})))
//!     }
//!
//!     async fn handle_event(&self, event: CounterEvent, state: &mut Doc, _: &EventContext)
//!         -> Result<Reply, ChannelError>
//!     {
//!         match event {
//!             CounterEvent::Increment { by } => state.increment("/count", by)?,
//!             CounterEvent::Reset => state.set("/count", 0).map(|()| json!(0))?,
//!         };
//!         Ok(Reply::none())
//!     }
//! }
//! ```

use crate::acl::{Denied, Permissions};
use crate::doc::{OpError, PatchError};
use crate::pointer::PointerError;
pub use crate::settings::{DEFAULT_MAX_VERSION, Scope, Settings, Ttl};
pub use crate::state::LiveState;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::future::Future;
use std::sync::Arc;

/// A channel callback's result: `Result<T, ChannelError>`.
pub type Result<T, E = ChannelError> = std::result::Result<T, E>;

/// Values attached to a socket or a join: strings to JSON, readable in every callback.
pub type Assigns = Map<String, Value>;

/// A channel: the code behind a topic pattern.
///
/// Every method has `&self`: a channel value is shared by all its topics and keys. Keep
/// per-key data in the state, per-socket data in the assigns.
pub trait Channel: Send + Sync + 'static {
    /// The state of one key: a [`Doc`](crate::Doc) (explicit operations, patches that
    /// cost what changed), or any `Serialize + Deserialize` type (diffed after each change).
    /// See [`crate::state`].
    type State: LiveState;

    /// The client events (`lvs_evt:NAME` with its payload), decoded as serde decodes an
    /// enum: the name picks the variant (see [`crate::event`]).
    /// [`AnyEvent`](crate::event::AnyEvent) takes them untyped.
    type Event: DeserializeOwned + Send + 'static;

    /// The join params (the join's payload). `serde::de::IgnoredAny` ignores them,
    /// `serde_json::Value` takes them as they come. A key the server API or a message
    /// starts gets `{}`.
    type Params: DeserializeOwned + Send + Sync + 'static;

    /// How this channel's keys behave (default: [`Settings::shared`] as it is).
    fn settings(&self) -> Settings {
        Settings::default()
    }

    /// The permissions this decoded event needs, when they depend on more than its name
    /// (a patch that removes needs delete, say); `None`, the default: what
    /// [`Settings::permissions_for`] says for its name (write unless set).
    fn permissions(&self, event: &Self::Event) -> Option<Permissions> {
        let _ = event;
        None
    }

    /// Decide whether this join may proceed; a refusal reaches the client as the join
    /// error `{"reason": ...}`. May add assigns for this join, and track its presence.
    /// Runs on every join.
    fn authorize(
        &self,
        params: &Self::Params,
        ctx: &mut JoinContext,
    ) -> impl Future<Output = Result<(), ChannelError>> + Send {
        let _ = (params, ctx);
        async { Ok(()) }
    }

    /// Build the initial state of the key `ctx.topic`. For a shared key it runs for the
    /// first joiner only (and again after the key expired); a failure reaches that joiner
    /// as the `error` push `{"message": ...}` and the next joiner tries again.
    fn init(
        &self,
        params: &Self::Params,
        ctx: &JoinContext,
    ) -> impl Future<Output = Result<Self::State, ChannelError>> + Send;

    /// Handle a client event. Change `state` in place; return reply events for the sender
    /// (pushed before the patch). An error leaves the state as it was and reaches the
    /// sender as `{"reason": ...}`. The default refuses every event, for channels that
    /// only show state.
    fn handle_event(
        &self,
        event: Self::Event,
        state: &mut Self::State,
        ctx: &EventContext,
    ) -> impl Future<Output = Result<Reply, ChannelError>> + Send {
        let _ = (event, state, ctx);
        async { Err(ChannelError::refused("this channel takes no events")) }
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
    /// one user, two tabs) with `meta`. Only for channels whose [`Settings::presence`] is on.
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

/// Why a channel refused a join, an event or a message. Each variant but
/// [`ChannelError::Internal`] is the caller's to see: its message reaches the client.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ChannelError {
    /// The application refused, with this reason.
    #[error("{0}")]
    Refused(String),
    /// The join params do not fit the channel's [`Channel::Params`].
    #[error("bad join params: {0}")]
    BadParams(String),
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
    /// Something failed on the server's side (a database, a service): the client is told
    /// `internal error`, the server's log gets the details.
    #[error("internal error")]
    Internal(Arc<dyn std::error::Error + Send + Sync>),
}

impl PartialEq for ChannelError {
    fn eq(&self, other: &ChannelError) -> bool {
        use ChannelError::*;
        match (self, other) {
            (Refused(a), Refused(b))
            | (BadParams(a), BadParams(b))
            | (UnknownEvent(a), UnknownEvent(b)) => a == b,
            (
                BadPayload {
                    event: a,
                    reason: x,
                },
                BadPayload {
                    event: b,
                    reason: y,
                },
            ) => a == b && x == y,
            (Op(a), Op(b)) => a == b,
            (Patch(a), Patch(b)) => a == b,
            (State(a), State(b)) => a == b,
            (Denied(a), Denied(b)) => a == b,
            (Internal(a), Internal(b)) => a.to_string() == b.to_string(),
            _ => false,
        }
    }
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

    /// A failure on the server's side: the client sees `internal error`, the log `e`.
    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ChannelError {
        ChannelError::Internal(Arc::from(e.into()))
    }

    /// Whether it is the server's failure (not the caller's).
    pub fn is_internal(&self) -> bool {
        matches!(self, ChannelError::Internal(_))
    }
}

impl From<crate::event::EventError> for ChannelError {
    fn from(e: crate::event::EventError) -> ChannelError {
        match e {
            crate::event::EventError::UnknownEvent(name) => ChannelError::UnknownEvent(name),
            crate::event::EventError::BadPayload { event, reason } => {
                ChannelError::BadPayload { event, reason }
            }
        }
    }
}

/// Decode join params (`{}` for a key started without a join) into `P`, naming the field
/// that does not fit.
pub fn decode_params<P: DeserializeOwned>(params: &Value) -> Result<P, ChannelError> {
    serde_path_to_error::deserialize(params).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        ChannelError::BadParams(if path == "." {
            inner.to_string()
        } else {
            format!("{path}: {inner}")
        })
    })
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
