//! The scenarios, written once against the adapters of [`crate::target`].
//!
//! Every socket lives in its own task from connect to close: it opens and joins (bounded by
//! the per-operation timeout and the setup deadline), reports that it is ready, plays its
//! role (hold, receive, send, request) and returns its [`Tally`] when the run is cancelled.
//! The run's task waits for readiness (or the setup deadline), publishes the [`Timeline`],
//! samples `/proc` at the window's edges, drains, cancels, and merges the tallies.
//!
//! Modules: `connect`, `events`, `fanout`, one per scenario; `view`, the live-view
//! scenarios (`view-bytes`, `view-connect`, `view-events`); `shared`, the shared-key
//! scenarios (`shared-views`, `shared-sockets`, `busy-key`).

mod connect;
mod events;
mod fanout;
mod shared;
mod view;

use crate::clock;
use crate::config::{Config, Scenario};
use crate::hist::Histogram;
use crate::report::{Report, round};
use crate::target::{Conn, Incoming, SetupError, Ws, send_within};
use crate::wire;
use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_util::sync::CancellationToken;

/// How often a held socket sends a heartbeat (phoenix.js's interval).
const HEARTBEAT: Duration = Duration::from_secs(30);

/// Run the configured scenario. Never panics on what the server does and always returns
/// within [`Config::bound`] (plus a margin, after which the run is abandoned and the
/// report says so).
pub(crate) async fn run(cfg: &Config) -> Report {
    let started = Instant::now();
    let _ = clock::origin();
    let work = async {
        match cfg.scenario {
            Scenario::Connect => connect::run(cfg).await,
            Scenario::Events => events::run(cfg).await,
            Scenario::Fanout => fanout::run(cfg).await,
            Scenario::ViewBytes => view::bytes(cfg).await,
            Scenario::ViewConnect => view::connect(cfg).await,
            Scenario::ViewEvents => view::events(cfg).await,
            Scenario::SharedViews | Scenario::SharedSockets | Scenario::BusyKey => {
                shared::run(cfg).await
            }
        }
    };
    let mut report = match tokio::time::timeout(cfg.bound() + Duration::from_secs(6), work).await {
        Ok(report) => report,
        Err(_) => {
            let mut r = head(cfg);
            r.set("error", "the run exceeded its time bound and was abandoned");
            r
        }
    };
    report.set("elapsed_s", round(started.elapsed().as_secs_f64(), 2));
    report
}

/// The fields every result line starts with.
fn head(cfg: &Config) -> Report {
    let mut r = Report::new();
    r.set("scenario", cfg.scenario.name());
    r.set("target", cfg.target.name());
    if let Some(label) = &cfg.label {
        r.set("label", label.as_str());
    }
    r
}

/// A fresh suffix for topic names, so runs against the same server do not meet.
fn nonce() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{nanos:x}", std::process::id())
}

/// When the load starts, when measuring starts and when it ends (instants and the same on
/// the message clock).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeline {
    start: Instant,
    warm_end: Instant,
    end: Instant,
    warm_end_ns: u64,
    end_ns: u64,
}

impl Timeline {
    fn starting_in(delay: Duration, cfg: &Config) -> Timeline {
        let start = Instant::now() + delay;
        let warm_end = start + cfg.warmup;
        let end = warm_end + cfg.duration;
        Timeline {
            start,
            warm_end,
            end,
            warm_end_ns: clock::ns_at(warm_end.into_std()),
            end_ns: clock::ns_at(end.into_std()),
        }
    }
}

/// What one socket (or a whole run, merged) counted.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    joined: u64,
    connect_failures: u64,
    join_errors: u64,
    setup_timeouts: u64,
    disconnects: u64,
    error_replies: u64,
    channel_errors: u64,
    send_errors: u64,
    timeouts: u64,
    resyncs: u64,
    duplicates: u64,
    foreign: u64,
    /// Messages received (unique), or requests answered.
    received: u64,
    /// Messages received, or requests answered, inside the measurement window.
    window: u64,
    /// Messages sent.
    sent: u64,
    first_error: Option<String>,
    hist: Option<Box<Histogram>>,
}

impl Tally {
    fn error(&mut self, what: impl FnOnce() -> String) {
        if self.first_error.is_none() {
            self.first_error = Some(what());
        }
    }

    fn setup_failed(&mut self, e: SetupError) {
        match e {
            SetupError::Connect(why) => {
                self.connect_failures += 1;
                self.error(|| format!("connect: {why}"));
            }
            SetupError::Closed => {
                self.connect_failures += 1;
                self.error(|| "closed by the server during setup".to_owned());
            }
            SetupError::Timeout => self.setup_timeouts += 1,
            SetupError::Refused(why) => {
                self.join_errors += 1;
                self.error(|| format!("join refused: {why}"));
            }
        }
    }

