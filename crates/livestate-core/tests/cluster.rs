//! Several nodes in one process on a `MemoryCluster`: one authority per key, forwarding,
//! ordered fan-out, failover, TTL and presence across nodes, the server API from any node.

use livestate_core::acl::{Acl, Permissions};
use livestate_core::backplane::Backplane;
use livestate_core::backplane::memory::MemoryCluster;
use livestate_core::testing::{TestChannel, TestError};
use livestate_core::{
    Channel, ChannelError, Doc, DocChannel, EventContext, Hub, JoinContext, Limits, Reply, Ttl,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// A counter whose `echo` event replies to the sender, and `refuse` is refused.
struct Counter;

#[derive(serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum CounterEvent {
    Increment,
    Echo,
    Refuse,
    Slow,
    Boom,
}

impl Channel for Counter {
    type State = Doc;
    type Event = CounterEvent;
    type Params = Value;
    async fn init(&self, params: &Value, _: &JoinContext) -> Result<Doc, ChannelError> {
        Ok(Doc::new(json!({"count": 0, "by": params["who"].clone()})))
    }
    async fn handle_event(
        &self,
        event: CounterEvent,
        doc: &mut Doc,
        ctx: &EventContext,
    ) -> Result<Reply, ChannelError> {
        match event {
            CounterEvent::Increment => {
                doc.increment("/count", 1)?;
                Ok(Reply::none())
            }
            CounterEvent::Echo => {
                doc.increment("/count", 1)?;
                Ok(Reply::event("echoed", json!({"user": ctx.get("user")})))
            }
            CounterEvent::Refuse => {
                doc.increment("/count", 100)?;
                Err(ChannelError::refused("no, thanks"))
            }
            CounterEvent::Slow => {
                tokio::time::sleep(Duration::from_millis(50)).await;
                doc.increment("/count", 1)?;
                Ok(Reply::none())
            }
            CounterEvent::Boom => {
                doc.increment("/count", 1000)?;
                panic!("boom");
            }
        }
    }
}

fn open() -> Acl {
    Acl {
        group: Permissions::ALL,
        public: Permissions::ALL,
    }
}

fn node(cluster: &MemoryCluster, id: &str) -> Hub {
    node_with(cluster, id, Limits::default())
}

fn node_with(cluster: &MemoryCluster, id: &str, limits: Limits) -> Hub {
    let backplane: Arc<dyn Backplane> = cluster.node(id);
    Hub::builder()
        .channel("counter:*", Counter)
        .channel("doc:*", DocChannel::default().acl(open()).presence(true))
        .channel(
            "short:*",
            DocChannel::default()
                .acl(open())
                .ttl(Ttl::After(Duration::from_secs(5))),
        )
        .backplane(backplane)
        .limits(limits)
        .build()
}

async fn settle(c: &mut TestChannel, version: u64) -> Result<(), TestError> {
    while c.version() != version {
        c.next_change().await?;
    }
    Ok(())
}

#[tokio::test]
async fn events_from_any_node_reach_every_node_in_order() -> Result<(), TestError> {
    let cluster = MemoryCluster::new(Duration::from_secs(3));
    let (a, b) = (node(&cluster, "a"), node(&cluster, "b"));
    let mut on_a = TestChannel::join(&a, "counter:1", json!({"who": "first"})).await?;
    let mut on_b = TestChannel::join(&b, "counter:1", json!({"who": "second"})).await?;
    // one state: the first joiner's init, seen by the joiner on the other node
    assert_eq!(on_b.state(), &json!({"count": 0, "by": "first"}));
    for i in 0..10 {
        let pushed = if i % 2 == 0 {
            on_a.push("increment", json!({})).await?
        } else {
            on_b.push("increment", json!({})).await?
        };
        assert_eq!(pushed.version, i + 1);
    }
    settle(&mut on_a, 10).await?;
    settle(&mut on_b, 10).await?;
    assert_eq!(on_a.state(), &json!({"count": 10, "by": "first"}));
    assert_eq!(on_a.state(), on_b.state());
    let late = TestChannel::join(&b, "counter:1", json!({})).await?;
    assert_eq!((late.state(), late.version()), (on_a.state(), 10));
    Ok(())
}

