//! The behavioural suite against the in-memory cluster (the Redis run is in
//! `livestate-redis`'s tests).

use livestate_core::backplane::Backplane;
use livestate_core::backplane::memory::MemoryCluster;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_cluster_passes_the_suite() -> anyhow::Result<()> {
    let cluster = MemoryCluster::new(Duration::from_millis(400));
    livestate_testkit::suite::run_all(&move |id: &str| {
        let node: Arc<dyn Backplane> = cluster.node(id);
        Box::pin(async move { node })
    })
    .await
}