    fn hist(&mut self) -> &mut Histogram {
        self.hist.get_or_insert_with(Box::default)
    }

    fn merge(&mut self, o: Tally) {
        self.joined += o.joined;
        self.connect_failures += o.connect_failures;
        self.join_errors += o.join_errors;
        self.setup_timeouts += o.setup_timeouts;
        self.disconnects += o.disconnects;
        self.error_replies += o.error_replies;
        self.channel_errors += o.channel_errors;
        self.send_errors += o.send_errors;
        self.timeouts += o.timeouts;
        self.resyncs += o.resyncs;
        self.duplicates += o.duplicates;
        self.foreign += o.foreign;
        self.received += o.received;
        self.window += o.window;
        self.sent += o.sent;
        if self.first_error.is_none() {
            self.first_error = o.first_error;
        }
        if let Some(h) = o.hist {
            self.hist().merge(&h);
        }
    }

    /// The setup counts, into the report.
    fn report_setup(&self, r: &mut Report) {
        r.set("joined", self.joined);
        r.set("connect_failures", self.connect_failures);
        r.set("join_errors", self.join_errors);
        r.set("setup_timeouts", self.setup_timeouts);
    }

    /// The setup and trouble counts of `a` and `b` together (two kinds of socket of one
    /// run), for [`Tally::report_setup`] and [`Tally::report_trouble`].
    fn counts_of(a: &Tally, b: &Tally) -> Tally {
        Tally {
            joined: a.joined + b.joined,
            connect_failures: a.connect_failures + b.connect_failures,
            join_errors: a.join_errors + b.join_errors,
            setup_timeouts: a.setup_timeouts + b.setup_timeouts,
            disconnects: a.disconnects + b.disconnects,
            error_replies: a.error_replies + b.error_replies,
            channel_errors: a.channel_errors + b.channel_errors,
            send_errors: a.send_errors + b.send_errors,
            ..Tally::default()
        }
    }

    /// The counts of trouble after setup, into the report.
    fn report_trouble(&self, r: &mut Report) {
        r.set("disconnects", self.disconnects);
        r.set("error_replies", self.error_replies);
        r.set("channel_errors", self.channel_errors);
        r.set("send_errors", self.send_errors);
    }

    /// Percentiles of the histogram in µs, as `{prefix}_p50_us`, `_p99_us`, `_max_us`.
    fn report_percentiles(&self, r: &mut Report, keys: [&'static str; 3]) {
        let (p50, p99, max) = match &self.hist {
            Some(h) if h.count() > 0 => (h.percentile(50.0), h.percentile(99.0), h.max()),
            _ => {
                for k in keys {
                    r.set(k, serde_json::Value::Null);
                }
                return;
            }
        };
        for (k, v) in keys.into_iter().zip([p50, p99, max]) {
            r.set(k, round(v as f64 / 1000.0, 1));
        }
    }
}

/// What every socket task of a run shares.
pub(crate) struct Shared {
    cfg: Config,
    url: String,
    permits: Semaphore,
    setup_deadline: Instant,
    cancel: CancellationToken,
    ready: mpsc::UnboundedSender<Ready>,
    timeline: watch::Receiver<Option<Timeline>>,
}

/// A socket task's report that its setup is over.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ready {
    /// Whether the socket is open and joined.
    ok: bool,
    /// Whether it is a sender (fanout).
    sender: bool,
    /// Connect plus join, in ns.
    join_ns: u64,
}

/// The run's side of [`Shared`].
pub(crate) struct Control {
    shared: Arc<Shared>,
    ready: mpsc::UnboundedReceiver<Ready>,
    timeline: watch::Sender<Option<Timeline>>,
}

impl Control {
    fn new(cfg: &Config, url: String) -> Control {
        let (ready_tx, ready) = mpsc::unbounded_channel();
        let (timeline, timeline_rx) = watch::channel(None);
        let shared = Arc::new(Shared {
            cfg: cfg.clone(),
            url,
            permits: Semaphore::new(cfg.concurrency.max(1)),
            setup_deadline: Instant::now() + cfg.setup_limit,
            cancel: CancellationToken::new(),
            ready: ready_tx,
            timeline: timeline_rx,
        });
        Control {
            shared,
            ready,
            timeline,
        }
    }

