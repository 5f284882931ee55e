//! The wire protocol livestate speaks, with no runtime attached.
//!
//! livestate is a drop-in server for front ends written for LiveState and its JavaScript
//! client `phx-live-state`, which runs on the `phoenix` client. Both speak Phoenix Channels
//! with the V2 JSON serializer: every text frame is `[join_ref, ref, topic, event, payload]`.
//! On top of it LiveState adds a handful of events (`state:change`, `state:patch`,
//! `lvs_evt:NAME`, `lvs_refresh`, `error`).
//!
//! This crate knows frames and nothing else: no sockets, no state, no tokio.
//!
//! Modules:
//! - [`frame`]: decoding client frames into a [`Message`], encoding server frames.
//! - [`livestate`]: the payloads of LiveState's events.
//! - [`event`]: the reserved event and topic names of Phoenix and LiveState.
//! - [`close`]: the WebSocket close codes livestate sends, each with its meaning.
//! - [`patch`]: RFC 6902 JSON Patch operations as they travel on the wire.
//! - [`text`]: [`Text`], an encoded frame that is cheap to clone for fan-out.

pub mod close;
pub mod event;
pub mod frame;
pub mod livestate;
pub mod numbers;
pub mod patch;
pub mod text;

pub use frame::{DecodeError, Message, Status};
pub use patch::PatchOp;
pub use text::Text;
