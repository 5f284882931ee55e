//! The live-view scenarios, against `livestate-view-bench-server` (see
//! [`crate::viewbench`]), with the LiveView client of [`crate::live`]:
//!
//! - `view-bytes`: the bytes of one update on the wire against the whole page: GET
//!   `/rows` (a keyed list of 100 rows), join it, click `bump` on row 37 a few times; the
//!   reply's frame, its payload and the diff in it, against the page's HTML. The same for
//!   `/thermostat` (`inc`).
//! - `view-connect`: `clients` thermostat views, each its own page (GET) and its own socket,
//!   joined and idle for `warmup`; the server's resident memory per view, and the socket
//!   buffer sizes the server runs with.
//! - `view-events`: `clients` thermostat views and `clients` sockets on a phx-live-state
//!   channel with the same counter (`counter:*`), side by side on the same server, each
//!   kind sending `rate` events/s in all (each socket one at a time, on a fixed schedule):
//!   the round trip of a click to its reply with the diff, against `lvs_evt:inc` to its
//!   `state:patch`.

use super::{Control, Ready, Tally, head, nonce, reason_of};
use crate::config::Config;
use crate::hist::Histogram;
use crate::live::{self, ChannelConn, Page, Server, ViewConn};
use crate::probe::{self, CpuMark};
use crate::report::{Report, round};
use crate::target::{SetupError, send_within};
use crate::viewbench::{BUMPED_ROW, ROWS};
use crate::wire;
use futures_util::StreamExt;
use serde_json::Value;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// The thermostat view's path.
const THERMOSTAT: &str = "/thermostat";
/// The rows view's path.
const ROWS_PATH: &str = "/rows";
/// Updates measured by `view-bytes`, per view.
const BYTES_SAMPLES: usize = 20;
/// Open files a process needs beyond its sockets (listener, runtime, stdio, files read).
const FD_MARGIN: usize = 64;

// ---------------------------------------------------------------- view-bytes

/// The result line's keys of one view's [`Updates`] (`rows_...`, `thermostat_...`).
struct UpdateKeys {
    joined: &'static str,
    html_bytes: &'static str,
    join_bytes: &'static str,
    updates: &'static str,
    frame_bytes: &'static str,
    ws_bytes: &'static str,
    payload_bytes: &'static str,
    diff_bytes: &'static str,
    diff: &'static str,
    html_per_payload: &'static str,
}

macro_rules! update_keys {
    ($prefix:literal) => {
        UpdateKeys {
            joined: concat!($prefix, "_joined"),
            html_bytes: concat!($prefix, "_html_bytes"),
            join_bytes: concat!($prefix, "_join_bytes"),
            updates: concat!($prefix, "_updates"),
            frame_bytes: concat!($prefix, "_update_frame_bytes"),
            ws_bytes: concat!($prefix, "_update_ws_bytes"),
            payload_bytes: concat!($prefix, "_update_payload_bytes"),
            diff_bytes: concat!($prefix, "_update_diff_bytes"),
            diff: concat!($prefix, "_update_diff"),
            html_per_payload: concat!($prefix, "_html_per_update_payload"),
        }
    };
}