#[tokio::test]
async fn a_forwarded_event_gets_its_reply_events_patch_and_refusals_on_its_node()
-> Result<(), TestError> {
    let cluster = MemoryCluster::new(Duration::from_secs(3));
    let (a, b) = (node(&cluster, "a"), node(&cluster, "b"));
    let _leader = TestChannel::join(&a, "counter:2", json!({})).await?;
    let mut assigns = serde_json::Map::new();
    assigns.insert("user".into(), json!("bob"));
    let mut on_b = TestChannel::join_with_assigns(&b, "counter:2", json!({}), assigns).await?;
    let pushed = on_b.push("echo", json!({})).await?;
    assert_eq!(
        pushed.events,
        vec![("echoed".to_owned(), json!({"user": "bob"}))]
    );
    assert_eq!(
        pushed.patch,
        json!([{"op": "replace", "path": "/count", "value": 1}])
    );
    let err = on_b.push("refuse", json!({})).await.unwrap_err();
    assert_eq!(err, TestError::Refused("no, thanks".into()));
    let err = on_b.push("nope", json!({})).await.unwrap_err();
    assert_eq!(err, TestError::Refused("unknown event \"nope\"".into()));
    assert_eq!(on_b.refresh().await?, &json!({"count": 1, "by": null}));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn when_the_authority_dies_another_node_takes_over_from_the_last_commit()
-> Result<(), TestError> {
    let cluster = MemoryCluster::new(Duration::from_secs(3));
    let (a, b) = (node(&cluster, "a"), node(&cluster, "b"));
    let mut on_a = TestChannel::join(&a, "counter:3", json!({})).await?;
    let mut on_b = TestChannel::join(&b, "counter:3", json!({})).await?;
    for _ in 0..3 {
        on_a.push("increment", json!({})).await?;
    }
    settle(&mut on_b, 3).await?;
    cluster.kill("a");
    drop(on_a);
    // b's next event finds no authority; once a's lease runs out, b takes the key over
    let pushed = on_b.push("increment", json!({})).await?;
    assert_eq!(pushed.version, 4);
    assert_eq!(on_b.state()["count"], json!(4));
    let stored = cluster.snapshot("counter:3").unwrap();
    assert_eq!(
        (stored.state["count"].clone(), stored.version),
        (json!(4), 4)
    );
    let late = TestChannel::join(&b, "counter:3", json!({})).await?;
    assert_eq!(late.state()["count"], json!(4));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn ttl_counts_subscribers_on_every_node() -> Result<(), TestError> {
    let cluster = MemoryCluster::new(Duration::from_secs(3));
    let (a, b) = (node(&cluster, "a"), node(&cluster, "b"));
    let on_a = TestChannel::join(&a, "short:1", json!({})).await?;
    let mut on_b = TestChannel::join(&b, "short:1", json!({})).await?;
    on_b.push("put", json!({"path": "/kept", "value": true}))
        .await?;
    on_a.leave().await;
    // the leader (a) has nobody left, b has: the key lives on
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert!(cluster.snapshot("short:1").is_some());
    assert_eq!(
        b.api().get_path("short:1", "/kept").await.unwrap(),
        json!(true)
    );
    on_b.leave().await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(
        cluster.snapshot("short:1"),
        None,
        "dropped after the TTL, everywhere"
    );
    let fresh = TestChannel::join(&b, "short:1", json!({})).await?;
    assert_eq!(fresh.state(), &json!({}));
    Ok(())
}

#[tokio::test]
async fn the_server_api_works_from_any_node() {
    let cluster = MemoryCluster::new(Duration::from_secs(3));
    let (a, b) = (node(&cluster, "a"), node(&cluster, "b"));
    let mut on_a = TestChannel::join(&a, "doc:api", json!({})).await.unwrap();
    let api_b = b.api();
    // a read on a node where the key is not live comes from the backplane
    assert_eq!(api_b.get("doc:api").await.unwrap().state, json!({}));
    let mut sub = api_b.subscribe("doc:api").await.unwrap();
    let v = api_b.put("doc:api", "/list", json!([])).await.unwrap();
    assert_eq!(v, 1);
    for i in 0..3 {
        api_b.put("doc:api", "/list/-", json!(i)).await.unwrap();
    }
    api_b
        .update("doc:api", |doc| {
            doc.set("/title", "from b")?;
            Ok(())
        })
        .await
        .unwrap();
    settle(&mut on_a, 5).await.unwrap();
    assert_eq!(on_a.state(), &json!({"list": [0, 1, 2], "title": "from b"}));
    let err = api_b.delete("doc:api", "/nope").await.unwrap_err();
    assert_eq!(err.code(), "property_not_found");
    api_b.reset("doc:api").await.unwrap();
    settle(&mut on_a, 6).await.unwrap();
    assert_eq!(on_a.state(), &json!({}));
    let mut kinds = Vec::new();
    while kinds.len() < 6 {
        let c = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap()
            .unwrap();
        kinds.push((c.kind, c.version));
    }
    use livestate_core::api::ChangeKind::*;
    assert_eq!(
        kinds,
        vec![(New, 1), (New, 2), (New, 3), (New, 4), (New, 5), (Reset, 6)]
    );
}

#[tokio::test]
async fn presence_lists_joins_on_every_node() -> Result<(), TestError> {
    let cluster = MemoryCluster::new(Duration::from_secs(3));
    let (a, b) = (node(&cluster, "a"), node(&cluster, "b"));
    let as_user = |key: &str| json!({"presence": {"key": key, "meta": {"name": key}}});
    let keys =
        |p: &std::collections::BTreeMap<String, Vec<Value>>| p.keys().cloned().collect::<Vec<_>>();
    let mut ann = TestChannel::join(&a, "doc:room", as_user("ann")).await?;
    let mut bob = TestChannel::join(&b, "doc:room", as_user("bob")).await?;
    ann.wait_presence(|p| p.contains_key("bob")).await?;
    bob.wait_presence(|p| p.contains_key("ann")).await?;
    assert_eq!(keys(ann.presence()), ["ann", "bob"]);
    assert_eq!(keys(bob.presence()), ["ann", "bob"]);
    // a third joiner on either node gets everyone
    let mut cat = TestChannel::join(&a, "doc:room", as_user("cat")).await?;
    cat.wait_presence(|p| p.len() == 3).await?;
    bob.wait_presence(|p| p.contains_key("cat")).await?;
    // leaving shows on the other node; a dead node's joins go away too
    cat.leave().await;
    bob.wait_presence(|p| !p.contains_key("cat")).await?;
    cluster.kill("b");
    ann.wait_presence(|p| !p.contains_key("bob")).await?;
    assert_eq!(keys(ann.presence()), ["ann"]);
    Ok(())
}

/// An authority that is never idle (its mailbox is never empty) still renews its lease: it
/// keeps the key, and nothing is refused, for many lease times; and what other nodes send
/// it meanwhile is not starved. On tokio's paused clock, which a task moves on 20 ms at a
/// time while the callers keep the mailbox full, so the machine's speed does not matter.
#[tokio::test(start_paused = true)]
async fn a_busy_authority_keeps_its_lease() {
    let lease = Duration::from_millis(200);
    let cluster = MemoryCluster::new(lease);
    let (a, b) = (node(&cluster, "a"), node(&cluster, "b"));
    a.api().put("doc:busy", "/n", json!(0)).await.unwrap();
    let epoch = cluster.snapshot("doc:busy").unwrap().epoch;
    let start = tokio::time::Instant::now();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clock = {
        let stop = stop.clone();
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tokio::time::advance(Duration::from_millis(20)).await;
                tokio::task::yield_now().await;
            }
        })
    };
    let mut tasks = Vec::new();
    for i in 0..34 {
        // most callers on the authority's node keep its mailbox full; a few on another node
        // put their own counters (a put runs on the authority, whatever its version)
        let forwarded = i % 17 == 0;
        let api = if forwarded { b.api() } else { a.api() };
        tasks.push(tokio::spawn(async move {
            let mut done = 0u64;
            for _ in 0..400 {
                let sent = tokio::time::Instant::now();
                let result = if forwarded {
                    api.put("doc:busy", &format!("/b{i}"), json!(done + 1))
                        .await
                } else {
                    api.update("doc:busy", |doc| {
                        doc.increment("/n", 1)?;
                        Ok(())
                    })
                    .await
                };
                result.map_err(|e| e.to_string())?;
                // virtual time: the clock task's steps, never the machine's speed
                if forwarded && sent.elapsed() > 3 * lease {
                    return Err(format!("a forwarded put took {:?}", sent.elapsed()));
                }
                done += 1;
            }
            Ok::<(usize, bool, u64), String>((i, forwarded, done))
        }));
    }
    let mut local = 0;
    let mut expected = serde_json::Map::new();
    for t in tasks {
        let (i, forwarded, done) = t.await.unwrap().expect("no call is refused or starved");
        if forwarded {
            expected.insert(format!("b{i}"), json!(done));
        } else {
            local += done;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    clock.await.unwrap();
    assert!(
        start.elapsed() >= 10 * lease,
        "the callers kept the authority busy for {:?} only",
        start.elapsed()
    );
    expected.insert("n".into(), json!(local));
    let snapshot = cluster.snapshot("doc:busy").unwrap();
    assert_eq!(snapshot.epoch, epoch, "the authority kept the key");
    assert_eq!(snapshot.state, serde_json::Value::Object(expected));
}

/// Events arriving together on the authority's node and on another are run one by one and
/// committed in groups: every acknowledged change is there once, a refused event or a
/// failing handler among them leaves the others' changes and none of its own, each sender
/// gets its own reply events, and every node ends with the same state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_committed_together_keep_their_outcomes_apart() -> Result<(), TestError> {
    let cluster = MemoryCluster::new(Duration::from_secs(3));
    let (a, b) = (node(&cluster, "a"), node(&cluster, "b"));
    let topic = "counter:group";
    let mut leader = TestChannel::join(&a, topic, json!({})).await?;
    const ROUNDS: usize = 25;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let hub = if i % 2 == 0 { a.clone() } else { b.clone() };
        let mut assigns = serde_json::Map::new();
        assigns.insert("user".into(), json!(format!("u{i}")));
        let mut c = TestChannel::join_with_assigns(&hub, topic, json!({}), assigns).await?;
        tasks.push(tokio::spawn(async move {
            for _ in 0..ROUNDS {
                c.push("increment", json!({})).await?;
                let echoed = c.push("echo", json!({})).await?;
                assert_eq!(
                    echoed.events,
                    vec![("echoed".to_owned(), json!({"user": format!("u{i}")}))],
                    "each sender gets its own reply events"
                );
                let refused = c.push("refuse", json!({})).await.unwrap_err();
                assert_eq!(refused, TestError::Refused("no, thanks".into()));
            }
            Ok::<TestChannel, TestError>(c)
        }));
    }
    // a handler that fails among them fails only its own channel
    let mut doomed = TestChannel::join(&b, topic, json!({})).await?;
    tokio::time::sleep(Duration::from_millis(5)).await;
    let failed = doomed.push("boom", json!({})).await.unwrap_err();
    assert!(matches!(failed, TestError::Failed(_)), "{failed:?}");
    let mut done = Vec::new();
    for t in tasks {
        done.push(t.await.unwrap()?);
    }
    let expected = json!({"count": 8 * ROUNDS * 2, "by": null});
    let version = (8 * ROUNDS * 2) as u64;
    settle(&mut leader, version).await?;
    assert_eq!(leader.state(), &expected);
    for c in &mut done {
        settle(c, version).await?;
        assert_eq!(c.state(), &expected);
    }
    let stored = cluster.snapshot(topic).unwrap();
    assert_eq!((stored.state, stored.version), (expected, version));
    let commits = cluster.commits(topic);
    assert!(
        commits < version,
        "{version} changes in {commits} commits: events were committed together"
    );
    Ok(())
}

