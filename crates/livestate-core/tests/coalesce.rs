//! Coalescing (`Settings::coalesce`): a busy key's changes reach every subscriber as one
//! `state:patch` per window, each applying cleanly at `last + 1`; a socket's own change
//! and every acknowledgement go at once. All on tokio's paused clock: the counts depend on
//! the virtual time alone, never on the machine's speed.

use livestate_core::acl::{Acl, Permissions};
use livestate_core::api::ChangeKind;
use livestate_core::{Assigns, Doc, DocChannel, Hub, OutboxReceiver, Session, StateLimits};
use livestate_protocol::{Message, PatchOp};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::time::Instant;

const WINDOW: Duration = Duration::from_millis(50);

fn hub() -> Hub {
    // the server API calls as the public here: let it write
    let open = Acl {
        group: Permissions::ALL,
        public: Permissions::ALL,
    };
    Hub::builder()
        .channel("doc:*", DocChannel::default().acl(open).coalesce(WINDOW))
        .channel("plain:*", DocChannel::default().acl(open))
        .build()
}

/// A socket joined to one key, keeping its state as phx-live-state does: a patch applies
/// only at `last + 1`.
struct Client {
    session: Session,
    rx: OutboxReceiver,
    topic: String,
    state: Value,
    version: u64,
    /// `state:patch` frames applied.
    patches: usize,
    next_ref: u64,
}

impl Client {
    async fn join(hub: &Hub, topic: &str) -> Client {
        let (outbox, rx) = hub.outbox();
        let session = hub.session(outbox, Assigns::default());
        let mut client = Client {
            session,
            rx,
            topic: topic.to_owned(),
            state: Value::Null,
            version: 0,
            patches: 0,
            next_ref: 1,
        };
        client.send("phx_join", json!({})).await;
        // the reply, then the state
        loop {
            let m = client.next().await;
            if m.event == "state:change" {
                client.apply(&m);
                break;
            }
        }
        client
    }