pub(super) async fn bytes(cfg: &Config) -> Report {
    let server = Server::parse(&cfg.url);
    let mut r = head(cfg);
    r.set("rows", ROWS as u64);
    r.set("row", BUMPED_ROW as u64);
    r.set("samples", BYTES_SAMPLES as u64);
    let deadline = Instant::now() + cfg.setup_limit;
    let rows = update_bytes(
        &server,
        ROWS_PATH,
        "bump",
        &format!(r#"{{"id":"{BUMPED_ROW}"}}"#),
        cfg,
        deadline,
    )
    .await;
    let thermostat = update_bytes(&server, THERMOSTAT, "inc", "{}", cfg, deadline).await;
    let mut first_error = None;
    for (name, keys, measured) in [
        ("rows", update_keys!("rows"), rows),
        ("thermostat", update_keys!("thermostat"), thermostat),
    ] {
        match measured {
            Ok(m) => m.report(&keys, &mut r),
            Err(e) => {
                Updates::default().report(&keys, &mut r);
                first_error.get_or_insert(format!("{name}: {e}"));
            }
        }
    }
    let joined = r.u64("rows_joined").unwrap_or(0) + r.u64("thermostat_joined").unwrap_or(0);
    r.set("joined", joined);
    r.set("first_error", first_error);
    r
}

/// What `view-bytes` measured of one view.
#[derive(Debug, Default)]
struct Updates {
    joined: bool,
    html_bytes: Option<usize>,
    join_bytes: Option<usize>,
    /// The largest of each over the samples.
    frame_bytes: usize,
    payload_bytes: usize,
    diff_bytes: usize,
    /// The last diff, as sent.
    diff: Option<String>,
    samples: usize,
}

impl Updates {
    fn report(&self, keys: &UpdateKeys, r: &mut Report) {
        let some = |n: usize| (self.samples > 0).then_some(n as u64);
        r.set(keys.joined, u64::from(self.joined));
        r.set(keys.html_bytes, self.html_bytes.map(|b| b as u64));
        r.set(keys.join_bytes, self.join_bytes.map(|b| b as u64));
        r.set(keys.updates, self.samples as u64);
        r.set(keys.frame_bytes, some(self.frame_bytes));
        r.set(keys.ws_bytes, some(live::ws_frame_bytes(self.frame_bytes)));
        r.set(keys.payload_bytes, some(self.payload_bytes));
        r.set(keys.diff_bytes, some(self.diff_bytes));
        r.set(keys.diff, self.diff.clone());
        let ratio = match self.html_bytes {
            Some(html) if self.samples > 0 && self.payload_bytes > 0 => {
                round(html as f64 / self.payload_bytes as f64, 1)
            }
            _ => Value::Null,
        };
        r.set(keys.html_per_payload, ratio);
    }
}

/// GET `path`, join it, click `event` with `value` [`BYTES_SAMPLES`] times; the sizes.
async fn update_bytes(
    server: &Server,
    path: &str,
    event: &str,
    value: &str,
    cfg: &Config,
    deadline: Instant,
) -> Result<Updates, String> {
    let limit = |from: Instant| (from + cfg.timeout).min(deadline);
    let mut m = Updates::default();
    let page = live::page(server, path, limit(Instant::now()))
        .await
        .map_err(|e| setup_text(&e))?;
    m.html_bytes = Some(page.html_bytes);
    let (mut conn, joined) = ViewConn::open(server, &page, limit(Instant::now()))
        .await
        .map_err(|e| setup_text(&e))?;
    m.joined = true;
    m.join_bytes = Some(joined.reply_bytes);
    for _ in 0..BYTES_SAMPLES {
        let (frame, r) = conn.click(event, value);
        let by = limit(Instant::now());
        if !send_within(
            &mut conn.ws,
            frame,
            by.saturating_duration_since(Instant::now()),
        )
        .await
        {
            return Err("sending an event failed".to_owned());
        }
        loop {
            let text = live::read_text(&mut conn.ws, by)
                .await
                .map_err(|e| setup_text(&e))?;
            let Some(h) = wire::head(&text) else { continue };
            if h.event != "phx_reply" || h.r#ref != Some(r.as_str()) {
                continue;
            }
            let diff = live::reply_diff(h.payload)
                .ok_or_else(|| format!("not a reply with a diff: {}", h.payload))?;
            m.frame_bytes = m.frame_bytes.max(text.len());
            m.payload_bytes = m.payload_bytes.max(h.payload.len());
            m.diff_bytes = m.diff_bytes.max(diff.len());
            m.diff = Some(diff);
            m.samples += 1;
            break;
        }
    }
    Ok(m)
}

