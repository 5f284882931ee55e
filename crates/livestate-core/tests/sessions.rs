//! Sessions and authorities driven in-process, without a network: shutdown, backplane
//! failures, and TTL on tokio's paused clock.

use bytes::Bytes;
use livestate_core::backplane::memory::{MemoryCluster, MemoryNode};
use livestate_core::backplane::{
    Acquired, Backplane, BackplaneError, Broadcast, Bus, Commit, CommitLog, Committed, Forwarding,
    Fut, Lease, Leases, Presence, PresenceEntry, Published, Snapshot,
};
use livestate_core::{DocChannel, Hub, Limits, OutboxReceiver, Session};
use livestate_protocol::Message;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

fn frame(
    join_ref: Option<&str>,
    r#ref: Option<&str>,
    topic: &str,
    event: &str,
    payload: Value,
) -> String {
    json!([join_ref, r#ref, topic, event, payload]).to_string()
}

async fn next(rx: &mut OutboxReceiver) -> Message {
    let text = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .expect("a frame within 5 s")
        .expect("the outbox is open");
    Message::decode(text.as_str()).expect("server frames decode")
}

fn session(hub: &Hub) -> (Session, OutboxReceiver) {
    let (outbox, rx) = hub.outbox();
    (hub.session(outbox, Default::default()), rx)
}

#[tokio::test]
async fn no_joins_once_shutting_down() {
    let hub = Hub::builder()
        .channel("doc:*", DocChannel::default())
        .build();
    let (mut s, mut rx) = session(&hub);
    hub.shutdown();
    s.handle_text(&frame(Some("1"), Some("1"), "doc:a", "phx_join", json!({})))
        .await
        .unwrap();
    let reply = next(&mut rx).await;
    assert_eq!(
        reply.payload,
        json!({"status": "error", "response": {"reason": "server shutting down"}})
    );
    assert_eq!(s.joined().count(), 0);
}

/// A one-node cluster whose commits fail on demand: 0 = fine, 1 = unavailable, 2 = fenced.
struct Flaky {
    inner: Arc<MemoryNode>,
    mode: AtomicU8,
}

impl Flaky {
    fn new() -> Arc<Flaky> {
        Arc::new(Flaky {
            inner: MemoryCluster::new(Duration::from_secs(30)).node("only"),
            mode: AtomicU8::new(0),
        })
    }
}

impl Backplane for Flaky {
    fn node(&self) -> &str {
        self.inner.node()
    }
}

impl CommitLog for Flaky {
    fn load<'a>(&'a self, key: &'a str) -> Fut<'a, Option<Snapshot>> {
        self.inner.load(key)
    }
    fn commit<'a>(&'a self, lease: &'a Lease, commit: Commit<'a>) -> Fut<'a, Committed> {
        match self.mode.load(Ordering::SeqCst) {
            0 => self.inner.commit(lease, commit),
            1 => Box::pin(async { Err(BackplaneError::Unavailable("redis is down".into())) }),
            _ => Box::pin(async move {
                Err(BackplaneError::Fenced {
                    key: lease.key.clone(),
                    epoch: lease.epoch,
                })
            }),
        }
    }
}

// the rest as the cluster node does it
impl Leases for Flaky {
    fn lease_time(&self) -> Duration {
        self.inner.lease_time()
    }
    fn acquire<'a>(&'a self, key: &'a str) -> Fut<'a, Acquired> {
        self.inner.acquire(key)
    }
    fn renew<'a>(&'a self, lease: &'a Lease) -> Fut<'a, ()> {
        self.inner.renew(lease)
    }
    fn release<'a>(&'a self, lease: &'a Lease, drop_state: bool) -> Fut<'a, ()> {
        self.inner.release(lease, drop_state)
    }
}

impl Bus for Flaky {
    fn subscribe<'a>(&'a self, key: &'a str) -> Fut<'a, mpsc::Receiver<Published>> {
        self.inner.subscribe(key)
    }
    fn broadcast<'a>(&'a self, message: Broadcast) -> Fut<'a, ()> {
        self.inner.broadcast(message)
    }
    fn take_broadcasts(&self) -> Option<mpsc::Receiver<Broadcast>> {
        self.inner.take_broadcasts()
    }
}

impl Forwarding for Flaky {
    fn forward<'a>(&'a self, key: &'a str, message: Bytes) -> Fut<'a, ()> {
        self.inner.forward(key, message)
    }
    fn serve<'a>(&'a self, lease: &'a Lease) -> Fut<'a, mpsc::Receiver<Bytes>> {
        self.inner.serve(lease)
    }
    fn answer<'a>(&'a self, node: &'a str, message: Bytes) -> Fut<'a, ()> {
        self.inner.answer(node, message)
    }
    fn take_answers(&self) -> Option<mpsc::Receiver<Bytes>> {
        self.inner.take_answers()
    }
}

impl Presence for Flaky {
    fn attach<'a>(&'a self, key: &'a str, count: usize) -> Fut<'a, ()> {
        self.inner.attach(key, count)
    }
    fn attached_elsewhere<'a>(&'a self, key: &'a str) -> Fut<'a, usize> {
        self.inner.attached_elsewhere(key)
    }
    fn track<'a>(
        &'a self,
        key: &'a str,
        joins: Vec<PresenceEntry>,
        leaves: Vec<PresenceEntry>,
    ) -> Fut<'a, ()> {
        self.inner.track(key, joins, leaves)
    }
    fn presence<'a>(&'a self, key: &'a str) -> Fut<'a, Vec<PresenceEntry>> {
        self.inner.presence(key)
    }
}

