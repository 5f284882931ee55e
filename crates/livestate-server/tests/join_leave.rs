//! Phoenix Channels V2 at the socket level: joins, leaves, heartbeats and their edge
//! cases (PROTOCOL.md §1), over a real WebSocket. join_ref and ref are kept different
//! where it matters, so code that confuses them fails.

use anyhow::Result;
use livestate_core::Limits;
use livestate_testkit::channels::test_hub;
use livestate_testkit::client::reply_status;
use livestate_testkit::{Client, TestServer};
use serde_json::json;
use std::time::Duration;

async fn server() -> Result<TestServer> {
    TestServer::start(test_hub().build()).await
}

#[tokio::test]
async fn health_answers_200() -> Result<()> {
    let server = server().await?;
    let (status, body) = http_get(&server, "/health").await?;
    assert_eq!(status, 200);
    assert_eq!(body.trim(), "ok");
    Ok(())
}

#[tokio::test]
async fn join_replies_ok_then_sends_the_state() -> Result<()> {
    let server = server().await?;
    let mut c = server.client().await?;
    c.send(Some("7"), Some("8"), "doc:j1", "phx_join", json!({}))
        .await?;
    let reply = c.recv().await?;
    assert_eq!(reply.event, "phx_reply");
    assert_eq!(reply.join_ref.as_deref(), Some("7"));
    assert_eq!(reply.r#ref.as_deref(), Some("8"));
    assert_eq!(reply.payload, json!({"status": "ok", "response": {}}));
    let change = c.recv().await?;
    assert_eq!(change.event, "state:change");
    assert_eq!(change.topic, "doc:j1");
    assert_eq!(change.payload, json!({"state": {}, "version": 0}));
    Ok(())
}

#[tokio::test]
async fn heartbeat_is_answered_on_the_phoenix_topic() -> Result<()> {
    let server = server().await?;
    let mut c = server.client().await?;
    c.send(None, Some("41"), "phoenix", "heartbeat", json!({}))
        .await?;
    let reply = c.recv().await?;
    assert_eq!(reply.topic, "phoenix");
    assert_eq!(reply.join_ref, None);
    assert_eq!(reply.r#ref.as_deref(), Some("41"));
    assert_eq!(reply_status(&reply).0, "ok");
    c.send(None, Some("42"), "phoenix", "other", json!({}))
        .await?;
    let reply = c.recv().await?;
    assert_eq!(reply.payload["response"]["reason"], "unmatched topic");
    Ok(())
}

#[tokio::test]
async fn leave_replies_then_closes_the_channel() -> Result<()> {
    let server = server().await?;
    let mut c = server.client().await?;
    let jr = c.join("doc:leave", json!({})).await?;
    c.recv_until(|f| f.event == "state:change").await?;
    c.send(Some(&jr), Some("99"), "doc:leave", "phx_leave", json!({}))
        .await?;
    let reply = c.recv().await?;
    assert_eq!(
        (reply.event.as_str(), reply.r#ref.as_deref()),
        ("phx_reply", Some("99"))
    );
    assert_eq!(reply_status(&reply).0, "ok");
    let close = c.recv().await?;
    assert_eq!(close.event, "phx_close");
    assert_eq!(close.join_ref.as_deref(), Some(jr.as_str()));
    assert_eq!(close.r#ref.as_deref(), Some(jr.as_str()));
    // after leaving, the topic is not joined any more
    c.send(
        Some(&jr),
        Some("100"),
        "doc:leave",
        "lvs_evt:put",
        json!({"path": "/a", "value": 1}),
    )
    .await?;
    let reply = c.recv().await?;
    assert_eq!(reply.join_ref, None);
    assert_eq!(reply.payload["response"]["reason"], "unmatched topic");
    Ok(())
}

#[tokio::test]
async fn an_unrouted_topic_is_an_unmatched_topic_with_a_null_join_ref() -> Result<()> {
    let server = server().await?;
    let mut c = server.client().await?;
    c.send(Some("1"), Some("2"), "nope:1", "phx_join", json!({}))
        .await?;
    let reply = c.recv().await?;
    assert_eq!(reply.join_ref, None);
    assert_eq!(reply.r#ref.as_deref(), Some("2"));
    assert_eq!(
        reply.payload,
        json!({"status": "error", "response": {"reason": "unmatched topic"}})
    );
    Ok(())
}

#[tokio::test]
async fn a_duplicate_join_closes_the_old_channel_first() -> Result<()> {
    let server = server().await?;
    let mut c = server.client().await?;
    let old = c.join("doc:dup", json!({})).await?;
    c.recv_until(|f| f.event == "state:change").await?;
    let new = c.push_join("doc:dup", json!({})).await?;
    let close = c.recv().await?;
    assert_eq!(close.event, "phx_close");
    assert_eq!(close.join_ref.as_deref(), Some(old.as_str()));
    let reply = c.recv().await?;
    assert_eq!(reply.event, "phx_reply");
    assert_eq!(reply.join_ref.as_deref(), Some(new.as_str()));
    assert_eq!(reply_status(&reply).0, "ok");
    let change = c.recv().await?;
    assert_eq!(change.event, "state:change");
    // one subscription only: an event yields exactly one patch
    c.push_event(&new, "doc:dup", "put", json!({"path": "/a", "value": 1}))
        .await?;
    let frames = c.drain(Duration::from_millis(300)).await;
    let patches = frames
        .iter()
        .filter(|f| matches!(f, livestate_testkit::client::Incoming::Frame(f) if f.event == "state:patch"))
        .count();
    assert_eq!(patches, 1, "{frames:?}");
    Ok(())
}

#[tokio::test]
async fn a_stale_join_ref_is_ignored() -> Result<()> {
    let server = server().await?;
    let mut c = server.client().await?;
    let jr = c.join("doc:stale", json!({})).await?;
    c.recv_until(|f| f.event == "state:change").await?;
    c.send(
        Some("999"),
        Some("5"),
        "doc:stale",
        "lvs_evt:put",
        json!({"path": "/a", "value": 1}),
    )
    .await?;
    c.send(Some("999"), Some("6"), "doc:stale", "phx_leave", json!({}))
        .await?;
    assert!(c.drain(Duration::from_millis(300)).await.is_empty());
    // the channel is still joined and unchanged
    c.send(Some(&jr), Some("7"), "doc:stale", "lvs_refresh", json!({}))
        .await?;
    let change = c.recv().await?;
    assert_eq!(change.payload, json!({"state": {}, "version": 0}));
    Ok(())
}

#[tokio::test]
async fn the_channel_cap_refuses_the_next_join() -> Result<()> {
    let hub = test_hub()
        .limits({
            let mut l = Limits::default();
            l.max_channels = 3;
            l
        })
        .build();
    let server = TestServer::start(hub).await?;
    let mut c = server.client().await?;
    for i in 0..3 {
        c.join(&format!("doc:cap{i}"), json!({})).await?;
    }
    let err = c.join("doc:cap3", json!({})).await.unwrap_err();
    assert!(
        err.to_string().contains("too many channels joined"),
        "{err}"
    );
    // leaving one makes room
    c.drain(Duration::from_millis(100)).await;
    c.send(Some("1"), Some("50"), "doc:cap0", "phx_leave", json!({}))
        .await?;
    c.reply_to("50").await?;
    c.join("doc:cap3", json!({})).await?;
    Ok(())
}

#[tokio::test]
async fn authorize_refusals_reach_the_client_with_their_reason() -> Result<()> {
    let server = server().await?;
    let mut c = server.client().await?;
    let err = c.join("auth:a", json!({})).await.unwrap_err();
    assert!(err.to_string().contains("unauthorized"), "{err}");
    let jr = c
        .join("auth:a", json!({"token": "secret", "user": "ann"}))
        .await?;
    c.recv_until(|f| f.event == "state:change").await?;
    c.push_event(&jr, "auth:a", "whoami", json!({})).await?;
    let reply = c.recv_until(|f| f.event == "you_are").await?;
    assert_eq!(reply.payload, json!({"user": "ann"}));
    assert_eq!(reply.join_ref.as_deref(), Some(jr.as_str()));
    Ok(())
}

#[tokio::test]
async fn the_phoenix_subprotocol_is_echoed_when_offered() -> Result<()> {
    let server = server().await?;
    let token = "base64url.bearer.phx.dG9rZW4";
    let c = Client::connect_with_protocols(&server.url(), &["phoenix", token]).await?;
    assert_eq!(c.protocol.as_deref(), Some("phoenix"));
    let c = Client::connect(&server.url()).await?;
    assert_eq!(c.protocol, None);
    Ok(())
}

#[tokio::test]
async fn a_missing_or_unsupported_vsn_is_refused_clearly() -> Result<()> {
    let server = server().await?;
    let (status, body) = http_get(&server, "/socket/websocket").await?;
    assert_eq!(status, 400);
    assert!(
        body.contains("missing vsn") && body.contains("vsn=2.0.0"),
        "{body}"
    );
    let (status, body) = http_get(&server, "/socket/websocket?vsn=1.0.0").await?;
    assert_eq!(status, 400);
    assert!(body.contains("unsupported vsn \"1.0.0\""), "{body}");
    let err = Client::connect(&format!("ws://{}/socket/websocket?vsn=1.0.0", server.addr))
        .await
        .err()
        .expect("a V1 client must not connect");
    assert!(err.to_string().contains("connecting"), "{err}");
    Ok(())
}

#[tokio::test]
async fn join_params_must_be_an_object_and_a_join_needs_a_ref() -> Result<()> {
    let server = server().await?;
    let mut c = server.client().await?;
    c.send(Some("1"), Some("1"), "doc:p", "phx_join", json!([1]))
        .await?;
    let reply = c.recv().await?;
    assert_eq!(
        reply.payload["response"]["reason"],
        "join params must be a JSON object"
    );
    c.send(None, None, "doc:p", "phx_join", json!({})).await?;
    assert_eq!(
        c.closed().await?,
        Some((1007, "phx_join needs a ref".to_owned()))
    );
    Ok(())
}

#[tokio::test]
async fn a_socket_without_frames_is_closed_after_the_idle_timeout() -> Result<()> {
    // the chatty socket sends ten times as often as the idle timeout needs, so a busy
    // machine's delays do not close it
    let config = {
        let mut l = livestate_server::ServerConfig::default();
        l.idle_timeout = Duration::from_secs(3);
        l
    };
    let server = TestServer::start_with(test_hub().build(), config).await?;
    let mut quiet = server.client().await?;
    let mut chatty = server.client().await?;
    for i in 0..12 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        chatty
            .send(
                None,
                Some(&i.to_string()),
                "phoenix",
                "heartbeat",
                json!({}),
            )
            .await?;
        chatty.recv().await?;
    }
    let (code, reason) = quiet.closed().await?.expect("a close frame");
    assert_eq!(code, 4001);
    assert!(reason.contains("no frame"), "{reason}");
    // the heartbeating socket lives on
    chatty
        .send(None, Some("x"), "phoenix", "heartbeat", json!({}))
        .await?;
    assert_eq!(chatty.recv().await?.r#ref.as_deref(), Some("x"));
    Ok(())
}

/// A plain HTTP GET; returns the status and body.
async fn http_get(server: &TestServer, path: &str) -> Result<(u16, String)> {
    let r = livestate_testkit::http::get(server.addr, path).await?;
    Ok((r.status, r.body))
}
