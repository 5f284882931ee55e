//! The behavioural suite against Redis: a redis-server of the test's own, and a key prefix
//! of the run's own.

use livestate_backplane::{Backplane, CommitLog, Leases};
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

/// A commit stores its patch, not the state: the snapshot stays put while the log grows,
/// and the whole state is stored again (the log starting over) once the log outweighs it.
/// A malformed log is reported, never applied, and a whole commit (a rewrite) mends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_store_patches_and_snapshots_now_and_then() -> anyhow::Result<()> {
    use livestate_backplane::Commit;
    use livestate_protocol::PatchOp;
    use serde_json::json;
    let redis = RedisServer::start().await?;
    let mut opts = RedisOptions::new(redis.url());
    opts.prefix = "log".into();
    let bp = RedisBackplane::connect(opts).await?;
    let key = "doc:log";
    let lease = bp.acquire(key).await?.lease;
    // a state of about 200 KiB
    let mut state = json!({"n": 0, "blob": "x".repeat(200 * 1024)});
    macro_rules! commit {
        ($version:expr, $state:expr, $patch:expr, $whole:expr) => {
            Commit {
                version: $version,
                state: $state,
                whole: $whole,
                changes: &[livestate_backplane::Staged {
                    patch: $patch,
                    reset: false,
                    event: None,
                    note: None,
                }],
            }
        };
    }
    bp.commit(&lease, commit!(0, &state, &[], true)).await?;
    let field = |f: &'static str| {
        let redis = &redis;
        async move {
            let r = redis.query(&["HGET", "log:{doc:log}:state", f]).await?;
            anyhow::Ok(r.text().map(str::to_owned))
        }
    };
    let llen = || async {
        match redis.query(&["LLEN", "log:{doc:log}:log"]).await? {
            livestate_testkit::redis::Reply::Int(n) => anyhow::Ok(n),
            other => anyhow::bail!("{other:?}"),
        }
    };
    let mut snapshots = 0;
    let mut last_len = 0;
    for v in 1..=6000u64 {
        if v % 200 == 0 {
            bp.renew(&lease).await?;
        }
        state["n"] = json!(v);
        let patch = [PatchOp::Replace {
            path: "/n".into(),
            value: json!(v),
        }];
        bp.commit(&lease, commit!(v, &state, &patch, false)).await?;
        let len = llen().await?;
        if len < last_len {
            snapshots += 1;
        }
        last_len = len;
        if v == 10 {
            // ten patches after the first, whole commit: the snapshot is still at 0
            assert_eq!(field("version").await?.as_deref(), Some("0"));
            assert_eq!(field("head").await?.as_deref(), Some("10"));
            assert_eq!(len, 10);
        }
    }
    // ~50-byte entries: the log outweighs the 200 KiB state after ~4,000 of them
    assert_eq!(
        snapshots, 1,
        "one snapshot in 6,000 small changes to a 200 KiB state"
    );
    assert!(last_len > 0 && last_len < 4000, "{last_len}");
    let loaded = bp.load(key).await?.expect("a state");
    assert_eq!((loaded.version, &loaded.state), (6000, &state));
    let (oracle, version) = redis.stored_state("log", key).await?.expect("a state");
    assert_eq!((version, &oracle), (6000, &state));

    // a malformed entry, then an entry that skips a version
    redis
        .query(&["RPUSH", "log:{doc:log}:log", "6001 [not json"])
        .await?;
    let err = bp.load(key).await.unwrap_err().to_string();
    assert!(err.contains("a logged change is malformed"), "{err}");
    redis.query(&["RPOP", "log:{doc:log}:log"]).await?;
    redis
        .query(&["RPUSH", "log:{doc:log}:log", "6005 []"])
        .await?;
    let err = bp.load(key).await.unwrap_err().to_string();
    assert!(
        err.contains("the change log skips from version 6000 to 6005"),
        "{err}"
    );
    // the authority stores its whole state again: the log starts over, loading works
    state["n"] = json!(6001);
    bp.commit(&lease, commit!(6001, &state, &[], true)).await?;
    assert_eq!(llen().await?, 0);
    let loaded = bp.load(key).await?.expect("a state");
    assert_eq!((loaded.version, &loaded.state), (6001, &state));
    Ok(())
}
