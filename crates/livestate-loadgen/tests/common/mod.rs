//! Servers to drive in the loadgen's tests, and short configurations.

#![allow(dead_code, unreachable_pub)]

use livestate_core::{DocChannel, Hub};
use livestate_loadgen::bare::{self, BareConfig};
use livestate_loadgen::{Config, Report, Scenario, Target};
use livestate_testkit::TestServer;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::oneshot;

/// livestate with `doc:` topics, in this process.
pub async fn livestate() -> TestServer {
    let hub = Hub::builder()
        .channel("doc:*", DocChannel::default())
        .build();
    TestServer::start(hub).await.expect("starting livestate")
}

/// The bare broadcaster in this process; dropping the sender stops it.
pub async fn bare() -> (SocketAddr, oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(bare::serve(listener, BareConfig::default(), async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// A short configuration: small sizes, a short window, short timeouts.
pub fn short(scenario: Scenario, target: Target, url: impl Into<String>) -> Config {
    Config {
        clients: 5,
        senders: 2,
        rate: 200.0,
        duration: Duration::from_millis(1000),
        warmup: Duration::from_millis(200),
        timeout: Duration::from_secs(3),
        setup_limit: Duration::from_secs(5),
        drain: Duration::from_secs(2),
        ..Config::new(scenario, target, url)
    }
}

/// Run `cfg`, failing the test if it takes longer than its bound (a hang).
pub async fn run(cfg: &Config) -> Report {
    let limit = cfg.warmup + cfg.duration + Duration::from_secs(30);
    let report = tokio::time::timeout(limit, livestate_loadgen::run(cfg))
        .await
        .unwrap_or_else(|_| panic!("the run did not end within {limit:?}: {cfg:?}"));
    eprintln!("{}", report.to_line());
    report
}

/// A field that must be present and an integer.
pub fn n(r: &Report, key: &str) -> u64 {
    r.u64(key)
        .unwrap_or_else(|| panic!("{key} missing in {}", r.to_line()))
}

/// Every counter of trouble is zero.
pub fn no_trouble(r: &Report) {
    for key in [
        "connect_failures",
        "join_errors",
        "setup_timeouts",
        "disconnects",
        "error_replies",
        "channel_errors",
        "send_errors",
    ] {
        assert_eq!(n(r, key), 0, "{key} in {}", r.to_line());
    }
}

/// A fan-out with nothing lost: every message sent reached every receiver once.
pub fn fanout_complete(r: &Report, receivers: u64) {
    no_trouble(r);
    let sent = n(r, "sent");
    assert!(sent > 0, "nothing sent: {}", r.to_line());
    assert_eq!(n(r, "receivers_joined"), receivers);
    assert_eq!(n(r, "expected"), sent * receivers);
    assert_eq!(n(r, "received"), sent * receivers, "{}", r.to_line());
    assert_eq!(n(r, "lost"), 0);
    assert_eq!(n(r, "duplicates"), 0);
    assert_eq!(n(r, "foreign"), 0);
    let deliveries = n(r, "deliveries");
    assert!(deliveries > 0 && deliveries <= sent * receivers);
    assert!(n(r, "latency_samples") > 0);
    assert!(r.f64("latency_p99_us").is_some());
}