fn setup_text(e: &SetupError) -> String {
    match e {
        SetupError::Connect(why) => format!("connect: {why}"),
        SetupError::Closed => "closed by the server".to_owned(),
        SetupError::Timeout => "no answer in time".to_owned(),
        SetupError::Refused(why) => format!("refused: {why}"),
    }
}

// ---------------------------------------------------------------- view-connect

pub(super) async fn connect(cfg: &Config) -> Report {
    let server = Server::parse(&cfg.url);
    let mut r = head(cfg);
    r.set("clients", cfg.clients as u64);
    r.set("view", THERMOSTAT);
    server_buffers(&server, cfg, &mut r).await;
    if let Some(refusal) = open_files(cfg, cfg.clients, &mut r) {
        r.set("joined", 0);
        r.set("error", refusal);
        return r;
    }
    let rss_before = cfg.server_pid.and_then(probe::rss_kib);
    let mut ctl = Control::new(cfg, cfg.url.clone());
    let mut set = JoinSet::new();
    for _ in 0..cfg.clients {
        let sh = ctl.shared.clone();
        let server = server.clone();
        set.spawn(async move {
            let mut t = Tally::default();
            if let Some((conn, _)) = open_view(&sh, &server, THERMOSTAT, &mut t).await {
                hold(&sh, conn, &mut t).await;
            }
            ((), t)
        });
    }
    let ready = ctl.await_ready(cfg.clients).await;
    let mut joins = Histogram::new();
    for r in ready.iter().filter(|r| r.ok) {
        joins.record(r.join_ns);
    }
    let joined = joins.count();
    if joined > 0 {
        tokio::time::sleep(cfg.warmup).await;
    }
    let rss_after = cfg.server_pid.and_then(probe::rss_kib);
    let mut all = Tally::default();
    for (_, t) in ctl.finish(set, Instant::now()).await {
        all.merge(t);
    }
    all.hist = Some(Box::new(joins));

    all.report_setup(&mut r);
    all.report_percentiles(&mut r, ["join_p50_us", "join_p99_us", "join_max_us"]);
    r.set("rss_before_kib", rss_before);
    r.set("rss_after_kib", rss_after);
    let per_view = match (rss_before, rss_after) {
        (Some(b), Some(a)) if joined > 0 => {
            round((a as f64 - b as f64) * 1024.0 / joined as f64, 0)
        }
        _ => Value::Null,
    };
    r.set("rss_per_view_bytes", per_view);
    all.report_trouble(&mut r);
    r.set("first_error", all.first_error);
    r
}

/// The server's socket buffer sizes (`/bench/config`), into the report.
async fn server_buffers(server: &Server, cfg: &Config, r: &mut Report) {
    let described = live::get(server, "/bench/config", Instant::now() + cfg.timeout)
        .await
        .ok()
        .filter(|resp| resp.status == 200)
        .and_then(|resp| serde_json::from_str::<Value>(&resp.body).ok());
    let field = |k: &str| {
        described
            .as_ref()
            .and_then(|v| v.get(k))
            .and_then(Value::as_u64)
    };
    r.set("server_read_buffer_bytes", field("read_buffer_size"));
    r.set("server_write_buffer_bytes", field("write_buffer_size"));
    r.set(
        "server_max_write_buffer_bytes",
        field("max_write_buffer_size"),
    );
}

/// The open-files limits of this process and the server's, into the report; a refusal
/// when `sockets` (plus the pages being fetched) do not fit one of them.
pub(super) fn open_files(cfg: &Config, sockets: usize, r: &mut Report) -> Option<String> {
    let need = sockets + cfg.concurrency + FD_MARGIN;
    let own = nofile("/proc/self/limits");
    let server = cfg
        .server_pid
        .and_then(|pid| nofile(&format!("/proc/{pid}/limits")));
    r.set("open_files_needed", need as u64);
    r.set("loadgen_open_files_limit", own);
    r.set("server_open_files_limit", server);
    let short = [("the load generator", own), ("the server", server)]
        .into_iter()
        .find(|(_, limit)| limit.is_some_and(|l| l < need as u64))?;
    Some(format!(
        "{sockets} sockets need {need} open files; {} may open {} (raise ulimit -n)",
        short.0,
        short.1.unwrap_or(0)
    ))
}

