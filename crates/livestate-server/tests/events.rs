//! LiveState's events (PROTOCOL.md §2) and livestate's acknowledgements.

use anyhow::Result;
use livestate_testkit::channels::test_hub;
use livestate_testkit::client::{Incoming, reply_status};
use livestate_testkit::{Client, Frame, TestServer};
use serde_json::{Value, json};
use std::time::Duration;

async fn joined(topic: &str) -> Result<(TestServer, Client, String)> {
    let server = TestServer::start(test_hub().build()).await?;
    let mut c = server.client().await?;
    let jr = c.join(topic, json!({})).await?;
    c.recv_until(|f| f.event == "state:change").await?;
    Ok((server, c, jr))
}

/// The frames up to and including the reply to `r#ref`.
async fn until_reply(c: &mut Client, r#ref: &str) -> Result<Vec<Frame>> {
    let mut frames = Vec::new();
    loop {
        let f = c.recv().await?;
        let done = f.event == "phx_reply" && f.r#ref.as_deref() == Some(r#ref);
        frames.push(f);
        if done {
            return Ok(frames);
        }
    }
}

#[tokio::test]
async fn an_event_gets_its_patch_then_an_ack_with_the_version() -> Result<()> {
    let (_s, mut c, jr) = joined("counter:a").await?;
    let r = c
        .push_event(&jr, "counter:a", "increment", json!({}))
        .await?;
    let frames = until_reply(&mut c, &r).await?;
    assert_eq!(frames.len(), 2, "{frames:?}");
    assert_eq!(frames[0].event, "state:patch");
    assert_eq!(
        frames[0].payload,
        json!({"patch": [{"op": "replace", "path": "/count", "value": 1}], "version": 1})
    );
    assert_eq!(
        frames[1].payload,
        json!({"status": "ok", "response": {"version": 1}})
    );
    assert_eq!(frames[1].join_ref.as_deref(), Some(jr.as_str()));
    Ok(())
}

#[tokio::test]
async fn an_event_that_changes_nothing_still_gets_an_empty_patch_and_moves_the_version()
-> Result<()> {
    let (_s, mut c, jr) = joined("counter:noop").await?;
    let r = c.push_event(&jr, "counter:noop", "noop", json!({})).await?;
    let frames = until_reply(&mut c, &r).await?;
    assert_eq!(frames[0].payload, json!({"patch": [], "version": 1}));
    assert_eq!(frames[1].payload["response"], json!({"version": 1}));
    Ok(())
}

#[tokio::test]
async fn reply_events_come_before_the_patch() -> Result<()> {
    let (_s, mut c, jr) = joined("counter:echo").await?;
    c.push_event(&jr, "counter:echo", "increment", json!({}))
        .await?;
    let r = c.push_event(&jr, "counter:echo", "echo", json!({})).await?;
    let frames = until_reply(&mut c, &r).await?;
    let events: Vec<&str> = frames.iter().map(|f| f.event.as_str()).collect();
    assert_eq!(
        events,
        [
            "state:patch",
            "phx_reply",
            "echoed",
            "state:patch",
            "phx_reply"
        ]
    );
    assert_eq!(frames[2].payload, json!({"count": 1}));
    assert_eq!(frames[2].join_ref.as_deref(), Some(jr.as_str()));
    assert_eq!(frames[2].r#ref, None);
    Ok(())
}

#[tokio::test]
async fn a_refused_event_gets_the_state_and_the_reason_and_changes_nothing() -> Result<()> {
    let (s, mut c, jr) = joined("doc:refuse").await?;
    let mut other = s.client().await?;
    let ojr = other.join("doc:refuse", json!({})).await?;
    other.recv_until(|f| f.event == "state:change").await?;
    c.push_event(&jr, "doc:refuse", "put", json!({"path": "/a", "value": 1}))
        .await?;
    let r = c
        .push_event(
            &jr,
            "doc:refuse",
            "patch",
            json!({"ops": [
                {"op": "add", "path": "/b", "value": 2},
                {"op": "test", "path": "/a", "value": 5}
            ]}),
        )
        .await?;
    let frames = until_reply(&mut c, &r).await?;
    let last_two = &frames[frames.len() - 2..];
    assert_eq!(last_two[0].event, "state:change");
    assert_eq!(
        last_two[0].payload,
        json!({"state": {"a": 1}, "version": 1})
    );
    assert_eq!(
        last_two[1].payload,
        json!({"status": "error", "response": {"reason": "op 1 (test /a): test failed at /a: expected 5, found 1"}})
    );
    // the other joiner saw only the accepted change
    let seen: Vec<Frame> = other
        .drain(Duration::from_millis(200))
        .await
        .into_iter()
        .filter_map(|i| match i {
            Incoming::Frame(f) => Some(f),
            _ => None,
        })
        .collect();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].payload["version"], 1);
    // and the state is as after the accepted change
    other
        .send(
            Some(&ojr),
            Some("r"),
            "doc:refuse",
            "lvs_refresh",
            json!({}),
        )
        .await?;
    assert_eq!(
        other.recv().await?.payload,
        json!({"state": {"a": 1}, "version": 1})
    );
    Ok(())
}

