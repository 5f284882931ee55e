//! The shared-key scenarios (issue 18), against `livestate-view-bench-server` (see
//! [`crate::viewbench`]): one key, `doc:board`, many subscribers, and writers putting
//! `{"s": WRITER, "n": SEQ, "t": NS}` at `/m` of it, `rate` changes per second in all, on a
//! fixed schedule: through phx-live-state sockets joined to the key (`lvs_evt:put`), or
//! through the HTTP state API (busy-key's default: a socket's own change is never
//! coalesced; see `shared_writer.rs`).
//!
//! - `shared-views`: the subscribers are `clients` board views (`/board`: each its own
//!   page and socket, attached to the key, showing `seq-N` from `@shared`).
//! - `shared-sockets`: `clients` phx-live-state sockets joined to the key (the baseline of
//!   the views' server CPU).
//! - `busy-key`: `clients` sockets and `views` board views on a busy key (10,000 changes
//!   per second), for coalescing: messages per second per subscriber and staleness.
//!
//! The subscribers are spread in turn over the servers given (the nodes of a cluster);
//! the writers use the first. Every sequence number's write time is kept in a [`Book`];
//! a subscriber has change `k` at the first message carrying a sequence number `≥ k` (a
//! view's diff shows the last one, a coalesced patch the latest state), and each
//! (change, subscriber) gives a staleness: that time minus `k`'s write. Per change, the
//! latency to the last subscriber is the latest of those times minus the write.
//! Deliveries are the messages the subscribers received inside the window (one per change
//! and subscriber unless the server merges changes). The servers' CPU is summed over
//! `server_pids`; with views, the servers' shared renders over the window
//! (`/bench/render-stats`) are in the line.

use super::view::{open_files, open_view};
use super::{Control, Held, Shared, Tally, head, reason_of};

#[path = "shared_writer.rs"]
mod writer;
use crate::clock;
use crate::config::{Config, Scenario, Writer};
use crate::hist::Histogram;
use crate::live::{self, Server, ViewConn};
use crate::probe::CpuMark;
use crate::report::{Report, round};
use crate::target::{Conn, Incoming, Target};
use crate::viewbench::{BOARD_KEY, BOARD_PATH};
use crate::wire;
use serde_json::Value;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The most changes a run keeps (its book's size).
const MAX_CHANGES: usize = 20_000_000;

/// Which side a socket task is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    View,
    Socket,
    Writer,
}

/// The changes of a run: when each was written, when the last subscriber had it and how
/// many had it.
pub(super) struct Book {
    sent_ns: Vec<AtomicU64>,
    last_ns: Vec<AtomicU64>,
    covered: Vec<AtomicU32>,
    next: AtomicU64,
}

impl Book {
    /// Room for `capacity` changes.
    pub(super) fn new(capacity: usize) -> Book {
        let zeros = |_| AtomicU64::new(0);
        Book {
            sent_ns: (0..capacity).map(zeros).collect(),
            last_ns: (0..capacity).map(zeros).collect(),
            covered: (0..capacity).map(|_| AtomicU32::new(0)).collect(),
            next: AtomicU64::new(0),
        }
    }

    /// The next sequence number to write (`None`: the book is full).
    pub(super) fn take(&self) -> Option<u64> {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        (seq < self.sent_ns.len() as u64).then_some(seq)
    }

    /// `seq` was written at `ns` (before it is sent).
    pub(super) fn written(&self, seq: u64, ns: u64) {
        if let Some(slot) = self.slot(&self.sent_ns, seq) {
            slot.store(ns.max(1), Ordering::Release);
        }
    }