/// Join `topic` (join_ref and ref "1"); the `state:change` after the reply.
async fn join(s: &mut Session, rx: &mut OutboxReceiver, topic: &str) -> Message {
    s.handle_text(&frame(Some("1"), Some("1"), topic, "phx_join", json!({})))
        .await
        .unwrap();
    next(rx).await;
    next(rx).await
}

/// A hub serving `doc:*` on a backplane whose commits the test can make fail.
fn flaky_hub() -> (Arc<Flaky>, Hub) {
    let flaky = Flaky::new();
    let hub = Hub::builder()
        .channel("doc:*", DocChannel::default())
        .backplane(flaky.clone())
        .build();
    (flaky, hub)
}

async fn put(
    s: &mut Session,
    rx: &mut OutboxReceiver,
    r: &str,
    path: &str,
    value: Value,
) -> Vec<Message> {
    put_as(s, rx, "1", r, path, value).await
}

async fn put_as(
    s: &mut Session,
    rx: &mut OutboxReceiver,
    join_ref: &str,
    r: &str,
    path: &str,
    value: Value,
) -> Vec<Message> {
    s.handle_text(&frame(
        Some(join_ref),
        Some(r),
        "doc:k",
        "lvs_evt:put",
        json!({"path": path, "value": value}),
    ))
    .await
    .unwrap();
    let mut frames = Vec::new();
    loop {
        let f = next(rx).await;
        let done = f.r#ref.as_deref() == Some(r) || f.event == "phx_error";
        frames.push(f);
        if done {
            return frames;
        }
    }
}

#[tokio::test]
async fn a_change_the_backplane_cannot_commit_is_refused_and_not_applied() {
    let (flaky, hub) = flaky_hub();
    let (mut s, mut rx) = session(&hub);
    join(&mut s, &mut rx, "doc:k").await;
    let ok = put(&mut s, &mut rx, "2", "/a", json!(1)).await;
    assert_eq!(ok.last().unwrap().payload["status"], "ok");

    flaky.mode.store(1, Ordering::SeqCst);
    let refused = put(&mut s, &mut rx, "3", "/b", json!(2)).await;
    assert_eq!(refused[0].event, "state:change");
    assert_eq!(refused[0].payload, json!({"state": {"a": 1}, "version": 1}));
    assert_eq!(
        refused[1].payload["response"]["reason"],
        "backplane unavailable: redis is down"
    );

    // when the backplane is back, changes go through from the last committed state
    flaky.mode.store(0, Ordering::SeqCst);
    let ok = put(&mut s, &mut rx, "4", "/c", json!(3)).await;
    assert_eq!(
        ok[0].payload,
        json!({"patch": [{"op": "add", "path": "/c", "value": 3}], "version": 2})
    );
}

#[tokio::test]
async fn an_authority_that_lost_its_lease_stops_and_its_clients_rejoin() {
    let (flaky, hub) = flaky_hub();
    let (mut s, mut rx) = session(&hub);
    join(&mut s, &mut rx, "doc:k").await;
    flaky.mode.store(2, Ordering::SeqCst);
    let mut frames = put(&mut s, &mut rx, "2", "/a", json!(1)).await;
    frames.push(next(&mut rx).await);
    let events: Vec<&str> = frames.iter().map(|f| f.event.as_str()).collect();
    assert_eq!(events, ["state:change", "phx_reply", "phx_error"]);
    assert!(
        frames[1].payload["response"]["reason"]
            .as_str()
            .unwrap()
            .contains("lease on doc:k lost")
    );
    flaky.mode.store(0, Ordering::SeqCst);
    // the client rejoins (as phoenix.js does after phx_error) and reaches a new authority
    s.handle_text(&frame(Some("5"), Some("5"), "doc:k", "phx_join", json!({})))
        .await
        .unwrap();
    let mut joined = false;
    for _ in 0..4 {
        let f = next(&mut rx).await;
        if f.event == "state:change" {
            assert_eq!(f.payload, json!({"state": {}, "version": 0}));
            joined = true;
            break;
        }
    }
    assert!(joined);
    let ok = put_as(&mut s, &mut rx, "5", "6", "/a", json!(1)).await;
    assert_eq!(ok.last().unwrap().payload["status"], "ok");
}

#[tokio::test(start_paused = true)]
async fn ttl_counts_down_from_the_last_leave_and_a_joiner_cancels_it() {
    let hub = Hub::builder()
        .channel("doc:*", DocChannel::default())
        .limits({
            let mut l = Limits::default();
            l.ttl = Duration::from_secs(60);
            l
        })
        .build();
    let (mut a, mut arx) = session(&hub);
    join(&mut a, &mut arx, "doc:t").await;
    put_on(&mut a, &mut arx, "doc:t").await;
    a.close().await;
    tokio::time::sleep(Duration::from_secs(59)).await;
    assert_eq!(hub.live_keys(), 1, "still alive just before the TTL");
    // a joiner within the TTL gets the state and cancels the countdown
    let (mut b, mut brx) = session(&hub);
    assert_eq!(
        join(&mut b, &mut brx, "doc:t").await.payload["state"],
        json!({"x": 1})
    );
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(hub.live_keys(), 1, "a subscriber keeps the key alive");
    b.close().await;
    tokio::time::sleep(Duration::from_secs(61)).await;
    assert_eq!(hub.live_keys(), 0, "gone after the TTL");
    let (mut c, mut crx) = session(&hub);
    assert_eq!(
        join(&mut c, &mut crx, "doc:t").await.payload,
        json!({"state": {}, "version": 0})
    );
}

async fn put_on(s: &mut Session, rx: &mut OutboxReceiver, topic: &str) {
    s.handle_text(&frame(
        Some("1"),
        Some("p"),
        topic,
        "lvs_evt:put",
        json!({"path": "/x", "value": 1}),
    ))
    .await
    .unwrap();
    while next(rx).await.r#ref.as_deref() != Some("p") {}
}
