//! The vocabulary of the server API, shared by the key authority and the API's handles:
//! [`ApiError`] (what a call can fail with, and its stable code), [`Current`] (a key's
//! state and version), [`Change`] (what a Rust subscriber receives), [`Delivered`].
//!
//! Errors are values that cross nodes as they are (a follower forwards a call, the leader
//! answers with the `ApiError` it met): serde gives them their typed code.

use crate::acl::Denied;
use crate::channel::ChannelError;
use crate::doc::{OpError, PatchError};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A key's whole state and its (wire) version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Current {
    /// The state.
    pub state: Value,
    /// The version clients see (wrapping at the channel's `max_version`).
    pub version: u64,
}

/// What changed, at one path, in one commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// New, updated, deleted, or the whole state reset.
    pub kind: ChangeKind,
    /// The JSON Pointer of what changed (`""` for a reset).
    pub path: String,
    /// The value now there (`None` when deleted).
    pub value: Option<Value>,
    /// The key's version after the commit.
    pub version: u64,
}

/// PhoenixLiveState's kinds of change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// A value that was not there.
    New,
    /// A value that was there, replaced.
    Updated,
    /// A value removed.
    Deleted,
    /// The whole state replaced: by a reset, or because the subscriber fell behind and is
    /// brought up to date.
    Reset,
}

/// Why a call of the server API failed. Nothing changed. [`ApiError::code`] is stable.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "code", content = "detail", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ApiError {
    /// No channel serves the topic.
    #[error("no channel serves {0:?}")]
    NoRoute(String),
    /// The topic's channel keeps one state per connection: there is no key to address.
    #[error("{0:?} has one state per connection, not a shared key")]
    NotShared(String),
    /// The key's authority could not be reached (or the node is shutting down).
    #[error("the key {0:?} is unavailable; try again")]
    Unavailable(String),
    /// Nobody started this key (or it expired).
    #[error("no key {0:?}")]
    UnknownKey(String),
    /// Nothing at this path.
    #[error("no value at {0}")]
    PropertyNotFound(String),
    /// The caller lacks a permission.
    #[error(transparent)]
    #[serde(rename = "permission_denied")]
    Denied(#[from] Denied),
    /// A `test` op of a patch failed.
    #[error("{0}")]
    TestFailed(String),
    /// The request is malformed: a bad pointer, an op that cannot apply, a value that does
    /// not fit the state.
    #[error("{0}")]
    BadRequest(String),
    /// The channel refused (its `init` or `handle_message` said no).
    #[error("{0}")]
    Refused(String),
    /// The change would break one of the state's limits (depth, size, ops per patch).
    #[error("{0}")]
    #[serde(rename = "limit_exceeded")]
    Limit(String),
    /// The channel failed on the server's side (its details are in the server's log).
    #[error("internal error")]
    #[serde(rename = "internal_error")]
    Internal,
}

impl ApiError {
    /// A stable code: `no_route`, `not_shared`, `unavailable`, `unknown_key`,
    /// `property_not_found`, `permission_denied`, `test_failed`, `bad_request`, `refused`,
    /// `limit_exceeded`, `internal_error`.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::NoRoute(_) => "no_route",
            ApiError::NotShared(_) => "not_shared",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::UnknownKey(_) => "unknown_key",
            ApiError::PropertyNotFound(_) => "property_not_found",
            ApiError::Denied(_) => "permission_denied",
            ApiError::TestFailed(_) => "test_failed",
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Refused(_) => "refused",
            ApiError::Limit(_) => "limit_exceeded",
            ApiError::Internal => "internal_error",
        }
    }
}

impl From<ChannelError> for ApiError {
    fn from(e: ChannelError) -> ApiError {
        let test_failed = |e: &OpError| matches!(e, OpError::TestFailed { .. });
        let limit = |e: &OpError| matches!(e, OpError::Limit(_));
        match e {
            ChannelError::Op(ref op) if limit(op) => ApiError::Limit(e.to_string()),
            ChannelError::Patch(ref p) if limit(&p.error) => ApiError::Limit(e.to_string()),
            ChannelError::State(ref s) if s.limit().is_some() => ApiError::Limit(e.to_string()),
            ChannelError::Denied(d) => ApiError::Denied(d),
            ChannelError::Op(OpError::NotFound(path)) => ApiError::PropertyNotFound(path),
            ChannelError::Patch(PatchError {
                error: OpError::NotFound(path),
                ..
            }) => ApiError::PropertyNotFound(path),
            ChannelError::Op(ref op) if test_failed(op) => ApiError::TestFailed(e.to_string()),
            ChannelError::Patch(ref p) if test_failed(&p.error) => {
                ApiError::TestFailed(e.to_string())
            }
            ChannelError::Op(_)
            | ChannelError::Patch(_)
            | ChannelError::BadPayload { .. }
            | ChannelError::BadParams(_) => ApiError::BadRequest(e.to_string()),
            ChannelError::Internal(_) => ApiError::Internal,
            ChannelError::Refused(_) | ChannelError::UnknownEvent(_) | ChannelError::State(_) => {
                ApiError::Refused(e.to_string())
            }
        }
    }
}

/// What came of `StateApi::message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Delivered {
    /// The version of the change, for a shared key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<u64>,
    /// How many states on this node took it (a shared key counts one).
    pub reached: usize,
}