/// The soft `Max open files` of a `/proc/.../limits` file.
fn nofile(path: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    parse_nofile(&text)
}

fn parse_nofile(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let soft = line["Max open files".len()..].split_whitespace().next()?;
    if soft == "unlimited" {
        return Some(u64::MAX);
    }
    soft.parse().ok()
}

/// GET a view's page, open its socket and join it, within the timeout and the setup
/// deadline; report readiness either way (the join time is GET + connect + join reply).
pub(super) async fn open_view(
    sh: &super::Shared,
    server: &Server,
    path: &str,
    t: &mut Tally,
) -> Option<(ViewConn, Page)> {
    let result = async {
        let _permit = tokio::time::timeout_at(sh.setup_deadline, sh.permits.acquire())
            .await
            .map_err(|_| SetupError::Timeout)?
            .map_err(|_| SetupError::Timeout)?;
        let t0 = Instant::now();
        let deadline = (t0 + sh.cfg.timeout).min(sh.setup_deadline);
        let page = live::page(server, path, deadline).await?;
        let (conn, _) = ViewConn::open(server, &page, deadline).await?;
        let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
        Ok::<_, SetupError>((conn, page, ns))
    }
    .await;
    setup_done(sh, result.as_ref().map(|(_, _, ns)| *ns), false, t)?;
    result.ok().map(|(conn, page, _)| (conn, page))
}

/// Open a channel socket and join `topic`, as [`open_view`] does.
async fn open_channel(
    sh: &super::Shared,
    server: &Server,
    topic: &str,
    t: &mut Tally,
) -> Option<ChannelConn> {
    let result = async {
        let _permit = tokio::time::timeout_at(sh.setup_deadline, sh.permits.acquire())
            .await
            .map_err(|_| SetupError::Timeout)?
            .map_err(|_| SetupError::Timeout)?;
        let t0 = Instant::now();
        let deadline = (t0 + sh.cfg.timeout).min(sh.setup_deadline);
        let conn = ChannelConn::open(server, topic, deadline).await?;
        let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
        Ok::<_, SetupError>((conn, ns))
    }
    .await;
    setup_done(sh, result.as_ref().map(|(_, ns)| *ns), true, t)?;
    result.ok().map(|(conn, _)| conn)
}

/// Report a socket's readiness and count its setup; `Some(())` when it is joined.
fn setup_done(
    sh: &super::Shared,
    result: Result<u64, &SetupError>,
    sender: bool,
    t: &mut Tally,
) -> Option<()> {
    let _ = sh.ready.send(Ready {
        ok: result.is_ok(),
        sender,
        join_ns: *result.as_ref().unwrap_or(&0),
    });
    match result {
        Ok(_) => {
            t.joined += 1;
            Some(())
        }
        Err(e) => {
            t.setup_failed(e.clone());
            None
        }
    }
}

/// Hold a joined view idle until cancelled: heartbeats, and count what ends it.
async fn hold(sh: &super::Shared, mut conn: ViewConn, t: &mut Tally) {
    let mut held = super::Held::new(&sh.cancel, sh.cfg.timeout);
    while let Some(text) = held.next_text(&mut conn, t).await {
        if let Some(h) = wire::head(text.as_str()) {
            if matches!(h.event, "phx_error" | "phx_close") {
                t.channel_errors += 1;
            }
        }
    }
}

// ---------------------------------------------------------------- view-events

/// Which socket of `view-events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    View,
    Channel,
}

/// A joined socket of either kind.
enum EventConn {
    View(ViewConn),
    Channel(ChannelConn),
}

