//! Bad input: every case gets its documented outcome, nothing panics, other sockets are
//! unaffected, and what was accepted stays.
//!
//! | input | outcome |
//! |---|---|
//! | text frame that is not JSON | close 1007 with the parse error |
//! | JSON that is not a 5-element array | close 1007 naming the shape |
//! | join_ref/ref not a string or null, topic/event not a string | close 1007 naming the field |
//! | text frame that is not UTF-8 | close 1007 |
//! | binary frame | close 1003 |
//! | frame over the size limit | close 1009 |
//! | join params not an object | error reply |
//! | `lvs_evt` payload not an object | error reply, and the sender gets `state:change` |
//! | unknown event on a joined topic | error reply `unknown event "..."` |
//! | any event on a topic not joined | error reply `unmatched topic` |

use anyhow::Result;
use livestate_server::ServerConfig;
use livestate_testkit::channels::test_hub;
use livestate_testkit::client::reply_status;
use livestate_testkit::{Client, TestServer};
use serde_json::{Value, json};

/// A server with a key `doc:shared` holding `{"a": 1}` and a bystander joined to it.
struct Setup {
    server: TestServer,
    bystander: Client,
    bystander_jr: String,
}

async fn setup(config: ServerConfig) -> Result<Setup> {
    let server = TestServer::start_with(test_hub().build(), config).await?;
    let mut bystander = server.client().await?;
    let bystander_jr = bystander.join("doc:shared", json!({})).await?;
    bystander.recv_until(|f| f.event == "state:change").await?;
    let r = bystander
        .push_event(
            &bystander_jr,
            "doc:shared",
            "put",
            json!({"path": "/a", "value": 1}),
        )
        .await?;
    bystander.reply_to(&r).await?;
    Ok(Setup {
        server,
        bystander,
        bystander_jr,
    })
}

impl Setup {
    /// A client joined to `doc:shared`.
    async fn attacker(&self) -> Result<(Client, String)> {
        let mut c = self.server.client().await?;
        let jr = c.join("doc:shared", json!({})).await?;
        c.recv_until(|f| f.event == "state:change").await?;
        Ok((c, jr))
    }

    /// The bystander still works and the key holds what was accepted.
    async fn assert_unharmed(&mut self) -> Result<()> {
        let jr = self.bystander_jr.clone();
        self.bystander
            .send(
                Some(&jr),
                Some("check"),
                "doc:shared",
                "lvs_refresh",
                json!({}),
            )
            .await?;
        let change = self
            .bystander
            .recv_until(|f| f.event == "state:change")
            .await?;
        assert_eq!(change.payload["state"], json!({"a": 1}));
        Ok(())
    }
}

#[tokio::test]
async fn malformed_frames_close_the_socket_with_1007_and_harm_no_one() -> Result<()> {
    let mut s = setup(ServerConfig::default()).await?;
    let cases: &[(&str, &str)] = &[
        ("not json", "frame is not JSON"),
        (
            "[\"1\",\"2\",\"doc:shared\",\"phx_join\",{}",
            "frame is not JSON",
        ),
        ("{\"topic\":\"doc:shared\"}", "frame must be a JSON array"),
        (
            "[\"1\",\"2\",\"doc:shared\",\"phx_join\"]",
            "the array has 4 elements, it needs 5",
        ),
        (
            "[\"1\",\"2\",\"doc:shared\",\"phx_join\",{},{}]",
            "more than 5",
        ),
        (
            "[1,\"2\",\"doc:shared\",\"phx_join\",{}]",
            "join_ref must be a string or null",
        ),
        (
            "[\"1\",[],\"doc:shared\",\"phx_join\",{}]",
            "ref must be a string or null",
        ),
        ("[\"1\",\"2\",7,\"phx_join\",{}]", "topic must be a string"),
        (
            "[\"1\",\"2\",\"doc:shared\",{\"e\":1},{}]",
            "event must be a string",
        ),
        (
            "[\"1\",\"2\",null,\"phx_join\",{}]",
            "topic must be a string",
        ),
        ("\"just a string\"", "frame must be a JSON array"),
        ("", "frame is not JSON"),
    ];
    for (frame, reason) in cases {
        let (mut c, _) = s.attacker().await?;
        c.send_text(*frame).await?;
        let closed = c.closed().await?;
        let (code, got) = closed.unwrap_or_default();
        assert_eq!(code, 1007, "{frame:?}");
        assert!(
            got.contains(reason),
            "{frame:?}: {got:?} should contain {reason:?}"
        );
        s.assert_unharmed().await?;
    }
    Ok(())
}