    /// Wait until `n` sockets reported (or the setup deadline): every report, in order.
    async fn await_ready(&mut self, n: usize) -> Vec<Ready> {
        let mut seen = Vec::with_capacity(n);
        while seen.len() < n {
            match tokio::time::timeout_at(self.shared.setup_deadline, self.ready.recv()).await {
                Ok(Some(r)) => seen.push(r),
                Ok(None) | Err(_) => break,
            }
        }
        seen
    }

    /// Start the clock: the load begins shortly.
    fn start(&self) -> Timeline {
        let tl = Timeline::starting_in(Duration::from_millis(50), &self.shared.cfg);
        let _ = self.timeline.send(Some(tl));
        tl
    }

    /// Let the socket tasks end by themselves until `grace`, then cancel the rest and
    /// collect what they counted (tasks that do not return within a few seconds of being
    /// cancelled are abandoned).
    async fn finish<K: Send + 'static>(
        &self,
        mut set: JoinSet<(K, Tally)>,
        grace: Instant,
    ) -> Vec<(K, Tally)> {
        let mut out = Vec::new();
        let mut deadline = grace;
        let mut cancelled = false;
        loop {
            match tokio::time::timeout_at(deadline, set.join_next()).await {
                Ok(Some(Ok(kt))) => out.push(kt),
                Ok(Some(Err(_))) => {}
                Ok(None) => break,
                Err(_) if !cancelled => {
                    self.shared.cancel.cancel();
                    cancelled = true;
                    deadline = Instant::now() + Duration::from_secs(3);
                }
                Err(_) => {
                    set.abort_all();
                    break;
                }
            }
        }
        self.shared.cancel.cancel();
        out
    }
}

impl Shared {
    /// Open a socket and join `topic`, within the timeout and the setup deadline; report
    /// readiness either way.
    async fn open_joined(&self, topic: &str, sender: bool, t: &mut Tally) -> Option<Conn> {
        self.open_joined_at(&self.url, topic, sender, t).await
    }

    /// [`Shared::open_joined`] on the server at `url` (a WebSocket URL).
    async fn open_joined_at(
        &self,
        url: &str,
        topic: &str,
        sender: bool,
        t: &mut Tally,
    ) -> Option<Conn> {
        let result = self.try_open_joined(url, topic).await;
        let (ok, join_ns) = match &result {
            Ok((_, ns)) => (true, *ns),
            Err(_) => (false, 0),
        };
        let _ = self.ready.send(Ready {
            ok,
            sender,
            join_ns,
        });
        match result {
            Ok((conn, _)) => {
                t.joined += 1;
                Some(conn)
            }
            Err(e) => {
                t.setup_failed(e);
                None
            }
        }
    }

    async fn try_open_joined(&self, url: &str, topic: &str) -> Result<(Conn, u64), SetupError> {
        let _permit = tokio::time::timeout_at(self.setup_deadline, self.permits.acquire())
            .await
            .map_err(|_| SetupError::Timeout)?
            .map_err(|_| SetupError::Timeout)?;
        let t0 = Instant::now();
        let deadline = (t0 + self.cfg.timeout).min(self.setup_deadline);
        let mut conn = self.cfg.target.open(url, deadline).await?;
        conn.join(topic, deadline).await?;
        let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
        Ok((conn, ns))
    }

    /// The timeline, once the run publishes it (`None`: cancelled first).
    async fn timeline(&self) -> Option<Timeline> {
        let mut rx = self.timeline.clone();
        tokio::select! {
            () = self.cancel.cancelled() => None,
            r = rx.wait_for(Option::is_some) => r.ok().and_then(|t| *t),
        }
    }