    fn slot<'a, T>(&self, v: &'a [T], seq: u64) -> Option<&'a T> {
        usize::try_from(seq).ok().and_then(|i| v.get(i))
    }

    /// When `seq` was written (`None`: not in this run).
    pub(super) fn sent_at(&self, seq: u64) -> Option<u64> {
        let ns = self.slot(&self.sent_ns, seq)?.load(Ordering::Acquire);
        (ns > 0).then_some(ns)
    }

    /// A subscriber had `seq` at `ns`.
    fn arrived(&self, seq: u64, ns: u64) {
        if let (Some(last), Some(n)) =
            (self.slot(&self.last_ns, seq), self.slot(&self.covered, seq))
        {
            last.fetch_max(ns, Ordering::Relaxed);
            n.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// How many subscribers had `seq`, and when the last of them had it.
    pub(super) fn coverage(&self, seq: u64) -> (u32, u64) {
        match (self.slot(&self.covered, seq), self.slot(&self.last_ns, seq)) {
            (Some(n), Some(last)) => (n.load(Ordering::Relaxed), last.load(Ordering::Relaxed)),
            _ => (0, 0),
        }
    }

    /// Sequence numbers taken so far (written or being written).
    pub(super) fn taken(&self) -> u64 {
        self.next
            .load(Ordering::Relaxed)
            .min(self.sent_ns.len() as u64)
    }
}

/// What one subscriber received.
#[derive(Debug, Default, Clone)]
pub(super) struct Seen {
    /// The first sequence number it has not had yet.
    next: u64,
    /// Messages (diffs, patches, whole states after the join).
    messages: u64,
    /// Messages received inside the window.
    window_messages: u64,
    /// Changes had without a message of their own (a later one carried them).
    skipped: u64,
    /// Messages carrying nothing newer than what it had.
    stale: u64,
    /// Messages with a sequence number this run did not write.
    foreign: u64,
}

impl Seen {
    /// A message received at `now_ns`, carrying the changes up to `seq` (`None`: no
    /// sequence number in it). Each change it brings first is marked in `book`; those
    /// written inside `window` give their staleness (now minus the write) to `staleness`.
    pub(super) fn message(
        &mut self,
        seq: Option<u64>,
        now_ns: u64,
        book: &Book,
        window: &Range<u64>,
        staleness: &mut Histogram,
    ) {
        self.messages += 1;
        if window.contains(&now_ns) {
            self.window_messages += 1;
        }
        let Some(seq) = seq else { return };
        if book.sent_at(seq).is_none() {
            self.foreign += 1;
            return;
        }
        if seq < self.next {
            self.stale += 1;
            return;
        }
        self.skipped += seq - self.next;
        for k in self.next..=seq {
            let Some(sent) = book.sent_at(k) else {
                continue;
            };
            book.arrived(k, now_ns);
            if window.contains(&sent) {
                staleness.record(now_ns.saturating_sub(sent));
            }
        }
        self.next = seq + 1;
    }

    fn merge(&mut self, o: &Seen) {
        self.messages += o.messages;
        self.window_messages += o.window_messages;
        self.skipped += o.skipped;
        self.stale += o.stale;
        self.foreign += o.foreign;
    }
}

/// The last sequence number a board view's diff shows (`seq-N` in the rendered text).
pub(super) fn view_seq(payload: &str) -> Option<u64> {
    let mut best = None;
    let mut rest = payload;
    while let Some(at) = rest.find("seq-") {
        rest = &rest[at + 4..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if let Ok(n) = rest[..digits].parse::<u64>() {
            best = best.max(Some(n));
        }
    }
    best
}

/// The highest sequence number of the writers' messages in a patch (or a whole state).
pub(super) fn patch_seq(text: &str) -> Option<u64> {
    let mut best = None;
    wire::for_each_msg(text, |m| best = best.max(Some(m.seq)));
    best
}

pub(super) async fn run(cfg: &Config) -> Report {
    let (views, sockets) = match cfg.scenario {
        Scenario::SharedViews => (cfg.clients, 0),
        Scenario::SharedSockets => (0, cfg.clients),
        _ => (cfg.views, cfg.clients),
    };
    let writers = cfg.senders.max(1);
    // a busy key's writes come through the HTTP API unless told: a socket's own change
    // is never coalesced (see `shared_writer.rs`)
    let http_writes = match cfg.writer {
        Some(w) => w == Writer::Http,
        None => cfg.scenario == Scenario::BusyKey,
    };
    let servers = cfg.servers();
    let pids = cfg.pids();
    let mut r = head(cfg);
    r.set("views", views as u64);
    r.set("sockets", sockets as u64);
    r.set("subscribers", (views + sockets) as u64);
    r.set("writers", writers as u64);
    r.set("writer", if http_writes { "http" } else { "socket" });
    r.set("nodes", servers.len() as u64);
    r.set("rate", cfg.rate);
    r.set("duration_s", cfg.duration.as_secs_f64());
    r.set("warmup_s", cfg.warmup.as_secs_f64());
    server_options(&servers[0], cfg, &mut r).await;
    if let Some(refusal) = open_files(cfg, views + sockets + writers, &mut r) {
        r.set("joined", 0);
        r.set("error", refusal);
        return r;
    }
    let planned = (cfg.rate.max(0.0) * (cfg.warmup + cfg.duration).as_secs_f64()).ceil();
    let book = Arc::new(Book::new((planned as usize).min(MAX_CHANGES) + 64));
    let first = Target::Livestate.url(&servers[0], false);
    let mut ctl = Control::new(cfg, first.clone());
    let mut set = JoinSet::new();
    for i in 0..views {
        let (sh, book) = (ctl.shared.clone(), book.clone());
        let server = Server::parse(&servers[i % servers.len()]);
        set.spawn(async move {
            let mut t = Tally::default();
            let mut seen = Seen::default();
            if let Some((conn, _)) = open_view(&sh, &server, BOARD_PATH, &mut t).await {
                watch_view(&sh, conn, &book, &mut seen, &mut t).await;
            }
            ((Role::View, seen), t)
        });
    }
    for i in 0..sockets {
        let (sh, book) = (ctl.shared.clone(), book.clone());
        let url = Target::Livestate.url(&servers[i % servers.len()], false);
        set.spawn(async move {
            let mut t = Tally::default();
            let mut seen = Seen::default();
            if let Some(conn) = sh.open_joined_at(&url, BOARD_KEY, false, &mut t).await {
                watch_socket(&sh, conn, &book, &mut seen, &mut t).await;
            }
            ((Role::Socket, seen), t)
        });
    }
    for w in 0..writers {
        let (sh, book, url) = (ctl.shared.clone(), book.clone(), first.clone());
        let server = Server::parse(&servers[0]);
        set.spawn(async move {
            let mut t = Tally::default();
            if http_writes {
                if let Some(tcp) = writer::open_http(&sh, &server, &mut t).await {
                    writer::http(tcp, &server, BOARD_KEY, w as u64, &sh, &book, &mut t).await;
                }
            } else if let Some(conn) = sh.open_joined_at(&url, BOARD_KEY, true, &mut t).await {
                writer::socket(conn, w as u64, &sh, &book, &mut t).await;
            }
            ((Role::Writer, Seen::default()), t)
        });
    }
    let ready = ctl.await_ready(views + sockets + writers).await;
    let subscribers = ready.iter().filter(|r| r.ok && !r.sender).count() as u64;
    let writers_joined = ready.iter().filter(|r| r.ok && r.sender).count() as u64;
    let mut cpu = None;
    let mut renders = None;
    let mut window = 0..0;
    if subscribers > 0 && writers_joined > 0 {
        let tl = ctl.start();
        window = tl.warm_end_ns..tl.end_ns;
        tokio::time::sleep_until(tl.warm_end).await;
        let marks: Vec<CpuMark> = pids.iter().map(|p| CpuMark::of(Some(*p))).collect();
        let own = CpuMark::own();
        let before = render_stats(&servers, views, cfg).await;
        tokio::time::sleep_until(tl.end).await;
        let server_cpu: Option<f64> = if pids.is_empty() {
            None
        } else {
            marks
                .iter()
                .zip(&pids)
                .map(|(m, p)| m.cores_until(&CpuMark::of(Some(*p))))
                .sum()
        };
        cpu = Some((server_cpu, own.cores_until(&CpuMark::own())));
        let after = render_stats(&servers, views, cfg).await;
        if let (Some(b), Some(a)) = (before, after) {
            renders = Some((a.0.saturating_sub(b.0), a.1.saturating_sub(b.1)));
        }
        // drain: until every subscriber has the last change taken, or the drain is over
        let drain_end = tl.end + cfg.drain;
        while Instant::now() < drain_end {
            let taken = book.taken();
            if taken > 0 && u64::from(book.coverage(taken - 1).0) >= subscribers {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let (mut view_t, mut socket_t, mut writes) =
        (Tally::default(), Tally::default(), Tally::default());
    let mut seen = Seen::default();
    for ((role, s), t) in ctl.finish(set, Instant::now()).await {
        match role {
            Role::View => {
                seen.merge(&s);
                view_t.merge(t);
            }
            Role::Socket => {
                seen.merge(&s);
                socket_t.merge(t);
            }
            Role::Writer => writes.merge(t),
        }
    }
    // each kind's staleness apart (busy-key has both), then all subscribers together
    if views > 0 && sockets > 0 {
        view_t.report_percentiles(
            &mut r,
            [
                "view_staleness_p50_us",
                "view_staleness_p99_us",
                "view_staleness_max_us",
            ],
        );
        socket_t.report_percentiles(
            &mut r,
            [
                "socket_staleness_p50_us",
                "socket_staleness_p99_us",
                "socket_staleness_max_us",
            ],
        );
    }
    let mut subs = Tally::default();
    subs.merge(view_t);
    subs.merge(socket_t);

    // per change written inside the window: the latency to its last subscriber
    let mut last = Histogram::new();
    let (mut changes, mut incomplete, mut covered) = (0u64, 0u64, 0u64);
    for k in 0..book.taken() {
        let Some(sent) = book.sent_at(k).filter(|s| window.contains(s)) else {
            continue;
        };
        changes += 1;
        let (n, at) = book.coverage(k);
        covered += u64::from(n);
        if u64::from(n) >= subscribers && subscribers > 0 {
            last.record(at.saturating_sub(sent));
        } else {
            incomplete += 1;
        }
    }
    let secs = cfg.duration.as_secs_f64().max(1e-9);
    let counts = Tally::counts_of(&subs, &writes);
    counts.report_setup(&mut r);
    r.set("subscribers_joined", subscribers);
    r.set("writers_joined", writes.joined);
    r.set("writes", writes.sent);
    r.set("changes", changes);
    r.set("writes_per_s", round(changes as f64 / secs, 0));
    // acknowledgements (a socket's replies, HTTP answers): what the server took, and when
    r.set("writes_answered", writes.received);
    r.set(
        "writes_answered_per_s",
        round(writes.window as f64 / secs, 0),
    );
    r.set("deliveries", seen.window_messages);
    r.set(
        "deliveries_per_s",
        round(seen.window_messages as f64 / secs, 0),
    );
    r.set(
        "messages_per_s_per_subscriber",
        if subscribers > 0 {
            round(seen.window_messages as f64 / secs / subscribers as f64, 1)
        } else {
            Value::Null
        },
    );
    let lat = Tally {
        hist: Some(Box::new(last)),
        ..Tally::default()
    };
    lat.report_percentiles(
        &mut r,
        ["latency_p50_us", "latency_p99_us", "latency_max_us"],
    );
    r.set("latency_samples", changes - incomplete);
    r.set("incomplete", incomplete);
    subs.report_percentiles(
        &mut r,
        ["staleness_p50_us", "staleness_p99_us", "staleness_max_us"],
    );
    let expected = changes * subscribers;
    r.set("expected", expected);
    r.set("covered", covered);
    r.set("skipped", seen.skipped);
    r.set("stale_messages", seen.stale);
    r.set("foreign", seen.foreign);
    r.set("resyncs", subs.resyncs);
    let lost = expected.saturating_sub(covered);
    r.set("lost", lost);
    r.set(
        "loss_pct",
        round(
            if expected > 0 {
                lost as f64 * 100.0 / expected as f64
            } else {
                0.0
            },
            3,
        ),
    );
    r.set("render_computed", renders.map(|(c, _)| c));
    r.set("render_reused", renders.map(|(_, u)| u));
    counts.report_trouble(&mut r);
    let (server_cpu, loadgen_cpu) = cpu.unwrap_or((None, None));
    r.set("server_cpu", server_cpu.map(|c| round(c, 2)));
    r.set("loadgen_cpu", loadgen_cpu.map(|c| round(c, 2)));
    r.set("server_pids", pids.len() as u64);
    r.set("first_error", writes.first_error.or(subs.first_error));
    r
}

/// The servers' shared renders so far (`/bench/render-stats`), summed: (computed,
/// reused); `None` without views or when a server does not say.
async fn render_stats(servers: &[String], views: usize, cfg: &Config) -> Option<(u64, u64)> {
    if views == 0 {
        return None;
    }
    let (mut computed, mut reused) = (0, 0);
    for url in servers {
        let server = Server::parse(url);
        let resp = live::get(&server, "/bench/render-stats", Instant::now() + cfg.timeout)
            .await
            .ok()
            .filter(|resp| resp.status == 200)?;
        let v: Value = serde_json::from_str(&resp.body).ok()?;
        computed += v.get("computed")?.as_u64()?;
        reused += v.get("reused")?.as_u64()?;
    }
    Some((computed, reused))
}

/// What the (first) server runs with (`/bench/options`), into the report.
async fn server_options(url: &str, cfg: &Config, r: &mut Report) {
    let described = live::get(
        &Server::parse(url),
        "/bench/options",
        Instant::now() + cfg.timeout,
    )
    .await
    .ok()
    .filter(|resp| resp.status == 200)
    .and_then(|resp| serde_json::from_str::<Value>(&resp.body).ok());
    let field = |k: &str| described.as_ref().and_then(|v| v.get(k)).cloned();
    r.set("server_shared_render", field("shared_render"));
    r.set("server_coalesce_ms", field("coalesce_ms"));
    r.set("server_cluster", field("cluster"));
}

/// The measurement window on the message clock, once the run published it.
fn window_of(sh: &Shared, cached: &mut Option<Range<u64>>) -> Range<u64> {
    if cached.is_none() {
        *cached = sh.timeline.borrow().map(|tl| tl.warm_end_ns..tl.end_ns);
    }
    cached.clone().unwrap_or(0..0)
}

/// A board view until cancelled: every diff pushed, by the sequence number it shows.
async fn watch_view(sh: &Shared, mut conn: ViewConn, book: &Book, seen: &mut Seen, t: &mut Tally) {
    let mut held = Held::new(&sh.cancel, sh.cfg.timeout);
    let mut window = None;
    while let Some(text) = held.next_text(&mut conn, t).await {
        let Some(h) = wire::head(text.as_str()) else {
            continue;
        };
        match h.event {
            "diff" => {
                let now = clock::now_ns();
                let w = window_of(sh, &mut window);
                seen.message(view_seq(h.payload), now, book, &w, t.hist());
            }
            "phx_reply" if !h.payload.contains(r#""status":"ok""#) => {
                t.error_replies += 1;
                t.error(|| reason_of(text.as_str()));
            }
            "phx_error" | "phx_close" => t.channel_errors += 1,
            _ => {}
        }
    }
}

/// A socket joined to the key until cancelled: every `state:patch` (and whole state), by
/// the highest sequence number in it.
async fn watch_socket(sh: &Shared, mut conn: Conn, book: &Book, seen: &mut Seen, t: &mut Tally) {
    let mut held = Held::new(&sh.cancel, sh.cfg.timeout);
    let mut window = None;
    while let Some(text) = held.next_text(&mut conn, t).await {
        let seq = match Target::Livestate.classify(text.as_str()) {
            Incoming::Relay(body) => patch_seq(body),
            Incoming::Resync => {
                t.resyncs += 1;
                patch_seq(text.as_str())
            }
            Incoming::Reply {
                ok: false, text, ..
            } => {
                t.error_replies += 1;
                t.error(|| reason_of(text));
                continue;
            }
            Incoming::Ended => {
                t.channel_errors += 1;
                continue;
            }
            _ => continue,
        };
        let now = clock::now_ns();
        let w = window_of(sh, &mut window);
        seen.message(seq, now, book, &w, t.hist());
    }
}

#[cfg(test)]
#[path = "shared_tests.rs"]
mod tests;
