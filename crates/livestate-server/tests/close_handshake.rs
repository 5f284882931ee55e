//! Close handshakes (RFC 6455 §5.5.1): a client's close frame is answered with one, and the
//! close the server starts for bad input reaches a client that keeps sending.
//!
//! | what the client does | what it sees |
//! |---|---|
//! | closes with 1000 | the server's close frame, 1000 |
//! | a frame that is not V2, then 500 more frames | close 1007 |
//! | a binary frame, then 500 more frames | close 1003 |
//! | a frame over the size limit, then 50 more frames | close 1009 |

use anyhow::Result;
use futures_util::{SinkExt, StreamExt};
use livestate_server::ServerConfig;
use livestate_testkit::channels::test_hub;
use livestate_testkit::{Client, TestServer};
use serde_json::json;

#[tokio::test]
async fn a_clients_close_is_answered_with_a_close_frame() -> Result<()> {
    let server = TestServer::start(test_hub().build()).await?;
    let mut c = server.client().await?;
    c.join("doc:close", json!({})).await?;
    c.recv_until(|f| f.event == "state:change").await?;
    c.send_close(1000, "bye").await?;
    let closed = c.closed().await?;
    assert_eq!(
        closed.map(|(code, _)| code),
        Some(1000),
        "the server answers the close frame, so the client sees a clean close"
    );
    // a client's own code is echoed as well
    let mut c = server.client().await?;
    c.send_close(4321, "mine").await?;
    assert_eq!(c.closed().await?.map(|(code, _)| code), Some(4321));
    Ok(())
}

/// Sends `first`, then `more` good frames without waiting, and returns the close code seen.
async fn close_code_after(c: &mut Client, first: Frame, more: usize) -> Result<Option<u16>> {
    match first {
        Frame::Text(t) => c.send_text(t).await?,
        Frame::Binary(b) => c.send_binary(b).await?,
    }
    for i in 0..more {
        // the server may be gone already; what it does not read is what the test is about
        let heartbeat = format!(r#"[null,"{i}","phoenix","heartbeat",{{}}]"#);
        if c.send_text(heartbeat).await.is_err() {
            break;
        }
    }
    Ok(c.closed().await?.map(|(code, _)| code))
}

enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

#[tokio::test]
async fn the_close_code_reaches_a_client_that_keeps_sending() -> Result<()> {
    let server = TestServer::start(test_hub().build()).await?;
    for round in 0..3 {
        let mut c = server.client().await?;
        let code = close_code_after(&mut c, Frame::Text("not json".into()), 500).await?;
        assert_eq!(code, Some(1007), "round {round}: a bad frame then 500 more");
        let mut c = server.client().await?;
        let code = close_code_after(&mut c, Frame::Binary(vec![1, 2, 3]), 500).await?;
        assert_eq!(
            code,
            Some(1003),
            "round {round}: a binary frame then 500 more"
        );
    }
    // the server is fine afterwards
    let mut c = server.client().await?;
    c.join("doc:after", json!({})).await?;
    c.recv_until(|f| f.event == "state:change").await?;
    Ok(())
}

#[tokio::test]
async fn the_close_code_of_a_frame_too_big_reaches_the_client() -> Result<()> {
    let config = {
        let mut l = ServerConfig::default();
        l.max_frame_size = 4096;
        l
    };
    let server = TestServer::start_with(test_hub().build(), config).await?;
    for _ in 0..3 {
        let mut c = server.client().await?;
        let big = format!(
            r#"[null,"1","phoenix","heartbeat",{{"x":"{}"}}]"#,
            "x".repeat(8192)
        );
        let code = close_code_after(&mut c, Frame::Text(big), 50).await?;
        assert_eq!(code, Some(1009));
    }
    Ok(())
}

/// The same with a client that reads only after it has sent everything (a busy page): the
/// close frame waits in its receive buffer, and must not be lost to a reset when the server
/// lets go of the connection.
#[tokio::test]
async fn the_close_code_waits_for_a_client_that_reads_late() -> Result<()> {
    use tokio_tungstenite::tungstenite::Message as Ws;
    let server = TestServer::start(test_hub().build()).await?;
    for (first, code) in [
        (Ws::Text("not json".into()), 1007),
        (Ws::Binary(vec![1u8, 2, 3].into()), 1003),
    ] {
        let (mut ws, _) = tokio_tungstenite::connect_async(server.url()).await?;
        ws.send(first).await?;
        for i in 0..500 {
            let frame = format!(r#"[null,"{i}","phoenix","heartbeat",{{}}]"#);
            if ws.send(Ws::Text(frame.into())).await.is_err() {
                break;
            }
        }
        // long enough for a server that drops the connection at once to have done so
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let mut seen = None;
        while let Some(Ok(msg)) = ws.next().await {
            if let Ws::Close(frame) = msg {
                seen = frame.map(|f| u16::from(f.code));
                break;
            }
        }
        assert_eq!(seen, Some(code));
        // and the handshake ends cleanly: the server read the client's answer and closed,
        // it did not reset a connection with unread data
        let mut ended = None;
        while let Some(next) = ws.next().await {
            if let Err(e) = next {
                ended = Some(e.to_string());
                break;
            }
        }
        assert!(
            ended.is_none()
                || ended
                    .as_deref()
                    .is_some_and(|e| e.contains("closed normally")),
            "the connection ended with {ended:?}"
        );
    }
    Ok(())
}