    /// Hold (or receive on) a joined socket until cancelled: answer pings, send heartbeats,
    /// and, when `senders > 0`, count the messages of `senders` senders it relays (unique
    /// ones into `progress`), their latency and the deliveries inside the window.
    async fn receive(&self, mut conn: Conn, senders: usize, progress: &AtomicU64, t: &mut Tally) {
        let target = self.cfg.target;
        let mut held = Held::new(&self.cancel, self.cfg.timeout);
        let mut last: Vec<Option<u64>> = vec![None; senders];
        let mut timeline: Option<Timeline> = None;
        let mut hist = (senders > 0).then(Box::<Histogram>::default);
        // frames ready are read before anything else (the senders stop before the run is
        // cancelled, so cancellation is seen soon)
        while let Some(text) = held.next_text(&mut conn, t).await {
            let mut pong = false;
            match target.classify(text.as_str()) {
                Incoming::Relay(body) => {
                    let now_ns = clock::now_ns();
                    if timeline.is_none() {
                        timeline = *self.timeline.borrow();
                    }
                    wire::for_each_msg(body, |m| {
                        let Some(slot) =
                            usize::try_from(m.sender).ok().and_then(|s| last.get_mut(s))
                        else {
                            t.foreign += 1;
                            return;
                        };
                        if slot.is_some_and(|l| m.seq <= l) {
                            t.duplicates += 1;
                            return;
                        }
                        *slot = Some(m.seq);
                        t.received += 1;
                        if let Some(tl) = &timeline {
                            if (tl.warm_end_ns..tl.end_ns).contains(&now_ns) {
                                t.window += 1;
                            }
                            if let Some(h) = hist.as_mut() {
                                if (tl.warm_end_ns..tl.end_ns).contains(&m.sent_ns) {
                                    h.record(now_ns.saturating_sub(m.sent_ns));
                                }
                            }
                        }
                    });
                    progress.store(t.received, Ordering::Relaxed);
                }
                Incoming::Resync => t.resyncs += 1,
                Incoming::Ping => pong = true,
                Incoming::Ended => t.channel_errors += 1,
                Incoming::Reply {
                    ok: false, text, ..
                } => {
                    t.error_replies += 1;
                    t.error(|| reason_of(text));
                }
                Incoming::Reply { .. } | Incoming::Other => {}
            }
            if let (true, Some(p)) = (pong, target.pong()) {
                if !send_within(&mut conn.ws, p.to_owned(), self.cfg.timeout).await {
                    t.send_errors += 1;
                }
            }
        }
        if let Some(h) = hist {
            t.hist = Some(h);
        }
    }
}

/// A socket that sends heartbeats while it is held.
pub(crate) trait Beating {
    /// Its WebSocket.
    fn ws(&mut self) -> &mut Ws;
    /// Its next heartbeat frame, if its protocol has them.
    fn heartbeat(&mut self) -> Option<String>;
}

impl Beating for Conn {
    fn ws(&mut self) -> &mut Ws {
        &mut self.ws
    }
    fn heartbeat(&mut self) -> Option<String> {
        self.proto.heartbeat()
    }
}

impl Beating for crate::live::ViewConn {
    fn ws(&mut self) -> &mut Ws {
        &mut self.ws
    }
    fn heartbeat(&mut self) -> Option<String> {
        Some(crate::live::ViewConn::heartbeat(self))
    }
}

/// A joined socket held until the run is cancelled, read one text frame at a time, with
/// its heartbeats sent when they are due.
pub(super) struct Held<'a> {
    cancelled: std::pin::Pin<Box<tokio_util::sync::WaitForCancellationFuture<'a>>>,
    heartbeat: tokio::time::Interval,
    timeout: Duration,
}

impl<'a> Held<'a> {
    pub(super) fn new(cancel: &'a CancellationToken, timeout: Duration) -> Held<'a> {
        Held {
            cancelled: Box::pin(cancel.cancelled()),
            heartbeat: heartbeat_interval(),
            timeout,
        }
    }

    /// The next text frame of `conn` (frames ready come before anything else); `None`
    /// once the run is cancelled or the socket ended (counted as a disconnect).
    pub(super) async fn next_text(
        &mut self,
        conn: &mut impl Beating,
        t: &mut Tally,
    ) -> Option<Utf8Bytes> {
        loop {
            let msg = tokio::select! {
                biased;
                msg = conn.ws().next() => msg,
                () = &mut self.cancelled => return None,
                _ = self.heartbeat.tick() => {
                    if let Some(hb) = conn.heartbeat() {
                        if !send_within(conn.ws(), hb, self.timeout).await {
                            t.send_errors += 1;
                        }
                    }
                    continue;
                }
            };
            match msg {
                Some(Ok(Message::Text(text))) => return Some(text),
                Some(Ok(Message::Close(_)) | Err(_)) | None => {
                    t.disconnects += 1;
                    return None;
                }
                Some(Ok(_)) => {}
            }
        }
    }
}

fn heartbeat_interval() -> tokio::time::Interval {
    let mut i = tokio::time::interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    i
}

/// The reason of an error reply, for `first_error`.
fn reason_of(text: &str) -> String {
    let reason = wire::string_member(text, "reason").unwrap_or(text);
    format!(
        "error reply: {}",
        reason.chars().take(200).collect::<String>()
    )
}

/// Sum of a set of progress counters.
fn total(counters: &[Arc<AtomicU64>]) -> u64 {
    counters.iter().map(|c| c.load(Ordering::Relaxed)).sum()
}

/// A fresh progress counter per socket.
fn counters(n: usize) -> Vec<Arc<AtomicU64>> {
    (0..n).map(|_| Arc::new(AtomicU64::new(0))).collect()
}
