//! The HTTP API against hostile callers: cross-site requests, bodies that never arrive,
//! numbers too wide to keep, states that would break their limits, refused writes to keys
//! that do not exist, and event streams that are never read.
//!
//! | input | outcome |
//! |---|---|
//! | a state-changing request without a JSON content type (a browser's simple request) | 415 `unsupported_media_type`, nothing changes |
//! | a request from an origin not in `allow_origins` | 403 `origin_not_allowed`, nothing changes |
//! | a body shorter than its `Content-Length` | 408 `timeout` after the body timeout |
//! | an integer beyond 64 bits | 400 `bad_request` naming it |
//! | a value or patch that would break a state limit | 413 `limit_exceeded` naming the limit |
//! | a refused write to a key that does not exist | the refusal, and no key is left behind |
//! | an event stream read slower than the key changes | skipped changes, then a fresh `snapshot` |

use anyhow::Result;
use livestate_core::acl::{Acl, Permissions};
use livestate_core::{DocChannel, Hub, StateLimits};
use livestate_server::{Endpoint, ServerConfig};
use livestate_testkit::TestServer;
use livestate_testkit::http::{self, Response};
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn open() -> Acl {
    Acl {
        group: Permissions::ALL,
        public: Permissions::ALL,
    }
}

/// `open:*` writable by everyone, `small:*` the same within small limits, `doc:*` with the
/// default ACL (public read only).
fn hub() -> Hub {
    let small = {
        let mut l = StateLimits::default();
        l.max_depth = 8;
        l.max_bytes = 4096;
        l.max_values = 400;
        l.max_patch_ops = 10;
        l
    };
    livestate_testkit::channels::test_hub()
        .channel("open:*", DocChannel::default().acl(open()))
        .channel("small:*", DocChannel::default().acl(open()).limits(small))
        .build()
}

fn code(r: &Response, status: u16) -> String {
    assert_eq!(r.status, status, "{} {}", r.status, r.body);
    r.json().unwrap()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn state(server: &TestServer, topic: &str) -> Result<Value> {
    Ok(http::get(server.addr, &format!("/api/state/{topic}"))
        .await?
        .json()?["state"]
        .clone())
}

#[tokio::test]
async fn state_changing_requests_need_a_json_content_type() -> Result<()> {
    let server = TestServer::start(hub()).await?;
    let put = |ct: &'static str| {
        let addr = server.addr;
        async move {
            http::request(
                addr,
                "PUT",
                "/api/state/open:ct?path=/a",
                &[("Content-Type", ct)],
                "1",
            )
            .await
        }
    };
    assert_eq!(code(&put("application/json").await?, 200), "");
    for ct in ["text/plain", "application/x-www-form-urlencoded", ""] {
        assert_eq!(
            code(&put(ct).await?, 415),
            "unsupported_media_type",
            "{ct:?}"
        );
    }
    // a JSON patch type and parameters are fine
    let r = http::request(
        server.addr,
        "PATCH",
        "/api/state/open:ct",
        &[("Content-Type", "application/json-patch+json; charset=utf-8")],
        r#"[{"op": "replace", "path": "/a", "value": 2}]"#,
    )
    .await?;
    assert_eq!(r.status, 200, "{}", r.body);
    // the simple request a page elsewhere can send: POST text/plain, no preflight
    for path in ["/api/state/open:ct/reset", "/api/state/open:ct/message"] {
        let r = http::request(
            server.addr,
            "POST",
            path,
            &[("Content-Type", "text/plain")],
            "{}",
        )
        .await?;
        assert_eq!(code(&r, 415), "unsupported_media_type");
    }
    let r = http::request(
        server.addr,
        "DELETE",
        "/api/state/open:ct?path=/a",
        &[("Content-Type", "")],
        "",
    )
    .await?;
    assert_eq!(code(&r, 415), "unsupported_media_type");
    assert_eq!(state(&server, "open:ct").await?, json!({"a": 2}));
    Ok(())
}