#[tokio::test]
async fn binary_frames_close_with_1003() -> Result<()> {
    let mut s = setup(ServerConfig::default()).await?;
    let (mut c, _) = s.attacker().await?;
    c.send_binary(vec![0, 1, 1, 8, 9]).await?;
    let (code, reason) = c.closed().await?.unwrap_or_default();
    assert_eq!(code, 1003);
    assert!(
        reason.contains("binary frames are not supported"),
        "{reason}"
    );
    s.assert_unharmed().await
}

#[tokio::test]
async fn frames_over_the_size_limit_close_with_1009() -> Result<()> {
    let config = {
        let mut l = ServerConfig::default();
        l.max_frame_size = 4096;
        l
    };
    let mut s = setup(config).await?;
    let (mut c, jr) = s.attacker().await?;
    let big = "x".repeat(5000);
    c.push_event(
        &jr,
        "doc:shared",
        "put",
        json!({"path": "/a", "value": big}),
    )
    .await?;
    let (code, _) = c.closed().await?.unwrap_or_default();
    assert_eq!(code, 1009);
    s.assert_unharmed().await?;
    // a frame under the limit is fine
    let (mut c, jr) = s.attacker().await?;
    let r = c
        .push_event(
            &jr,
            "doc:shared",
            "put",
            json!({"path": "/b", "value": "x".repeat(3000)}),
        )
        .await?;
    assert_eq!(reply_status(&c.reply_to(&r).await?).0, "ok");
    Ok(())
}

#[tokio::test]
async fn the_default_limit_is_one_mebibyte() -> Result<()> {
    let mut s = setup(ServerConfig::default()).await?;
    let (mut c, jr) = s.attacker().await?;
    let over = "x".repeat(1 << 20);
    c.push_event(
        &jr,
        "doc:shared",
        "put",
        json!({"path": "/a", "value": over}),
    )
    .await?;
    assert_eq!(c.closed().await?.map(|c| c.0), Some(1009));
    s.assert_unharmed().await
}

#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() -> Result<()> {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::frame::Frame;
    use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
    let mut s = setup(ServerConfig::default()).await?;
    let (mut ws, _) = tokio_tungstenite::connect_async(s.server.url()).await?;
    let frame = Frame::message(vec![b'[', 0xff, 0xfe, b']'], OpCode::Data(Data::Text), true);
    ws.send(Message::Frame(frame)).await?;
    let mut code = None;
    use futures_util::StreamExt;
    while let Some(Ok(msg)) = ws.next().await {
        if let Message::Close(Some(f)) = msg {
            code = Some(u16::from(f.code));
        }
    }
    assert_eq!(code, Some(1007));
    s.assert_unharmed().await
}

#[tokio::test]
async fn non_object_payloads_are_refused_with_a_reply() -> Result<()> {
    let mut s = setup(ServerConfig::default()).await?;
    let (mut c, jr) = s.attacker().await?;
    for payload in [json!([1]), json!("s"), json!(5), Value::Null, json!(true)] {
        let r = c
            .push_event(&jr, "doc:shared", "put", payload.clone())
            .await?;
        let change = c.recv().await?;
        assert_eq!(change.event, "state:change", "{payload}");
        let reply = c.reply_to(&r).await?;
        assert_eq!(
            reply.payload,
            json!({"status": "error", "response": {"reason": "payload must be a JSON object"}}),
            "{payload}"
        );
    }
    c.send(
        Some("9"),
        Some("9"),
        "doc:other",
        "phx_join",
        json!("params"),
    )
    .await?;
    let reply = c.reply_to("9").await?;
    assert_eq!(
        reply.payload["response"]["reason"],
        "join params must be a JSON object"
    );
    s.assert_unharmed().await
}

#[tokio::test]
async fn unknown_events_and_unjoined_topics_get_error_replies() -> Result<()> {
    let mut s = setup(ServerConfig::default()).await?;
    let (mut c, jr) = s.attacker().await?;
    c.send(Some(&jr), Some("u1"), "doc:shared", "frobnicate", json!({}))
        .await?;
    let reply = c.reply_to("u1").await?;
    assert_eq!(
        reply.payload["response"]["reason"],
        "unknown event \"frobnicate\""
    );
    assert_eq!(reply.join_ref.as_deref(), Some(jr.as_str()));
    for event in ["lvs_evt:put", "lvs_refresh", "phx_leave", "anything"] {
        c.send(Some("3"), Some("u2"), "doc:never-joined", event, json!({}))
            .await?;
        let reply = c.reply_to("u2").await?;
        assert_eq!(
            reply.payload,
            json!({"status": "error", "response": {"reason": "unmatched topic"}}),
            "{event}"
        );
        assert_eq!(reply.join_ref, None);
    }
    // the socket is still usable
    c.send(None, Some("hb"), "phoenix", "heartbeat", json!({}))
        .await?;
    assert_eq!(reply_status(&c.reply_to("hb").await?).0, "ok");
    s.assert_unharmed().await
}
