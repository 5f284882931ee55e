//! `fanout`: `clients` receivers and `senders` senders (separate sockets) on one topic.
//! The senders together send `rate` messages per second, evenly spread (sender `i` sends
//! at `start + (i + k·senders) / rate`), each stamped with its sender, sequence number and
//! send time. Receivers count every message they get, its latency (messages sent inside
//! the window), and deliveries inside the window. After the window the run waits up to
//! `drain` for what is still in flight; loss is `sent × receivers − received`.
//!
//! Senders join the topic too (livestate requires it to send; Socket.IO senders join the
//! room as well, and the bare broadcaster sends to every socket), so every server delivers
//! each message to `receivers + senders` sockets; only receivers count.

use super::{Control, Shared, Tally, counters, head, heartbeat_interval, nonce, reason_of, total};
use crate::clock;
use crate::config::Config;
use crate::probe::{self, CpuMark};
use crate::report::{Report, round};
use crate::target::{Conn, Incoming};
use crate::wire::Msg;
use futures_util::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// Which side a socket is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Receiver,
    Sender,
}

pub(super) async fn run(cfg: &Config) -> Report {
    let target = cfg.target;
    let nonce = nonce();
    let topic = cfg
        .topic
        .clone()
        .unwrap_or_else(|| target.topic("fanout", &nonce));
    let mut ctl = Control::new(cfg, target.url(&cfg.url, false));
    let received = counters(cfg.clients);
    let sent = counters(cfg.senders);
    let mut set = JoinSet::new();
    for progress in &received {
        let (sh, topic, progress) = (ctl.shared.clone(), topic.clone(), progress.clone());
        set.spawn(async move {
            let mut t = Tally::default();
            if let Some(conn) = sh.open_joined(&topic, false, &mut t).await {
                sh.receive(conn, sh.cfg.senders, &progress, &mut t).await;
            }
            (Role::Receiver, t)
        });
    }
    for (i, progress) in sent.iter().enumerate() {
        let (sh, topic, progress) = (ctl.shared.clone(), topic.clone(), progress.clone());
        set.spawn(async move {
            let mut t = Tally::default();
            if let Some(conn) = sh.open_joined(&topic, true, &mut t).await {
                send(conn, i as u64, &sh, &progress, &mut t).await;
            }
            (Role::Sender, t)
        });
    }
    let ready = ctl.await_ready(cfg.clients + cfg.senders).await;
    let receivers_joined = ready.iter().filter(|r| r.ok && !r.sender).count() as u64;
    let senders_joined = ready.iter().filter(|r| r.ok && r.sender).count() as u64;
    let mut cpu = None;
    let mut rss = None;
    if receivers_joined > 0 && senders_joined > 0 {
        let tl = ctl.start();
        tokio::time::sleep_until(tl.warm_end).await;
        let marks = (CpuMark::of(cfg.server_pid), CpuMark::own());
        tokio::time::sleep_until(tl.end).await;
        cpu = Some((
            marks.0.cores_until(&CpuMark::of(cfg.server_pid)),
            marks.1.cores_until(&CpuMark::own()),
        ));
        rss = cfg.server_pid.and_then(probe::rss_kib);
        // drain: until every receiver has every message sent, or the drain is over
        let drain_end = tl.end + cfg.drain;
        while Instant::now() < drain_end && total(&received) < total(&sent) * receivers_joined {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    let mut recv = Tally::default();
    let mut send_t = Tally::default();
    for (role, t) in ctl.finish(set, Instant::now()).await {
        match role {
            Role::Receiver => recv.merge(t),
            Role::Sender => send_t.merge(t),
        }
    }

    let mut r = head(cfg);
    r.set("receivers", cfg.clients as u64);
    r.set("senders", cfg.senders as u64);
    r.set("rate", cfg.rate);
    r.set("duration_s", cfg.duration.as_secs_f64());
    r.set("warmup_s", cfg.warmup.as_secs_f64());
    let counts = Tally::counts_of(&recv, &send_t);
    counts.report_setup(&mut r);
    r.set("receivers_joined", recv.joined);
    r.set("senders_joined", send_t.joined);
    let sent_total = send_t.sent;
    let expected = sent_total * recv.joined;
    r.set("sent", sent_total);
    r.set(
        "target_sent",
        if send_t.joined > 0 {
            (cfg.rate * (cfg.warmup + cfg.duration).as_secs_f64()).round() as u64
        } else {
            0
        },
    );
    r.set("expected", expected);
    r.set("received", recv.received);
    let lost = expected.saturating_sub(recv.received);
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
    r.set("resyncs", recv.resyncs);
    r.set("duplicates", recv.duplicates);
    r.set("foreign", recv.foreign);
    r.set("deliveries", recv.window);
    r.set(
        "deliveries_per_s",
        round(recv.window as f64 / cfg.duration.as_secs_f64().max(1e-9), 0),
    );
    recv.report_percentiles(
        &mut r,
        ["latency_p50_us", "latency_p99_us", "latency_max_us"],
    );
    r.set(
        "latency_samples",
        recv.hist.as_ref().map_or(0, |h| h.count()),
    );
    counts.report_trouble(&mut r);
    let (server_cpu, loadgen_cpu) = cpu.unwrap_or((None, None));
    r.set("server_cpu", server_cpu.map(|c| round(c, 2)));
    r.set("loadgen_cpu", loadgen_cpu.map(|c| round(c, 2)));
    r.set("server_rss_kib", rss);
    r.set("first_error", send_t.first_error.or(recv.first_error));
    r
}

/// A sender: a writer that paces messages and a reader that drains what the server sends
/// this socket (every message, and livestate's replies), so neither side ever waits on
/// the other.
async fn send(conn: Conn, index: u64, sh: &Shared, progress: &AtomicU64, t: &mut Tally) {
    let target = sh.cfg.target;
    let Conn { ws, mut proto } = conn;
    let (mut sink, mut stream) = ws.split();
    let pong = Notify::new();
    let mut reader_t = Tally::default();
    let reader = async {
        let cancelled = sh.cancel.cancelled();
        tokio::pin!(cancelled);
        loop {
            let msg = tokio::select! {
                biased;
                msg = stream.next() => msg,
                () = &mut cancelled => break,
            };
            match msg {
                Some(Ok(Message::Text(text))) => match target.classify(text.as_str()) {
                    Incoming::Ping => pong.notify_one(),
                    Incoming::Ended => reader_t.channel_errors += 1,
                    Incoming::Reply {
                        ok: false, text, ..
                    } => {
                        reader_t.error_replies += 1;
                        reader_t.error(|| reason_of(text));
                    }
                    _ => {}
                },
                Some(Ok(Message::Close(_)) | Err(_)) | None => {
                    reader_t.disconnects += 1;
                    break;
                }
                Some(Ok(_)) => {}
            }
        }
    };
    let writer = async {
        let Some(tl) = sh.timeline().await else {
            return;
        };
        let cancelled = sh.cancel.cancelled();
        tokio::pin!(cancelled);
        let mut heartbeat = heartbeat_interval();
        let rate = sh.cfg.rate.max(1e-9);
        let step = sh.cfg.senders as f64 / rate;
        let offset = index as f64 / rate;
        let mut seq: u64 = 0;
        let mut sending = true;
        loop {
            let due = tl.start + Duration::from_secs_f64(offset + seq as f64 * step);
            if sending && (due >= tl.end || sh.cfg.rate <= 0.0) {
                sending = false;
            }
            let due = if sending {
                due
            } else {
                tl.end + Duration::from_secs(3600)
            };
            let out = tokio::select! {
                biased;
                () = &mut cancelled => break,
                () = pong.notified() => target.pong().map(|p| (p.to_owned(), false)),
                _ = heartbeat.tick() => proto.heartbeat().map(|hb| (hb, false)),
                () = tokio::time::sleep_until(due) => {
                    let m = Msg { sender: index, seq, sent_ns: clock::now_ns() };
                    seq += 1;
                    Some((proto.publish(m), true))
                }
            };
            let Some((out, is_message)) = out else {
                continue;
            };
            let fed = tokio::select! {
                biased;
                () = &mut cancelled => break,
                r = sink.feed(Message::text(out)) => r.is_ok(),
            };
            if !fed {
                t.send_errors += 1;
                break;
            }
            if is_message {
                t.sent += 1;
                progress.store(t.sent, Ordering::Relaxed);
            }
            let flushed = tokio::select! {
                biased;
                () = &mut cancelled => break,
                r = sink.flush() => r.is_ok(),
            };
            if !flushed {
                t.send_errors += 1;
                break;
            }
        }
    };
    tokio::join!(reader, writer);
    t.merge(reader_t);
}
