//! Presence, TTL, the ACL and the HTTP API across three `livestate` processes on one Redis,
//! and start-up with a Redis that cannot be reached.

mod common;

use anyhow::{Result, bail};
use common::cluster::TestCluster;
use livestate_testkit::client::reply_status;
use livestate_testkit::{Client, http};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;

const CONFIG: &str = r#"
[[docs]]
pattern = "room:*"
presence = true
ttl = 1

[[docs]]
pattern = "ro:*"
initial = { a = 1 }
acl = { group = ["read"], public = ["read"] }

[[docs]]
pattern = "doc:*"
acl = { group = ["all"], public = ["all"] }
"#;

async fn cluster() -> Result<TestCluster> {
    let path = std::env::temp_dir().join(format!("livestate-cluster-{}.toml", std::process::id()));
    std::fs::write(&path, CONFIG)?;
    let path = path.display().to_string();
    TestCluster::start_with(3, false, &["--no-demo", "--config", &path]).await
}

/// A client's view of a topic's presence: the `phx_ref`s of each key's metas.
#[derive(Default)]
struct Presence(BTreeMap<String, Vec<String>>);

impl Presence {
    fn apply(&mut self, event: &str, payload: &Value) {
        let refs = |entry: &Value| -> Vec<String> {
            entry["metas"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|m| m["phx_ref"].as_str().map(str::to_owned))
                .collect()
        };
        match event {
            "presence_state" => {
                self.0 = payload
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), refs(v)))
                    .collect();
            }
            "presence_diff" => {
                // as phoenix.js does: a join already listed (a joiner's own, which comes
                // in its presence_state and in the diff everyone gets) is listed once
                for (k, v) in payload["joins"].as_object().into_iter().flatten() {
                    let list = self.0.entry(k.clone()).or_default();
                    for r in refs(v) {
                        if !list.contains(&r) {
                            list.push(r);
                        }
                    }
                }
                for (k, v) in payload["leaves"].as_object().into_iter().flatten() {
                    let gone = refs(v);
                    if let Some(list) = self.0.get_mut(k) {
                        list.retain(|r| !gone.contains(r));
                        if list.is_empty() {
                            self.0.remove(k);
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// Read `c`'s frames into `p` until `done` holds (at most 10 s).
async fn wait_presence(
    c: &mut Client,
    p: &mut Presence,
    done: impl Fn(&Presence) -> bool,
) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(p) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(frame) = tokio::time::timeout(left, c.recv()).await else {
            bail!("presence stayed at {:?}", p.keys());
        };
        let frame = frame?;
        p.apply(&frame.event, &frame.payload);
    }
    Ok(())
}

async fn join_as(url: &str, topic: &str, key: &str) -> Result<(Client, String)> {
    let mut c = Client::connect(url).await?;
    let jr = c
        .join(
            topic,
            json!({"presence": {"key": key, "meta": {"name": key}}}),
        )
        .await?;
    Ok((c, jr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_lists_clients_on_every_node() -> Result<()> {
    let cluster = cluster().await?;
    let topic = "room:lobby";
    let (mut ann, _) = join_as(&cluster.urls[0], topic, "ann").await?;
    let (mut bob, bob_ref) = join_as(&cluster.urls[1], topic, "bob").await?;
    let (mut cat, _) = join_as(&cluster.urls[2], topic, "cat").await?;
    let (mut pa, mut pb, mut pc) = (
        Presence::default(),
        Presence::default(),
        Presence::default(),
    );
    let all = |p: &Presence| p.keys() == ["ann", "bob", "cat"];
    wait_presence(&mut ann, &mut pa, all).await?;
    wait_presence(&mut bob, &mut pb, all).await?;
    wait_presence(&mut cat, &mut pc, all).await?;
    // every meta has one ref, the same on every node
    assert_eq!(pa.0, pb.0);
    assert_eq!(pb.0, pc.0);
    // a leave on one node shows on the others
    bob.send(Some(&bob_ref), None, topic, "phx_leave", json!({}))
        .await?;
    wait_presence(&mut ann, &mut pa, |p| p.keys() == ["ann", "cat"]).await?;
    wait_presence(&mut cat, &mut pc, |p| p.keys() == ["ann", "cat"]).await?;
    // a closed socket too
    cat.close().await;
    wait_presence(&mut ann, &mut pa, |p| p.keys() == ["ann"]).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_nodes_clients_leave_the_presence() -> Result<()> {
    let mut cluster = cluster().await?;
    let topic = "room:kill";
    let (mut ann, _) = join_as(&cluster.urls[0], topic, "ann").await?;
    let (_bob, _) = join_as(&cluster.urls[1], topic, "bob").await?;
    let mut pa = Presence::default();
    wait_presence(&mut ann, &mut pa, |p| p.keys() == ["ann", "bob"]).await?;
    cluster.kill(1).await?;
    wait_presence(&mut ann, &mut pa, |p| p.keys() == ["ann"]).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_counts_subscribers_on_every_node() -> Result<()> {
    let cluster = cluster().await?;
    let topic = "room:ttl";
    // the first joiner's node holds the key
    let (mut a, a_ref) = join_as(&cluster.urls[0], topic, "a").await?;
    a.recv_until(|f| f.event == "state:change").await?;
    let (mut b, b_ref) = join_as(&cluster.urls[1], topic, "b").await?;
    b.recv_until(|f| f.event == "state:change").await?;
    let r = b
        .push_event(
            &b_ref,
            topic,
            "put",
            json!({"path": "/kept", "value": true}),
        )
        .await?;
    assert_eq!(reply_status(&b.reply_to(&r).await?).0, "ok");
    assert_eq!(cluster.leader(topic).await?, Some(0));
    a.send(Some(&a_ref), None, topic, "phx_leave", json!({}))
        .await?;
    // the authority's node has nobody left, node 1 has: the key lives on past its TTL
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        cluster.has_state(topic).await?,
        "dropped while a subscriber was left"
    );
    let got = http::get(cluster.addr(2), &format!("/api/state/{topic}")).await?;
    assert_eq!(got.json()?["state"], json!({"kept": true}));
    b.send(Some(&b_ref), None, topic, "phx_leave", json!({}))
        .await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while cluster.has_state(topic).await? {
        assert!(
            Instant::now() < deadline,
            "the key outlived its TTL on every node"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // joining again starts from the initial state
    let mut c = Client::connect(&cluster.urls[2]).await?;
    c.join(topic, json!({})).await?;
    let change = c.recv_until(|f| f.event == "state:change").await?;
    assert_eq!(change.payload["state"], json!({}));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_api_and_the_acl_work_from_every_node() -> Result<()> {
    let cluster = cluster().await?;
    let topic = "doc:api";
    let mut on_a = Client::connect(&cluster.urls[0]).await?;
    let jr = on_a.join(topic, json!({})).await?;
    on_a.recv_until(|f| f.event == "state:change").await?;
    // writes through node 1's HTTP API reach node 0's socket as patches
    let r = http::request(
        cluster.addr(1),
        "PUT",
        &format!("/api/state/{topic}?path=/title"),
        &[],
        "\"hi\"",
    )
    .await?;
    assert_eq!(r.status, 200, "{}", r.body);
    let patch = on_a.recv_until(|f| f.event == "state:patch").await?;
    assert_eq!(
        patch.payload["patch"],
        json!([{"op": "add", "path": "/title", "value": "hi"}])
    );
    let r = http::request(
        cluster.addr(2),
        "PATCH",
        &format!("/api/state/{topic}"),
        &[("content-type", "application/json-patch+json")],
        r#"[{"op": "test", "path": "/title", "value": "nope"}]"#,
    )
    .await?;
    assert_eq!(r.status, 409, "{}", r.body);
    let got = http::get(cluster.addr(2), &format!("/api/state/{topic}"))
        .await?
        .json()?;
    assert_eq!(got["state"], json!({"title": "hi"}));
    // an event from node 0 shows in node 2's API
    let r = on_a
        .push_event(&jr, topic, "put", json!({"path": "/n", "value": 1}))
        .await?;
    assert_eq!(reply_status(&on_a.reply_to(&r).await?).0, "ok");
    let got = http::get(cluster.addr(2), &format!("/api/state/{topic}"))
        .await?
        .json()?;
    assert_eq!(got["state"], json!({"title": "hi", "n": 1}));
    // a read-only key refuses writes on every node, over both the socket and HTTP
    let ro = "ro:1";
    let mut on_c = Client::connect(&cluster.urls[2]).await?;
    let jr = on_c.join(ro, json!({})).await?;
    on_c.recv_until(|f| f.event == "state:change").await?;
    let mut on_b = Client::connect(&cluster.urls[1]).await?;
    let jr_b = on_b.join(ro, json!({})).await?;
    on_b.recv_until(|f| f.event == "state:change").await?;
    for (c, jr) in [(&mut on_c, &jr), (&mut on_b, &jr_b)] {
        let r = c
            .push_event(jr, ro, "put", json!({"path": "/a", "value": 2}))
            .await?;
        let reply = c.reply_to(&r).await?;
        assert_eq!(
            reply_status(&reply).1["reason"],
            "permission denied: group callers may not write"
        );
    }
    for node in 0..3 {
        let r = http::request(
            cluster.addr(node),
            "PUT",
            &format!("/api/state/{ro}?path=/a"),
            &[],
            "3",
        )
        .await?;
        assert_eq!(r.status, 403, "{}", r.body);
        let got = http::get(cluster.addr(node), &format!("/api/state/{ro}"))
            .await?
            .json()?;
        assert_eq!(got["state"], json!({"a": 1}));
    }
    Ok(())
}

#[test]
fn an_unreachable_redis_stops_the_node_at_start_up_naming_the_url() {
    for url in ["redis://127.0.0.1:1", "redis://[not a url"] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_livestate"))
            .args([
                "serve",
                "--bind",
                "127.0.0.1:0",
                "--no-demo",
                "--redis",
                url,
            ])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url}: it must not start");
        assert!(out.stdout.is_empty(), "{url}: it must not listen");
        assert!(stderr.contains(url), "{url}: {stderr}");
    }
}

/// Clients on every node send many events without waiting for replies: each client's
/// events apply in the order it sent them (the authority takes waiting events together,
/// and a follower forwards them together, without reordering), every one is acknowledged,
/// and every node ends with the same log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_sent_without_waiting_keep_their_order_across_nodes() -> Result<()> {
    const EACH: usize = 200;
    let cluster = cluster().await?;
    let topic = "doc:order";
    let mut clients = Vec::new();
    for node in 0..3 {
        let mut c = Client::connect(&cluster.urls[node]).await?;
        let jr = c.join(topic, json!({})).await?;
        c.recv_until(|f| f.event == "state:change").await?;
        clients.push((c, jr));
    }
    let (c0, jr0) = &mut clients[0];
    let r = c0
        .push_event(jr0, topic, "put", json!({"path": "/log", "value": []}))
        .await?;
    assert_eq!(reply_status(&c0.reply_to(&r).await?).0, "ok");
    let mut tasks = Vec::new();
    for (node, (mut c, jr)) in clients.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            let mut refs = Vec::new();
            for k in 0..EACH {
                let value = format!("n{node}-{k}");
                refs.push(
                    c.push_event(&jr, topic, "put", json!({"path": "/log/-", "value": value}))
                        .await?,
                );
            }
            for r in refs {
                let reply = c.reply_to(&r).await?;
                anyhow::ensure!(reply_status(&reply).0 == "ok", "{reply:?}");
            }
            anyhow::Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let log = cluster.stored(topic).await?.0["log"].clone();
    let log: Vec<String> = serde_json::from_value(log)?;
    assert_eq!(log.len(), 3 * EACH);
    for node in 0..3 {
        let mine: Vec<usize> = log
            .iter()
            .filter_map(|e| e.strip_prefix(&format!("n{node}-")))
            .map(|k| k.parse().unwrap())
            .collect();
        assert_eq!(
            mine,
            (0..EACH).collect::<Vec<_>>(),
            "node {node}'s client's order"
        );
    }
    for node in 0..3 {
        let got = http::get(cluster.addr(node), &format!("/api/state/{topic}"))
            .await?
            .json()?;
        assert_eq!(got["state"]["log"].as_array().map(Vec::len), Some(3 * EACH));
    }
    Ok(())
}

/// Malformed data under livestate's prefix in Redis is never applied: a node that finds it
/// reports it, the key's authority stores its state again, and a client joining on that
/// node gets the authority's state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_data_in_redis_is_mended_from_the_authority() -> Result<()> {
    let cluster = cluster().await?;
    let topic = "doc:mend";
    let mut on_a = Client::connect(&cluster.urls[0]).await?;
    let jr = on_a.join(topic, json!({})).await?;
    on_a.recv_until(|f| f.event == "state:change").await?;
    for (path, value) in [("/a", json!(1)), ("/b", json!([1, 2]))] {
        let r = on_a
            .push_event(&jr, topic, "put", json!({"path": path, "value": value}))
            .await?;
        assert_eq!(reply_status(&on_a.reply_to(&r).await?).0, "ok");
    }
    // a change log entry nobody wrote, then one that skips versions
    for (node, bad) in [(1, "3 [not json"), (2, "9 []")] {
        cluster
            .redis
            .query(&["RPUSH", &format!("livestate:{{{topic}}}:log"), bad])
            .await?;
        // a node without the key loads it: it must not take what it cannot read
        let mut on_b = Client::connect(&cluster.urls[node]).await?;
        on_b.join(topic, json!({})).await?;
        let change = on_b.recv_until(|f| f.event == "state:change").await?;
        assert_eq!(
            change.payload["state"],
            json!({"a": 1, "b": [1, 2]}),
            "{bad}"
        );
        on_b.close().await;
        // Redis holds the authority's state again
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match cluster.redis.stored_state("livestate", topic).await {
                Ok(Some((state, _))) if state == json!({"a": 1, "b": [1, 2]}) => break,
                other => {
                    assert!(Instant::now() < deadline, "not mended: {other:?}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    Ok(())
}

/// Node `i`'s `/metrics`: the value of the sample `name` (with its labels).
async fn sample(cluster: &TestCluster, i: usize, name: &str) -> Result<f64> {
    let res = http::get(cluster.addr(i), "/metrics").await?;
    let found = res
        .body
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .map(str::parse);
    match found {
        Some(value) => Ok(value?),
        None => bail!("no {name} in:\n{}", res.body),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_metrics_count_leases_commits_and_forwards() -> Result<()> {
    let cluster = cluster().await?;
    let topic = "doc:metered";
    let put = |n: i64| json!({"path": "/n", "value": n});
    let mut on_a = Client::connect(&cluster.urls[0]).await?;
    let jr_a = on_a.join(topic, json!({})).await?;
    on_a.recv_until(|f| f.event == "state:change").await?;
    let r = on_a.push_event(&jr_a, topic, "put", put(1)).await?;
    assert_eq!(reply_status(&on_a.reply_to(&r).await?).0, "ok");
    assert_eq!(cluster.leader(topic).await?, Some(0), "node 0 took the key");
    let mut on_b = Client::connect(&cluster.urls[1]).await?;
    let jr_b = on_b.join(topic, json!({})).await?;
    on_b.recv_until(|f| f.event == "state:change").await?;
    for n in 2..4 {
        let r = on_b.push_event(&jr_b, topic, "put", put(n)).await?;
        assert_eq!(reply_status(&on_b.reply_to(&r).await?).0, "ok");
    }
    let acquired = "livestate_lease_changes_total{change=\"acquired\"}";
    assert_eq!(sample(&cluster, 0, acquired).await?, 1.0);
    assert_eq!(sample(&cluster, 1, acquired).await?, 0.0);
    // the leader commits each of the three changes to Redis; node 1 forwarded its two
    let commits = "livestate_commit_duration_seconds_count";
    assert_eq!(sample(&cluster, 0, commits).await?, 3.0);
    assert_eq!(sample(&cluster, 1, commits).await?, 0.0);
    assert_eq!(sample(&cluster, 0, "livestate_forwards_total").await?, 0.0);
    assert_eq!(sample(&cluster, 1, "livestate_forwards_total").await?, 2.0);
    // both nodes deliver every change to their own socket
    assert_eq!(sample(&cluster, 1, "livestate_keys").await?, 1.0);
    assert_eq!(sample(&cluster, 1, "livestate_events_total").await?, 2.0);
    Ok(())
}