#[tokio::test]
async fn lvs_refresh_is_answered_with_the_whole_state() -> Result<()> {
    let (_s, mut c, jr) = joined("counter:refresh").await?;
    let r = c
        .push_event(&jr, "counter:refresh", "increment", json!({}))
        .await?;
    until_reply(&mut c, &r).await?;
    // phoenix.js sends lvs_refresh with a {} payload; a null one is accepted too
    c.send(
        Some(&jr),
        Some("30"),
        "counter:refresh",
        "lvs_refresh",
        Value::Null,
    )
    .await?;
    let change = c.recv().await?;
    assert_eq!(change.event, "state:change");
    assert_eq!(change.payload, json!({"state": {"count": 1}, "version": 1}));
    Ok(())
}

#[tokio::test]
async fn an_init_failure_is_an_error_push_and_the_channel_stays_joined() -> Result<()> {
    let server = TestServer::start(test_hub().build()).await?;
    let mut c = server.client().await?;
    let jr = c.join("fail:x", json!({})).await?;
    let err = c.recv().await?;
    assert_eq!(err.event, "error");
    assert_eq!(err.join_ref.as_deref(), Some(jr.as_str()));
    assert_eq!(err.payload, json!({"message": "init failed for fail:x"}));
    // events are refused with the reason while there is no state
    let r = c
        .push_event(&jr, "fail:x", "put", json!({"path": "/a", "value": 1}))
        .await?;
    let reply = c.reply_to(&r).await?;
    assert_eq!(
        reply.payload["response"]["reason"],
        "fail:x has no state: init failed: init failed for fail:x"
    );
    // a later joiner whose init succeeds brings the state to the waiting one too
    let mut d = server.client().await?;
    d.join("fail:x", json!({"ok": true})).await?;
    let change = d.recv().await?;
    assert_eq!(change.payload, json!({"state": {"ok": true}, "version": 0}));
    let change = c.recv().await?;
    assert_eq!(change.event, "state:change");
    assert_eq!(change.payload, json!({"state": {"ok": true}, "version": 0}));
    Ok(())
}

#[tokio::test]
async fn versions_wrap_at_max_version() -> Result<()> {
    let (_s, mut c, jr) = joined("counter10:wrap").await?;
    let mut versions = Vec::new();
    for _ in 0..16 {
        let r = c
            .push_event(&jr, "counter10:wrap", "increment", json!({}))
            .await?;
        let frames = until_reply(&mut c, &r).await?;
        versions.push(frames[0].payload["version"].as_u64().unwrap());
    }
    assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 1, 2, 3, 4, 5]);
    c.send(
        Some(&jr),
        Some("x"),
        "counter10:wrap",
        "lvs_refresh",
        json!({}),
    )
    .await?;
    assert_eq!(
        c.recv().await?.payload,
        json!({"state": {"count": 16}, "version": 5})
    );
    Ok(())
}

