//! `connect`: open `clients` sockets, each joined to one topic (`shared`) or its own; hold
//! them idle for `warmup`; report join time (connect + join reply) and the server's
//! resident memory per joined socket.

use super::{Control, Tally, head, nonce};
use crate::config::Config;
use crate::hist::Histogram;
use crate::probe;
use crate::report::{Report, round};
use std::sync::atomic::AtomicU64;
use tokio::task::JoinSet;

pub(super) async fn run(cfg: &Config) -> Report {
    let target = cfg.target;
    let nonce = nonce();
    let shared_topic = cfg
        .topic
        .clone()
        .unwrap_or_else(|| target.topic("connect", &nonce));
    let rss_before = cfg.server_pid.and_then(probe::rss_kib);
    let mut ctl = Control::new(cfg, target.url(&cfg.url, false));
    let mut set = JoinSet::new();
    for i in 0..cfg.clients {
        let sh = ctl.shared.clone();
        let topic = if cfg.shared {
            shared_topic.clone()
        } else {
            format!("{shared_topic}-{i}")
        };
        set.spawn(async move {
            let mut t = Tally::default();
            if let Some(conn) = sh.open_joined(&topic, false, &mut t).await {
                sh.receive(conn, 0, &AtomicU64::new(0), &mut t).await;
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
    for (_, t) in ctl.finish(set, tokio::time::Instant::now()).await {
        all.merge(t);
    }
    all.hist = Some(Box::new(joins));

    let mut r = head(cfg);
    r.set("clients", cfg.clients as u64);
    r.set("shared", cfg.shared);
    all.report_setup(&mut r);
    all.report_percentiles(&mut r, ["join_p50_us", "join_p99_us", "join_max_us"]);
    r.set("rss_before_kib", rss_before);
    r.set("rss_after_kib", rss_after);
    let per_conn = match (rss_before, rss_after) {
        (Some(b), Some(a)) if joined > 0 => {
            round((a as f64 - b as f64) * 1024.0 / joined as f64, 0)
        }
        _ => serde_json::Value::Null,
    };
    r.set("rss_per_conn_bytes", per_conn);
    all.report_trouble(&mut r);
    r.set("first_error", all.first_error);
    r
}
