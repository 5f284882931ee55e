//! Attacks over WebSocket.

use crate::target::{GUARD, Target, answer};
use anyhow::{Context, Result, bail, ensure};
use futures_util::{SinkExt, StreamExt};
use livestate_testkit::Client;
use livestate_testkit::client::reply_status;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message as Ws;

/// A joined client on `topic`, its join ref, and the state it was sent.
async fn joined(target: &Target, topic: &str) -> Result<(Client, String)> {
    let mut c = target.client().await?;
    let jr = c.join(topic, json!({})).await?;
    c.recv_until(|f| f.event == "state:change").await?;
    Ok((c, jr))
}

/// Push `lvs_evt:NAME` and expect it accepted.
async fn accepted(c: &mut Client, jr: &str, topic: &str, name: &str, payload: Value) -> Result<()> {
    let r = c.push_event(jr, topic, name, payload).await?;
    let (_, reply) = answer(c, &r, None).await?;
    ensure!(reply_status(&reply).0 == "ok", "{name} refused: {reply:?}");
    Ok(())
}

/// Push `lvs_evt:NAME` and expect the refusal: the unchanged state (`state:change`), then
/// an error reply whose reason contains `naming`. Returns the reason.
async fn refused(
    c: &mut Client,
    jr: &str,
    topic: &str,
    name: &str,
    payload: Value,
    naming: &str,
) -> Result<String> {
    let r = c.push_event(jr, topic, name, payload).await?;
    refusal(c, &r, naming).await
}

async fn refusal(c: &mut Client, r: &str, naming: &str) -> Result<String> {
    let (change, reply) = answer(c, r, None).await?;
    let (status, response) = reply_status(&reply);
    let reason = response["reason"].as_str().unwrap_or_default().to_owned();
    ensure!(status == "error", "accepted: {reply:?}");
    ensure!(change.is_some(), "no state:change before the refusal");
    ensure!(
        reason.contains(naming),
        "the reason {reason:?} names no {naming}"
    );
    Ok(reason)
}

