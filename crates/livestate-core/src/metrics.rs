//! [`Metrics`]: what a node counts, for `/metrics` in the Prometheus text format.
//!
//! Every figure is an atomic that the code on the way updates with one relaxed add (a
//! counter, a gauge, one bucket of a [`LatencyHistogram`]): no lock, no allocation, no
//! lookup per event. Labelled counters keep a handle per label value, made once. What is
//! cheaper to count when asked (the bytes waiting in the sockets' outboxes) is counted at
//! the scrape. [`Metrics::encode`] writes them all with `prometheus-client`.
//!
//! | metric | type | what |
//! |---|---|---|
//! | `livestate_sockets` | gauge | open sockets |
//! | `livestate_channels` | gauge | joined channels, on every socket |
//! | `livestate_keys` | gauge | live keys (shared keys and per-connection states) on this node |
//! | `livestate_events_total` | counter | client events received by this node's sockets |
//! | `livestate_refusals_total{code}` | counter | changes refused, by the API error's code (and `failed`, `unavailable`, `conflict`) |
//! | `livestate_patches_total` | counter | changes delivered to a key's subscribers |
//! | `livestate_deliveries_total` | counter | changes sent to a subscriber (a patch times its subscribers) |
//! | `livestate_resyncs_total` | counter | whole states sent to subscribers that lagged and caught up |
//! | `livestate_outbox_bytes` | gauge | bytes waiting in the sockets' outboxes |
//! | `livestate_join_duration_seconds` | histogram | from a join's arrival to its reply |
//! | `livestate_event_duration_seconds` | histogram | from an event's arrival to its reply |
//! | `livestate_commit_duration_seconds` | histogram | a commit to the backplane (cluster mode) |
//! | `livestate_forwards_total` | counter | requests forwarded to another node's authority |
//! | `livestate_lease_changes_total{change}` | counter | leases `acquired`, `lost` and `released` |

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

/// The `Content-Type` of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

/// The refusal codes counted apart; any other is counted as `other`.
const REFUSAL_CODES: [&str; 14] = [
    "no_route",
    "not_shared",
    "unavailable",
    "unknown_key",
    "property_not_found",
    "permission_denied",
    "test_failed",
    "bad_request",
    "refused",
    "limit_exceeded",
    "internal_error",
    "failed",
    "conflict",
    "other",
];

/// What happened to a lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseChange {
    /// This node took a key's lease.
    Acquired,
    /// This node lost a key's lease (another took it, or it could not renew).
    Lost,
    /// This node gave a key's lease up (its TTL ran out).
    Released,
}

type Label = [(&'static str, &'static str); 1];

/// A node's figures. Cheap to share: every field is a handle on atomics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub(crate) sockets: Gauge,
    pub(crate) channels: Gauge,
    pub(crate) keys: Gauge,
    pub(crate) events: Counter,
    refusals: Vec<Counter>,
    pub(crate) patches: Counter,
    pub(crate) deliveries: Counter,
    pub(crate) resyncs: Counter,
    outboxes: OutboxBytes,
    pub(crate) join_latency: LatencyHistogram,
    pub(crate) event_latency: LatencyHistogram,
    pub(crate) commit_latency: LatencyHistogram,
    pub(crate) forwards: Counter,
    lease_changes: [Counter; 3],
    pub(crate) processes: ProcessMetrics,
}

/// What topic processes (live views) count: how many are joined, the messages they
/// handle, their crashes. Cheap to clone; a process gets one with its join.
#[derive(Debug, Clone, Default)]
pub struct ProcessMetrics {
    joined: Gauge,
    messages: Counter,
    crashes: Counter,
}

/// Counts one joined process for as long as it lives.
#[derive(Debug)]
pub struct Joined(Gauge);

impl Drop for Joined {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl ProcessMetrics {
    /// Count a process joined until the guard drops.
    pub fn joined(&self) -> Joined {
        self.joined.inc();
        Joined(self.joined.clone())
    }

    /// Count a message a process handled.
    pub fn message(&self) {
        self.messages.inc();
    }

