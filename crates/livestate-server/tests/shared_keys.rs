//! Shared keys: one state per topic for every joiner; connection scope: one per join.

use anyhow::Result;
use livestate_testkit::channels::test_hub;
use livestate_testkit::{Client, LiveView, TestServer};
use serde_json::json;
use std::time::Duration;

async fn joined(server: &TestServer, topic: &str) -> Result<(Client, String, LiveView)> {
    let mut c = server.client().await?;
    let jr = c.join(topic, json!({})).await?;
    let mut view = LiveView::default();
    view.apply(&c.recv_until(|f| f.event == "state:change").await?)?;
    Ok((c, jr, view))
}

#[tokio::test]
async fn an_event_from_any_joiner_reaches_every_joiner() -> Result<()> {
    let server = TestServer::start(test_hub().build()).await?;
    let (mut a, ajr, mut av) = joined(&server, "doc:room").await?;
    let (mut b, bjr, mut bv) = joined(&server, "doc:room").await?;
    a.push_event(
        &ajr,
        "doc:room",
        "put",
        json!({"path": "/from_a", "value": 1}),
    )
    .await?;
    b.push_event(
        &bjr,
        "doc:room",
        "put",
        json!({"path": "/from_b", "value": 2}),
    )
    .await?;
    for (c, v) in [(&mut a, &mut av), (&mut b, &mut bv)] {
        while v.version != Some(2) {
            v.apply(&c.recv().await?)?;
        }
        assert_eq!(v.state, Some(json!({"from_a": 1, "from_b": 2})));
        assert_eq!(v.gaps, 0);
    }
    Ok(())
}

#[tokio::test]
async fn a_late_joiner_gets_the_current_state_and_version() -> Result<()> {
    let server = TestServer::start(test_hub().build()).await?;
    let (mut a, ajr, _) = joined(&server, "counter:late").await?;
    for _ in 0..5 {
        let r = a
            .push_event(&ajr, "counter:late", "increment", json!({}))
            .await?;
        a.reply_to(&r).await?;
    }
    let (_late, _, view) = joined(&server, "counter:late").await?;
    assert_eq!(view.state, Some(json!({"count": 5})));
    assert_eq!(view.version, Some(5));
    Ok(())
}

#[tokio::test]
async fn connection_scope_gives_every_join_its_own_state() -> Result<()> {
    let server = TestServer::start(test_hub().build()).await?;
    let (mut a, ajr, mut av) = joined(&server, "conn:same").await?;
    let (mut b, _bjr, bv) = joined(&server, "conn:same").await?;
    let r = a
        .push_event(
            &ajr,
            "conn:same",
            "put",
            json!({"path": "/mine", "value": true}),
        )
        .await?;
    loop {
        let f = a.recv().await?;
        av.apply(&f)?;
        if f.r#ref.as_deref() == Some(r.as_str()) {
            break;
        }
    }
    assert_eq!(av.state, Some(json!({"mine": true})));
    assert!(b.drain(Duration::from_millis(200)).await.is_empty());
    assert_eq!(bv.state, Some(json!({})));
    // and a new join starts from init again
    let (_c, _, cv) = joined(&server, "conn:same").await?;
    assert_eq!((cv.state, cv.version), (Some(json!({})), Some(0)));
    Ok(())
}

/// Many clients sending at once: every client sees every version once, in order, and
/// ends with the same state as the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_senders_see_no_gap_and_converge() -> Result<()> {
    const CLIENTS: usize = 8;
    const EVENTS: usize = 50;
    let server = TestServer::start(test_hub().build()).await?;
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let (mut c, jr, mut view) = joined(&server, "counter:busy").await?;
        tasks.push(tokio::spawn(async move {
            let mut acked = 0;
            let mut next_send = 0;
            let mut versions = Vec::new();
            // keep a few events in flight, read everything
            while acked < EVENTS {
                while next_send < EVENTS && next_send - acked < 4 {
                    c.push_event(&jr, "counter:busy", "increment", json!({}))
                        .await?;
                    next_send += 1;
                }
                let f = c.recv().await?;
                if view.apply(&f)? == livestate_testkit::client::Seen::Patch {
                    versions.push(view.version.unwrap());
                }
                if f.event == "phx_reply" && f.r#ref.is_some() {
                    assert_eq!(f.payload["status"], "ok");
                    acked += 1;
                }
            }
            anyhow::Ok((i, c, view, versions))
        }));
    }
    let mut finished = Vec::new();
    for t in tasks {
        finished.push(t.await??);
    }
    let total = (CLIENTS * EVENTS) as u64;
    for (i, mut c, mut view, mut versions) in finished {
        while view.version != Some(total) {
            let f = c.recv().await?;
            if view.apply(&f)? == livestate_testkit::client::Seen::Patch {
                versions.push(view.version.unwrap());
            }
        }
        assert_eq!(view.gaps, 0, "client {i} saw a gap");
        assert!(
            versions.windows(2).all(|w| w[1] == w[0] + 1),
            "client {i}: {versions:?}"
        );
        assert_eq!(view.state, Some(json!({"count": total})), "client {i}");
    }
    Ok(())
}

#[tokio::test]
async fn a_patch_is_encoded_once_and_is_identical_for_every_joiner() -> Result<()> {
    let server = TestServer::start(test_hub().build()).await?;
    let (mut a, ajr, _) = joined(&server, "doc:bytes").await?;
    let (mut b, _, _) = joined(&server, "doc:bytes").await?;
    a.push_event(
        &ajr,
        "doc:bytes",
        "put",
        json!({"path": "/x", "value": [1, 2]}),
    )
    .await?;
    let pa = a.recv_until(|f| f.event == "state:patch").await?;
    let pb = b.recv_until(|f| f.event == "state:patch").await?;
    assert_eq!(pa, pb);
    assert_eq!(pa.join_ref, None, "broadcast frames carry a null join_ref");
    Ok(())
}

#[tokio::test]
async fn a_key_expires_after_its_ttl_and_starts_again_from_init() -> Result<()> {
    // a TTL far longer than a rejoin takes, even on a busy machine (the TTL's own timing
    // is tested on tokio's paused clock in livestate-core)
    let hub = test_hub()
        .limits({
            let mut l = livestate_core::Limits::default();
            l.ttl = Duration::from_secs(3);
            l
        })
        .build();
    let server = TestServer::start(hub).await?;
    let (mut a, ajr, _) = joined(&server, "counter:ttl").await?;
    let r = a
        .push_event(&ajr, "counter:ttl", "increment", json!({}))
        .await?;
    a.reply_to(&r).await?;
    a.close().await;
    // rejoining within the TTL keeps the state
    let (b, _, view) = joined(&server, "counter:ttl").await?;
    assert_eq!(view.state, Some(json!({"count": 1})));
    b.close().await;
    // then the key goes (the loop is a guard against hanging, not a measurement)
    let mut waited = 0;
    while server.hub().live_keys() > 0 {
        assert!(waited < 600, "the key did not expire");
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    let (_c, _, view) = joined(&server, "counter:ttl").await?;
    assert_eq!(
        (view.state, view.version),
        (Some(json!({"count": 0})), Some(0))
    );
    Ok(())
}