/// Slow handlers close their group early: with ten 50 ms events waiting, the first is
/// acknowledged after its own handler, not after all ten.
#[tokio::test(start_paused = true)]
async fn slow_handlers_do_not_hold_the_first_acknowledgement_back() -> Result<(), TestError> {
    let cluster = MemoryCluster::new(Duration::from_secs(3));
    let a = node(&cluster, "a");
    let topic = "counter:slow";
    let _leader = TestChannel::join(&a, topic, json!({})).await?;
    let mut clients = Vec::new();
    for _ in 0..10 {
        clients.push(TestChannel::join(&a, topic, json!({})).await?);
    }
    // all ten events wait while the first one's handler runs
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::new();
    for mut c in clients {
        tasks.push(tokio::spawn(async move {
            c.push("slow", json!({})).await?;
            Ok::<Duration, TestError>(start.elapsed())
        }));
    }
    let mut acked = Vec::new();
    for t in tasks {
        acked.push(t.await.unwrap()?);
    }
    acked.sort();
    assert!(
        acked[0] < Duration::from_millis(150),
        "first acknowledged after {:?}",
        acked[0]
    );
    assert!(
        acked[9] >= Duration::from_millis(500),
        "ten handlers of 50 ms ran one by one"
    );
    assert_eq!(cluster.snapshot(topic).unwrap().state["count"], json!(10));
    Ok(())
}

