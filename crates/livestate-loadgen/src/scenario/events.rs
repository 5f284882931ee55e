//! `events`: `clients` sockets, each on its own topic with one request in flight (send,
//! wait for its answer, repeat) for `warmup + duration`; report requests answered per
//! second in the window and their round trip.

use super::{Control, Tally, head, nonce, reason_of};
use crate::clock;
use crate::config::Config;
use crate::probe::{self, CpuMark};
use crate::report::{Report, round};
use crate::target::{Conn, Incoming, send_within};
use crate::wire::Msg;
use futures_util::StreamExt;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

pub(super) async fn run(cfg: &Config) -> Report {
    let target = cfg.target;
    let nonce = nonce();
    let prefix = cfg
        .topic
        .clone()
        .unwrap_or_else(|| target.topic("events", &nonce));
    let mut ctl = Control::new(cfg, target.url(&cfg.url, true));
    let mut set = JoinSet::new();
    for i in 0..cfg.clients {
        let sh = ctl.shared.clone();
        let topic = format!("{prefix}-{i}");
        set.spawn(async move {
            let mut t = Tally::default();
            if let Some(conn) = sh.open_joined(&topic, false, &mut t).await {
                if let Some(tl) = sh.timeline().await {
                    requests(conn, i as u64, tl, &sh.cfg, &mut t).await;
                }
            }
            ((), t)
        });
    }
    let ready = ctl.await_ready(cfg.clients).await;
    let mut cpu = None;
    if ready.iter().any(|r| r.ok) {
        let tl = ctl.start();
        tokio::time::sleep_until(tl.warm_end).await;
        let server = CpuMark::of(cfg.server_pid);
        let own = CpuMark::own();
        tokio::time::sleep_until(tl.end).await;
        cpu = Some((server, own, CpuMark::of(cfg.server_pid), CpuMark::own()));
    }
    let rss = cfg.server_pid.and_then(probe::rss_kib);
    // the last requests come back by themselves (each is bounded by the drain)
    let grace = Instant::now() + cfg.drain + Duration::from_millis(500);
    let mut all = Tally::default();
    for (_, t) in ctl.finish(set, grace).await {
        all.merge(t);
    }

    let mut r = head(cfg);
    r.set("clients", cfg.clients as u64);
    r.set("duration_s", cfg.duration.as_secs_f64());
    r.set("warmup_s", cfg.warmup.as_secs_f64());
    all.report_setup(&mut r);
    r.set("events", all.window);
    r.set(
        "events_per_s",
        round(all.window as f64 / cfg.duration.as_secs_f64().max(1e-9), 1),
    );
    all.report_percentiles(&mut r, ["rtt_p50_us", "rtt_p99_us", "rtt_max_us"]);
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

/// Requests one after another until the window ends; count and time the answers of those
/// sent inside the window.
async fn requests(mut conn: Conn, index: u64, tl: super::Timeline, cfg: &Config, t: &mut Tally) {
    let target = cfg.target;
    tokio::time::sleep_until(tl.start).await;
    let mut seq = 0;
    'requests: while Instant::now() < tl.end {
        let (frame, r) = conn.proto.request(Msg {
            sender: index,
            seq,
            sent_ns: clock::now_ns(),
        });
        seq += 1;
        let t0 = Instant::now();
        let bound = cfg
            .timeout
            .min((tl.end + cfg.drain).saturating_duration_since(t0));
        if !send_within(&mut conn.ws, frame, bound).await {
            t.send_errors += 1;
            break;
        }
        let limit = (t0 + cfg.timeout).min(tl.end + cfg.drain);
        loop {
            let msg = match tokio::time::timeout_at(limit, conn.ws.next()).await {
                Err(_) => {
                    t.timeouts += 1;
                    continue 'requests;
                }
                Ok(msg) => msg,
            };
            let text = match msg {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(_)) | Err(_)) | None => {
                    t.disconnects += 1;
                    break 'requests;
                }
                Some(Ok(_)) => continue,
            };
            let mut pong = false;
            match target.classify(text.as_str()) {
                Incoming::Reply { r#ref, ok, text } if r#ref == r => {
                    if !ok {
                        t.error_replies += 1;
                        t.error(|| reason_of(text));
                    } else if t0 >= tl.warm_end && t0 < tl.end {
                        t.window += 1;
                        let ns = u64::try_from(t0.elapsed().as_nanos()).unwrap_or(u64::MAX);
                        t.hist().record(ns);
                    }
                    t.received += 1;
                    break;
                }
                Incoming::Ping => pong = true,
                Incoming::Ended => t.channel_errors += 1,
                _ => {}
            }
            if let (true, Some(p)) = (pong, target.pong()) {
                if !send_within(&mut conn.ws, p.to_owned(), cfg.timeout).await {
                    t.send_errors += 1;
                }
            }
        }
    }
}
