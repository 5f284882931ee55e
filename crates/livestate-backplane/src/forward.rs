//! Forwarding: requests from any node to a key's authority, and answers back to the node
//! that asked. Both are bytes the engine encodes; the backplane only routes them.

use crate::Fut;
use crate::lease::Lease;
use bytes::Bytes;
use std::time::Duration;
use tokio::sync::mpsc;

/// How long forwarded requests wait for their answer by default.
pub const DEFAULT_FORWARD_TIMEOUT: Duration = Duration::from_secs(5);

/// Routes requests to a key's authority and answers to nodes.
pub trait Forwarding: Send + Sync {
    /// How long a forwarded request waits for its outcome.
    fn forward_timeout(&self) -> Duration {
        DEFAULT_FORWARD_TIMEOUT
    }

    /// Send one message to the key's authority; one node's messages arrive in the order
    /// sent. [`BackplaneError::NoAuthority`](crate::BackplaneError::NoAuthority) when no
    /// node serves the key (then nothing was sent).
    fn forward<'a>(&'a self, key: &'a str, message: Bytes) -> Fut<'a, ()>;

    /// Receive the messages forwarded to the key while holding `lease`.
    fn serve<'a>(&'a self, lease: &'a Lease) -> Fut<'a, mpsc::Receiver<Bytes>>;

    /// Send an answer to the node `node`.
    fn answer<'a>(&'a self, node: &'a str, message: Bytes) -> Fut<'a, ()>;

    /// This node's answers (taken once, by the node's hub).
    fn take_answers(&self) -> Option<mpsc::Receiver<Bytes>>;
}
