//! livestate: live state shared between a server and many web clients.
//!
//! Pages join *topics* over a WebSocket (Phoenix Channels V2, so the `phx-live-state` client
//! from npm works unchanged), get a topic's state once and then JSON Patch diffs, and send
//! events that a Rust [`Channel`] turns into a new state. A shared topic has one state for
//! every joiner, changed by one authority in order; Rust code and HTTP callers read and
//! change the same state through the server API ([`api`]).
//!
//! ```
//! use livestate::{Channel, ChannelError, Endpoint, EventContext, JoinContext, Reply};
//! use serde::{Deserialize, Serialize};
//!
//! /// The state of a `todo:` topic, as pages see it: `{"todos": [...]}`.
//! #[derive(Default, Serialize, Deserialize)]
//! struct Todos {
//!     todos: Vec<String>,
//! }
//!
//! /// What pages send: `pushEvent("add_todo", {todo: "milk"})`.
//! #[derive(Deserialize)]
//! #[serde(rename_all = "snake_case")]
//! enum TodoEvent {
//!     AddTodo { todo: String },
//! }
//!
//! struct TodoChannel;
//!
//! impl Channel for TodoChannel {
//!     type State = Todos;
//!     type Event = TodoEvent;
//!     type Params = serde::de::IgnoredAny;
//!
//!     async fn init(&self, _: &Self::Params, _: &JoinContext) -> Result<Todos, ChannelError> {
//!         Ok(Todos::default())
//!     }
//!
//!     async fn handle_event(&self, event: TodoEvent, state: &mut Todos, _: &EventContext)
//!         -> Result<Reply, ChannelError>
//!     {
//!         let TodoEvent::AddTodo { todo } = event;
//!         state.todos.push(todo);
//!         Ok(Reply::none())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), livestate::api::ApiError> {
//! // the WebSocket at /socket/websocket, /livestate.js (the browser client), the HTTP API
//! let live = Endpoint::builder().channel("todo:*", TodoChannel).build();
//! let app = livestate::axum::Router::new().merge(live.router());
//! // serve it: livestate::serve_app(None, "127.0.0.1:4000", app, &live).await
//! # drop(app);
//!
//! // Rust code reads and changes the same state (here as the key's group)
//! let list = live.hub().api().subscribe("todo:groceries").await?;
//! list.put("/todos/-", serde_json::json!("milk")).await?;
//! assert_eq!(list.get().await?.state, serde_json::json!({"todos": ["milk"]}));
//! # Ok(()) }
//! ```
//!
//! What is here:
//! - channels: [`Channel`], its [`Settings`], contexts, [`Reply`], [`ChannelError`]; typed
//!   client events ([`event`]); the built-in `doc:` channel ([`DocChannel`]);
//! - states: [`Doc`] (explicit operations whose patches cost what changed) or any serde
//!   type ([`state`]), within [`StateLimits`];
//! - serving: [`Endpoint`], [`serve_app`], [`serve()`], the [`Hub`] and its [`Limits`];
//! - the server API for Rust code: [`api`]; who may do what: [`acl`];
//! - features: `testing` (`testing::TestChannel`: join, push, assert in process), `token` (signed
//!   tokens), `redis` (cluster mode), `logging` (a tracing subscriber for binaries), `view`
//!   (live views: `view::live::LiveView`, templates with `view::html!`, served by
//!   [`Endpoint::views_router`](livestate_server::Endpoint)).

pub use livestate_core::{
    Assigns, Channel, ChannelError, Doc, DocChannel, EventContext, Hub, HubBuilder, JoinContext,
    Limits, LiveState, MessageContext, Reply, Scope, Settings, StateLimits, Ttl,
};
pub use livestate_core::{acl, api, doc, event, metrics, pointer, state};
pub use livestate_server::{
    ConnectInfo, ConnectRefused, Endpoint, EndpointBuilder, ServerConfig, serve, serve_app,
    shutdown_signal,
};

/// The axum livestate is built on, to mount an [`Endpoint`] beside an application's routes.
pub use axum;

/// Join a topic, push events and read the state in process, as LiveState's `TestHelpers`.
#[cfg(feature = "testing")]
pub use livestate_core::testing;

/// Live views served to the stock `phoenix_live_view` client: templates ([`view::html!`]),
/// the [`view::live::LiveView`] trait and the app's [`view::live::Views`], which an
/// [`EndpointBuilder::views`](livestate_server::EndpointBuilder::views) serves.
#[cfg(feature = "view")]
pub mod view {
    pub use livestate_view::*;

    /// A template: `livestate_view::html!` for an application that depends on `livestate`
    /// alone (the code it generates names the crate through this module).
    pub use crate::html;
}

/// A template of a live view (feature `view`): see `livestate::view::html!`.
#[cfg(feature = "view")]
#[macro_export]
macro_rules! html {
    ($($template:tt)*) => {
        $crate::view::html_in!(($crate::view) $($template)*)
    };
}

/// Signed tokens with an expiry (as `Phoenix.Token`).
#[cfg(feature = "token")]
pub use livestate_core::token;

/// A tracing subscriber for binaries.
#[cfg(feature = "logging")]
pub use livestate_server::logging;

/// Cluster mode: several nodes share every key through Redis
/// ([`HubBuilder::backplane`](livestate_core::HubBuilder::backplane) with a
/// [`RedisBackplane`](redis::RedisBackplane)).
#[cfg(feature = "redis")]
pub mod redis {
    pub use livestate_redis::{ConnectError, RedisBackplane, RedisOptions};
}