/// The result line's keys of one kind's events (`view_...`, `channel_...`).
macro_rules! event_keys {
    ($prefix:literal) => {
        [
            concat!($prefix, "_joined"),
            concat!($prefix, "_sent"),
            concat!($prefix, "_events"),
            concat!($prefix, "_events_per_s"),
            concat!($prefix, "_rtt_p50_us"),
            concat!($prefix, "_rtt_p99_us"),
            concat!($prefix, "_rtt_max_us"),
            concat!($prefix, "_late"),
            concat!($prefix, "_timeouts"),
        ]
    };
}

pub(super) async fn events(cfg: &Config) -> Report {
    let server = Server::parse(&cfg.url);
    let n = cfg.clients;
    let mut r = head(cfg);
    r.set("clients", n as u64);
    r.set("rate", cfg.rate);
    r.set("duration_s", cfg.duration.as_secs_f64());
    r.set("warmup_s", cfg.warmup.as_secs_f64());
    if let Some(refusal) = open_files(cfg, 2 * n, &mut r) {
        r.set("error", refusal);
        return r;
    }
    let prefix = cfg
        .topic
        .clone()
        .unwrap_or_else(|| format!("counter:events-{}", nonce()));
    let mut ctl = Control::new(cfg, cfg.url.clone());
    let mut set = JoinSet::new();
    for i in 0..n {
        for kind in [Kind::View, Kind::Channel] {
            let sh = ctl.shared.clone();
            let server = server.clone();
            let topic = format!("{prefix}-{i}");
            set.spawn(async move {
                let mut t = Tally::default();
                let conn = match kind {
                    Kind::View => open_view(&sh, &server, THERMOSTAT, &mut t)
                        .await
                        .map(|(c, _)| EventConn::View(c)),
                    Kind::Channel => open_channel(&sh, &server, &topic, &mut t)
                        .await
                        .map(EventConn::Channel),
                };
                let mut late = 0;
                if let Some(conn) = conn {
                    if let Some(tl) = sh.timeline().await {
                        late = paced(conn, i, &sh, tl, &mut t).await;
                    }
                }
                ((kind, late), t)
            });
        }
    }
    let ready = ctl.await_ready(2 * n).await;
    let mut cpu = None;
    if ready.iter().any(|r| r.ok) {
        let tl = ctl.start();
        tokio::time::sleep_until(tl.warm_end).await;
        let server_cpu = CpuMark::of(cfg.server_pid);
        let own = CpuMark::own();
        tokio::time::sleep_until(tl.end).await;
        cpu = Some((server_cpu, own, CpuMark::of(cfg.server_pid), CpuMark::own()));
    }
    let rss = cfg.server_pid.and_then(probe::rss_kib);
    let grace = Instant::now() + cfg.drain + Duration::from_millis(500);
    let (mut views, mut channels, mut all) = (Tally::default(), Tally::default(), Tally::default());
    let (mut view_late, mut channel_late) = (0u64, 0u64);
    for ((kind, late), t) in ctl.finish(set, grace).await {
        match kind {
            Kind::View => {
                view_late += late;
                views.merge(t);
            }
            Kind::Channel => {
                channel_late += late;
                channels.merge(t);
            }
        }
    }

    let secs = cfg.duration.as_secs_f64().max(1e-9);
    for (keys, t, late) in [
        (event_keys!("view"), &views, view_late),
        (event_keys!("channel"), &channels, channel_late),
    ] {
        r.set(keys[0], t.joined);
        r.set(keys[1], t.sent);
        r.set(keys[2], t.window);
        r.set(keys[3], round(t.window as f64 / secs, 1));
        t.report_percentiles(&mut r, [keys[4], keys[5], keys[6]]);
        r.set(keys[7], late);
        r.set(keys[8], t.timeouts);
    }
    for (view, channel, key) in [
        ("view_rtt_p50_us", "channel_rtt_p50_us", "rtt_p50_ratio"),
        ("view_rtt_p99_us", "channel_rtt_p99_us", "rtt_p99_ratio"),
    ] {
        let ratio = match (r.f64(view), r.f64(channel)) {
            (Some(v), Some(c)) if c > 0.0 => round(v / c, 2),
            _ => Value::Null,
        };
        r.set(key, ratio);
    }
    let first_error = views.first_error.take().or(channels.first_error.take());
    all.merge(views);
    all.merge(channels);
    all.first_error = first_error;
    all.report_setup(&mut r);
    r.set("timeouts", all.timeouts);
    all.report_trouble(&mut r);
    let (server_cpu, loadgen_cpu) = match cpu {
        Some((s0, l0, s1, l1)) => (s0.cores_until(&s1), l0.cores_until(&l1)),
        None => (None, None),
    };
    r.set("server_cpu", server_cpu.map(|c| round(c, 2)));
    r.set("loadgen_cpu", loadgen_cpu.map(|c| round(c, 2)));
    r.set("server_rss_kib", rss);
    r.set("first_error", all.first_error);
    r
}

