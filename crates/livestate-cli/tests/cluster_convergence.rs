//! Three nodes on one Redis: 30 clients spread over them send 10,000 increments to one
//! key; every acknowledged increment is in the final count, and every client ends with the
//! state and version Redis holds.

mod common;

use anyhow::Result;
use common::cluster::{TestCluster, Worker, start_counter, wire};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_clients_on_three_nodes_converge() -> Result<()> {
    const CLIENTS: usize = 30;
    const INCREMENTS: u64 = 10_000;
    let topic = "doc:converge";
    let cluster = TestCluster::start(3, false).await?;
    start_counter(&cluster.urls[0], topic).await?;
    let mut tasks = Vec::new();
    for id in 0..CLIENTS {
        let mut worker = Worker::connect(id, cluster.urls.clone(), id % 3, topic).await?;
        let quota =
            INCREMENTS / CLIENTS as u64 + u64::from((id as u64) < INCREMENTS % CLIENTS as u64);
        tasks.push(tokio::spawn(async move {
            while worker.acked < quota {
                worker.increment().await?;
            }
            anyhow::Ok(worker)
        }));
    }
    let mut workers = Vec::new();
    for t in tasks {
        workers.push(t.await??);
    }
    let acked: u64 = workers.iter().map(|w| w.acked).sum();
    assert_eq!(acked, INCREMENTS);
    let refused: u64 = workers.iter().map(|w| w.refused).sum();
    let unknown: u64 = workers.iter().map(|w| w.unknown).sum();
    assert_eq!((refused, unknown), (0, 0), "nothing fails without faults");
    let (state, version) = cluster.stored(topic).await?;
    assert_eq!(
        state,
        json!({"n": INCREMENTS}),
        "every acknowledged increment is in Redis"
    );
    assert_eq!(
        version,
        INCREMENTS + 1,
        "one version per change (the first put is version 1)"
    );
    for w in &mut workers {
        w.settle(wire(version), &state).await?;
        assert_eq!(
            w.view.state.as_ref(),
            Some(&state),
            "worker {} on node {}",
            w.id,
            w.node
        );
    }
    Ok(())
}