    async fn send(&mut self, event: &str, payload: Value) -> String {
        let r#ref = self.next_ref.to_string();
        self.next_ref += 1;
        let text = json!(["1", r#ref, self.topic, event, payload]).to_string();
        self.session
            .handle_text(&text)
            .await
            .expect("the socket stays open");
        r#ref
    }

    async fn next(&mut self) -> Message {
        let frame = self.rx.recv().await.expect("the outbox stays open");
        Message::decode(frame.as_str()).expect("frames decode")
    }

    /// Apply what has arrived; the frames read.
    fn drain(&mut self) -> Vec<Message> {
        let mut read = Vec::new();
        while let Some(frame) = self.rx.try_recv() {
            let m = Message::decode(frame.as_str()).expect("frames decode");
            self.apply(&m);
            read.push(m);
        }
        read
    }

    fn apply(&mut self, m: &Message) {
        let version = m.payload["version"].as_u64();
        match m.event.as_str() {
            "state:change" => {
                self.state = m.payload["state"].clone();
                self.version = version.expect("a version");
            }
            "state:patch" => {
                let version = version.expect("a version");
                assert_eq!(version, self.version + 1, "a patch at last + 1: {m:?}");
                let ops: Vec<PatchOp> =
                    serde_json::from_value(m.payload["patch"].clone()).expect("a patch");
                let mut doc = Doc::with_limits(self.state.take(), StateLimits::TRUSTED);
                doc.replay(&ops).expect("the patch applies");
                self.state = doc.into_value();
                self.version = version;
                self.patches += 1;
            }
            _ => {}
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_thousand_changes_in_a_second_reach_each_subscriber_as_about_twenty_patches() {
    let hub = hub();
    let mut a = Client::join(&hub, "doc:busy").await;
    let mut b = Client::join(&hub, "doc:busy").await;
    let mut rust = hub.api().subscribe("doc:busy").await.unwrap();
    let api = hub.api();
    api.put("doc:busy", "/log", json!({})).await.unwrap();
    let start = Instant::now();
    for i in 0..1000 {
        let before = Instant::now();
        api.put("doc:busy", "/n", json!(i)).await.unwrap();
        // the acknowledgement never waits for the window
        assert_eq!(Instant::now(), before);
        if i % 10 == 0 {
            let path = format!("/log/k{i}");
            api.put("doc:busy", &path, json!(i)).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        a.drain();
        b.drain();
    }
    assert_eq!(Instant::now() - start, Duration::from_secs(1));
    tokio::time::sleep(WINDOW * 2).await;
    a.drain();
    b.drain();
    let current = api.get("doc:busy").await.unwrap();
    for client in [&a, &b] {
        assert!(
            (18..=22).contains(&client.patches),
            "{} patches for 1,100 changes",
            client.patches
        );
        assert_eq!(client.state, current.state);
        assert_eq!(client.version, current.version);
    }
    assert_eq!(current.state["n"], 999);
    assert_eq!(current.state["log"].as_object().unwrap().len(), 100);
    // the Rust subscriber gets the same messages: its last change is the last value
    let mut messages = std::collections::BTreeSet::new();
    let mut last = Value::Null;
    while let Ok(Some(change)) = tokio::time::timeout(Duration::from_millis(1), rust.next()).await {
        messages.insert(change.version);
        if change.path == "/n" && change.kind == ChangeKind::Updated {
            last = change.value.unwrap();
        }
    }
    assert_eq!(messages.len(), a.patches);
    assert_eq!(last, 999);
}

#[tokio::test(start_paused = true)]
async fn a_sockets_own_change_goes_at_once_with_what_waited_and_restarts_the_window() {
    let hub = hub();
    let mut a = Client::join(&hub, "doc:own").await;
    let mut b = Client::join(&hub, "doc:own").await;
    let api = hub.api();
    // the first change of a quiet key goes at once
    api.put("doc:own", "/x", json!(1)).await.unwrap();
    tokio::task::yield_now().await;
    assert_eq!(a.drain().len(), 1);
    b.drain();
    // the next waits for the window
    api.put("doc:own", "/x", json!(2)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(a.drain().is_empty());
    // a's own event: its patch (with the waiting change) comes before its reply, now
    let r#ref = a
        .send("lvs_evt:put", json!({"path": "/y", "value": 3}))
        .await;
    let sent_at = Instant::now();
    let mut frames = Vec::new();
    while frames
        .last()
        .is_none_or(|m: &Message| m.event != "phx_reply")
    {
        let m = a.next().await;
        a.apply(&m);
        frames.push(m);
    }
    assert_eq!(Instant::now(), sent_at);
    let events: Vec<&str> = frames.iter().map(|m| m.event.as_str()).collect();
    assert_eq!(events, ["state:patch", "phx_reply"]);
    assert_eq!(frames[1].r#ref.as_deref(), Some(r#ref.as_str()));
    assert_eq!(frames[1].payload["response"]["version"], json!(a.version));
    assert_eq!(a.state, json!({"x": 2, "y": 3}));
    // b got the same one patch
    tokio::task::yield_now().await;
    let frames = b.drain();
    assert_eq!(frames.len(), 1);
    assert_eq!(b.state, a.state);
    // the window restarted from it: a change 10 ms later waits 50 ms from the event
    let event_at = Instant::now();
    tokio::time::sleep(Duration::from_millis(10)).await;
    api.put("doc:own", "/x", json!(4)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert!(b.drain().is_empty());
    let frame = b.next().await;
    b.apply(&frame);
    assert_eq!(Instant::now() - event_at, WINDOW);
    assert_eq!(b.state, json!({"x": 4, "y": 3}));
}

#[tokio::test(start_paused = true)]
async fn a_joiner_while_changes_wait_applies_every_later_patch_cleanly() {
    let hub = hub();
    let mut a = Client::join(&hub, "doc:join").await;
    let api = hub.api();
    api.put("doc:join", "/items", json!([])).await.unwrap();
    for i in 0..5 {
        api.put("doc:join", "/items/-", json!(i)).await.unwrap();
    }
    // appends wait; a joiner now gets a state that holds them, and never gets them again
    let mut late = Client::join(&hub, "doc:join").await;
    assert_eq!(late.state["items"], json!([0, 1, 2, 3, 4]));
    for i in 5..8 {
        api.put("doc:join", "/items/-", json!(i)).await.unwrap();
    }
    tokio::time::sleep(WINDOW * 2).await;
    a.drain();
    late.drain();
    assert_eq!(late.state["items"], json!([0, 1, 2, 3, 4, 5, 6, 7]));
    assert_eq!(a.state, late.state);
    assert_eq!(a.version, late.version);
}

#[tokio::test(start_paused = true)]
async fn a_key_without_a_window_sends_every_change() {
    let hub = hub();
    let mut a = Client::join(&hub, "plain:x").await;
    let api = hub.api();
    for i in 0..100 {
        api.put("plain:x", "/n", json!(i)).await.unwrap();
    }
    tokio::task::yield_now().await;
    a.drain();
    assert_eq!(a.patches, 100);
    assert_eq!(a.state["n"], 99);
}
