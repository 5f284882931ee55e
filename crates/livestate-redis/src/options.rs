//! How a node reaches Redis ([`RedisOptions`]) and why it may fail to ([`ConnectError`]).

use std::time::Duration;

/// How to reach Redis and how this node behaves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RedisOptions {
    /// `redis://host:6379` (or with a database, `redis://host:6379/2`).
    pub url: String,
    /// The prefix of every Redis key and channel (default `livestate`).
    pub prefix: String,
    /// This node's id, unique in the cluster (default: derived from the process).
    pub node: String,
    /// How long a lease lives without renewal (default 3 s): how long a dead authority's
    /// keys wait before another node takes them over.
    pub lease_time: Duration,
    /// How long a forwarded request waits for its outcome (default 5 s).
    pub forward_timeout: Duration,
    /// How long one Redis command may take before it counts as unavailable (default 2 s).
    pub command_timeout: Duration,
}

impl RedisOptions {
    /// Options for `url` with the defaults.
    pub fn new(url: impl Into<String>) -> RedisOptions {
        RedisOptions {
            url: url.into(),
            prefix: "livestate".to_owned(),
            node: default_node(),
            lease_time: Duration::from_secs(3),
            forward_timeout: livestate_backplane::DEFAULT_FORWARD_TIMEOUT,
            command_timeout: Duration::from_secs(2),
        }
    }
}

pub(crate) fn default_node() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("node-{}-{:x}", std::process::id(), nanos)
}

/// Why the backplane could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL does not parse.
    #[error("invalid Redis URL {url}: {message}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// Redis does not answer at that URL.
    #[error("cannot reach Redis at {url}: {message}")]
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// Another running node uses this node id (its heartbeat went on for twice the lease
    /// time while this one waited).
    #[error(
        "node id {node} is in use by another running node on Redis at {url}; give each node its own --node-id"
    )]
    NodeInUse {
        /// The node id.
        node: String,
        /// The URL.
        url: String,
    },
}