/// One socket's session on `hub`, joined to `topic`.
async fn raw_join(
    hub: &Hub,
    topic: &str,
) -> (livestate_core::Session, livestate_core::OutboxReceiver) {
    let (outbox, mut rx) = hub.outbox();
    let mut s = hub.session(outbox, Default::default());
    let join = json!(["1", "1", topic, "phx_join", {}]).to_string();
    s.handle_text(&join).await.unwrap();
    loop {
        let text = rx.recv().await.expect("joined");
        if text.as_str().contains("state:change") {
            return (s, rx);
        }
    }
}

/// Reads replies until every ref in `refs` was answered, in the order asked.
async fn replies_in_order(rx: &mut livestate_core::OutboxReceiver, refs: &[String]) {
    let mut next = 0;
    while next < refs.len() {
        let text = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .expect("a reply within 30 s")
            .expect("open");
        let frame: Value = serde_json::from_str(text.as_str()).unwrap();
        if frame[3] == "phx_reply" && frame[1] != "1" {
            assert_eq!(frame[4]["status"], "ok", "{frame}");
            assert_eq!(
                frame[1],
                json!(refs[next]),
                "replies come in the order asked"
            );
            next += 1;
        }
    }
}

/// Events forwarded by a follower keep their order while the leader's own socket sends
/// events mixed with other commands (each `lvs_refresh` ends the leader's gathering of a
/// group and waits for its turn): no forwarded request is dropped or delayed past the
/// ones behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_events_keep_their_order_beside_the_leaders_own_commands() {
    const EACH: usize = 300;
    let cluster = MemoryCluster::new(Duration::from_secs(3));
    let (a, b) = (node(&cluster, "a"), node(&cluster, "b"));
    let topic = "doc:mixed";
    a.api().put(topic, "/log", json!([])).await.unwrap();
    let (mut sa, mut ra) = raw_join(&a, topic).await;
    let (mut sb, mut rb) = raw_join(&b, topic).await;
    let push = |who: &str, k: usize| {
        let payload = json!({"path": "/log/-", "value": format!("{who}{k}")});
        json!(["1", format!("{who}{k}"), topic, "lvs_evt:put", payload]).to_string()
    };
    let (mut refs_a, mut refs_b) = (Vec::new(), Vec::new());
    for k in 0..EACH {
        sb.handle_text(&push("b", k)).await.unwrap();
        refs_b.push(format!("b{k}"));
        sa.handle_text(&push("a", k)).await.unwrap();
        refs_a.push(format!("a{k}"));
        let refresh = json!(["1", format!("r{k}"), topic, "lvs_refresh", {}]).to_string();
        sa.handle_text(&refresh).await.unwrap();
    }
    replies_in_order(&mut rb, &refs_b).await;
    replies_in_order(&mut ra, &refs_a).await;
    let log: Vec<String> =
        serde_json::from_value(cluster.snapshot(topic).unwrap().state["log"].clone()).unwrap();
    assert_eq!(log.len(), 2 * EACH);
    for who in ["a", "b"] {
        let mine: Vec<usize> = log
            .iter()
            .filter_map(|e| e.strip_prefix(who)?.parse().ok())
            .collect();
        assert_eq!(
            mine,
            (0..EACH).collect::<Vec<_>>(),
            "{who}'s events in order"
        );
    }
}
