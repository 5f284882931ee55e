//! Killing, pausing the key's authority, and restarting Redis: no acknowledged change is
//! lost, nothing is overwritten, clients resume and end with what Redis holds.

mod common;

use anyhow::{Result, ensure};
use common::cluster::{Control, LEASE_MS, TestCluster, Worker, spawn_workers, start_counter, wire};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

async fn workers(cluster: &TestCluster, topic: &str, per_node: &[usize]) -> Result<Vec<Worker>> {
    let mut out = Vec::new();
    for (node, count) in per_node.iter().enumerate() {
        for _ in 0..*count {
            out.push(Worker::connect(out.len(), cluster.urls.clone(), node, topic).await?);
        }
    }
    Ok(out)
}

async fn finish(handles: Vec<tokio::task::JoinHandle<Result<Worker>>>) -> Result<Vec<Worker>> {
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await??);
    }
    Ok(out)
}

/// The count in Redis holds every acknowledged increment, and no more than were sent; every
/// client ends with Redis's state.
async fn check_consistent(
    cluster: &TestCluster,
    topic: &str,
    workers: &mut [Worker],
) -> Result<u64> {
    let acked: u64 = workers.iter().map(|w| w.acked).sum();
    let maybe: u64 = workers.iter().map(|w| w.refused + w.unknown).sum();
    let (state, version) = cluster.stored(topic).await?;
    let n = state["n"].as_u64().unwrap_or(0);
    ensure!(
        n >= acked,
        "an acknowledged increment is missing: {n} in Redis, {acked} acknowledged"
    );
    ensure!(
        n <= acked + maybe,
        "more increments than were sent: {n} > {acked} + {maybe}"
    );
    for w in workers.iter_mut() {
        w.settle(wire(version), &state).await?;
        ensure!(
            w.view.state.as_ref() == Some(&state),
            "worker {} differs from Redis",
            w.id
        );
    }
    Ok(n)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_authority_loses_no_acknowledged_increment() -> Result<()> {
    let topic = "doc:failover";
    let mut cluster = TestCluster::start(3, false).await?;
    start_counter(&cluster.urls[0], topic).await?;
    let control = Arc::new(Control::default());
    let handles = spawn_workers(workers(&cluster, topic, &[3, 3, 3]).await?, control.clone());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let leader = cluster.leader(topic).await?.expect("a leader");
    let killed_at = control.set_mark();
    cluster.kill(leader).await?;
    // every client gets an increment acknowledged after the kill, through another node
    control.wait_resumed(9).await?;
    control
        .stop
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let mut workers = finish(handles).await?;
    let n = check_consistent(&cluster, topic, &mut workers).await?;
    let new_leader = cluster.leader(topic).await?.expect("a new leader");
    assert_ne!(new_leader, leader);
    assert!(workers.iter().all(|w| w.resumed.is_some()));
    let moved: u64 = workers.iter().map(|w| w.reconnects).sum();
    assert!(
        moved >= 3,
        "the dead node's clients moved to other nodes ({moved})"
    );
    println!(
        "failover: {n} increments; clients resumed within {:?}",
        workers.iter().filter_map(|w| w.resumed).max().unwrap() - killed_at
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_authority_cannot_overwrite_after_it_resumes() -> Result<()> {
    let topic = "doc:stale";
    let cluster = TestCluster::start(3, false).await?;
    start_counter(&cluster.urls[0], topic).await?;
    let leader = cluster.leader(topic).await?.expect("a leader");
    // a client on the leader that will send while it is paused
    let mut late = Worker::connect(99, cluster.urls.clone(), leader, topic).await?;
    for _ in 0..3 {
        late.increment().await?;
    }
    let others: Vec<usize> = (0..3).filter(|i| *i != leader).collect();
    let mut per_node = [0; 3];
    for i in &others {
        per_node[*i] = 3;
    }
    let control = Arc::new(Control::default());
    let handles = spawn_workers(workers(&cluster, topic, &per_node).await?, control.clone());
    tokio::time::sleep(Duration::from_millis(500)).await;
    cluster.signal(leader, "STOP").await?;
    control.set_mark();
    // the paused leader's lease runs out; another node takes over and goes on
    let (before, _) = cluster.stored(topic).await?;
    late.client_push_while_paused().await?;
    // the lease runs out; the next event on another node takes the key over
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match cluster.leader(topic).await? {
            Some(new_leader) if new_leader != leader => break,
            _ => ensure!(Instant::now() < deadline, "no other node took the key over"),
        }
        tokio::time::sleep(Duration::from_millis(LEASE_MS / 4)).await;
    }
    control.wait_resumed(6).await?;
    cluster.signal(leader, "CONT").await?;
    // the resumed node's late commit is refused; it steps down
    let outcome = late.finish_paused_push().await?;
    assert_ne!(
        outcome, "ok",
        "a late commit of the paused authority was acknowledged"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    control
        .stop
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let mut workers = finish(handles).await?;
    workers.push(late);
    let (after, _) = cluster.stored(topic).await?;
    assert!(
        after["n"].as_u64() > before["n"].as_u64(),
        "the new authority went on"
    );
    check_consistent(&cluster, topic, &mut workers).await?;
    assert!(
        workers
            .iter()
            .filter(|w| w.id != 99)
            .all(|w| w.resumed.is_some()),
        "every client resumed"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_are_refused_while_redis_is_down_and_accepted_after() -> Result<()> {
    let topic = "doc:restart";
    let mut cluster = TestCluster::start(3, true).await?;
    start_counter(&cluster.urls[0], topic).await?;
    let mut ws = workers(&cluster, topic, &[1, 1, 1]).await?;
    for w in ws.iter_mut() {
        w.increment().await?;
        assert_eq!(w.acked, 1);
    }
    cluster.redis.stop().await?;
    for w in ws.iter_mut() {
        w.increment().await?;
    }
    let during: u64 = ws.iter().map(|w| w.acked).sum();
    assert_eq!(during, 3, "nothing is acknowledged while Redis is down");
    assert!(ws.iter().all(|w| w.refused + w.unknown >= 1));
    assert_eq!(
        ws.iter().map(|w| w.reconnects).sum::<u64>(),
        0,
        "sockets stay open"
    );
    cluster.redis.restart().await?;
    let back = Instant::now();
    for w in ws.iter_mut() {
        while w.acked < 2 {
            assert!(
                back.elapsed() < Duration::from_secs(60),
                "worker {} never recovered",
                w.id
            );
            w.increment().await?;
        }
    }
    let n = check_consistent(&cluster, topic, &mut ws).await?;
    assert!(n >= 6, "{n}");
    let (state, _) = cluster.stored(topic).await?;
    assert_eq!(state["n"], json!(n));
    Ok(())
}
