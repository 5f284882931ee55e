//! Every scenario, briefly, against the bare broadcaster served in this process.

mod common;

use common::{fanout_complete, n, no_trouble, run, short};
use livestate_loadgen::{Scenario, Target};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect() {
    let (addr, _stop) = common::bare().await;
    let mut cfg = short(Scenario::Connect, Target::Bare, format!("ws://{addr}"));
    cfg.clients = 20;
    let r = run(&cfg).await;
    no_trouble(&r);
    assert_eq!(n(&r, "joined"), 20);
    assert!(
        r.get("rss_per_conn_bytes").is_some_and(|v| v.is_null()),
        "no pid given"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_echoed() {
    let (addr, _stop) = common::bare().await;
    let r = run(&short(
        Scenario::Events,
        Target::Bare,
        format!("ws://{addr}"),
    ))
    .await;
    no_trouble(&r);
    assert!(n(&r, "events") > 0);
    assert_eq!(n(&r, "timeouts"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanout_reaches_every_receiver() {
    let (addr, _stop) = common::bare().await;
    let r = run(&short(
        Scenario::Fanout,
        Target::Bare,
        format!("ws://{addr}"),
    ))
    .await;
    fanout_complete(&r, 5);
}
