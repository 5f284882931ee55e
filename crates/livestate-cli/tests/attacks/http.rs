//! Attacks over the HTTP API.

use crate::target::{GUARD, Target};
use anyhow::{Context, Result, ensure};
use futures_util::StreamExt;
use livestate_testkit::client::reply_status;
use livestate_testkit::http::{self, Response};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The error code of `r`, which must have `status`.
fn code(r: &Response, status: u16) -> Result<String> {
    ensure!(
        r.status == status,
        "expected {status}: {} {}",
        r.status,
        r.body
    );
    Ok(r.json()?["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned())
}

/// A configuration file letting HTTP callers write `doc:` keys, only from
/// `https://app.example.com` when they send an `Origin`; removed on drop.
struct OpenConfig(PathBuf);

impl OpenConfig {
    fn write(name: &str) -> Result<OpenConfig> {
        let path =
            std::env::temp_dir().join(format!("livestate-{name}-{}.toml", std::process::id()));
        let text = "[api]\nallow_origins = [\"https://app.example.com\"]\n\n\
                    [[docs]]\npattern = \"doc:*\"\nacl = { group = [\"all\"], public = [\"all\"] }\n";
        std::fs::write(&path, text).context("writing the configuration file")?;
        Ok(OpenConfig(path))
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap_or_default()
    }
}

impl Drop for OpenConfig {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_posts_are_refused_and_change_nothing() -> Result<()> {
    let config = OpenConfig::write("cross-site")?;
    let target = Target::start(&["--config", config.arg()]).await?;
    let r = target
        .request("PUT", "/api/state/doc:k?path=/a", &[], "1")
        .await?;
    ensure!(r.status == 200, "{} {}", r.status, r.body);
    let reset = "/api/state/doc:k/reset";
    let evil = ("Origin", "https://evil.example");
    let r = target.request("POST", reset, &[evil], "").await?;
    ensure!(code(&r, 403)? == "origin_not_allowed");
    // a browser's simple request: text/plain, no preflight (and here no Origin)
    let plain = ("Content-Type", "text/plain");
    let r = target.request("POST", reset, &[plain], "{}").await?;
    ensure!(code(&r, 415)? == "unsupported_media_type");
    let r = target.request("POST", reset, &[evil, plain], "").await?;
    ensure!(code(&r, 403)? == "origin_not_allowed");
    let r = target
        .request("PUT", "/api/state/doc:k?path=/a", &[plain], "2")
        .await?;
    ensure!(code(&r, 415)? == "unsupported_media_type");
    ensure!(
        target.state("doc:k").await? == json!({"a": 1}),
        "a refused call changed the state"
    );
    // from the listed origin, with JSON, the reset goes through
    let r = target
        .request("POST", reset, &[("Origin", "https://app.example.com")], "")
        .await?;
    ensure!(r.status == 200, "{} {}", r.status, r.body);
    ensure!(target.state("doc:k").await? == json!({}));
    target.check_unharmed("cross-site POST", "doc:k").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integer_beyond_64_bits_in_a_put_is_refused_with_400() -> Result<()> {
    let config = OpenConfig::write("wide")?;
    let target = Target::start(&["--config", config.arg()]).await?;
    let wide = "123456789012345678901234567890";
    let put = "/api/state/doc:wide?path=/n";
    for body in [wide.to_owned(), format!(r#"{{"deep": [1, {wide}]}}"#)] {
        let r = target.request("PUT", put, &[], &body).await?;
        ensure!(code(&r, 400)? == "bad_request");
        ensure!(
            r.body.contains(wide),
            "the refusal names no number: {}",
            r.body
        );
    }
    // as a string it is kept exactly
    let r = target
        .request("PUT", put, &[], &format!("\"{wide}\""))
        .await?;
    ensure!(r.status == 200, "{} {}", r.status, r.body);
    ensure!(target.state("doc:wide").await? == json!({"n": wide}));
    target
        .check_unharmed("wide integer over HTTP", "doc:wide")
        .await
}

/// Bytes of each value the flood puts.
const VALUE_BYTES: usize = 16 * 1024;

/// Opens `streams` event streams of `topic` on sockets with a small receive buffer, reads
/// each up to its first event (the stream is served) and no further, checks the server
/// holds them all, then puts 2,000 values of 16 KiB (31 MiB) through a WebSocket client, 8
/// in flight at a time. Returns the stalled sockets.
async fn stall_and_flood(target: &Target, topic: &str, streams: usize) -> Result<Vec<TcpStream>> {
    let mut writer = target.client().await?;
    let jr = writer.join(topic, json!({})).await?;
    let head = format!(
        "GET /api/state/{topic}/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n",
        target.server.addr
    );
    let mut stalled = Vec::new();
    for _ in 0..streams {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(4096)?;
        let mut stream = socket.connect(target.server.addr).await?;
        stream.write_all(head.as_bytes()).await?;
        let mut seen = Vec::new();
        let mut byte = [0u8; 1];
        while !seen.ends_with(b"event: snapshot") {
            ensure!(
                stream.read(&mut byte).await? == 1,
                "the stream ended: {seen:?}"
            );
            seen.push(byte[0]);
        }
        stalled.push(stream);
    }
    let ports = ports(&stalled)?;
    let open = held(target.server.addr.port(), &ports)?;
    ensure!(open == streams, "{open} of {streams} streams are open");
    let (mut sent, mut acked) = (0, 0);
    while acked < 2000 {
        while sent < 2000 && sent - acked < 8 {
            let value = format!("{sent:0width$}", width = VALUE_BYTES);
            let payload = json!({"path": "/big", "value": value});
            writer.push_event(&jr, topic, "put", payload).await?;
            sent += 1;
        }
        let f = writer.recv().await?;
        if f.event == "phx_reply" {
            ensure!(reply_status(&f).0 == "ok", "refused: {f:?}");
            acked += 1;
        }
    }
    Ok(stalled)
}

/// The local ports of `streams`.
fn ports(streams: &[TcpStream]) -> Result<Vec<u16>> {
    streams.iter().map(|s| Ok(s.local_addr()?.port())).collect()
}

/// How many connections from the client ports `ports` the server's side holds open
/// (`ESTABLISHED` in `/proc/net/tcp`; a socket it let go of is closing, or gone).
fn held(server_port: u16, ports: &[u16]) -> Result<usize> {
    let port = |address: &str| {
        let (_, hex) = address.rsplit_once(':')?;
        u16::from_str_radix(hex, 16).ok()
    };
    let table = std::fs::read_to_string("/proc/net/tcp")?;
    let held = table.lines().skip(1).filter(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() > 3
            && port(fields[1]) == Some(server_port)
            && port(fields[2]).is_some_and(|p| ports.contains(&p))
            && fields[3] == "01"
    });
    Ok(held.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_event_stream_is_bounded_and_ends() -> Result<()> {
    let target = Target::start(&["--write-timeout", "2"]).await?;
    let topic = "doc:k";
    let mut stalled = stall_and_flood(&target, topic, 1).await?.remove(0);
    let grown = target.server.hwm_kib()?.saturating_sub(target.baseline_kib);
    println!("stalled event stream: VmHWM grew by {grown} KiB during the flood");
    // reading now comes to an end (not to the next keep-alive, every 15 s)
    let mut read = 0usize;
    let mut chunk = vec![0u8; 64 << 10];
    let end = tokio::time::timeout(GUARD, async {
        loop {
            match stalled.read(&mut chunk).await {
                Ok(0) => return "end of stream".to_owned(),
                Ok(n) => read += n,
                Err(e) => return e.to_string(),
            }
        }
    })
    .await
    .context("the stalled event stream was never closed")?;
    println!("the stalled stream ended ({end}) after {read} bytes");
    ensure!(
        read < (2000 * VALUE_BYTES) / 4,
        "the stream held {read} bytes for its client"
    );
    target.check_unharmed("stalled event stream", topic).await
}

/// 20 streams that never read, dropped by the server after the write timeout: it lets go
/// of their connections (and of what it queued for them) without waiting for them to read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_event_streams_are_let_go_without_being_read() -> Result<()> {
    let target = Target::start(&["--write-timeout", "2"]).await?;
    let stalled = stall_and_flood(&target, "doc:k", 20).await?;
    let grown = target.server.hwm_kib()?.saturating_sub(target.baseline_kib);
    let port = target.server.addr.port();
    let ports = ports(&stalled)?;
    // a guard, far above the write timeout (2 s)
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut open = held(port, &ports)?;
    while open > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        open = held(port, &ports)?;
    }
    println!("20 stalled streams: VmHWM grew by {grown} KiB; {open} still held by the server");
    ensure!(
        open == 0,
        "30 s after the flood the server still holds {open} of the 20 stalled connections"
    );
    drop(stalled);
    target
        .check_unharmed("20 stalled event streams", "doc:k")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_writes_to_3000_keys_make_nothing() -> Result<()> {
    let target = Target::start(&[]).await?;
    let rss_before = target.server.rss_kib()?;
    let addr = target.server.addr;
    // public callers may only read: every write is refused
    let codes: Vec<Result<String>> = futures_util::stream::iter(0..3000)
        .map(|i| async move {
            let r = http::request(
                addr,
                "PUT",
                &format!("/api/state/doc:k{i}?path=/a"),
                &[],
                "1",
            )
            .await?;
            code(&r, 403)
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for c in codes {
        ensure!(c? == "permission_denied");
    }
    let r = http::get(addr, "/api/state/doc:k1").await?;
    ensure!(code(&r, 404)? == "unknown_key");
    let grown = target.server.rss_kib()?.saturating_sub(rss_before);
    println!("3,000 refused writes: VmRSS grew by {grown} KiB");
    ensure!(
        grown < 16 * 1024,
        "VmRSS grew by {grown} KiB from {rss_before} KiB"
    );
    target
        .check_unharmed("3,000 refused writes", "doc:k1")
        .await
}
