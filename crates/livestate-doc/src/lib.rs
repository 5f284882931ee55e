//! livestate's documents: what a key's state is, how it changes, and what a change costs.
//! Pure data: no tokio, no channels, no sockets; the engine builds on it.
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