/// Events on a fixed schedule (this socket's share of the rate, offset by its index)
/// until the window ends, one at a time: a view's click until its reply, a channel's
/// `lvs_evt:inc` until its `state:patch` (and its reply). Times those sent inside the
/// window; returns how many went out a whole period or more after their time (the answer
/// before was that late).
async fn paced(
    mut conn: EventConn,
    index: usize,
    sh: &super::Shared,
    tl: super::Timeline,
    t: &mut Tally,
) -> u64 {
    let cfg = &sh.cfg;
    let n = cfg.clients.max(1);
    let period = Duration::from_secs_f64(n as f64 / cfg.rate.max(1e-3));
    let mut next = tl.start + period.mul_f64(index as f64 / n as f64);
    let mut late = 0;
    while next < tl.end {
        tokio::select! {
            biased;
            () = sh.cancel.cancelled() => break,
            () = tokio::time::sleep_until(next) => {}
        }
        next += period;
        let t0 = Instant::now();
        if t0 >= next {
            late += 1;
        }
        let channel = matches!(conn, EventConn::Channel(_));
        let (frame, r, ws) = match &mut conn {
            EventConn::View(c) => {
                let (frame, r) = c.click("inc", "{}");
                (frame, r, &mut c.ws)
            }
            EventConn::Channel(c) => {
                let (frame, r) = c.event("inc");
                (frame, r, &mut c.ws)
            }
        };
        let limit = (t0 + cfg.timeout).min(tl.end + cfg.drain);
        if !send_within(ws, frame, limit.saturating_duration_since(t0)).await {
            t.send_errors += 1;
            break;
        }
        t.sent += 1;
        // the channel's answer is its patch; its reply comes too and is waited for
        let (mut answered, mut replied) = (false, false);
        let mut elapsed = None;
        while !(answered && replied) {
            let msg = match tokio::time::timeout_at(limit, ws.next()).await {
                Err(_) => {
                    t.timeouts += 1;
                    break;
                }
                Ok(msg) => msg,
            };
            let text = match msg {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(_)) | Err(_)) | None => {
                    t.disconnects += 1;
                    return late;
                }
                Some(Ok(_)) => continue,
            };
            let Some(h) = wire::head(text.as_str()) else {
                continue;
            };
            match h.event {
                "phx_reply" if h.r#ref == Some(r.as_str()) => {
                    replied = true;
                    if !h.payload.contains(r#""status":"ok""#) {
                        t.error_replies += 1;
                        t.error(|| reason_of(text.as_str()));
                        answered = true;
                    } else if !channel {
                        answered = true;
                        elapsed = Some(t0.elapsed());
                    }
                }
                "state:patch" if channel && !answered => {
                    answered = true;
                    elapsed = Some(t0.elapsed());
                }
                "phx_error" | "phx_close" => t.channel_errors += 1,
                _ => {}
            }
        }
        if let Some(elapsed) = elapsed {
            t.received += 1;
            if t0 >= tl.warm_end && t0 < tl.end {
                t.window += 1;
                t.hist()
                    .record(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
            }
        }
    }
    late
}

#[cfg(test)]
#[path = "view_tests.rs"]
pub(super) mod tests;
