//! WebSocket hardening: which frames carry the channel's join_ref, no-op events, integers
//! too wide for 64 bits, and state limits (over WebSocket, for `doc:` and typed channels,
//! and through the Rust and HTTP APIs).
//!
//! | input | outcome |
//! |---|---|
//! | a per-channel push (`state:change`, reply events, `presence_state`, `error`, `phx_error`) | the channel's join_ref |
//! | a broadcast encoded once (`state:patch`, `presence_diff`) | join_ref null |
//! | an event that changes nothing | `state:patch` `[]`, the version moves by one |
//! | an integer beyond i64/u64 in a frame | `state:change`, then an error reply naming it; i64::MIN and u64::MAX are kept exactly |
//! | a change that breaks `max_depth`, `max_state_bytes` or `max_patch_ops` | refused naming the limit, state unchanged |

use anyhow::{Result, ensure};
use livestate_core::acl::{Acl, Permissions};
use livestate_core::api::ApiError;
use livestate_core::event::AnyEvent;
use livestate_core::settings::Settings;
use livestate_core::{
    Channel, ChannelError, DocChannel, EventContext, Hub, JoinContext, Limits, MessageContext,
    Reply, StateLimits,
};
use livestate_protocol::PatchOp;
use livestate_testkit::channels::test_hub;
use livestate_testkit::client::reply_status;
use livestate_testkit::http::{self, Response};
use livestate_testkit::{Client, Frame, TestServer};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

fn open() -> Acl {
    Acl {
        group: Permissions::ALL,
        public: Permissions::ALL,
    }
}

/// Small limits for `small:*` and the typed `notes:*` channel.
fn small() -> StateLimits {
    let mut l = StateLimits::default();
    l.max_depth = 6;
    l.max_bytes = 2048;
    l.max_values = 200;
    l.max_patch_ops = 10;
    l
}

/// The test channels, `open:*` (a doc everyone may write, default limits), `small:*` (the
/// same within [`small()`]) and `notes:*` (a typed state within [`small()`]).
fn hub() -> Hub {
    test_hub()
        .channel("open:*", DocChannel::default().acl(open()))
        .channel("small:*", DocChannel::default().acl(open()).limits(small()))
        .channel("notes:*", NotesChannel)
        .build()
}

/// A typed state: a list of strings and a value to nest.
#[derive(Debug, Serialize, Deserialize)]
struct Notes {
    items: Vec<String>,
    nest: Value,
}

/// `grow {"len": N}` appends a string of N bytes, `nest {"levels": N}` wraps `nest` in N
/// arrays; a message `{"len": N}` grows as the event does.
struct NotesChannel;

impl NotesChannel {
    fn grow(state: &mut Notes, payload: &Value) {
        let len = payload["len"].as_u64().unwrap_or(1) as usize;
        state.items.push("x".repeat(len));
    }
}

impl Channel for NotesChannel {
    type State = Notes;
    type Event = AnyEvent;
    type Params = IgnoredAny;

    fn settings(&self) -> Settings {
        Settings::shared().acl(open()).limits(small())
    }

    async fn init(&self, _: &IgnoredAny, _: &JoinContext) -> Result<Notes, ChannelError> {
        Ok(Notes {
            items: vec!["first".into()],
            nest: Value::Null,
        })
    }

    async fn handle_event(
        &self,
        event: AnyEvent,
        state: &mut Notes,
        _: &EventContext,
    ) -> Result<Reply, ChannelError> {
        let payload = event.payload;
        match event.name.as_str() {
            "grow" => NotesChannel::grow(state, &payload),
            "nest" => {
                for _ in 0..payload["levels"].as_u64().unwrap_or(1) {
                    state.nest = Value::Array(vec![state.nest.take()]);
                }
            }
            other => return Err(ChannelError::unknown_event(other)),
        }
        Ok(Reply::none())
    }

    async fn handle_message(
        &self,
        message: Value,
        state: &mut Notes,
        _: &MessageContext,
    ) -> Result<(), ChannelError> {
        NotesChannel::grow(state, &message);
        Ok(())
    }
}

