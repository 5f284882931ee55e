//! The server API in Rust: reads, writes, resets, subscriptions and their change kinds, and
//! the ACL everywhere a change can enter.

use livestate_core::acl::{Acl, Permissions};
use livestate_core::api::{ApiError, ChangeKind};
use livestate_core::testing::{TestChannel, TestError};
use livestate_core::{DocChannel, Hub, Ttl};
use livestate_protocol::PatchOp;
use serde_json::{Value, json};
use std::time::Duration;

fn acl(group: &[&str], public: &[&str]) -> Acl {
    Acl {
        group: Permissions::parse(group).unwrap(),
        public: Permissions::parse(public).unwrap(),
    }
}

/// `doc:*` with the default ACL, `open:*` writable by everyone, `ro:*` read-only for all,
/// `todo:*` starting as `{"items": []}`.
fn hub() -> Hub {
    Hub::builder()
        .channel("doc:*", DocChannel::default())
        .channel("open:*", DocChannel::default().acl(acl(&["all"], &["all"])))
        .channel("ro:*", DocChannel::default().acl(acl(&["read"], &["read"])))
        .channel("none:*", DocChannel::default().acl(acl(&[], &[])))
        .channel(
            "todo:*",
            DocChannel::new(json!({"items": []})).acl(acl(&["all"], &["all"])),
        )
        .build()
}

fn ops(v: Value) -> Vec<PatchOp> {
    serde_json::from_value(v).unwrap()
}

#[tokio::test]
async fn reads_do_not_create_keys_and_name_missing_paths() {
    let hub = hub();
    let api = hub.api();
    assert_eq!(
        api.get("open:a").await.unwrap_err(),
        ApiError::UnknownKey("open:a".into())
    );
    api.put("open:a", "/x", json!({"y": 1})).await.unwrap();
    let current = api.get("open:a").await.unwrap();
    assert_eq!(current.state, json!({"x": {"y": 1}}));
    assert_eq!(current.version, 1);
    assert_eq!(api.get_path("open:a", "/x/y").await.unwrap(), json!(1));
    let err = api.get_path("open:a", "/x/z").await.unwrap_err();
    assert_eq!(
        (err.code(), err.to_string().as_str()),
        ("property_not_found", "no value at /x/z")
    );
    assert_eq!(
        api.get_path("open:a", "x").await.unwrap_err().code(),
        "bad_request"
    );
    assert_eq!(api.get("nope:1").await.unwrap_err().code(), "no_route");
}

#[tokio::test]
async fn every_write_reaches_websocket_clients_as_a_patch() {
    let hub = hub();
    let api = hub.api();
    let mut client = TestChannel::join(&hub, "open:w", json!({})).await.unwrap();
    let v = api.put("open:w", "/list", json!([1])).await.unwrap();
    assert_eq!(
        client.next_change().await.unwrap(),
        json!([{"op": "add", "path": "/list", "value": [1]}])
    );
    assert_eq!(client.version(), v);
    api.patch(
        "open:w",
        ops(json!([{"op": "add", "path": "/list/-", "value": 2}])),
    )
    .await
    .unwrap();
    client.next_change().await.unwrap();
    api.update("open:w", |doc| {
        doc.increment("/list/0", 10)?;
        Ok(())
    })
    .await
    .unwrap();
    client.next_change().await.unwrap();
    api.delete("open:w", "/list/1").await.unwrap();
    client.next_change().await.unwrap();
    assert_eq!(client.state(), &json!({"list": [11]}));
    assert_eq!(client.state(), &api.get("open:w").await.unwrap().state);
}

