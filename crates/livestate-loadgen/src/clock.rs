//! The loadgen's one monotonic clock, shared by every task of the process: senders stamp
//! messages with it and receivers subtract from it.

use std::sync::OnceLock;
use std::time::Instant;

static ORIGIN: OnceLock<Instant> = OnceLock::new();

/// The clock's zero (its first use).
pub(crate) fn origin() -> Instant {
    *ORIGIN.get_or_init(Instant::now)
}

/// Nanoseconds since [`origin`].
pub(crate) fn now_ns() -> u64 {
    ns_at(Instant::now())
}

/// `at` in nanoseconds since [`origin`] (0 before it).
pub(crate) fn ns_at(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(origin()).as_nanos()).unwrap_or(u64::MAX)
}
