//! The ACL over the wire: the same key refuses the same write over the WebSocket (group)
//! and over HTTP (public) according to its permissions, and a refusal changes nothing.

use anyhow::Result;
use livestate_core::acl::{Acl, Permissions};
use livestate_core::{DocChannel, Hub};
use livestate_testkit::client::reply_status;
use livestate_testkit::{TestServer, http};
use serde_json::json;

fn acl(group: &[&str], public: &[&str]) -> Acl {
    Acl {
        group: Permissions::parse(group).unwrap(),
        public: Permissions::parse(public).unwrap(),
    }
}

async fn server() -> Result<TestServer> {
    let hub = Hub::builder()
        .channel(
            "ro:*",
            DocChannel::new(json!({"a": 1})).acl(acl(&["read"], &["read"])),
        )
        .channel(
            "appendonly:*",
            DocChannel::default().acl(acl(&["read", "write"], &["read", "write"])),
        )
        .channel("hidden:*", DocChannel::default().acl(acl(&[], &[])))
        .build();
    TestServer::start(hub).await
}

#[tokio::test]
async fn a_read_only_key_refuses_writes_from_sockets_and_http() -> Result<()> {
    let server = server().await?;
    let mut c = server.client().await?;
    let jr = c.join("ro:1", json!({})).await?;
    c.recv_until(|f| f.event == "state:change").await?;
    let r = c
        .push_event(&jr, "ro:1", "put", json!({"path": "/a", "value": 2}))
        .await?;
    let change = c.recv().await?;
    assert_eq!(change.payload, json!({"state": {"a": 1}, "version": 0}));
    let reply = c.reply_to(&r).await?;
    assert_eq!(
        reply_status(&reply).1["reason"],
        "permission denied: group callers may not write"
    );
    let r = http::request(server.addr, "PUT", "/api/state/ro:1?path=/a", &[], "3").await?;
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json()?["error"]["message"],
        "permission denied: public callers may not write"
    );
    let r = http::get(server.addr, "/api/state/ro:1").await?;
    assert_eq!(r.json()?, json!({"state": {"a": 1}, "version": 0}));
    Ok(())
}

#[tokio::test]
async fn a_key_without_delete_keeps_its_values() -> Result<()> {
    let server = server().await?;
    let mut c = server.client().await?;
    let jr = c.join("appendonly:1", json!({})).await?;
    c.recv_until(|f| f.event == "state:change").await?;
    let r = c
        .push_event(
            &jr,
            "appendonly:1",
            "put",
            json!({"path": "/log", "value": ["a"]}),
        )
        .await?;
    assert_eq!(reply_status(&c.reply_to(&r).await?).0, "ok");
    for (event, payload) in [
        ("delete", json!({"path": "/log"})),
        (
            "patch",
            json!({"ops": [{"op": "move", "from": "/log", "path": "/old"}]}),
        ),
        ("reset", json!({})),
    ] {
        let r = c.push_event(&jr, "appendonly:1", event, payload).await?;
        let reply = c.reply_to(&r).await?;
        assert_eq!(reply_status(&reply).0, "error", "{event}");
    }
    let r = http::request(
        server.addr,
        "DELETE",
        "/api/state/appendonly:1?path=/log",
        &[],
        "",
    )
    .await?;
    assert_eq!(r.status, 403);
    let r = http::request(
        server.addr,
        "POST",
        "/api/state/appendonly:1/reset",
        &[],
        "",
    )
    .await?;
    assert_eq!(r.status, 403);
    let r = http::get(server.addr, "/api/state/appendonly:1").await?;
    assert_eq!(r.json()?["state"], json!({"log": ["a"]}));
    Ok(())
}

#[tokio::test]
async fn a_key_nobody_may_read_refuses_joins_and_reads() -> Result<()> {
    let server = server().await?;
    let mut c = server.client().await?;
    let err = c.join("hidden:1", json!({})).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("permission denied: group callers may not read"),
        "{err}"
    );
    // whether or not the key exists, a caller who may not read it is told so, and no more
    for topic in ["hidden:1", "hidden:never-joined"] {
        let r = http::get(server.addr, &format!("/api/state/{topic}")).await?;
        assert_eq!(r.status, 403, "{topic}: {}", r.body);
        assert_eq!(r.json()?["error"]["code"], "permission_denied");
        let r = http::get(server.addr, &format!("/api/state/{topic}/events")).await?;
        assert_eq!(r.status, 403, "{topic} events: {}", r.body);
    }
    Ok(())
}
