//! livestate's core: state documents, versions, patches, key authorities, channels and
//! backplanes. It knows nothing of HTTP or WebSockets: a transport feeds a [`Session`]
//! decoded frames and drains an [`Outbox`].
//!
//! How one event flows:
//!
//! ```text
//! Session (Phoenix V2: refs, joins, leaves)          one per socket
//!   └▶ KeyAuthority (runs the Channel's handler,     one per live key
//!        commits to the Backplane, encodes the patch once)
//!        └▶ every subscriber's Outbox (bounded) ──▶ transport ──▶ client
//! ```
//!
//! Modules:
//! - [`doc`]: [`Doc`], a JSON document whose explicit operations produce their patch.
//! - [`state`]: [`LiveState`], what a channel's state can be: a `Doc` or any serde type.
//! - [`mod@pointer`]: RFC 6901 JSON Pointers.
//! - [`channel`]: the [`Channel`] trait applications implement, with its contexts and errors.
//! - [`doc_channel`]: [`DocChannel`], the built-in channel for `doc:` topics.
//! - [`hub`]: [`Hub`], a node's routes, live keys and limits.
//! - [`session`]: [`Session`], one socket's side of Phoenix Channels V2.
//! - [`outbox`]: [`Outbox`], a socket's bounded queue of frames, and what lagging means.
//! - [`testing`]: [`testing::TestChannel`], in-process test helpers for applications.
//! - [`token`]: signed tokens with an expiry (as `Phoenix.Token`).
//! - [`api`]: the server API ([`api::StateApi`], [`api::Subscription`]) for Rust code.
//! - [`acl`]: who may read, write, delete or reset a key (group vs public callers).
//! - [`backplane`]: the [`Backplane`] trait (leases, commits) and [`MemoryBackplane`].
//! - `authority` (private): the key authority task.

pub mod acl;
pub mod api;
mod authority;
pub mod backplane;
pub mod channel;
pub mod doc;
pub mod doc_channel;
pub mod hub;
pub mod outbox;
pub mod pointer;
pub mod session;
pub mod state;
pub mod testing;
pub mod token;

pub use backplane::{Backplane, MemoryBackplane};
pub use channel::{
    Assigns, Channel, ChannelError, EventContext, JoinContext, MessageContext, Reply, Result,
    Scope, Ttl,
};
pub use doc::{Doc, StateLimits};
pub use doc_channel::DocChannel;
pub use hub::{Hub, HubBuilder, Limits};
pub use outbox::{Outbox, OutboxReceiver};
pub use session::{Close, Session};
pub use state::{LiveState, Tracked};