/// Join `topic` with this join_ref (also the ref); returns the frames up to and including
/// the first `state:change` (or `error` push), checking the reply was ok.
async fn join_as(c: &mut Client, topic: &str, jr: &str, params: Value) -> Result<Vec<Frame>> {
    c.send(Some(jr), Some(jr), topic, "phx_join", params)
        .await?;
    let mut frames = Vec::new();
    loop {
        let f = c.recv().await?;
        let done = matches!(f.event.as_str(), "state:change" | "error");
        frames.push(f);
        if done {
            break;
        }
    }
    let reply = frames
        .iter()
        .find(|f| f.event == "phx_reply" && f.r#ref.as_deref() == Some(jr))
        .ok_or_else(|| anyhow::anyhow!("no join reply in {frames:?}"))?;
    ensure!(reply_status(reply).0 == "ok", "join refused: {reply:?}");
    ensure!(reply.join_ref.as_deref() == Some(jr), "{reply:?}");
    Ok(frames)
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

/// Push `lvs_evt:NAME`; the frames up to and including its reply.
async fn event(c: &mut Client, jr: &str, topic: &str, name: &str, p: Value) -> Result<Vec<Frame>> {
    let r = c.push_event(jr, topic, name, p).await?;
    until_reply(c, &r).await
}

/// `lvs_refresh`: the next frame must be the `state:change` it gets; its payload.
async fn refresh(c: &mut Client, jr: &str, topic: &str) -> Result<Value> {
    c.send(Some(jr), None, topic, "lvs_refresh", json!({}))
        .await?;
    let f = c.recv().await?;
    ensure!(
        f.event == "state:change",
        "expected state:change, got {f:?}"
    );
    Ok(f.payload)
}

/// Frames of a refused event: the unchanged `state` at `version`, then an error reply
/// whose reason contains every one of `needles`; returns the reason.
fn assert_refused(frames: &[Frame], state: &Value, version: u64, needles: &[&str]) -> String {
    let events: Vec<&str> = frames.iter().map(|f| f.event.as_str()).collect();
    assert_eq!(events, ["state:change", "phx_reply"], "{frames:?}");
    assert_eq!(
        frames[0].payload,
        json!({"state": state, "version": version})
    );
    let (status, response) = reply_status(&frames[1]);
    assert_eq!(status, "error", "{frames:?}");
    let reason = response["reason"].as_str().unwrap_or_default().to_owned();
    for needle in needles {
        assert!(reason.contains(needle), "{reason:?} lacks {needle:?}");
    }
    reason
}

/// Frames of an accepted event: one patch at `version`, then the ok reply; the patch.
fn assert_accepted(frames: &[Frame], version: u64) -> Value {
    let events: Vec<&str> = frames.iter().map(|f| f.event.as_str()).collect();
    assert_eq!(events, ["state:patch", "phx_reply"], "{frames:?}");
    assert_eq!(frames[0].payload["version"], version, "{frames:?}");
    assert_eq!(
        frames[1].payload,
        json!({"status": "ok", "response": {"version": version}})
    );
    frames[0].payload["patch"].clone()
}

/// A `put` payload.
fn put(path: &str, value: impl Into<Value>) -> Value {
    json!({"path": path, "value": value.into()})
}

/// A frame's event and join_ref.
fn kind(f: &Frame) -> (&str, Option<&str>) {
    (f.event.as_str(), f.join_ref.as_deref())
}

fn nested(levels: usize) -> Value {
    let mut v = json!(0);
    for _ in 0..levels {
        v = json!([v]);
    }
    v
}

/// Copy the root into ever deeper leaves: the depth doubles with every op (2, 4, 8, ...).
fn copy_chain(steps: u32) -> Value {
    let ops: Vec<Value> = (0..steps)
        .map(|k| json!({"op": "copy", "from": "", "path": "/x".repeat(1 << k)}))
        .collect();
    json!(ops)
}

/// Copy the root into `n` new members: the state doubles with every op.
fn root_copies(n: usize) -> Value {
    let ops: Vec<Value> = (0..n)
        .map(|i| json!({"op": "copy", "from": "", "path": format!("/c{i}")}))
        .collect();
    json!(ops)
}

/// `n` ops adding `/a0`, `/a1`, ...
fn many_adds(n: usize) -> Value {
    let ops: Vec<Value> = (0..n)
        .map(|i| json!({"op": "add", "path": format!("/a{i}"), "value": i}))
        .collect();
    json!(ops)
}

fn ops(v: Value) -> Vec<PatchOp> {
    serde_json::from_value(v).expect("valid ops")
}

#[tokio::test]
async fn per_channel_pushes_carry_the_join_ref_and_broadcasts_do_not() -> Result<()> {
    let server = TestServer::start(hub()).await?;
    let mut c = server.client().await?;
    let mut other = server.client().await?;
    let frames = join_as(&mut c, "doc:k", "7", json!({})).await?;
    let change = frames.last().unwrap();
    assert_eq!(change.event, "state:change");
    assert_eq!(change.join_ref.as_deref(), Some("7"), "{change:?}");
    assert_eq!(change.r#ref, None);
    join_as(&mut other, "doc:k", "1", json!({})).await?;

    // an accepted event: the patch is a broadcast, the reply the channel's
    let frames = event(&mut c, "7", "doc:k", "put", put("/a", 1)).await?;
    assert_accepted(&frames, 1);
    assert_eq!(frames[0].join_ref, None, "{:?}", frames[0]);
    assert_eq!(frames[1].join_ref.as_deref(), Some("7"));
    let seen = other.recv().await?;
    assert_eq!(kind(&seen), ("state:patch", None));
    assert_eq!(seen.payload, frames[0].payload);

    // a refused event: state:change and the reply, both the channel's
    let frames = event(&mut c, "7", "doc:k", "delete", json!({"path": "/nope"})).await?;
    assert_refused(&frames, &json!({"a": 1}), 1, &["/nope"]);
    assert_eq!(frames[0].join_ref.as_deref(), Some("7"), "{:?}", frames[0]);
    assert_eq!(frames[1].join_ref.as_deref(), Some("7"));

    // lvs_refresh
    c.send(Some("7"), None, "doc:k", "lvs_refresh", json!({}))
        .await?;
    let f = c.recv().await?;
    assert_eq!(f.event, "state:change");
    assert_eq!(f.join_ref.as_deref(), Some("7"), "{f:?}");

    // a rejoin: the old join closes, and the new join_ref is the one pushes carry
    let frames = join_as(&mut c, "doc:k", "9", json!({})).await?;
    let close = frames
        .iter()
        .find(|f| f.event == "phx_close")
        .expect("phx_close");
    assert_eq!(close.join_ref.as_deref(), Some("7"));
    assert_eq!(frames.last().unwrap().join_ref.as_deref(), Some("9"));
    let frames = event(&mut c, "9", "doc:k", "increment", json!({"path": "/nope"})).await?;
    assert_refused(&frames, &json!({"a": 1}), 1, &["/nope"]);
    assert_eq!(frames[0].join_ref.as_deref(), Some("9"));
    Ok(())
}

#[tokio::test]
async fn reply_events_presence_state_and_error_pushes_carry_the_join_ref() -> Result<()> {
    let server = TestServer::start(hub()).await?;
    let mut c = server.client().await?;
    // a reply event
    join_as(&mut c, "counter:j", "7", json!({})).await?;
    let frames = event(&mut c, "7", "counter:j", "echo", json!({})).await?;
    let echoed = frames.iter().find(|f| f.event == "echoed").expect("echoed");
    assert_eq!(echoed.join_ref.as_deref(), Some("7"), "{echoed:?}");
    let patch = frames
        .iter()
        .find(|f| f.event == "state:patch")
        .expect("patch");
    assert_eq!(patch.join_ref, None);

    // presence: presence_state to the joiner, presence_diff to everyone
    let params = |key: &str| json!({"presence": {"key": key, "meta": {}}});
    join_as(&mut c, "room:p", "8", params("ann")).await?;
    let f = c.recv().await?;
    assert_eq!(f.event, "presence_state");
    assert_eq!(f.join_ref.as_deref(), Some("8"), "{f:?}");
    let f = c.recv().await?;
    assert_eq!(f.event, "presence_diff");
    assert_eq!(f.join_ref, None, "{f:?}");
    let mut bob = server.client().await?;
    join_as(&mut bob, "room:p", "3", params("bob")).await?;
    let f = bob.recv().await?;
    assert_eq!(kind(&f), ("presence_state", Some("3")));
    assert_eq!(f.payload.as_object().map(|m| m.len()), Some(2), "{f:?}");
    let f = c.recv().await?;
    assert_eq!(kind(&f), ("presence_diff", None));
    assert!(f.payload["joins"]["bob"].is_object(), "{f:?}");

    // init failed: the error push
    let frames = join_as(&mut c, "fail:x", "5", json!({})).await?;
    let error = frames.last().unwrap();
    assert_eq!(error.event, "error");
    assert_eq!(error.payload, json!({"message": "init failed for fail:x"}));
    assert_eq!(error.join_ref.as_deref(), Some("5"), "{error:?}");

    // a panicking handler: phx_error
    join_as(&mut c, "panic:x", "6", json!({})).await?;
    c.push_event("6", "panic:x", "boom", json!({})).await?;
    let f = c.recv_until(|f| f.event == "phx_error").await?;
    assert_eq!(f.join_ref.as_deref(), Some("6"), "{f:?}");
    Ok(())
}

#[tokio::test]
async fn events_that_change_nothing_get_an_empty_patch_and_move_the_version() -> Result<()> {
    let server = TestServer::start(hub()).await?;
    let mut c = server.client().await?;
    let mut other = server.client().await?;
    join_as(&mut c, "doc:noop", "1", json!({})).await?;
    join_as(&mut other, "doc:noop", "1", json!({})).await?;
    let frames = event(&mut c, "1", "doc:noop", "put", put("/a", 5)).await?;
    assert_eq!(
        assert_accepted(&frames, 1),
        json!([{"op": "add", "path": "/a", "value": 5}])
    );
    let noops = [
        ("put", put("/a", 5)),
        ("increment", json!({"path": "/a", "by": 0})),
        (
            "patch",
            json!({"ops": [{"op": "replace", "path": "/a", "value": 5}]}),
        ),
    ];
    for (i, (name, payload)) in noops.into_iter().enumerate() {
        let frames = event(&mut c, "1", "doc:noop", name, payload).await?;
        let version = i as u64 + 2;
        assert_eq!(assert_accepted(&frames, version), json!([]), "{name}");
    }
    // the other joiner got the same patches, the same bytes as JSON
    for version in 1..=4u64 {
        let f = other.recv().await?;
        assert_eq!(f.event, "state:patch");
        assert_eq!(f.payload["version"], version);
        let want = if version == 1 {
            json!([{"op": "add", "path": "/a", "value": 5}])
        } else {
            json!([])
        };
        assert_eq!(f.payload["patch"], want, "version {version}");
    }
    assert_eq!(
        refresh(&mut other, "1", "doc:noop").await?,
        json!({"state": {"a": 5}, "version": 4})
    );
    Ok(())
}

#[tokio::test]
async fn integers_beyond_64_bits_are_refused_and_the_socket_goes_on() -> Result<()> {
    let server = TestServer::start(hub()).await?;
    let mut c = server.client().await?;
    let mut other = server.client().await?;
    join_as(&mut c, "doc:k", "1", json!({})).await?;
    join_as(&mut other, "doc:k", "1", json!({})).await?;
    let cases = [
        (
            r#"{"path":"/n","value":123456789012345678901234567890}"#,
            "123456789012345678901234567890",
        ),
        (
            r#"{"path":"/n","value":-9223372036854775809}"#,
            "-9223372036854775809",
        ),
        (
            r#"{"path":"/n","value":18446744073709551616}"#,
            "18446744073709551616",
        ),
        (
            r#"{"path":"/o","value":{"a":[1,{"b":-99999999999999999999}]}}"#,
            "-99999999999999999999",
        ),
    ];
    for (i, (payload, number)) in cases.into_iter().enumerate() {
        let r = format!("w{i}");
        c.send_text(format!(r#"["1","{r}","doc:k","lvs_evt:put",{payload}]"#))
            .await?;
        let frames = until_reply(&mut c, &r).await?;
        let reason = assert_refused(&frames, &json!({}), 0, &[number]);
        assert!(reason.contains("does not fit a 64-bit integer"), "{reason}");
        assert_eq!(frames[0].join_ref.as_deref(), Some("1"), "{:?}", frames[0]);
        assert_eq!(frames[1].join_ref.as_deref(), Some("1"));
    }
    // the edges of 64 bits are kept exactly
    c.send_text(
        r#"["1","max","doc:k","lvs_evt:put",{"path":"/max","value":18446744073709551615}]"#,
    )
    .await?;
    let frames = until_reply(&mut c, "max").await?;
    let patch = assert_accepted(&frames, 1);
    assert_eq!(patch[0]["value"].as_u64(), Some(u64::MAX), "{patch}");
    c.send_text(
        r#"["1","min","doc:k","lvs_evt:put",{"path":"/min","value":-9223372036854775808}]"#,
    )
    .await?;
    let frames = until_reply(&mut c, "min").await?;
    let patch = assert_accepted(&frames, 2);
    assert_eq!(patch[0]["value"].as_i64(), Some(i64::MIN), "{patch}");
    // the bystander saw only the accepted changes
    for version in 1..=2u64 {
        let f = other.recv().await?;
        assert_eq!(
            (f.event.as_str(), &f.payload["version"]),
            ("state:patch", &json!(version))
        );
    }
    let current = refresh(&mut other, "1", "doc:k").await?;
    assert_eq!(current["state"]["max"].as_u64(), Some(u64::MAX));
    assert_eq!(current["state"]["min"].as_i64(), Some(i64::MIN));
    assert_eq!(current["version"], 2);
    // the socket is still open and works
    let frames = event(&mut c, "1", "doc:k", "put", put("/ok", 1)).await?;
    assert_accepted(&frames, 3);
    Ok(())
}

#[tokio::test]
async fn a_wide_integer_outside_a_joined_channel_gets_an_error_reply() -> Result<()> {
    let server = TestServer::start(hub()).await?;
    let mut c = server.client().await?;
    // a join with one in its params is refused with the join_ref it asked for
    c.send_text(r#"["5","5","doc:w","phx_join",{"n":99999999999999999999}]"#)
        .await?;
    let reply = c.recv().await?;
    assert_eq!(reply.event, "phx_reply");
    assert_eq!(reply.join_ref.as_deref(), Some("5"), "{reply:?}");
    let (status, response) = reply_status(&reply);
    assert_eq!(status, "error");
    assert!(
        response["reason"]
            .as_str()
            .is_some_and(|r| r.contains("99999999999999999999")),
        "{reply:?}"
    );
    // it did not join
    c.send_text(r#"["5","6","doc:w","lvs_evt:put",{"path":"/a","value":1}]"#)
        .await?;
    let reply = c.recv().await?;
    assert_eq!(reply.r#ref.as_deref(), Some("6"));
    assert_eq!(
        reply_status(&reply),
        ("error", &json!({"reason": "unmatched topic"}))
    );
    // an event for a topic not joined
    c.send_text(r#"[null,"7","doc:w","lvs_evt:put",{"value":-99999999999999999999}]"#)
        .await?;
    let reply = c.recv().await?;
    assert_eq!(
        (reply.r#ref.as_deref(), reply.join_ref.as_deref()),
        (Some("7"), None)
    );
    assert_eq!(reply_status(&reply).0, "error");
    assert!(
        reply.payload.to_string().contains("-99999999999999999999"),
        "{reply:?}"
    );
    // and the socket goes on
    join_as(&mut c, "doc:w", "8", json!({})).await?;
    Ok(())
}

#[tokio::test]
async fn changes_beyond_the_default_limits_are_refused_over_websocket() -> Result<()> {
    let server = TestServer::start(hub()).await?;
    let topic = "doc:lim";
    let mut c = server.client().await?;
    let mut other = server.client().await?;
    join_as(&mut c, topic, "1", json!({})).await?;
    let s = "x".repeat(16 << 10);
    let frames = event(&mut c, "1", topic, "put", put("/s", s.as_str())).await?;
    assert_accepted(&frames, 1);
    join_as(&mut other, topic, "1", json!({})).await?;
    let state = json!({"s": s});
    let refusals = [
        // depths 2, 4, ..., 128: op 6 is refused
        (
            "patch",
            json!({"ops": copy_chain(8)}),
            vec!["op 6 (copy", "max_depth = 64"],
        ),
        (
            "patch",
            json!({"ops": root_copies(25)}),
            vec!["max_state_bytes = 16777216"],
        ),
        ("put", put("/deep", nested(65)), vec!["max_depth = 64"]),
        // 64 deep under a member is 65 deep
        ("put", put("/deep", nested(64)), vec!["max_depth = 64"]),
        (
            "patch",
            json!({"ops": many_adds(1001)}),
            vec!["the patch has 1001 ops (limit max_patch_ops = 1000)"],
        ),
    ];
    for (name, payload, needles) in refusals {
        let frames = event(&mut c, "1", topic, name, payload).await?;
        assert_refused(&frames, &state, 1, &needles);
    }
    // nothing reached the other joiner, and the state is as it was
    assert_eq!(
        refresh(&mut other, "1", topic).await?,
        json!({"state": state, "version": 1})
    );
    // what keeps within the limits is accepted
    let frames = event(&mut c, "1", topic, "put", put("/ok", 1)).await?;
    assert_accepted(&frames, 2);
    let frames = event(&mut c, "1", topic, "put", put("/edge", nested(63))).await?;
    assert_accepted(&frames, 3);
    let frames = event(&mut c, "1", topic, "patch", json!({"ops": many_adds(1000)})).await?;
    assert_eq!(
        assert_accepted(&frames, 4).as_array().map(Vec::len),
        Some(1000)
    );
    for version in 2..=4u64 {
        let f = other.recv().await?;
        assert_eq!(
            (f.event.as_str(), &f.payload["version"]),
            ("state:patch", &json!(version))
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_channel_s_own_limits_and_the_hub_s_are_enforced() -> Result<()> {
    let server = TestServer::start(hub()).await?;
    let mut c = server.client().await?;
    join_as(&mut c, "small:k", "1", json!({})).await?;
    let state = json!({});
    let refusals = [
        ("put", put("/s", "x".repeat(3000)), "max_state_bytes = 2048"),
        ("put", put("/d", nested(6)), "max_depth = 6"),
        ("patch", json!({"ops": many_adds(11)}), "max_patch_ops = 10"),
        ("patch", json!({"ops": copy_chain(4)}), "max_depth = 6"),
    ];
    for (name, payload, needle) in refusals {
        let frames = event(&mut c, "1", "small:k", name, payload).await?;
        assert_refused(&frames, &state, 0, &[needle]);
    }
    // growing the state by root copies: refused once it would pass 2048 bytes
    event(&mut c, "1", "small:k", "put", put("/s", "x".repeat(200))).await?;
    let frames = event(
        &mut c,
        "1",
        "small:k",
        "patch",
        json!({"ops": root_copies(10)}),
    )
    .await?;
    let grown = json!({"s": "x".repeat(200)});
    assert_refused(&frames, &grown, 1, &["max_state_bytes = 2048"]);
    let frames = event(&mut c, "1", "small:k", "put", put("/d", nested(5))).await?;
    assert_accepted(&frames, 2);
    let frames = event(
        &mut c,
        "1",
        "small:k",
        "patch",
        json!({"ops": many_adds(10)}),
    )
    .await?;
    assert_accepted(&frames, 3);

    // the hub's limits, for a channel that sets none
    let limits = {
        let mut l = Limits::default();
        l.state = {
            let mut l = StateLimits::default();
            l.max_bytes = 2048;
            l
        };
        l
    };
    let tight = TestServer::start(test_hub().limits(limits).build()).await?;
    let mut c = tight.client().await?;
    join_as(&mut c, "doc:t", "1", json!({})).await?;
    let frames = event(&mut c, "1", "doc:t", "put", put("/s", "x".repeat(3000))).await?;
    assert_refused(&frames, &json!({}), 0, &["max_state_bytes = 2048"]);
    let frames = event(&mut c, "1", "doc:t", "put", put("/s", "x".repeat(1000))).await?;
    assert_accepted(&frames, 1);
    Ok(())
}

#[tokio::test]
async fn a_typed_state_beyond_its_limits_is_refused_and_rolled_back() -> Result<()> {
    let server = TestServer::start(hub()).await?;
    let topic = "notes:t";
    let mut c = server.client().await?;
    let mut other = server.client().await?;
    join_as(&mut c, topic, "1", json!({})).await?;
    join_as(&mut other, topic, "1", json!({})).await?;
    let state = json!({"items": ["first"], "nest": null});
    let frames = event(&mut c, "1", topic, "grow", json!({"len": 3000})).await?;
    assert_refused(&frames, &state, 0, &["max_state_bytes = 2048"]);
    // {"nest": [[[[[[null]]]]]]} is 7 deep
    let frames = event(&mut c, "1", topic, "nest", json!({"levels": 6})).await?;
    assert_refused(&frames, &state, 0, &["max_depth = 6"]);
    assert_eq!(
        refresh(&mut other, "1", topic).await?,
        json!({"state": state, "version": 0})
    );
    // the rolled-back state is the one the next event changes
    let frames = event(&mut c, "1", topic, "grow", json!({"len": 3})).await?;
    assert_eq!(
        assert_accepted(&frames, 1),
        json!([{"op": "add", "path": "/items/1", "value": "xxx"}])
    );
    let frames = event(&mut c, "1", topic, "nest", json!({"levels": 5})).await?;
    assert_accepted(&frames, 2);
    let f = other.recv().await?;
    assert_eq!(
        (f.event.as_str(), &f.payload["version"]),
        ("state:patch", &json!(1))
    );

    // the Rust API: an edit through a Doc, and a message to the handler
    let api = server.hub().api();
    let err = api
        .put(topic, "/items/-", json!("x".repeat(3000)))
        .await
        .unwrap_err();
    assert!(matches!(err, ApiError::Limit(_)), "{err:?}");
    assert!(err.to_string().contains("max_state_bytes = 2048"), "{err}");
    let err = server
        .hub()
        .send(topic, json!({"len": 3000}))
        .await
        .unwrap_err();
    // a typed state's limits are checked at commit: still a limit, not a plain refusal
    assert_eq!(err.code(), "limit_exceeded", "{err:?}");
    assert!(err.to_string().contains("max_state_bytes = 2048"), "{err}");
    let current = api.get(topic).await?;
    assert_eq!(current.version, 2);
    assert_eq!(current.state["items"], json!(["first", "xxx"]));
    assert_eq!(server.hub().send(topic, json!({"len": 2})).await?, 3);
    Ok(())
}

fn limit_code(r: &Response) -> String {
    assert_eq!(r.status, 413, "{}", r.body);
    r.json().unwrap()["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn the_rust_and_http_apis_refuse_the_same_changes() -> Result<()> {
    let server = TestServer::start(hub()).await?;
    let topic = "open:api";
    let api = server.hub().api();
    assert_eq!(api.put(topic, "/s", json!("x".repeat(16 << 10))).await?, 1);
    let before = api.get(topic).await?;
    let mut c = server.client().await?;
    join_as(&mut c, topic, "1", json!({})).await?;

    let expect_limit = |r: Result<u64, ApiError>, needle: &str| {
        let err = r.unwrap_err();
        assert!(matches!(err, ApiError::Limit(_)), "{err:?}");
        assert_eq!(err.code(), "limit_exceeded");
        assert!(err.to_string().contains(needle), "{err} lacks {needle}");
    };
    expect_limit(api.put(topic, "/deep", nested(65)).await, "max_depth = 64");
    expect_limit(api.patch(topic, ops(copy_chain(8))).await, "max_depth = 64");
    expect_limit(
        api.patch(topic, ops(root_copies(25))).await,
        "max_state_bytes = 16777216",
    );
    expect_limit(
        api.patch(topic, ops(many_adds(1001))).await,
        "max_patch_ops = 1000",
    );
    let copies = api
        .update(topic, |doc| {
            doc.set("/first", 1)?;
            for i in 0..25 {
                doc.copy_value("", &format!("/c{i}"))?;
            }
            Ok(())
        })
        .await;
    expect_limit(copies, "max_state_bytes = 16777216");
    assert_eq!(api.get(topic).await?, before);

    // HTTP: 413 limit_exceeded naming the limit
    let path = format!("/api/state/{topic}");
    let deep = nested(65).to_string();
    let r = http::request(
        server.addr,
        "PUT",
        &format!("{path}?path=/deep"),
        &[],
        &deep,
    )
    .await?;
    assert_eq!(limit_code(&r), "limit_exceeded");
    assert!(r.body.contains("max_depth = 64"), "{}", r.body);
    for (body, needle) in [
        (many_adds(1001), "max_patch_ops = 1000"),
        (root_copies(25), "max_state_bytes = 16777216"),
        (copy_chain(8), "max_depth = 64"),
    ] {
        let r = http::request(server.addr, "PATCH", &path, &[], &body.to_string()).await?;
        assert_eq!(limit_code(&r), "limit_exceeded");
        assert!(r.body.contains(needle), "{}", r.body);
    }
    assert_eq!(api.get(topic).await?, before);
    // the WebSocket joiner saw nothing of it: its next frame is the next accepted change
    assert_eq!(api.put(topic, "/ok", json!(true)).await?, 2);
    let f = c.recv().await?;
    assert_eq!(f.event, "state:patch");
    assert_eq!(
        f.payload,
        json!({"patch": [{"op": "add", "path": "/ok", "value": true}], "version": 2})
    );
    Ok(())
}