#[tokio::test]
async fn failed_writes_change_nothing_and_say_why() {
    let hub = hub();
    let api = hub.api();
    api.put("open:f", "/a", json!(1)).await.unwrap();
    let cases: Vec<(Result<u64, ApiError>, &str, &str)> = vec![
        (api.put("open:f", "/no/such", json!(1)).await, "property_not_found", "no value at /no"),
        (api.delete("open:f", "/b").await, "property_not_found", "no value at /b"),
        (api.put("open:f", "bad", json!(1)).await, "bad_request", "not a JSON Pointer"),
        (
            api.patch("open:f", ops(json!([{"op": "add", "path": "/b", "value": 2}, {"op": "test", "path": "/a", "value": 5}]))).await,
            "test_failed",
            "test failed at /a: expected 5, found 1",
        ),
        (
            api.patch("open:f", ops(json!([{"op": "remove", "path": "/zzz"}]))).await,
            "property_not_found",
            "",
        ),
        (
            api.update("open:f", |doc| {
                doc.set("/a", 100)?;
                doc.append("/a", 1)?;
                Ok(())
            })
            .await,
            "bad_request",
            "/a is a number, not an array",
        ),
    ];
    for (result, code, needle) in cases {
        let err = result.unwrap_err();
        assert_eq!(err.code(), code, "{err}");
        assert!(
            err.to_string().contains(needle),
            "{err} should contain {needle:?}"
        );
    }
    let current = api.get("open:f").await.unwrap();
    assert_eq!(current.state, json!({"a": 1}));
    assert_eq!(current.version, 1);
}

#[tokio::test]
async fn the_default_acl_lets_the_public_read_only() {
    let hub = hub();
    let api = hub.api();
    let mut client = TestChannel::join(&hub, "doc:acl", json!({})).await.unwrap();
    client
        .push("put", json!({"path": "/a", "value": 1}))
        .await
        .unwrap();
    assert_eq!(api.get_path("doc:acl", "/a").await.unwrap(), json!(1));
    for (result, permission) in [
        (api.put("doc:acl", "/a", json!(2)).await, "write"),
        (api.delete("doc:acl", "/a").await, "delete"),
        (api.reset("doc:acl").await, "reset"),
        (
            api.patch(
                "doc:acl",
                ops(json!([{"op": "replace", "path": "/a", "value": 3}])),
            )
            .await,
            "write",
        ),
    ] {
        let err = result.unwrap_err();
        assert_eq!(err.code(), "permission_denied");
        assert_eq!(
            err.to_string(),
            format!("permission denied: public callers may not {permission}")
        );
    }
    assert_eq!(client.refresh().await.unwrap(), &json!({"a": 1}));
    assert_eq!(client.version(), 1);
}

#[tokio::test]
async fn a_subscription_is_the_group_and_sees_every_kind_of_change() {
    let hub = hub();
    let api = hub.api();
    let mut sub = api.subscribe("doc:kinds").await.unwrap();
    assert_eq!(sub.current().state, json!({}));
    // the public may not write doc: keys, the attached group may
    assert_eq!(
        api.put("doc:kinds", "/a", json!(1))
            .await
            .unwrap_err()
            .code(),
        "permission_denied"
    );
    sub.put("/a", json!(1)).await.unwrap();
    sub.put("/a", json!(2)).await.unwrap();
    sub.patch(ops(json!([{"op": "move", "from": "/a", "path": "/b"}])))
        .await
        .unwrap();
    sub.delete("/b").await.unwrap();
    sub.put("/c", json!("x")).await.unwrap();
    sub.reset().await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 7 {
        let c = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap()
            .unwrap();
        seen.push((c.kind, c.path, c.value, c.version));
    }
    assert_eq!(
        seen,
        vec![
            (ChangeKind::New, "/a".into(), Some(json!(1)), 1),
            (ChangeKind::Updated, "/a".into(), Some(json!(2)), 2),
            (ChangeKind::Deleted, "/a".into(), None, 3),
            (ChangeKind::New, "/b".into(), Some(json!(2)), 3),
            (ChangeKind::Deleted, "/b".into(), None, 4),
            (ChangeKind::New, "/c".into(), Some(json!("x")), 5),
            (ChangeKind::Reset, "".into(), Some(json!({})), 6),
        ]
    );
}

#[tokio::test]
async fn reset_reruns_init() {
    let hub = hub();
    let api = hub.api();
    let mut client = TestChannel::join(&hub, "todo:r", json!({})).await.unwrap();
    client
        .push("put", json!({"path": "/items/-", "value": "milk"}))
        .await
        .unwrap();
    client
        .push("put", json!({"path": "/extra", "value": true}))
        .await
        .unwrap();
    api.reset("todo:r").await.unwrap();
    client.next_change().await.unwrap();
    assert_eq!(client.state(), &json!({"items": []}));
    assert_eq!(api.get("todo:r").await.unwrap().state, json!({"items": []}));
}

