//! The WebSocket close codes livestate sends.
//!
//! Every code but [`NORMAL`] makes phoenix.js reconnect with its backoff; livestate never
//! closes with [`NORMAL`] on its own, because phoenix.js up to 1.8.12 does not reconnect
//! after it.
//!
//! | code | constant | when | client should |
//! |---|---|---|---|
//! | 1000 | [`NORMAL`] | answering a close the client started | nothing |
//! | 1001 | [`GOING_AWAY`] | the server is shutting down | reconnect (to another node) |
//! | 1003 | [`UNSUPPORTED_DATA`] | the client sent a binary frame | fix the client |
//! | 1007 | [`INVALID_FRAME`] | a text frame that is not `[join_ref, ref, topic, event, payload]` | fix the client |
//! | 1009 | [`MESSAGE_TOO_BIG`] | a frame over the size limit (default 1 MiB) | send less |
//! | 1011 | [`INTERNAL_ERROR`] | a bug in the server | reconnect |
//! | 4001 | [`IDLE_TIMEOUT`] | no frame from the client for the idle timeout (default 60 s) | reconnect, send heartbeats |
//! | 4008 | [`SLOW_CONSUMER`] | the client did not read its frames within the write timeout | reconnect |

/// Normal closure: only as the answer to a close the client started.
pub const NORMAL: u16 = 1000;
/// The server is going down (shutdown); reconnect elsewhere.
pub const GOING_AWAY: u16 = 1001;
/// A binary frame: livestate speaks the V2 JSON serializer only.
pub const UNSUPPORTED_DATA: u16 = 1003;
/// A text frame that is not a valid V2 frame (not JSON, not a 5-element array, bad field types).
pub const INVALID_FRAME: u16 = 1007;
/// A frame larger than the configured limit.
pub const MESSAGE_TOO_BIG: u16 = 1009;
/// An internal failure of the server.
pub const INTERNAL_ERROR: u16 = 1011;
/// The client sent no frame (not even a heartbeat) for the idle timeout.
pub const IDLE_TIMEOUT: u16 = 4001;
/// The client did not read what it was sent within the write timeout.
pub const SLOW_CONSUMER: u16 = 4008;
