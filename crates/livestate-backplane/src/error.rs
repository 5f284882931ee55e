//! [`BackplaneError`]: why a backplane call did nothing.

/// A backplane failure. None of them leaves a partial commit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackplaneError {
    /// The lease was taken by a newer authority, or expired: stop acting for the key.
    #[error("lease on {key} lost: epoch {epoch} is no longer current")]
    Fenced {
        /// The key.
        key: String,
        /// The stale epoch.
        epoch: u64,
    },
    /// Another node holds the key's lease.
    #[error("{key} is held by node {holder}")]
    Held {
        /// The key.
        key: String,
        /// The node holding it.
        holder: String,
    },
    /// No node serves the key (its authority is gone): take the lease.
    #[error("no authority serves {0}")]
    NoAuthority(String),
    /// A commit's version does not follow the stored one (someone else committed).
    #[error("{key}: version {version} does not follow the stored version {stored}")]
    OutOfOrder {
        /// The key.
        key: String,
        /// The version committed.
        version: u64,
        /// The version stored.
        stored: u64,
    },
    /// The backend holds something under livestate's prefix that is not what livestate
    /// writes; it is reported and not used.
    #[error("malformed data in the backplane for {key}: {message}")]
    Corrupt {
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The backend cannot be reached; nothing was done.
    #[error("backplane unavailable: {0}")]
    Unavailable(String),
}
