//! The behavioural suite against Redis: a redis-server of the test's own, and a key prefix
//! of the run's own.

use livestate_core::backplane::Backplane;
use livestate_redis::{RedisBackplane, RedisOptions};
use livestate_testkit::redis::RedisServer;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_passes_the_suite() -> anyhow::Result<()> {
    let redis = RedisServer::start().await?;
    let url = redis.url();
    let prefix = format!("suite-{}", std::process::id());
    livestate_testkit::suite::run_all(&move |id: &str| {
        let mut opts = RedisOptions::new(url.clone());
        opts.prefix = prefix.clone();
        opts.node = id.to_owned();
        opts.lease_time = Duration::from_millis(500);
        Box::pin(async move {
            let node: Arc<dyn Backplane> = RedisBackplane::connect(opts).await.expect("connect");
            node
        })
    })
    .await
}

#[tokio::test]
async fn an_unreachable_url_is_named_at_start_up() {
    let err = RedisBackplane::connect(RedisOptions::new("redis://127.0.0.1:1"))
        .await
        .err()
        .expect("nothing listens on port 1");
    assert!(
        err.to_string()
            .starts_with("cannot reach Redis at redis://127.0.0.1:1"),
        "{err}"
    );
    let err = RedisBackplane::connect(RedisOptions::new("http://nope"))
        .await
        .err()
        .expect("not a redis URL");
    assert!(
        err.to_string().starts_with("invalid Redis URL http://nope"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_data_is_reported_not_applied() -> anyhow::Result<()> {
    let redis = RedisServer::start().await?;
    let mut opts = RedisOptions::new(redis.url());
    opts.prefix = "corrupt".into();
    let bp = RedisBackplane::connect(opts).await?;
    redis
        .command(&[
            "HSET",
            "corrupt:{doc:x}:state",
            "json",
            "{not json",
            "version",
            "3",
        ])
        .await?;
    let err = bp.load("doc:x").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("malformed data in the backplane for doc:x: the stored state is not JSON"),
        "{err}"
    );
    redis
        .command(&[
            "HSET",
            "corrupt:{doc:y}:state",
            "json",
            "{}",
            "version",
            "three",
        ])
        .await?;
    let err = bp.load("doc:y").await.unwrap_err();
    assert!(
        err.to_string()
            .contains("the stored version \"three\" is not a number"),
        "{err}"
    );
    // an authority taking such a key over does not use what it cannot read
    let acquired = bp.acquire("doc:x").await?;
    assert_eq!(acquired.snapshot, None);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_id_in_use_is_refused_and_free_again_after_its_node_stops() -> anyhow::Result<()> {
    let redis = RedisServer::start().await?;
    let opts = || {
        let mut o = RedisOptions::new(redis.url());
        o.prefix = "ids".into();
        o.node = "n1".into();
        o.lease_time = Duration::from_millis(300);
        o
    };
    let first = RedisBackplane::connect(opts()).await?;
    let err = RedisBackplane::connect(opts())
        .await
        .err()
        .expect("a second running n1 is refused");
    assert_eq!(
        err.to_string(),
        format!(
            "node id n1 is in use by another running node on Redis at {}; give each node its own --node-id",
            redis.url()
        )
    );
    // another id is fine meanwhile
    let mut other = opts();
    other.node = "n2".into();
    RedisBackplane::connect(other).await?;
    // once n1 stops, its heartbeat runs out and the id can be used again (a restart)
    drop(first);
    let again = tokio::time::timeout(Duration::from_secs(3), RedisBackplane::connect(opts())).await;
    assert!(matches!(again, Ok(Ok(_))), "n1 could not start again");
    Ok(())
}
