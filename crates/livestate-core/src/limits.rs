//! [`Limits`]: the limits and timings of a node. Every queue is bounded by one of these.

use std::time::Duration;

/// Limits and timings of a node. Every queue is bounded by one of these.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Limits {
    /// Channels one socket may have joined at once (default 100); the next join gets the
    /// error `"too many channels joined"`.
    pub max_channels: usize,
    /// Frames queued for one socket before its subscriptions lag (default 1024).
    pub outbox_capacity: usize,
    /// Bytes queued for one socket before its subscriptions lag (default 1 MiB): what a
    /// stalled socket can keep alive.
    pub outbox_bytes: usize,
    /// Commands queued for one key's authority before senders wait (default 1024).
    pub mailbox_capacity: usize,
    /// How long a shared key lives after its last subscriber left (default 60 s).
    pub ttl: Duration,
    /// How long `init` or a handler may run before it is abandoned (default 30 s).
    pub handler_timeout: Duration,
    /// How often an authority checks whether a lagging socket has drained (default 50 ms).
    pub resync_interval: Duration,
    /// What a key's state may become, for channels that do not set their own
    /// (their [`Settings::limits`](crate::Settings::limits)).
    pub state: livestate_doc::StateLimits,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_channels: 100,
            outbox_capacity: 1024,
            outbox_bytes: 1 << 20,
            mailbox_capacity: 1024,
            ttl: Duration::from_secs(60),
            handler_timeout: Duration::from_secs(30),
            resync_interval: Duration::from_millis(50),
            state: livestate_doc::StateLimits::default(),
        }
    }
}
