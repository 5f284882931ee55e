//! Reserved topics and events of Phoenix Channels and of LiveState.

/// The topic of socket-level messages (heartbeats).
pub const PHOENIX_TOPIC: &str = "phoenix";
/// Client → server on [`PHOENIX_TOPIC`]: keep the socket alive; answered with an ok reply.
pub const HEARTBEAT: &str = "heartbeat";
/// Client → server: join a topic; the payload is the join params.
pub const PHX_JOIN: &str = "phx_join";
/// Client → server: leave a topic; answered with an ok reply, then [`PHX_CLOSE`].
pub const PHX_LEAVE: &str = "phx_leave";
/// Server → client: the reply to a push that carried a ref.
pub const PHX_REPLY: &str = "phx_reply";
/// Server → client: the channel was closed by the server; the client does not rejoin.
pub const PHX_CLOSE: &str = "phx_close";
/// Server → client: the channel failed; the client rejoins with backoff.
pub const PHX_ERROR: &str = "phx_error";

/// Client → server: the prefix of a LiveState client event (`lvs_evt:NAME`).
pub const LVS_EVT_PREFIX: &str = "lvs_evt:";
/// Client → server: the client saw a version gap and asks for the whole state.
pub const LVS_REFRESH: &str = "lvs_refresh";
/// Server → client: the whole state, `{"state": ..., "version": N}`.
pub const STATE_CHANGE: &str = "state:change";
/// Server → client: a change, `{"patch": [RFC 6902 ops], "version": N}`.
pub const STATE_PATCH: &str = "state:patch";
/// Server → client: the channel's init failed, `{"message": "..."}`.
pub const ERROR: &str = "error";

/// Server → client: who is attached to the key, `{key: {"metas": [...]}}` (phoenix.js
/// `Presence`).
pub const PRESENCE_STATE: &str = "presence_state";
/// Server → client: who joined and left, `{"joins": {...}, "leaves": {...}}`.
pub const PRESENCE_DIFF: &str = "presence_diff";

/// The reason of the error reply to a message for a topic this socket has not joined, or
/// to a join of a topic no channel serves. phoenix.js shows it as the join error.
pub const UNMATCHED_TOPIC: &str = "unmatched topic";
/// The reason of the error reply to a join past the per-socket channel cap.
pub const TOO_MANY_CHANNELS: &str = "too many channels joined";
