//! Topic processes (live views are one) served by a session beside channels: the join
//! answered by the process, later messages handed over in order, leave, a second join,
//! a process that ends by itself, and a socket that serves processes only.

use livestate_core::process::{ProcessJoin, TopicProcess};
use livestate_core::{DocChannel, Hub, OutboxReceiver, Session};
use livestate_protocol::{Message, Status, frame};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// Answers its join, then echoes every message's event back as a reply; `stop` ends it.
struct Echo;

impl TopicProcess for Echo {
    fn start(&self, join: ProcessJoin) {
        tokio::spawn(async move {
            let ProcessJoin {
                topic,
                join_ref,
                r#ref,
                outbox,
                mut inbox,
                joined,
                ended,
                metrics,
                ..
            } = join;
            let _counted = metrics.joined();
            let reply = |r: &str, response: Value| {
                frame::reply(Some(&join_ref), Some(r), &topic, Status::Ok, &response)
            };
            outbox.push(reply(&r#ref, json!({"joined": true}))).await;
            let _ = joined.send(true);
            while let Some(message) = inbox.recv().await {
                if message.event == "stop" {
                    drop(ended);
                    return;
                }
                let r = message.r#ref.clone().unwrap_or_default();
                outbox.push(reply(&r, json!({"echo": message.event}))).await;
            }
        });
    }
}

fn hub() -> Hub {
    Hub::builder()
        .channel("doc:*", DocChannel::default())
        .process("echo:*", Arc::new(Echo))
        .build()
}

async fn send(session: &mut Session, text: Value) {
    session.handle_text(&text.to_string()).await.unwrap();
}

async fn next(rx: &mut OutboxReceiver) -> Value {
    let text = tokio::time::timeout(Duration::from_secs(30), rx.recv())
        .await
        .expect("a frame")
        .expect("the outbox is open");
    let m = Message::decode(text.as_str()).expect("decodes");
    json!([m.join_ref, m.r#ref, m.topic, m.event, m.payload])
}

#[tokio::test]
async fn a_process_answers_its_join_and_its_messages_in_order() {
    let hub = hub();
    let (outbox, mut rx) = hub.outbox();
    let mut s = hub.session(outbox, Default::default());
    send(&mut s, json!(["1", "1", "echo:a", "phx_join", {}])).await;
    assert_eq!(
        next(&mut rx).await,
        json!(["1", "1", "echo:a", "phx_reply", {"status": "ok", "response": {"joined": true}}])
    );
    assert!(hub.metrics().encode().contains("livestate_views 1"));
    for (r, event) in [("2", "one"), ("3", "two")] {
        send(&mut s, json!(["1", r, "echo:a", event, {}])).await;
    }
    for (r, event) in [("2", "one"), ("3", "two")] {
        assert_eq!(next(&mut rx).await[4]["response"]["echo"], event, "ref {r}");
    }
    // a second join replaces the first
    send(&mut s, json!(["4", "4", "echo:a", "phx_join", {}])).await;
    assert_eq!(
        next(&mut rx).await,
        json!(["1", "1", "echo:a", "phx_close", {}])
    );
    assert_eq!(next(&mut rx).await[1], "4");
    // leave: ok, then phx_close; the topic is not joined after
    send(&mut s, json!(["4", "5", "echo:a", "phx_leave", {}])).await;
    assert_eq!(next(&mut rx).await[4]["status"], "ok");
    assert_eq!(next(&mut rx).await[3], "phx_close");
    assert_eq!(s.joined().count(), 0);
    // the process ends once its inbox is gone
    for _ in 0..1000 {
        if hub.metrics().encode().contains("livestate_views 0") {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert!(hub.metrics().encode().contains("livestate_views 0"));
}

#[tokio::test]
async fn a_process_that_ends_is_forgotten_and_later_messages_are_unmatched() {
    let hub = hub();
    let (outbox, mut rx) = hub.outbox();
    let mut s = hub.session(outbox, Default::default());
    send(&mut s, json!(["1", "1", "echo:a", "phx_join", {}])).await;
    next(&mut rx).await;
    send(&mut s, json!(["1", "2", "echo:a", "stop", {}])).await;
    // once the process has ended, the session forgets it (a message handed over before
    // it ended is the process's: it is gone with it)
    for _ in 0..1000 {
        if s.joined().count() == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(s.joined().count(), 0);
    send(&mut s, json!(["1", "3", "echo:a", "hello", {}])).await;
    let reply = next(&mut rx).await;
    assert_eq!(
        reply,
        json!([null, "3", "echo:a", "phx_reply", {"status": "error", "response": {"reason": "unmatched topic"}}])
    );
}

#[tokio::test]
async fn a_socket_for_processes_only_does_not_reach_channels() {
    let hub = hub();
    let (outbox, mut rx) = hub.outbox();
    let mut s = hub.process_session(outbox, Default::default());
    send(&mut s, json!(["1", "1", "doc:a", "phx_join", {}])).await;
    assert_eq!(
        next(&mut rx).await,
        json!([null, "1", "doc:a", "phx_reply", {"status": "error", "response": {"reason": "unmatched topic"}}])
    );
    send(&mut s, json!(["2", "2", "echo:a", "phx_join", {}])).await;
    assert_eq!(next(&mut rx).await[4]["response"]["joined"], true);
}