#[tokio::test]
async fn the_acl_is_enforced_on_websocket_events_and_joins_too() {
    let hub = hub();
    let mut ro = TestChannel::join(&hub, "ro:x", json!({})).await.unwrap();
    let err = ro
        .push("put", json!({"path": "/a", "value": 1}))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        TestError::Refused("permission denied: group callers may not write".into())
    );
    assert_eq!(ro.state(), &json!({}));
    let err = TestChannel::join(&hub, "none:x", json!({}))
        .await
        .err()
        .unwrap();
    assert_eq!(
        err,
        TestError::JoinRefused("permission denied: group callers may not read".into())
    );
    // a doc event maps to its own permission
    let hub = Hub::builder()
        .channel(
            "doc:*",
            DocChannel::default().acl(acl(&["read", "write"], &[])),
        )
        .build();
    let mut c = TestChannel::join(&hub, "doc:p", json!({})).await.unwrap();
    c.push("put", json!({"path": "/a", "value": 1}))
        .await
        .unwrap();
    for (event, payload, permission) in [
        ("delete", json!({"path": "/a"}), "delete"),
        ("reset", json!({}), "reset"),
        (
            "patch",
            json!({"ops": [{"op": "remove", "path": "/a"}]}),
            "delete",
        ),
    ] {
        let err = c.push(event, payload).await.unwrap_err();
        assert_eq!(
            err,
            TestError::Refused(format!(
                "permission denied: group callers may not {permission}"
            ))
        );
    }
    c.push(
        "patch",
        json!({"ops": [{"op": "replace", "path": "/a", "value": 2}]}),
    )
    .await
    .unwrap();
    assert_eq!(c.state(), &json!({"a": 2}));
}

#[tokio::test(start_paused = true)]
async fn ttl_is_per_channel_and_subscriptions_keep_keys_alive() {
    let hub = Hub::builder()
        .channel(
            "short:*",
            DocChannel::default()
                .acl(acl(&["all"], &["all"]))
                .ttl(Ttl::After(Duration::from_secs(5))),
        )
        .channel(
            "forever:*",
            DocChannel::default()
                .acl(acl(&["all"], &["all"]))
                .ttl(Ttl::Never),
        )
        .build();
    let api = hub.api();
    api.put("short:a", "/x", json!(1)).await.unwrap();
    api.put("forever:a", "/x", json!(1)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(api.get("short:a").await.unwrap_err().code(), "unknown_key");
    assert_eq!(api.get_path("forever:a", "/x").await.unwrap(), json!(1));

    let sub = api.subscribe("short:b").await.unwrap();
    sub.put("/kept", json!(true)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(api.get_path("short:b", "/kept").await.unwrap(), json!(true));
    drop(sub);
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(api.get("short:b").await.unwrap_err().code(), "unknown_key");
    tokio::time::sleep(Duration::from_secs(3600)).await;
    assert_eq!(api.get_path("forever:a", "/x").await.unwrap(), json!(1));
}

#[tokio::test]
async fn a_lagging_subscriber_catches_up_with_a_reset() {
    let hub = Hub::builder()
        .channel("open:*", DocChannel::default().acl(acl(&["all"], &["all"])))
        .limits({
            let mut l = livestate_core::Limits::default();
            l.outbox_capacity = 4;
            l
        })
        .build();
    let api = hub.api();
    let mut sub = api.subscribe("open:lag").await.unwrap();
    for i in 0..20 {
        api.put("open:lag", "/n", json!(i)).await.unwrap();
    }
    let mut last = None;
    while let Ok(Some(c)) = tokio::time::timeout(Duration::from_millis(500), sub.next()).await {
        last = Some(c);
    }
    let last = last.unwrap();
    assert_eq!(last.kind, ChangeKind::Reset);
    assert_eq!(last.value, Some(json!({"n": 19})));
    assert_eq!(last.version, 20);
}
