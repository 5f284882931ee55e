//! The wire protocol livestate speaks, with no runtime attached.
//!
//! ```
//! use livestate_protocol::livestate::Ack;
//! use livestate_protocol::{Message, Status, frame};
//!
//! // an event as phx-live-state pushes it: `pushEvent("add_todo", {todo: "milk"})`
//! let msg = Message::decode(r#"["1","5","todo:a","lvs_evt:add_todo",{"todo":"milk"}]"#)?;
//! assert_eq!((msg.topic.as_str(), msg.event.as_str()), ("todo:a", "lvs_evt:add_todo"));
//!
//! // the server's reply to it: committed at version 3
//! let (join_ref, r#ref) = (msg.join_ref.as_deref(), msg.r#ref.as_deref());
//! let reply = frame::reply(join_ref, r#ref, &msg.topic, Status::Ok, &Ack { version: 3 });
//! assert_eq!(
//!     reply.as_str(),
//!     r#"["1","5","todo:a","phx_reply",{"status":"ok","response":{"version":3}}]"#
//! );
//!
//! // what is not a V2 frame is an error saying so
//! assert!(Message::decode(r#"{"topic": "todo:a"}"#).is_err());
//! # Ok::<(), livestate_protocol::DecodeError>(())
//! ```
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
