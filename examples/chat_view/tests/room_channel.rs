//! The room's channel (`room:*`) as a socket joins it: validated posts with the reason of a
//! refusal, ids that only grow, a bounded history whose patch stays small, and rooms with
//! bad names refused at the join.

use chat_view::{HISTORY, MAX_AUTHOR, MAX_TEXT};
use livestate::testing::{TestChannel, TestError};
use serde_json::{Value, json};

fn post(author: &str, text: &str) -> Value {
    json!({"author": author, "text": text})
}

#[tokio::test]
async fn posts_are_validated_and_refusals_name_why() -> anyhow::Result<()> {
    let hub = chat_view::endpoint().hub().clone();
    let mut ann = TestChannel::join(&hub, "room:lobby", json!({})).await?;
    assert_eq!(ann.state(), &json!({"messages": []}));
    let pushed = ann.push("post", post(" ann ", "  hi ")).await?;
    let hi = json!({"id": 1, "author": "ann", "text": "hi"}); // trimmed
    assert_eq!(
        pushed.patch,
        json!([{"op": "add", "path": "/messages/0", "value": hi}])
    );
    let refused = |reason: &str| Err(TestError::Refused(reason.to_owned()));
    let long_text = "x".repeat(MAX_TEXT + 1);
    let long_name = "a".repeat(MAX_AUTHOR + 1);
    let cases = [
        (post("ann", ""), "text is required"),
        (post("ann", "   "), "text is required"),
        (post("", "hi"), "author is required"),
        (
            post("ann", &long_text),
            "text is longer than 500 characters",
        ),
        (
            post(&long_name, "hi"),
            "author is longer than 40 characters",
        ),
    ];
    for (payload, reason) in cases {
        let result = ann.push("post", payload).await.map(|_| ());
        assert_eq!(result, refused(reason));
    }
    assert!(matches!(
        ann.push("post", json!({"text": "no author"})).await,
        Err(TestError::Refused(reason)) if reason.contains("author")
    ));
    assert!(matches!(
        ann.push("shout", json!({})).await,
        Err(TestError::Refused(reason)) if reason.starts_with("unknown event")
    ));
    // nothing of it reached the state
    assert_eq!(ann.state(), &json!({"messages": [hi]}));
    Ok(())
}

#[tokio::test]
async fn the_history_is_bounded_and_ids_only_grow() -> anyhow::Result<()> {
    let hub = chat_view::endpoint().hub().clone();
    let mut ann = TestChannel::join(&hub, "room:busy", json!({})).await?;
    for i in 1..=HISTORY {
        ann.push("post", post("ann", &format!("n{i}"))).await?;
    }
    // once full, a post is one add and one remove, whatever the history's length
    let pushed = ann.push("post", post("ann", "one more")).await?;
    let next = HISTORY as u64 + 1;
    assert_eq!(
        pushed.patch,
        json!([
            {"op": "add", "path": format!("/messages/{HISTORY}"), "value": {"id": next, "author": "ann", "text": "one more"}},
            {"op": "remove", "path": "/messages/0"},
        ])
    );
    let messages = ann.state()["messages"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(messages.len(), HISTORY);
    assert_eq!(messages[0]["id"], json!(2));
    assert_eq!(messages[HISTORY - 1]["id"], json!(next));
    // a late joiner has the same
    let late = TestChannel::join(&hub, "room:busy", json!({})).await?;
    assert_eq!(late.state(), ann.state());
    Ok(())
}

#[tokio::test]
async fn rooms_with_bad_names_are_refused_at_the_join() {
    let hub = chat_view::endpoint().hub().clone();
    for topic in ["room:Lobby", "room:", "room:a b", "room:<b>"] {
        let joined = TestChannel::join(&hub, topic, json!({})).await.err();
        assert!(
            matches!(&joined, Some(TestError::JoinRefused(reason)) if reason.contains("is not a room")),
            "{topic}: {joined:?}"
        );
    }
    assert_eq!(hub.live_keys(), 0);
}
