//! The payloads of LiveState's events, for encoding (with borrowed fields) and decoding
//! (with owned ones).

use serde::{Deserialize, Serialize};

/// `state:change`: the whole state and its version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateChange<S> {
    /// The state.
    pub state: S,
    /// Its wire version.
    pub version: u64,
}

/// `state:patch`: an RFC 6902 patch from version `version - 1` (or a wrap) to `version`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatePatch<P> {
    /// The patch ops.
    pub patch: P,
    /// The version after the patch.
    pub version: u64,
    /// Whether the patch is a reset (the channel's `init` ran again): `"reset": true`,
    /// absent otherwise. phx-live-state ignores it; a live view attached to the key reads
    /// it as PhoenixLiveState's `reset` change.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reset: bool,
}

/// `error`: the channel's init failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorPush<M> {
    /// Why, for people.
    pub message: M,
}

/// The response of the `phx_reply` ok to an `lvs_evt`: the change is committed at this
/// version (livestate's addition; the stock client ignores it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// The wire version of the commit.
    pub version: u64,
}

/// The response of an error reply: `{"reason": ...}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason<R> {
    /// Why, for people.
    pub reason: R,
}
