//! `Hub::broadcast`: a message for every connection of a connection-scoped topic (the
//! Phoenix PubSub case of LiveState), on one node and across a cluster.

use livestate_core::api::ApiError;
use livestate_core::backplane::Backplane;
use livestate_core::backplane::memory::MemoryCluster;
use livestate_core::event::AnyEvent;
use livestate_core::testing::{TestChannel, TestError};
use livestate_core::{
    Channel, ChannelError, Doc, DocChannel, Hub, JoinContext, MessageContext, Settings,
};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// One state per connection: who joined, and the headlines it was sent. A message with
/// `"only"` is refused by every connection but that one's.
struct News;

impl Channel for News {
    type State = Doc;
    type Event = AnyEvent;
    type Params = Value;

    fn settings(&self) -> Settings {
        Settings::connection()
    }

    async fn init(&self, params: &Value, _: &JoinContext) -> Result<Doc, ChannelError> {
        if params["fail"] == json!(true) {
            return Err(ChannelError::refused("no news for you"));
        }
        Ok(Doc::new(json!({"who": params["who"], "headlines": []})))
    }

    async fn handle_message(
        &self,
        message: Value,
        doc: &mut Doc,
        _: &MessageContext,
    ) -> Result<(), ChannelError> {
        let who = doc.get("/who")?.clone();
        if message.get("only").is_some_and(|only| *only != who) {
            return Err(ChannelError::refused("not for me"));
        }
        doc.append("/headlines", message["headline"].clone())?;
        Ok(())
    }
}

fn hub(backplane: Option<Arc<dyn Backplane>>) -> Hub {
    let builder = Hub::builder()
        .channel("news", News)
        .channel("doc:*", DocChannel::default());
    match backplane {
        Some(b) => builder.backplane(b),
        None => builder,
    }
    .build()
}

async fn no_change_soon(c: &mut TestChannel) {
    let got = tokio::time::timeout(Duration::from_millis(200), c.next_change()).await;
    assert!(got.is_err(), "unexpected change: {got:?}");
}