/// `n` nested objects: `{"a": {"a": ... {}}}`.
fn deep(n: usize) -> Value {
    let mut v = json!({});
    for _ in 1..n {
        v = json!({ "a": v });
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_chain_of_the_root_is_refused_at_max_depth() -> Result<()> {
    let target = Target::start(&[]).await?;
    let topic = "doc:chain";
    let (mut c, jr) = joined(&target, topic).await?;
    accepted(
        &mut c,
        &jr,
        topic,
        "put",
        json!({"path": "/a", "value": {}}),
    )
    .await?;
    let before = target.state(topic).await?;
    // the state is 2 levels deep, with its deepest leaf at /a; copying the root into that
    // leaf doubles the depth each time: 16 copies would make 131,072 levels
    let ops: Vec<Value> = (1..=16)
        .map(|k| json!({"op": "copy", "from": "", "path": "/a".repeat(1 << k)}))
        .collect();
    let reason = refused(
        &mut c,
        &jr,
        topic,
        "patch",
        json!({"ops": ops}),
        "max_depth",
    )
    .await?;
    println!("copy chain refused: {reason}");
    ensure!(
        target.state(topic).await? == before,
        "the patch left a mark"
    );
    // one copy that stays within the limit is taken
    let op = json!({"op": "copy", "from": "", "path": "/a/a"});
    accepted(&mut c, &jr, topic, "patch", json!({"ops": [op]})).await?;
    ensure!(target.state(topic).await? == json!({"a": {"a": {"a": {}}}}));
    target.check_unharmed("copy chain", topic).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_puts_are_refused_at_max_depth_and_keep_what_came_before() -> Result<()> {
    let target = Target::start(&[]).await?;
    let topic = "doc:deep";
    let (mut c, jr) = joined(&target, topic).await?;
    accepted(
        &mut c,
        &jr,
        topic,
        "put",
        json!({"path": "/ok", "value": 1}),
    )
    .await?;
    for i in 0..100 {
        let payload = json!({"path": format!("/p{i}"), "value": deep(100)});
        refused(&mut c, &jr, topic, "put", payload, "max_depth").await?;
    }
    // 61 levels with the root: within the limit
    accepted(
        &mut c,
        &jr,
        topic,
        "put",
        json!({"path": "/x", "value": deep(60)}),
    )
    .await?;
    // into its deepest leaf: 61 more levels are refused, and so is anything past 64
    let leaf = format!("/x{}/a", "/a".repeat(59));
    for n in [60, 4] {
        let payload = json!({"path": leaf, "value": deep(n)});
        refused(&mut c, &jr, topic, "put", payload, "max_depth").await?;
    }
    accepted(
        &mut c,
        &jr,
        topic,
        "put",
        json!({"path": leaf, "value": deep(3)}),
    )
    .await?;
    // 64 levels: the 60-deep value with 3 more levels at its leaf
    let expected = json!({"ok": 1, "x": deep(63)});
    ensure!(target.state(topic).await? == expected, "the state changed");
    target.check_unharmed("deep puts", topic).await
}

/// Puts `seed` on a fresh key, then sends one patch of 22 copies of the root (each doubling
/// the state: 4 GiB of JSON in all), which must be refused naming `limit` with nothing
/// applied; then checks the server unharmed.
async fn copy_doubling(attack: &str, seed: Value, limit: &str) -> Result<()> {
    let target = Target::start(&[]).await?;
    let topic = "doc:double";
    let (mut c, jr) = joined(&target, topic).await?;
    let payload = json!({"path": "/seed", "value": seed});
    accepted(&mut c, &jr, topic, "put", payload).await?;
    let before = target.state(topic).await?;
    let ops: Vec<Value> = (0..22)
        .map(|n| json!({"op": "copy", "from": "", "path": format!("/c{n}")}))
        .collect();
    let payload = json!({"ops": ops});
    let reason = refused(&mut c, &jr, topic, "patch", payload, limit).await?;
    println!("{attack} refused: {reason}");
    ensure!(
        target.state(topic).await? == before,
        "the patch left a mark"
    );
    target.check_unharmed(attack, topic).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_doubling_of_a_string_is_refused_at_max_state_bytes() -> Result<()> {
    let seed = json!("x".repeat(1000));
    copy_doubling("copy doubling of a 1 KiB string", seed, "max_state_bytes").await
}

/// The same with the seed as 500 zeros (1 KiB of JSON): each `0,` (2 bytes) is a 32-byte
/// `Value` in memory, so 16 MiB of such JSON would take 256 MiB; the values limit stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_doubling_of_small_values_is_refused_at_max_state_values() -> Result<()> {
    let seed = json!(vec![0; 500]);
    copy_doubling("copy doubling of 500 zeros", seed, "max_state_values").await
}

/// Objects of many one-letter members: each `"a":0,` (6 bytes) costs a map entry, a key
/// and a value in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_doubling_of_small_members_is_refused_within_the_memory_budget() -> Result<()> {
    let members: serde_json::Map<String, Value> = (0..150)
        .map(|i| {
            (
                format!("{}", char::from(b'A' + (i % 58) as u8)) + &"a".repeat(i / 58),
                json!(0),
            )
        })
        .collect();
    let seed = Value::Object(members);
    copy_doubling(
        "copy doubling of 150 small members",
        seed,
        "max_state_values",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_patch_of_1001_ops_is_refused_at_max_patch_ops() -> Result<()> {
    let target = Target::start(&[]).await?;
    let topic = "doc:ops";
    let (mut c, jr) = joined(&target, topic).await?;
    let ops: Vec<Value> = (0..1001)
        .map(|i| json!({"op": "add", "path": format!("/n{i}"), "value": i}))
        .collect();
    let payload = json!({"ops": ops});
    refused(&mut c, &jr, topic, "patch", payload, "max_patch_ops").await?;
    ensure!(
        target.state(topic).await? == json!({}),
        "the patch left a mark"
    );
    // 1,000 are taken
    accepted(&mut c, &jr, topic, "patch", json!({"ops": ops[..1000]})).await?;
    let state = target.state(topic).await?;
    ensure!(state["n999"] == json!(999) && state.get("n1000").is_none());
    target.check_unharmed("1,001 ops", topic).await
}

/// A raw socket sends a frame that is not V2 and 500 heartbeats before it reads anything;
/// returns the close code it then reads.
async fn bad_frame_then_heartbeats(url: String) -> Result<Option<u16>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await?;
    ws.send(Ws::Text(r#"{"not": "a V2 array"}"#.into())).await?;
    for i in 0..500 {
        let heartbeat = format!(r#"[null,"{i}","phoenix","heartbeat",{{}}]"#);
        // the server may have let go already; what it does not read is the point
        if ws.send(Ws::Text(heartbeat.into())).await.is_err() {
            break;
        }
    }
    loop {
        match ws.next().await {
            Some(Ok(Ws::Close(frame))) => return Ok(frame.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            Some(Err(e)) => bail!("the connection broke before a close frame: {e}"),
            None => bail!("the connection ended without a close frame"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_bad_frames_racing_heartbeats_each_get_close_1007() -> Result<()> {
    let target = Target::start(&[]).await?;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let url = target.server.url();
            tokio::spawn(tokio::time::timeout(GUARD, bad_frame_then_heartbeats(url)))
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let code = task
            .await?
            .context("hung")?
            .with_context(|| format!("socket {i}"))?;
        ensure!(code == Some(1007), "socket {i} saw close {code:?}");
    }
    target.check_unharmed("bad frames", "doc:races").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_closes_right_after_joining_each_get_a_close_frame() -> Result<()> {
    let target = Target::start(&[]).await?;
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let url = target.server.url();
            tokio::spawn(async move {
                let mut c = Client::connect(&url).await?;
                c.timeout = GUARD;
                c.push_join(&format!("doc:close-{}", i % 5), json!({}))
                    .await?;
                c.send_close(1000, "bye").await?;
                c.closed().await
            })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        let closed = task.await?.with_context(|| format!("socket {i}"))?;
        ensure!(
            closed.as_ref().map(|(code, _)| *code) == Some(1000),
            "socket {i} ended with {closed:?} (None: no close frame)"
        );
    }
    target
        .check_unharmed("closes after join", "doc:close-0")
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_integer_beyond_64_bits_is_refused_not_rounded() -> Result<()> {
    let target = Target::start(&[]).await?;
    let topic = "doc:wide";
    let (mut c, jr) = joined(&target, topic).await?;
    accepted(&mut c, &jr, topic, "put", json!({"path": "/n", "value": 1})).await?;
    // raw text: serde_json would round the number to a float
    let wide = "123456789012345678901234567890";
    let r = c.make_ref();
    let frame = format!(r#"["{jr}","{r}","{topic}","lvs_evt:put",{{"path":"/n","value":{wide}}}]"#);
    c.send_text(frame).await?;
    let reason = refusal(&mut c, &r, wide).await?;
    println!("wide integer refused: {reason}");
    // the socket stays open and the value stays
    accepted(&mut c, &jr, topic, "increment", json!({"path": "/n"})).await?;
    ensure!(target.state(topic).await? == json!({"n": 2}));
    target.check_unharmed("wide integer", topic).await
}