    /// Count a process that crashed (a callback panicked).
    pub fn crashed(&self) {
        self.crashes.inc();
    }
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// Every metric, at zero, registered.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("livestate");
        let gauge = |registry: &mut Registry, name: &str, help: &str| {
            let g = Gauge::default();
            registry.register(name, help, g.clone());
            g
        };
        let counter = |registry: &mut Registry, name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let histogram = |registry: &mut Registry, name: &str, help: &str| {
            let h = LatencyHistogram::default();
            registry.register(name, help, h.clone());
            h
        };
        let sockets = gauge(&mut registry, "sockets", "Open sockets");
        let channels = gauge(
            &mut registry,
            "channels",
            "Joined channels, on every socket",
        );
        let keys = gauge(
            &mut registry,
            "keys",
            "Live keys (shared keys and per-connection states) on this node",
        );
        let events = counter(
            &mut registry,
            "events",
            "Client events received by this node's sockets",
        );
        let refusal_family = Family::<Label, Counter>::default();
        registry.register(
            "refusals",
            "Changes refused, by code",
            refusal_family.clone(),
        );
        let refusals = REFUSAL_CODES
            .iter()
            .map(|code| refusal_family.get_or_create(&[("code", *code)]).clone())
            .collect();
        let patches = counter(
            &mut registry,
            "patches",
            "Changes delivered to a key's subscribers",
        );
        let deliveries = counter(
            &mut registry,
            "deliveries",
            "Changes sent to a subscriber (a patch times its subscribers)",
        );
        let resyncs = counter(
            &mut registry,
            "resyncs",
            "Whole states sent to subscribers that lagged and caught up",
        );
        let outboxes = OutboxBytes::default();
        registry.register(
            "outbox_bytes",
            "Bytes waiting in the sockets' outboxes",
            outboxes.clone(),
        );
        let join_latency = histogram(
            &mut registry,
            "join_duration_seconds",
            "From a join's arrival to its reply",
        );
        let event_latency = histogram(
            &mut registry,
            "event_duration_seconds",
            "From a client event's arrival to its reply",
        );
        let commit_latency = histogram(
            &mut registry,
            "commit_duration_seconds",
            "A commit to the backplane (cluster mode)",
        );
        let forwards = counter(
            &mut registry,
            "forwards",
            "Requests forwarded to another node's authority",
        );
        let lease_family = Family::<Label, Counter>::default();
        registry.register(
            "lease_changes",
            "Leases acquired, lost and released by this node",
            lease_family.clone(),
        );
        let lease_changes = ["acquired", "lost", "released"]
            .map(|change| lease_family.get_or_create(&[("change", change)]).clone());
        let processes = ProcessMetrics {
            joined: gauge(&mut registry, "views", "Live views joined on this node"),
            messages: counter(
                &mut registry,
                "view_messages",
                "Messages live views handled (events, patches, server messages)",
            ),
            crashes: counter(
                &mut registry,
                "view_crashes",
                "Live views that crashed (a callback panicked)",
            ),
        };
        Metrics {
            registry,
            sockets,
            channels,
            keys,
            events,
            refusals,
            patches,
            deliveries,
            resyncs,
            outboxes,
            join_latency,
            event_latency,
            commit_latency,
            forwards,
            lease_changes,
            processes,
        }
    }

    /// Every figure, in the Prometheus text format (version 0.0.4).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // writing to a String cannot fail
        let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry);
        out
    }

    /// Count a refusal by its code.
    pub(crate) fn refused(&self, code: &str) {
        let i = REFUSAL_CODES
            .iter()
            .position(|c| *c == code)
            .unwrap_or(REFUSAL_CODES.len() - 1);
        self.refusals[i].inc();
    }

    /// Count a lease change.
    pub(crate) fn lease(&self, change: LeaseChange) {
        let i = match change {
            LeaseChange::Acquired => 0,
            LeaseChange::Lost => 1,
            LeaseChange::Released => 2,
        };
        self.lease_changes[i].inc();
    }

    /// Count an outbox's queued bytes at each scrape, for as long as it lives.
    pub(crate) fn watch_outbox(&self, queued_bytes: &Arc<AtomicUsize>) {
        self.outboxes.add(queued_bytes);
    }
}

/// The bytes of every live outbox, summed at the scrape.
#[derive(Debug, Clone, Default)]
struct OutboxBytes(Arc<Mutex<Vec<Weak<AtomicUsize>>>>);

impl OutboxBytes {
    fn add(&self, queued_bytes: &Arc<AtomicUsize>) {
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        // forget the closed ones now and then, so the list stays as long as the sockets
        if all.len() >= 64 && all.len().is_power_of_two() {
            all.retain(|w| w.strong_count() > 0);
        }
        all.push(Arc::downgrade(queued_bytes));
    }

    fn total(&self) -> i64 {
        let mut all = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let mut total = 0usize;
        all.retain(|w| match w.upgrade() {
            Some(bytes) => {
                total = total.saturating_add(bytes.load(Ordering::Relaxed));
                true
            }
            None => false,
        });
        i64::try_from(total).unwrap_or(i64::MAX)
    }
}