#[tokio::test]
async fn a_foreign_origin_is_refused_when_origins_are_listed() -> Result<()> {
    let endpoint = Endpoint::builder()
        .hub(
            livestate_testkit::channels::test_hub()
                .channel("open:*", DocChannel::default().acl(open())),
        )
        .allow_origins(["https://app.example"])
        .build();
    let server = TestServer::start_endpoint(endpoint).await?;
    let ok = http::request(
        server.addr,
        "PUT",
        "/api/state/open:o?path=/a",
        &[("Origin", "https://app.example")],
        "1",
    )
    .await?;
    assert_eq!(ok.status, 200, "{}", ok.body);
    for (method, path, body) in [
        ("POST", "/api/state/open:o/reset", ""),
        ("POST", "/api/state/open:o/message", "{}"),
        ("PUT", "/api/state/open:o?path=/a", "2"),
        ("GET", "/api/state/open:o", ""),
    ] {
        let r = http::request(
            server.addr,
            method,
            path,
            &[("Origin", "https://evil.example")],
            body,
        )
        .await?;
        assert_eq!(code(&r, 403), "origin_not_allowed", "{method} {path}");
    }
    // no Origin: not a browser, let through (as Phoenix's check_origin)
    let r = http::get(server.addr, "/api/state/open:o").await?;
    assert_eq!(r.json()?["state"], json!({"a": 1}));
    Ok(())
}

#[tokio::test]
async fn a_body_that_never_arrives_gets_408() -> Result<()> {
    let config = {
        let mut l = ServerConfig::default();
        l.body_timeout = Duration::from_millis(300);
        l
    };
    let server = TestServer::start_with(hub(), config).await?;
    let mut stream = tokio::net::TcpStream::connect(server.addr).await?;
    let head = format!(
        "PUT /api/state/open:slow?path=/a HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n12",
        server.addr
    );
    stream.write_all(head.as_bytes()).await?;
    let mut answer = Vec::new();
    // a guard against hanging, far above the body timeout
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer)).await??;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""code":"timeout""#), "{answer}");
    Ok(())
}

#[tokio::test]
async fn integers_beyond_64_bits_are_refused_not_rounded() -> Result<()> {
    let server = TestServer::start(hub()).await?;
    for body in [
        "123456789012345678901234567890",
        r#"{"deep": [1, -99999999999999999999]}"#,
    ] {
        let r = http::request(server.addr, "PUT", "/api/state/open:n?path=/n", &[], body).await?;
        assert_eq!(code(&r, 400), "bad_request");
        assert!(
            r.body.contains("does not fit a 64-bit integer"),
            "{}",
            r.body
        );
    }
    let r = http::request(
        server.addr,
        "PUT",
        "/api/state/open:n?path=/n",
        &[],
        "18446744073709551615",
    )
    .await?;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(state(&server, "open:n").await?, json!({"n": u64::MAX}));
    Ok(())
}

#[tokio::test]
async fn changes_that_break_a_state_limit_are_refused_naming_it() -> Result<()> {
    let server = TestServer::start(hub()).await?;
    let put = |path: &str, body: String| {
        let addr = server.addr;
        let path = format!("/api/state/small:l?path={path}");
        async move { http::request(addr, "PUT", &path, &[], &body).await }
    };
    assert_eq!(put("/a", "1".into()).await?.status, 200);
    let mut deep = json!(0);
    for _ in 0..8 {
        deep = json!([deep]);
    }
    let r = put("/deep", deep.to_string()).await?;
    assert_eq!(code(&r, 413), "limit_exceeded");
    assert!(r.body.contains("max_depth = 8"), "{}", r.body);
    let r = put("/big", json!("x".repeat(5000)).to_string()).await?;
    assert_eq!(code(&r, 413), "limit_exceeded");
    assert!(r.body.contains("max_state_bytes = 4096"), "{}", r.body);
    let ops: Vec<Value> = (0..11)
        .map(|i| json!({"op": "replace", "path": "/a", "value": i}))
        .collect();
    let r = http::request(
        server.addr,
        "PATCH",
        "/api/state/small:l",
        &[],
        &Value::Array(ops).to_string(),
    )
    .await?;
    assert_eq!(code(&r, 413), "limit_exceeded");
    assert!(r.body.contains("max_patch_ops = 10"), "{}", r.body);
    // copies of the root double the state until one is refused; none of it applies
    let copies: Vec<Value> = (0..10)
        .map(|i| json!({"op": "copy", "from": "", "path": format!("/c{i}")}))
        .collect();
    let r = http::request(
        server.addr,
        "PATCH",
        "/api/state/small:l",
        &[],
        &Value::Array(copies).to_string(),
    )
    .await?;
    assert_eq!(code(&r, 413), "limit_exceeded");
    assert_eq!(state(&server, "small:l").await?, json!({"a": 1}));
    Ok(())
}