#[tokio::test]
async fn a_panicking_handler_fails_only_its_channel_and_keeps_the_state() -> Result<()> {
    let server = TestServer::start(test_hub().build()).await?;
    let mut c = server.client().await?;
    let jr = c.join("panic:p", json!({})).await?;
    c.recv_until(|f| f.event == "state:change").await?;
    let djr = c.join("doc:beside", json!({})).await?;
    c.recv_until(|f| f.event == "state:change").await?;
    let r = c
        .push_event(&jr, "panic:p", "put", json!({"path": "/a", "value": 1}))
        .await?;
    until_reply(&mut c, &r).await?;
    c.push_event(&jr, "panic:p", "boom", json!({})).await?;
    let err = c.recv().await?;
    assert_eq!(err.event, "phx_error");
    assert_eq!(err.join_ref.as_deref(), Some(jr.as_str()));
    assert_eq!(err.payload["reason"], "handler for \"boom\" failed");
    // the socket and its other channel live on
    let r = c
        .push_event(&djr, "doc:beside", "put", json!({"path": "/b", "value": 2}))
        .await?;
    let frames = until_reply(&mut c, &r).await?;
    assert_eq!(frames[0].event, "state:patch");
    // the failed channel is forgotten, as Phoenix forgets a crashed one: a push with its
    // join_ref is for a topic not joined
    c.send(
        Some(&jr),
        Some("late"),
        "panic:p",
        "lvs_evt:put",
        json!({"path": "/z", "value": 0}),
    )
    .await?;
    let reply = c.reply_to("late").await?;
    assert_eq!(reply.payload["response"]["reason"], "unmatched topic");
    // rejoining (as phoenix.js does) is an ordinary join (no phx_close for the old one) and
    // gets the state as it was before the failed event
    let rejoin = c.push_join("panic:p", json!({})).await?;
    let reply = c.recv().await?;
    assert_eq!(
        (reply.event.as_str(), reply.r#ref.as_deref()),
        ("phx_reply", Some(rejoin.as_str()))
    );
    let change = c.recv().await?;
    assert_eq!(change.payload, json!({"state": {"a": 1}, "version": 1}));
    Ok(())
}

#[tokio::test]
async fn a_handler_error_names_the_missing_field() -> Result<()> {
    let (_s, mut c, jr) = joined("doc:fields").await?;
    let cases = [
        (
            "put",
            json!({"path": "/a"}),
            "bad payload for put: missing field `value`",
        ),
        (
            "put",
            json!({"value": 1}),
            "bad payload for put: missing field `path`",
        ),
        (
            "put",
            json!({"path": 5, "value": 1}),
            "bad payload for put: path: invalid type: integer `5`, expected a string",
        ),
        ("delete", json!({"path": "/nope"}), "no value at /nope"),
        (
            "put",
            json!({"path": "nope", "value": 1}),
            "\"nope\" is not a JSON Pointer: it must be empty or start with '/'",
        ),
        (
            "patch",
            json!({"ops": [{"op": "frob", "path": "/a"}]}),
            "unknown variant `frob`",
        ),
        (
            "increment",
            json!({"path": "/missing"}),
            "no value at /missing",
        ),
        ("rename", json!({}), "unknown event \"rename\""),
        (
            "put",
            json!({"path": "/a", "value": 1, "colour": "red"}),
            "bad payload for put: colour: unknown field `colour`, expected `path` or `value`",
        ),
        (
            "patch",
            json!({"ops": [{"op": "add", "path": "/a", "value": 1}, {"op": "remove", "path": 3}]}),
            "bad payload for patch: ops[1].path: invalid type: integer `3`, expected a string",
        ),
    ];
    for (event, payload, reason) in cases {
        let r = c.push_event(&jr, "doc:fields", event, payload).await?;
        let reply = c.reply_to(&r).await?;
        let (status, response) = reply_status(&reply);
        assert_eq!(status, "error");
        let got = response["reason"].as_str().unwrap_or_default();
        assert!(
            got.contains(reason),
            "{event}: {got:?} should contain {reason:?}"
        );
    }
    c.send(Some(&jr), Some("z"), "doc:fields", "lvs_refresh", json!({}))
        .await?;
    let change = c
        .recv_until(|f| f.event == "state:change" && f.payload["version"] == 0)
        .await?;
    assert_eq!(change.payload["state"], json!({}));
    Ok(())
}

#[tokio::test]
async fn the_doc_channel_supports_every_event() -> Result<()> {
    let (_s, mut c, jr) = joined("doc:all").await?;
    let steps = [
        ("put", json!({"path": "/list", "value": []})),
        ("put", json!({"path": "/list/-", "value": "a"})),
        ("put", json!({"path": "/list/1", "value": "b"})),
        ("put", json!({"path": "/n", "value": 1})),
        ("increment", json!({"path": "/n", "by": 41})),
        (
            "patch",
            json!({"ops": [{"op": "move", "from": "/list/0", "path": "/first"}]}),
        ),
        ("delete", json!({"path": "/list"})),
    ];
    let mut view = livestate_testkit::LiveView {
        state: Some(json!({})),
        version: Some(0),
        gaps: 0,
    };
    for (event, payload) in steps {
        let r = c.push_event(&jr, "doc:all", event, payload).await?;
        for f in until_reply(&mut c, &r).await? {
            view.apply(&f)?;
            if f.event == "phx_reply" {
                assert_eq!(reply_status(&f).0, "ok", "{event}: {f:?}");
            }
        }
    }
    assert_eq!(view.state, Some(json!({"n": 42, "first": "a"})));
    assert_eq!(view.gaps, 0);
    let r = c.push_event(&jr, "doc:all", "reset", json!({})).await?;
    for f in until_reply(&mut c, &r).await? {
        view.apply(&f)?;
    }
    assert_eq!(view.state, Some(json!({})));
    Ok(())
}
