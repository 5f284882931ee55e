//! Presence over the wire: `presence_state` for a joiner, `presence_diff` for joins and
//! leaves, in the format phoenix.js's `Presence` consumes.

use anyhow::Result;
use livestate_testkit::channels::test_hub;
use livestate_testkit::{Client, Frame, TestServer};
use serde_json::{Value, json};

async fn join_as(
    server: &TestServer,
    topic: &str,
    key: &str,
    name: &str,
) -> Result<(Client, String)> {
    let mut c = server.client().await?;
    let jr = c
        .join(
            topic,
            json!({"presence": {"key": key, "meta": {"name": name}}}),
        )
        .await?;
    c.recv_until(|f| f.event == "state:change").await?;
    Ok((c, jr))
}

async fn next_presence(c: &mut Client) -> Result<Frame> {
    c.recv_until(|f| f.event.starts_with("presence_")).await
}

/// `{key: [names]}` of a presence_state payload.
fn names(state: &Value) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<_> = state
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| {
            let mut ns: Vec<String> = v["metas"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["name"].as_str().unwrap_or("").to_owned())
                .collect();
            ns.sort();
            (k.clone(), ns)
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn joiners_get_the_presence_and_everyone_sees_joins_and_leaves() -> Result<()> {
    let server = TestServer::start(test_hub().build()).await?;
    let (mut ann, _) = join_as(&server, "room:1", "ann", "Ann").await?;
    let state = next_presence(&mut ann).await?;
    assert_eq!(state.event, "presence_state");
    assert_eq!(
        names(&state.payload),
        vec![("ann".to_owned(), vec!["Ann".to_owned()])]
    );
    let own = next_presence(&mut ann).await?;
    assert_eq!(own.event, "presence_diff");
    let ann_ref = own.payload["joins"]["ann"]["metas"][0]["phx_ref"].clone();
    assert!(ann_ref.is_string(), "every meta has a phx_ref: {own:?}");

    let (mut bob, bob_jr) = join_as(&server, "room:1", "bob", "Bob").await?;
    let state = next_presence(&mut bob).await?;
    assert_eq!(
        names(&state.payload),
        vec![
            ("ann".to_owned(), vec!["Ann".to_owned()]),
            ("bob".to_owned(), vec!["Bob".to_owned()])
        ]
    );
    let diff = next_presence(&mut ann).await?;
    assert_eq!(diff.payload["joins"]["bob"]["metas"][0]["name"], "Bob");
    assert_eq!(diff.payload["leaves"], json!({}));

    // a second tab of ann: two metas under one key
    let (mut ann2, _) = join_as(&server, "room:1", "ann", "Ann (tab 2)").await?;
    let state = next_presence(&mut ann2).await?;
    assert_eq!(
        names(&state.payload)[0],
        (
            "ann".to_owned(),
            vec!["Ann".to_owned(), "Ann (tab 2)".to_owned()]
        )
    );

    // bob leaves: everyone left gets the leave, with bob's meta
    bob.send(Some(&bob_jr), Some("l"), "room:1", "phx_leave", json!({}))
        .await?;
    let diff = ann
        .recv_until(|f| f.event == "presence_diff" && f.payload["leaves"] != json!({}))
        .await?;
    assert_eq!(diff.payload["leaves"]["bob"]["metas"][0]["name"], "Bob");
    // a socket that just goes away leaves too
    ann2.close().await;
    let diff = ann
        .recv_until(|f| f.event == "presence_diff" && f.payload["leaves"] != json!({}))
        .await?;
    assert_eq!(
        diff.payload["leaves"]["ann"]["metas"][0]["name"],
        "Ann (tab 2)"
    );
    Ok(())
}

#[tokio::test]
async fn channels_without_presence_send_none() -> Result<()> {
    let server = TestServer::start(test_hub().build()).await?;
    let mut c = server.client().await?;
    let jr = c
        .join("doc:nopresence", json!({"presence": {"key": "x"}}))
        .await?;
    c.recv_until(|f| f.event == "state:change").await?;
    let r = c
        .push_event(
            &jr,
            "doc:nopresence",
            "put",
            json!({"path": "/a", "value": 1}),
        )
        .await?;
    let frames = {
        let mut v = Vec::new();
        loop {
            let f = c.recv().await?;
            let done = f.r#ref.as_deref() == Some(r.as_str());
            v.push(f.event);
            if done {
                break v;
            }
        }
    };
    assert!(
        !frames.iter().any(|e| e.starts_with("presence")),
        "{frames:?}"
    );
    Ok(())
}