/// Waits (a guard against hanging, not a measurement) until no key is live.
async fn no_key_left(server: &TestServer) {
    for _ in 0..600 {
        if server.hub().live_keys() == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{} keys are still live", server.hub().live_keys());
}

#[tokio::test]
async fn refused_writes_leave_no_key_behind() -> Result<()> {
    let server = TestServer::start(hub()).await?;
    // public callers may only read `doc:` keys: 300 refused writes to distinct keys
    for i in 0..300 {
        let r = http::request(
            server.addr,
            "PUT",
            &format!("/api/state/doc:nope-{i}?path=/a"),
            &[],
            "1",
        )
        .await?;
        assert_eq!(code(&r, 403), "permission_denied");
    }
    assert_eq!(
        server.hub().live_keys(),
        0,
        "a refused caller starts nothing"
    );
    let r = http::request(server.addr, "POST", "/api/state/doc:nope-1/reset", &[], "").await?;
    assert_eq!(code(&r, 403), "permission_denied");
    assert_eq!(
        code(&http::get(server.addr, "/api/state/doc:nope-1").await?, 404),
        "unknown_key"
    );
    // a write the channel refuses (here: a parent that does not exist) stops the key it
    // started, since nothing was made of it
    for i in 0..20 {
        let r = http::request(
            server.addr,
            "PUT",
            &format!("/api/state/open:bad-{i}?path=/no/parent"),
            &[],
            "1",
        )
        .await?;
        assert_eq!(code(&r, 404), "property_not_found");
    }
    no_key_left(&server).await;
    assert_eq!(
        code(&http::get(server.addr, "/api/state/open:bad-3").await?, 404),
        "unknown_key"
    );
    // while a write that succeeds keeps its key
    let r = http::request(server.addr, "PUT", "/api/state/open:good?path=/a", &[], "1").await?;
    assert_eq!(r.status, 200);
    assert_eq!(state(&server, "open:good").await?, json!({"a": 1}));
    Ok(())
}

#[tokio::test]
async fn an_event_stream_read_slowly_skips_to_a_fresh_snapshot() -> Result<()> {
    let server = TestServer::start(hub()).await?;
    let r = http::request(server.addr, "PUT", "/api/state/open:sse?path=/n", &[], "0").await?;
    assert_eq!(r.status, 200);
    let mut events = http::events(server.addr, "/api/state/open:sse/events", &[]).await?;
    assert_eq!(events.next().await?.event, "snapshot");
    // far more than the outbox holds (1 MiB), while the stream is not read
    let api = server.hub().api();
    let filler = "x".repeat(50_000);
    for n in 1..=400 {
        api.put("open:sse", "/filler", json!(format!("{n}{filler}")))
            .await?;
        api.put("open:sse", "/n", json!(n)).await?;
    }
    let (mut changes, mut snapshots, mut n) = (0, 0, json!(0));
    while n != json!(400) {
        let e = events.next().await?;
        let data: Value = serde_json::from_str(&e.data)?;
        match e.event.as_str() {
            "change" => {
                changes += 1;
                if data["path"] == "/n" {
                    n = data["value"].clone();
                }
            }
            "snapshot" => {
                snapshots += 1;
                n = data["state"]["n"].clone();
            }
            other => panic!("unexpected event {other}"),
        }
    }
    assert!(
        snapshots >= 1,
        "a lagging stream catches up with a snapshot ({changes} changes)"
    );
    assert!(
        changes < 800,
        "it skipped changes it could not hold ({changes} sent)"
    );
    Ok(())
}

/// An event stream that lags and is not read for the write timeout is dropped: it holds the
/// key no longer (the key then expires), and holds no more than its outbox meanwhile.
#[tokio::test]
async fn an_event_stream_never_read_is_dropped_after_the_write_timeout() -> Result<()> {
    let hub = livestate_testkit::channels::test_hub()
        .channel("open:*", DocChannel::default().acl(open()))
        .limits({
            let mut l = livestate_core::Limits::default();
            l.ttl = Duration::from_millis(200);
            l
        })
        .build();
    let config = {
        let mut l = ServerConfig::default();
        l.write_timeout = Duration::from_secs(1);
        l
    };
    let server = TestServer::start_with(hub, config).await?;
    let api = server.hub().api();
    api.put("open:stall", "/n", json!(0)).await?;
    let mut events = http::events(server.addr, "/api/state/open:stall/events", &[]).await?;
    assert_eq!(events.next().await?.event, "snapshot");
    let filler = "x".repeat(50_000);
    for n in 1..=400 {
        api.put("open:stall", "/filler", json!(format!("{n}{filler}")))
            .await?;
    }
    // the stalled stream was the key's last subscriber
    no_key_left(&server).await;
    drop(events);
    Ok(())
}
