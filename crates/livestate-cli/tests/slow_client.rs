//! A client that stops reading: server memory stays bounded, others keep receiving, and
//! the slow client is resynced with a fresh `state:change` once it reads again.

use anyhow::{Context, Result};
use futures_util::{SinkExt, StreamExt};
use livestate_testkit::{Client, LiveView, ServerProcess};
use serde_json::json;
use std::time::Duration;
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::Message;

const TOPIC: &str = "doc:flood";
/// 1,800 changes in all; wire versions wrap after 1000 (LiveState's default max_version).
const LAST_WIRE_VERSION: u64 = 1800 % 1001;
/// Each patch carries this many bytes.
const VALUE_BYTES: usize = 16 * 1024;

/// Send `n` puts of a fresh 16 KiB value, `window` in flight at a time, and wait for
/// every acknowledgement, feeding the sender's and the reader's views.
async fn flood(
    sender: &mut Client,
    jr: &str,
    reader: &mut Client,
    reader_view: &mut LiveView,
    n: usize,
) -> Result<()> {
    let mut acked = 0;
    let mut sent = 0;
    while acked < n {
        while sent < n && sent - acked < 8 {
            let value = format!("{sent:0width$}", width = VALUE_BYTES);
            sender
                .push_event(jr, TOPIC, "put", json!({"path": "/big", "value": value}))
                .await?;
            sent += 1;
        }
        let f = sender.recv().await?;
        if f.event == "phx_reply" {
            anyhow::ensure!(f.payload["status"] == "ok", "refused: {f:?}");
            acked += 1;
        }
        // the reader keeps up
        while let Some(item) = reader.try_next() {
            if let livestate_testkit::client::Incoming::Frame(frame) = item {
                reader_view.apply(&frame)?;
            }
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_client_does_not_grow_server_memory() -> Result<()> {
    let server = ServerProcess::spawn(
        env!("CARGO_BIN_EXE_livestate"),
        &["--write-timeout", "600", "--idle-timeout", "600"],
    )
    .await?;

    // the stalled client: a small receive buffer, joins, then never reads
    let socket = TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(4096)?;
    let stream = socket.connect(server.addr).await?;
    let (mut stalled, _) = tokio_tungstenite::client_async(server.url(), stream).await?;
    stalled
        .send(Message::Text(
            json!(["1", "1", TOPIC, "phx_join", {}]).to_string().into(),
        ))
        .await?;

    let mut reader = Client::connect(&server.url()).await?;
    reader.join(TOPIC, json!({})).await?;
    let mut reader_view = LiveView::default();
    reader_view.apply(&reader.recv_until(|f| f.event == "state:change").await?)?;
    let mut sender = Client::connect(&server.url()).await?;
    let sjr = sender.join(TOPIC, json!({})).await?;

    // warm up: fill the stalled client's buffers and the outbox
    flood(&mut sender, &sjr, &mut reader, &mut reader_view, 300).await?;
    let rss_warm = server.rss_kib()?;
    // 1,500 more changes of 16 KiB: about 24 MiB the stalled client is not reading
    flood(&mut sender, &sjr, &mut reader, &mut reader_view, 1500).await?;
    let rss_after = server.rss_kib()?;
    let sent_kib = (1500 * VALUE_BYTES / 1024) as u64;
    println!(
        "rss warm {rss_warm} KiB, after {rss_after} KiB, sent {sent_kib} KiB past the stalled client"
    );
    // the outbox holds at most 1 MiB; allow as much again for buffers and allocator slack
    assert!(
        rss_after < rss_warm + 4096,
        "server memory grew with what the stalled client did not read: {rss_warm} KiB -> {rss_after} KiB"
    );

    // the reader received every change, in order
    while reader_view.version != Some(LAST_WIRE_VERSION) {
        let f = reader.recv().await?;
        reader_view.apply(&f)?;
    }
    assert_eq!(reader_view.gaps, 0);

    // the stalled client reads again: it catches up through a fresh state:change
    let mut view = LiveView::default();
    let mut changes = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while view.version != Some(LAST_WIRE_VERSION) {
        let msg = tokio::time::timeout_at(deadline, stalled.next())
            .await
            .context("the stalled client was never resynced")?
            .context("stream ended")??;
        if let Message::Text(text) = msg {
            let frame = livestate_protocol::Message::decode(text.as_str())?;
            if frame.event == "state:change" {
                changes += 1;
            }
            if view.state.is_some() || frame.event == "state:change" {
                view.apply(&frame)?;
            }
        }
    }
    assert!(
        changes >= 2,
        "resynced with a state:change after the initial one"
    );
    assert_eq!(view.state, reader_view.state);
    Ok(())
}