#[tokio::test]
async fn every_connection_of_the_topic_runs_the_message_on_its_own_state() -> Result<(), TestError>
{
    let hub = hub(None);
    let mut ann = TestChannel::join(&hub, "news", json!({"who": "ann"})).await?;
    let mut bob = TestChannel::join(&hub, "news", json!({"who": "bob"})).await?;
    assert_eq!(hub.connections("news"), 2);
    let reached = hub
        .broadcast("news", json!({"headline": "rain"}))
        .await
        .unwrap();
    assert_eq!(reached, 2);
    for c in [&mut ann, &mut bob] {
        let patch = c.next_change().await?;
        assert_eq!(
            patch,
            json!([{"op": "add", "path": "/headlines/0", "value": "rain"}])
        );
        assert_eq!(c.version(), 1);
    }
    assert_eq!(ann.state(), &json!({"who": "ann", "headlines": ["rain"]}));
    assert_eq!(bob.state(), &json!({"who": "bob", "headlines": ["rain"]}));

    // a refusal is that connection's own: not counted, its state untouched
    let reached = hub
        .broadcast("news", json!({"headline": "sun", "only": "bob"}))
        .await
        .unwrap();
    assert_eq!(reached, 1);
    bob.next_change().await?;
    assert_eq!(bob.state()["headlines"], json!(["rain", "sun"]));
    no_change_soon(&mut ann).await;
    assert_eq!(ann.refresh().await?["headlines"], json!(["rain"]));

    // a connection that left is not reached
    ann.leave().await;
    let reached = hub
        .broadcast("news", json!({"headline": "wind"}))
        .await
        .unwrap();
    assert_eq!(reached, 1);
    bob.next_change().await?;
    bob.leave().await;
    // nobody joined: nothing kept for the topic, nobody reached
    for _ in 0..100 {
        if hub.connections("news") == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(hub.connections("news"), 0);
    let reached = hub
        .broadcast("news", json!({"headline": "void"}))
        .await
        .unwrap();
    assert_eq!(reached, 0);
    Ok(())
}

#[tokio::test]
async fn a_connection_whose_init_failed_is_not_reached() -> Result<(), TestError> {
    let hub = hub(None);
    let failed = TestChannel::join(&hub, "news", json!({"fail": true})).await;
    match failed {
        Err(TestError::InitFailed(m)) => assert_eq!(m, "no news for you"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("the join's init should have failed"),
    }
    let mut ok = TestChannel::join(&hub, "news", json!({"who": "cy"})).await?;
    let reached = hub
        .broadcast("news", json!({"headline": "x"}))
        .await
        .unwrap();
    assert_eq!(reached, 1);
    ok.next_change().await?;
    Ok(())
}

#[tokio::test]
async fn bad_targets_get_clear_errors() -> Result<(), TestError> {
    let hub = hub(None);
    let err = hub.broadcast("nowhere", json!({})).await.unwrap_err();
    assert_eq!(err, ApiError::NoRoute("nowhere".into()));
    // send addresses one shared state; a connection-scoped topic has none
    let err = hub.send("news", json!({})).await.unwrap_err();
    assert_eq!(err.code(), "not_shared");
    // on a shared key, broadcast is send: its one state takes it
    let doc = TestChannel::join(&hub, "doc:1", json!({})).await?;
    assert_eq!(hub.broadcast("doc:1", json!({})).await.unwrap(), 1);
    // DocChannel ignores messages: the commit is empty, the state unchanged
    assert_eq!(doc.state(), &json!({}));
    hub.shutdown();
    let err = hub.broadcast("news", json!({})).await.unwrap_err();
    assert_eq!(err.code(), "unavailable");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_reaches_connections_on_every_node() -> Result<(), TestError> {
    let cluster = MemoryCluster::new(Duration::from_secs(3));
    let (a, b, c) = (
        hub(Some(cluster.node("a"))),
        hub(Some(cluster.node("b"))),
        hub(Some(cluster.node("c"))),
    );
    let mut on_a = TestChannel::join(&a, "news", json!({"who": "ann"})).await?;
    let mut on_b = TestChannel::join(&b, "news", json!({"who": "bob"})).await?;
    let mut on_b2 = TestChannel::join(&b, "news", json!({"who": "bea"})).await?;
    // c has no connection: it sends, the others deliver; it counts its own (none)
    let reached = c
        .broadcast("news", json!({"headline": "one"}))
        .await
        .unwrap();
    assert_eq!(reached, 0);
    for ch in [&mut on_a, &mut on_b, &mut on_b2] {
        ch.next_change().await?;
        assert_eq!(ch.state()["headlines"], json!(["one"]));
    }
    // from a node with a connection: its own once (not again through the backplane)
    let reached = a
        .broadcast("news", json!({"headline": "two"}))
        .await
        .unwrap();
    assert_eq!(reached, 1);
    for ch in [&mut on_a, &mut on_b, &mut on_b2] {
        ch.next_change().await?;
        assert_eq!(ch.state()["headlines"], json!(["one", "two"]));
    }
    no_change_soon(&mut on_a).await;
    // many in a row arrive in the order sent, on every node
    for i in 0..30 {
        c.broadcast("news", json!({"headline": i})).await.unwrap();
    }
    let want: Vec<Value> = ["one", "two"]
        .into_iter()
        .map(Value::from)
        .chain((0..30).map(Value::from))
        .collect();
    for ch in [&mut on_a, &mut on_b, &mut on_b2] {
        while ch.version() != 32 {
            ch.next_change().await?;
        }
        assert_eq!(ch.state()["headlines"], Value::from(want.clone()));
    }
    // a killed node's backplane refuses: the sender hears it, and nothing is delivered
    cluster.kill("c");
    let err = c.broadcast("news", json!({"headline": "x"})).await;
    assert_eq!(err.unwrap_err().code(), "unavailable");
    no_change_soon(&mut on_b).await;
    Ok(())
}
