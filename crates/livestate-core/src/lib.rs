//! livestate's engine: channels, the key authorities, sessions and the server API. It
//! knows nothing of HTTP or WebSockets (a transport feeds a [`Session`] decoded frames and
//! drains an [`Outbox`]) and nothing of Redis (a cluster shares keys through a
//! [`livestate_backplane::Backplane`]).
//!
//! ```
//! use livestate_core::testing::{TestChannel, TestError};
//! use livestate_core::{Channel, ChannelError, EventContext, Hub, JoinContext, Reply};
//! use serde::{Deserialize, Serialize};
//! use serde_json::json;
//!
//! #[derive(Default, Serialize, Deserialize)]
//! struct Counter {
//!     count: i64,
//! }
//!
//! /// `pushEvent("add", {by: 2})`, `pushEvent("reset", {})`
//! #[derive(Deserialize)]
//! #[serde(rename_all = "snake_case")]
//! enum CounterEvent {
//!     Add { by: i64 },
//!     Reset {},
//! }
//!
//! struct CounterChannel;
//!
//! impl Channel for CounterChannel {
//!     type State = Counter;
//!     type Event = CounterEvent;
//!     type Params = serde::de::IgnoredAny;
//!
//!     async fn init(&self, _: &Self::Params, _: &JoinContext) -> Result<Counter, ChannelError> {
//!         Ok(Counter::default())
//!     }
//!
//!     async fn handle_event(&self, event: CounterEvent, state: &mut Counter, _: &EventContext)
//!         -> Result<Reply, ChannelError>
//!     {
//!         match event {
//!             CounterEvent::Add { by } if by > 0 => state.count += by,
//!             CounterEvent::Add { .. } => return Err(ChannelError::refused("add counts up")),
//!             CounterEvent::Reset {} => state.count = 0,
//!         }
//!         Ok(Reply::none())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), TestError> {
//! // a node's engine, without a network: what a socket's session does, in a test
//! let hub = Hub::builder().channel("counter:*", CounterChannel).build();
//! let mut page = TestChannel::join(&hub, "counter:lobby", json!({})).await?;
//! let pushed = page.push("add", json!({"by": 2})).await?;
//! assert_eq!(pushed.patch, json!([{"op": "replace", "path": "/count", "value": 2}]));
//!
//! // what the handler refuses, and what does not decode, is an error reply naming why
//! let refused = page.push("add", json!({"by": -1})).await.unwrap_err();
//! assert_eq!(refused, TestError::Refused("add counts up".into()));
//! let bad = page.push("add", json!({"by": "two"})).await.unwrap_err();
//! assert!(bad.to_string().contains("bad payload for add: by: invalid type"), "{bad}");
//! assert_eq!(page.state(), &json!({"count": 2}));
//! # Ok(()) }
//! ```
//!
//! How one event flows:
//!
//! ```text
//! Session (Phoenix V2: refs, joins, leaves)          one per socket
//!   └▶ key authority (runs the Channel's handler,     one per live key
//!        commits to the backplane, if any)
//!        └▶ every subscriber's Sink (a socket's channel: the patch encoded once,
//!           into its bounded Outbox ──▶ transport ──▶ client)
//! ```
//!
//! Modules, in the order they build on each other:
//! - [`doc`], [`state`], [`mod@pointer`]: the documents (re-exported from `livestate-doc`).
//! - [`acl`]: who may read, write, delete or reset a key (group vs public callers).
//! - [`settings`]: [`Settings`], how a channel's keys behave.
//! - [`channel`]: the [`Channel`] trait applications implement, with its contexts and errors.
//! - [`event`]: typed client events, decoded from LiveState's `lvs_evt:NAME`.
//! - [`doc_channel`]: [`DocChannel`], the built-in channel for `doc:` topics.
//! - [`outbox`]: [`Outbox`], a socket's bounded queue of frames, and what lagging means.
//! - `token` (feature `token`): signed tokens with an expiry (as `Phoenix.Token`).
//! - `limits`: [`Limits`], a node's limits and timings.
//! - [`metrics`]: [`Metrics`], what a node counts (sockets, events, refusals, latencies), for
//!   `/metrics` in the Prometheus text format.
//! - `calls`: the server API's vocabulary ([`api::ApiError`], [`api::Change`], ...).
//! - `subscriber`: what takes a key's changes (a socket's channel, a Rust subscription),
//!   and lag accounting.
//! - `mailbox`: what is asked of a key's authority, and its handle.
//! - `wire`: what the engine sends across nodes, encoded.
//! - `registry`: a node's shared context and its live authorities.
//! - `key`: the key authority task, with its one pipeline for every change.
//! - [`process`]: [`process::TopicProcess`], topics whose every join is a task of its own
//!   (live views), served by the same sessions as channels.
//! - `routes`: topic patterns and their channels or processes.
//! - [`hub`]: [`Hub`], a node's handle.
//! - [`session`]: [`Session`], one socket's side of Phoenix Channels V2.
//! - [`api`]: the server API ([`api::StateApi`], [`api::Subscription`]) for Rust code.
//! - [`testing`]: [`testing::TestChannel`], in-process test helpers for applications.

pub use livestate_doc::{doc, pointer, state};

pub mod acl;
pub mod api;
mod calls;
pub mod channel;
pub mod doc_channel;
pub mod event;
pub mod hub;
mod key;
mod limits;
mod mailbox;
pub mod metrics;
pub mod outbox;
pub mod process;
mod registry;
mod routes;
pub mod session;
pub mod settings;
mod subscriber;
pub mod testing;
#[cfg(feature = "token")]
pub mod token;
mod wire;

/// The backplane contract (re-exported from `livestate-backplane`): what the nodes of a
/// cluster share.
pub use livestate_backplane as backplane;

pub use channel::{
    Assigns, Channel, ChannelError, EventContext, JoinContext, MessageContext, Reply, Result,
};
pub use doc::{Doc, StateLimits};
pub use doc_channel::DocChannel;
pub use hub::{Hub, HubBuilder};
pub use limits::Limits;
pub use metrics::Metrics;
pub use outbox::{Outbox, OutboxReceiver};
pub use session::{Close, Session};
pub use settings::{Scope, Settings, Ttl};
pub use state::{LiveState, Tracked};
