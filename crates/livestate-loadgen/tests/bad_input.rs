//! The loadgen against servers that fail: nothing listening, a topic that is not routed,
//! a server that never answers, a server that stops mid-run. Each run ends (within its
//! bound) with the failures counted.

mod common;

use common::{n, run, short};
use livestate_loadgen::{Report, Scenario, Target};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_listening_counts_connection_failures() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    for target in [Target::Livestate, Target::Socketio, Target::Bare] {
        for scenario in [Scenario::Connect, Scenario::Events, Scenario::Fanout] {
            let cfg = short(scenario, target, format!("ws://{addr}"));
            let r = run(&cfg).await;
            let all = if scenario == Scenario::Fanout { 7 } else { 5 };
            assert_eq!(n(&r, "connect_failures"), all, "{}", r.to_line());
            assert_eq!(n(&r, "joined"), 0);
            assert!(
                r.f64("elapsed_s").unwrap() < 5.0,
                "not prompt: {}",
                r.to_line()
            );
            let first = r.get("first_error").and_then(|v| v.as_str()).unwrap_or("");
            assert!(first.starts_with("connect:"), "{first}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_that_is_not_routed_counts_join_errors() {
    let server = common::livestate().await;
    for scenario in [Scenario::Connect, Scenario::Events, Scenario::Fanout] {
        let mut cfg = short(scenario, Target::Livestate, server.url());
        cfg.topic = Some("nope:bench".into());
        let r = run(&cfg).await;
        let all = if scenario == Scenario::Fanout { 7 } else { 5 };
        assert_eq!(n(&r, "join_errors"), all, "{}", r.to_line());
        assert_eq!(n(&r, "joined"), 0);
        let first = r.get("first_error").and_then(|v| v.as_str()).unwrap_or("");
        assert!(first.contains("unmatched topic"), "{first}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_counts_timeouts() {
    // accepts TCP connections and never says a word
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    for scenario in [Scenario::Connect, Scenario::Fanout] {
        let mut cfg = short(scenario, Target::Livestate, format!("ws://{addr}"));
        cfg.timeout = Duration::from_millis(500);
        let r = run(&cfg).await;
        let all = if scenario == Scenario::Fanout { 7 } else { 5 };
        assert_eq!(n(&r, "setup_timeouts"), all, "{}", r.to_line());
        assert_eq!(n(&r, "joined"), 0);
    }
}

/// Run `scenario` for 5 s against a livestate server that stops 3 s in (its few sockets
/// join within milliseconds: the margin is for a machine busy with other work).
async fn run_while_the_server_stops(scenario: Scenario) -> Report {
    let server = common::livestate().await;
    let mut cfg = short(scenario, Target::Livestate, server.url());
    cfg.duration = Duration::from_secs(5);
    cfg.drain = Duration::from_millis(500);
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(3)).await;
        server.stop().await.unwrap();
    });
    run(&cfg).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_mid_fanout_counts_disconnects() {
    let r = run_while_the_server_stops(Scenario::Fanout).await;
    assert_eq!(n(&r, "joined"), 7);
    assert_eq!(n(&r, "disconnects"), 7, "{}", r.to_line());
    assert!(n(&r, "sent") < n(&r, "target_sent"));
    assert!(n(&r, "send_errors") > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_mid_events_counts_disconnects() {
    let r = run_while_the_server_stops(Scenario::Events).await;
    assert_eq!(n(&r, "joined"), 5);
    assert_eq!(
        n(&r, "disconnects") + n(&r, "send_errors"),
        5,
        "{}",
        r.to_line()
    );
}
