//! The chat channel in process (`TestChannel`), and the page over HTTP.

use chat::{HISTORY, MAX_NAME, MAX_TEXT};
use livestate::testing::{TestChannel, TestError};
use livestate_testkit::{TestServer, http};
use serde_json::{Value, json};

fn post(name: &str, text: &str) -> Value {
    json!({"name": name, "text": text})
}

#[tokio::test]
async fn everyone_in_a_room_sees_every_message_and_late_joiners_the_history() -> anyhow::Result<()>
{
    let hub = chat::endpoint().hub().clone();
    let mut ann = TestChannel::join(&hub, "chat:lobby", json!({})).await?;
    let mut bob = TestChannel::join(&hub, "chat:lobby", json!({})).await?;

    let pushed = ann.push("post", post("ann", "  hi bob ")).await?;
    let hi = json!({"name": "ann", "text": "hi bob"}); // trimmed
    assert_eq!(
        pushed.patch,
        json!([{"op": "add", "path": "/messages/0", "value": hi}])
    );
    bob.next_change().await?;
    bob.push("post", post("bob", "hi ann")).await?;
    ann.next_change().await?;
    let both = json!({"messages": [hi, {"name": "bob", "text": "hi ann"}]});
    assert_eq!(ann.state(), &both);
    assert_eq!(bob.state(), &both);

    let late = TestChannel::join(&hub, "chat:lobby", json!({})).await?;
    assert_eq!(late.state(), &both);
    let elsewhere = TestChannel::join(&hub, "chat:kitchen", json!({})).await?;
    assert_eq!(elsewhere.state(), &json!({"messages": []}));
    Ok(())
}

#[tokio::test]
async fn the_history_keeps_the_last_messages() -> anyhow::Result<()> {
    let hub = chat::endpoint().hub().clone();
    let mut ann = TestChannel::join(&hub, "chat:lobby", json!({})).await?;
    for i in 0..HISTORY + 5 {
        ann.push("post", post("ann", &format!("message {i}")))
            .await?;
    }
    let messages = ann.state()["messages"].as_array().unwrap();
    assert_eq!(messages.len(), HISTORY);
    assert_eq!(messages[0]["text"], "message 5");
    assert_eq!(
        messages[HISTORY - 1]["text"],
        format!("message {}", HISTORY + 4)
    );

    // once full, a post is one add and one remove, whatever the history's length
    let pushed = ann.push("post", post("ann", "one more")).await?;
    assert_eq!(
        pushed.patch,
        json!([
            {"op": "add", "path": format!("/messages/{HISTORY}"), "value": {"name": "ann", "text": "one more"}},
            {"op": "remove", "path": "/messages/0"},
        ])
    );
    assert_eq!(
        TestChannel::join(&hub, "chat:lobby", json!({}))
            .await?
            .state(),
        ann.state()
    );
    Ok(())
}

#[tokio::test]
async fn bad_posts_are_refused_naming_the_problem() -> anyhow::Result<()> {
    let hub = chat::endpoint().hub().clone();
    let mut ann = TestChannel::join(&hub, "chat:lobby", json!({})).await?;
    let long_name = "n".repeat(MAX_NAME + 1);
    let long_text = "x".repeat(MAX_TEXT + 1);
    let refusals = [
        (post("ann", "   "), "text is required".to_owned()),
        (post("", "hi"), "name is required".to_owned()),
        (
            post(&long_name, "hi"),
            format!("name is longer than {MAX_NAME} characters"),
        ),
        (
            post("ann", &long_text),
            format!("text is longer than {MAX_TEXT} characters"),
        ),
        (
            json!({"name": "ann"}),
            "bad payload for post: missing field `text`".to_owned(),
        ),
    ];
    for (payload, reason) in refusals {
        let err = ann.push("post", payload).await.unwrap_err();
        assert_eq!(err, TestError::Refused(reason));
    }
    let err = ann.push("shout", post("ann", "hi")).await.unwrap_err();
    assert_eq!(err, TestError::Refused("unknown event \"shout\"".into()));
    assert_eq!(ann.state(), &json!({"messages": []}));
    Ok(())
}

#[tokio::test]
async fn the_page_is_served() -> anyhow::Result<()> {
    let server = TestServer::start_app(chat::endpoint(), |r| chat::pages().merge(r)).await?;
    let page = http::get(server.addr, "/").await?;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"<form id="post">"#), "{}", page.body);
    assert!(page.body.contains(r#".push("lvs_evt:post""#));
    server.stop().await
}
