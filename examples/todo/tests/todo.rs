//! The todo channel in process (`TestChannel`), and the pages over HTTP.

use livestate::Hub;
use livestate::testing::{TestChannel, TestError};
use livestate_testkit::{TestServer, http};
use serde_json::json;
use std::time::Duration;
use todo::TodoChannel;

/// A hub with the todo channel, adding at once (the binary waits 500 ms, as LiveState's
/// testbed does).
fn hub() -> Hub {
    let delay = Duration::ZERO;
    Hub::builder()
        .channel("todo:*", TodoChannel { delay })
        .build()
}

#[tokio::test]
async fn a_todo_is_appended_and_every_joiner_sees_it() -> anyhow::Result<()> {
    let hub = hub();
    let mut ann = TestChannel::join(&hub, "todo:1", json!({})).await?;
    assert_eq!(ann.state(), &json!({"todos": []}));

    let pushed = ann.push("add_todo", json!({"todo": "milk"})).await?;
    assert_eq!(
        pushed.patch,
        json!([{"op": "add", "path": "/todos/0", "value": "milk"}])
    );
    ann.push("add_todo", json!({"todo": "eggs"})).await?;
    assert_eq!(ann.state(), &json!({"todos": ["milk", "eggs"]}));
    assert_eq!(ann.version(), 2);

    // a late joiner gets the list as it is; another topic is another list
    let bob = TestChannel::join(&hub, "todo:1", json!({})).await?;
    assert_eq!(bob.state(), &json!({"todos": ["milk", "eggs"]}));
    let other = TestChannel::join(&hub, "todo:2", json!({})).await?;
    assert_eq!(other.state(), &json!({"todos": []}));
    Ok(())
}

#[tokio::test]
async fn bad_events_are_refused_with_the_reason_and_change_nothing() -> anyhow::Result<()> {
    let hub = hub();
    let mut todos = TestChannel::join(&hub, "todo:1", json!({})).await?;
    let refusals = [
        (
            "add_todo",
            json!({}),
            "bad payload for add_todo: missing field `todo`",
        ),
        (
            "add_todo",
            json!({"todo": 7}),
            "bad payload for add_todo: todo: invalid type: integer `7`, expected a string",
        ),
        (
            "remove_todo",
            json!({"todo": "milk"}),
            "unknown event \"remove_todo\"",
        ),
    ];
    for (event, payload, reason) in refusals {
        let err = todos.push(event, payload).await.unwrap_err();
        assert_eq!(err, TestError::Refused(reason.into()));
    }
    assert_eq!(todos.state(), &json!({"todos": []}));
    Ok(())
}

#[tokio::test]
async fn the_pages_and_the_client_are_served() -> anyhow::Result<()> {
    let delay = Duration::ZERO;
    let live = todo::endpoint(TodoChannel { delay });
    let server = TestServer::start_app(live, |router| todo::pages().merge(router)).await?;
    let page = http::get(server.addr, "/").await?;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"<input name="todo""#), "{}", page.body);
    assert!(
        page.body
            .contains(r#"import { LiveState } from "/livestate.js""#)
    );

    let react = http::get(server.addr, "/react").await?;
    assert_eq!(react.status, 200);
    assert!(
        react
            .body
            .contains(r#"<script type="module" src="/react.js">"#)
    );
    let bundle = http::get(server.addr, "/react.js").await?;
    assert_eq!(bundle.header("content-type"), Some("text/javascript"));
    assert_eq!(bundle.body, todo::REACT_JS);
    assert!(bundle.body.contains(r#"from"/livestate.js""#));

    assert_eq!(http::get(server.addr, "/livestate.js").await?.status, 200);
    server.stop().await
}
