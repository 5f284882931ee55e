//! livestate's documents: what a key's state is, how it changes, and what a change costs.
//! Pure data: no tokio, no channels, no sockets; the engine builds on it.
//!
//! ```
//! use livestate_doc::{Doc, OpError, StateLimits};
//! use livestate_protocol::PatchOp;
//! use serde_json::json;
//!
//! let mut doc = Doc::new(json!({"todos": [], "count": 0}));
//! doc.append("/todos", "milk")?;
//! doc.increment("/count", 1)?;
//! // every operation knows its patch: no diff of the whole state
//! assert_eq!(
//!     doc.take_patch(),
//!     vec![
//!         PatchOp::Add { path: "/todos/0".into(), value: json!("milk") },
//!         PatchOp::Replace { path: "/count".into(), value: json!(1) },
//!     ]
//! );
//! assert_eq!(doc.value(), &json!({"todos": ["milk"], "count": 1}));
//!
//! // a failed operation says why and changes nothing
//! assert!(matches!(doc.remove("/nope"), Err(OpError::NotFound(_))));
//! // and a document stays within its limits
//! let mut limits = StateLimits::default();
//! limits.max_bytes = 64;
//! doc.set_limits(limits).unwrap();
//! assert!(doc.set("/note", "x".repeat(100)).is_err());
//! assert_eq!(doc.value(), &json!({"todos": ["milk"], "count": 1}));
//! # Ok::<(), OpError>(())
//! ```
//!
//! - [`doc`]: [`Doc`], a JSON document whose explicit operations produce their RFC 6902
//!   patch, undoable, within [`StateLimits`] (depth, size, values, ops per patch).
//! - [`state`]: [`LiveState`], what a channel's state can be (a `Doc` or any serde type),
//!   and [`Tracked`], a state with what computing its patches needs.
//! - [`mod@pointer`]: RFC 6901 JSON Pointers.
//! - [`mod@diff`]: the structural diff, the fallback for changes not made through `Doc`.

pub mod diff;
pub mod doc;
pub mod pointer;
pub mod state;

pub use diff::diff;
pub use doc::{Doc, LimitError, OpError, PatchError, StateLimits};
pub use state::{LiveState, StateError, Tracked};
