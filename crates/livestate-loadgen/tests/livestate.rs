//! Every scenario, briefly, against livestate served in this process.

mod common;

use common::{fanout_complete, n, no_trouble, run, short};
use livestate_loadgen::{Scenario, Target};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_one_shared_topic_and_to_own_topics() {
    let server = common::livestate().await;
    for shared in [true, false] {
        let mut cfg = short(
            Scenario::Connect,
            Target::Livestate,
            server.addr.to_string(),
        );
        cfg.clients = 20;
        cfg.shared = shared;
        cfg.server_pid = Some(std::process::id());
        let r = run(&cfg).await;
        no_trouble(&r);
        assert_eq!(n(&r, "joined"), 20);
        assert!(r.f64("join_p99_us").is_some());
        assert!(n(&r, "rss_after_kib") > 0);
        assert!(r.get("rss_per_conn_bytes").is_some_and(|v| !v.is_null()));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_answered() {
    let server = common::livestate().await;
    let cfg = short(
        Scenario::Events,
        Target::Livestate,
        format!("ws://{}", server.addr),
    );
    let r = run(&cfg).await;
    no_trouble(&r);
    assert_eq!(n(&r, "joined"), 5);
    assert!(n(&r, "events") > 0);
    assert_eq!(n(&r, "timeouts"), 0);
    assert!(r.f64("rtt_p50_us").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_reaches_every_receiver() {
    let server = common::livestate().await;
    let cfg = short(Scenario::Fanout, Target::Livestate, server.url());
    let r = run(&cfg).await;
    fanout_complete(&r, 5);
    assert_eq!(n(&r, "resyncs"), 0);
    assert_eq!(n(&r, "sent"), n(&r, "target_sent"));
}