impl EncodeMetric for OutboxBytes {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        encoder.encode_gauge(&self.total())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

/// Upper bounds of the latency buckets, in seconds (100 µs to 5 s).
const BOUNDS: [f64; 15] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// A latency histogram of fixed buckets, each an atomic: observing is two relaxed adds
/// and a search of 15 bounds, with no lock (`prometheus-client`'s own histogram takes a
/// mutex per observation).
#[derive(Debug, Clone, Default)]
pub struct LatencyHistogram(Arc<Buckets>);

#[derive(Debug, Default)]
struct Buckets {
    /// Per bucket (the last is `+Inf`), not cumulative.
    counts: [AtomicU64; BOUNDS.len() + 1],
    sum_nanos: AtomicU64,
}

impl LatencyHistogram {
    /// Count one observation.
    pub fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let i = BOUNDS.partition_point(|bound| *bound < secs);
        self.0.counts[i].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.0.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// How many observations.
    pub fn count(&self) -> u64 {
        self.0
            .counts
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .sum()
    }
}

impl EncodeMetric for LatencyHistogram {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        // per bucket: the encoder writes them cumulative
        let mut total = 0;
        let mut buckets = [(0.0, 0); BOUNDS.len() + 1];
        for (i, slot) in buckets.iter_mut().enumerate() {
            let count = self.0.counts[i].load(Ordering::Relaxed);
            total += count;
            *slot = (BOUNDS.get(i).copied().unwrap_or(f64::INFINITY), count);
        }
        let sum = self.0.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_histogram::<NoLabelSet>(sum, total, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line<'a>(text: &'a str, name: &str) -> Option<&'a str> {
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .map(|l| &l[name.len() + 1..])
    }

    #[test]
    fn counters_gauges_and_labels_are_encoded() {
        let m = Metrics::new();
        m.sockets.inc();
        m.events.inc_by(3);
        m.refused("refused");
        m.refused("no_such_code");
        m.lease(LeaseChange::Lost);
        let text = m.encode();
        assert_eq!(line(&text, "livestate_sockets"), Some("1"), "{text}");
        assert_eq!(line(&text, "livestate_events_total"), Some("3"));
        assert_eq!(
            line(&text, "livestate_refusals_total{code=\"refused\"}"),
            Some("1")
        );
        assert_eq!(
            line(&text, "livestate_refusals_total{code=\"other\"}"),
            Some("1")
        );
        assert_eq!(
            line(&text, "livestate_refusals_total{code=\"bad_request\"}"),
            Some("0")
        );
        assert_eq!(
            line(&text, "livestate_lease_changes_total{change=\"lost\"}"),
            Some("1")
        );
        assert!(text.contains("# TYPE livestate_event_duration_seconds histogram"));
    }

    #[test]
    fn histograms_count_into_cumulative_buckets() {
        let m = Metrics::new();
        m.event_latency.observe(Duration::from_micros(50));
        m.event_latency.observe(Duration::from_micros(700));
        m.event_latency.observe(Duration::from_secs(60));
        assert_eq!(m.event_latency.count(), 3);
        let text = m.encode();
        let bucket = |le: &str| {
            line(
                &text,
                &format!("livestate_event_duration_seconds_bucket{{le=\"{le}\"}}"),
            )
        };
        assert_eq!(bucket("0.0001"), Some("1"), "{text}");
        assert_eq!(bucket("0.0005"), Some("1"));
        assert_eq!(bucket("0.001"), Some("2"));
        assert_eq!(bucket("5"), Some("2"), "{text}");
        assert_eq!(bucket("+Inf"), Some("3"));
        assert_eq!(
            line(&text, "livestate_event_duration_seconds_count"),
            Some("3")
        );
        let sum: f64 = line(&text, "livestate_event_duration_seconds_sum")
            .unwrap()
            .parse()
            .unwrap();
        assert!((sum - 60.00075).abs() < 1e-9, "{sum}");
    }

    #[test]
    fn outbox_bytes_are_summed_while_the_outboxes_live() {
        let m = Metrics::new();
        let a = Arc::new(AtomicUsize::new(100));
        let b = Arc::new(AtomicUsize::new(20));
        m.watch_outbox(&a);
        m.watch_outbox(&b);
        assert_eq!(line(&m.encode(), "livestate_outbox_bytes"), Some("120"));
        drop(a);
        assert_eq!(line(&m.encode(), "livestate_outbox_bytes"), Some("20"));
    }
}
