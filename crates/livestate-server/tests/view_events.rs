//! Live views' events and navigation over the wire, as the stock `phoenix_live_view`
//! client sends them, and bad input. Every case asserts the exact frames the server
//! answers (pages and joins: `views.rs`).
//!
//! | case | expected |
//! |---|---|
//! | malformed `event` | error reply naming the problem; the view still works |
//! | a handler's error | error reply with its reason; the view still works |
//! | a handler's panic | `phx_error`; a rejoin mounts afresh; other views unaffected |
//! | `live_patch` | ok `{diff}` within the view, ok `{link_redirect: true}` to another |
//! | a second join of a topic | `phx_close` of the old join, then the new join's reply |
//! | `phx_leave` | ok reply, then `phx_close` |
//! | timers | `diff` pushes, in order, with the join_ref |
//! | `cids_destroyed`, anything else | ok `{cids: []}`; error `unknown event` |
//! | tokens of another instance with the same secret | accepted |

mod views_support;

use anyhow::Result;
use serde_json::{Value, json};
use views_support::*;

/// Assert a frame equals the JSON array `expected`.
#[track_caller]
fn assert_frame(frame: &livestate_testkit::Frame, expected: Value) {
    assert_eq!(as_json(frame), expected, "frame {}", show(frame));
}

fn cookie_header(page: &Page) -> String {
    format!("_livestate_csrf={}", page.csrf_cookie)
}

// ---------------------------------------------------------------------------------------
// 5. Malformed events
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_events_are_refused_by_name_and_the_view_keeps_working() -> Result<()> {
    let server = server().await?;
    let page = page(&server, "/counter", None).await?;
    let mut client = connect(&server, &page).await?;
    let mut view = join_ok(&mut client, &page, &url(&server, "/counter")).await?;
    let topic = page.topic();
    let jr = view.join_ref.clone();

    let deep = format!("by{}=1", "[a]".repeat(40));
    let deep_key = format!("by{}", "[a]".repeat(40));
    let many = "f=1&".repeat(10_001);
    let cases: Vec<(&str, Value, String)> = vec![
        (
            "payload not an object",
            json!("add"),
            "an event's payload must be an object".into(),
        ),
        (
            "payload an array",
            json!([1, 2]),
            "an event's payload must be an object".into(),
        ),
        (
            "no event",
            json!({"type": "click", "value": {"by": "1"}}),
            "an event's payload needs its name in \"event\"".into(),
        ),
        (
            "event not a string",
            json!({"type": "click", "event": 7, "value": {"by": "1"}}),
            "an event's payload needs its name in \"event\"".into(),
        ),
        (
            "type not a string",
            json!({"type": 3, "event": "add", "value": {"by": "1"}}),
            "an event's kind (\"type\") must be a string".into(),
        ),
        (
            "form value not a string",
            json!({"type": "form", "event": "add", "value": {"by": "1"}}),
            "a form event's value must be the URL-encoded form".into(),
        ),
        (
            "form too deep",
            json!({"type": "form", "event": "add", "value": deep}),
            format!("form field {deep_key:?} nests more than 32 levels"),
        ),
        (
            "form with too many fields",
            json!({"type": "form", "event": "add", "value": many}),
            "the form has more than 10000 fields".into(),
        ),
        (
            "unknown event",
            json!({"type": "click", "event": "no_such_event", "value": {}}),
            "unknown event \"no_such_event\"".into(),
        ),
        (
            "value that does not fit",
            json!({"type": "click", "event": "add", "value": {"by": 3}}),
            "bad payload for add: by: invalid type: integer `3`, expected a string".into(),
        ),
        (
            "value missing a field",
            json!({"type": "click", "event": "add", "value": {}}),
            "bad payload for add: missing field `by`".into(),
        ),
        (
            "a component's cid",
            json!({"type": "click", "event": "add", "value": {"by": "1"}, "cid": 1}),
            "live components are not supported".into(),
        ),
    ];
    let mut count = 0;
    for (what, payload, reason) in cases {
        let (r, reply) = view.call(&mut client, "event", payload).await?;
        assert_eq!(
            as_json(&reply),
            error_reply(Some(&jr), &r, &topic, &reason),
            "{what}"
        );
        // the next good event gets its diff: the bad one changed nothing
        count += 1;
        let (r, reply) = view.click(&mut client, "add", json!({"by": "1"})).await?;
        assert_frame(
            &reply,
            ok_reply(
                &jr,
                &r,
                &topic,
                json!({"diff": {"1": count.to_string(), "t": format!("Counter {count}")}}),
            ),
        );
        view.take_diff(&r, &reply)?;
        assert_eq!(view.tree.text("count")?, count.to_string(), "after {what}");
    }

    // a form event that fits: the value decoded as Plug does
    let (r, reply) = view
        .call(
            &mut client,
            "event",
            json!({"type": "form", "event": "add", "value": "by=5"}),
        )
        .await?;
    view.take_diff(&r, &reply)?;
    assert_eq!(view.tree.text("count")?, (count + 5).to_string());

    // an event for a topic this socket has not joined
    client
        .send(
            Some("99"),
            Some("u1"),
            "lv:phx-not-joined",
            "event",
            json!({"type": "click", "event": "add", "value": {"by": "1"}}),
        )
        .await?;
    let reply = client.reply_to("u1").await?;
    assert_frame(
        &reply,
        error_reply(None, "u1", "lv:phx-not-joined", "unmatched topic"),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 6. A handler's error, a panic
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_handler_error_is_answered_and_a_panic_ends_that_view_alone() -> Result<()> {
    let server = server().await?;
    let counter_page = page(&server, "/counter", None).await?;
    let keys_page = page(&server, "/keys", Some(&cookie_header(&counter_page))).await?;
    let mut client = connect(&server, &counter_page).await?;
    let mut keys = join_ok(&mut client, &keys_page, &url(&server, "/keys")).await?;
    let mut counter = join_ok(&mut client, &counter_page, &url(&server, "/counter")).await?;
    let topic = counter.topic.clone();
    let jr = counter.join_ref.clone();

    let (r, reply) = counter.click(&mut client, "fail", json!({})).await?;
    assert_frame(
        &reply,
        error_reply(Some(&jr), &r, &topic, "this handler fails"),
    );
    let (r, reply) = counter
        .click(&mut client, "add", json!({"by": "2"}))
        .await?;
    counter.take_diff(&r, &reply)?;
    assert_eq!(counter.tree.text("count")?, "2");

    // a panic: no reply, the channel errors
    counter
        .push(
            &mut client,
            "event",
            json!({"type": "click", "event": "crash", "value": {}}),
        )
        .await?;
    let error = client.recv().await?;
    assert_frame(
        &error,
        json!([jr, jr, topic, "phx_error", {"reason": "the view crashed"}]),
    );

    // the other view on the socket is unaffected
    let key = json!({"type": "keyup", "event": "key", "value": {"key": "x", "value": ""}});
    let (r, reply) = keys.call(&mut client, "event", key).await?;
    keys.take_diff(&r, &reply)?;
    assert_eq!(keys.tree.text("last")?, "x");
    assert_eq!(keys.tree.text("key-count")?, "1");

    // the client rejoins with a new join_ref: a fresh mount
    let mut again = join_ok(&mut client, &counter_page, &url(&server, "/counter")).await?;
    assert_ne!(again.join_ref, jr);
    assert_eq!(again.tree.text("count")?, "0");
    let (r, reply) = again.click(&mut client, "add", json!({"by": "1"})).await?;
    assert_frame(
        &reply,
        ok_reply(
            &again.join_ref,
            &r,
            &topic,
            json!({"diff": {"1": "1", "t": "Counter 1"}}),
        ),
    );
    again.take_diff(&r, &reply)?;

    // and the other view still answers
    let key = json!({"type": "keyup", "event": "key", "value": {"key": "y"}});
    let (r, reply) = keys.call(&mut client, "event", key).await?;
    keys.take_diff(&r, &reply)?;
    assert_eq!(keys.tree.text("last")?, "y");
    assert_eq!(keys.tree.text("key-count")?, "2");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 7. live_patch
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn live_patch_runs_the_params_callback_or_redirects_the_link() -> Result<()> {
    let server = server().await?;
    let page = page(&server, "/patch", None).await?;
    let mut client = connect(&server, &page).await?;
    let mut view = join_ok(&mut client, &page, &url(&server, "/patch")).await?;
    let topic = page.topic();
    let jr = view.join_ref.clone();
    assert_eq!(view.tree.text("tab")?, "a");
    assert_eq!(view.tree.text("mounts")?, "1");

    let to_b = url(&server, "/patch?tab=b");
    let (r, reply) = view
        .call(&mut client, "live_patch", json!({"url": to_b}))
        .await?;
    let diff = view.take_diff(&r, &reply)?;
    assert_eq!(view.tree.text("tab")?, "b", "diff {diff}");
    assert_eq!(view.tree.text("uri")?, to_b);
    assert_eq!(view.tree.text("params-calls")?, "2");
    assert_eq!(view.tree.text("mounts")?, "1", "a patch does not mount");

    let (r, reply) = view
        .call(
            &mut client,
            "live_patch",
            json!({"url": url(&server, "/counter")}),
        )
        .await?;
    assert_frame(
        &reply,
        ok_reply(&jr, &r, &topic, json!({"link_redirect": true})),
    );

    let (r, reply) = view.call(&mut client, "live_patch", json!({})).await?;
    assert_frame(
        &reply,
        error_reply(
            Some(&jr),
            &r,
            &topic,
            "live_patch needs a url this server can read",
        ),
    );
    let (r, reply) = view
        .call(&mut client, "live_patch", json!({"url": 7}))
        .await?;
    assert_frame(
        &reply,
        error_reply(
            Some(&jr),
            &r,
            &topic,
            "live_patch needs a url this server can read",
        ),
    );

    // a push_patch from the server: a live_patch push, then the reply with the diff
    let r = view
        .push(
            &mut client,
            "event",
            json!({"type": "click", "event": "to_c", "value": {}}),
        )
        .await?;
    let push = client.recv().await?;
    assert_frame(
        &push,
        json!([jr, null, topic, "live_patch", {"to": "/patch?tab=c", "kind": "push"}]),
    );
    let reply = client.recv().await?;
    view.take_diff(&r, &reply)?;
    assert_eq!(view.tree.text("tab")?, "c");
    // the view's URL is the page's, absolute, as after the client's own patch
    assert_eq!(view.tree.text("uri")?, url(&server, "/patch?tab=c"));

    // what the URL carries reaches the page escaped
    let evil = url(&server, "/patch?tab=%3Cb%3E%22x");
    let (r, reply) = view
        .call(&mut client, "live_patch", json!({"url": evil}))
        .await?;
    view.take_diff(&r, &reply)?;
    assert_eq!(view.tree.text("tab")?, "&lt;b&gt;&quot;x");
    let dead = get(&server, "/patch?tab=%3Cscript%3E", None).await?;
    assert!(
        dead.body.contains("<span id=\"tab\">&lt;script&gt;</span>"),
        "{}",
        dead.body
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 8. A second join, events of the old join, phx_leave
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_second_join_replaces_the_first_and_leave_closes_the_channel() -> Result<()> {
    let server = server().await?;
    let page = page(&server, "/counter", None).await?;
    let counter = url(&server, "/counter");
    let topic = page.topic();
    let mut client = connect(&server, &page).await?;
    let mut first = join_ok(&mut client, &page, &counter).await?;
    let (r, reply) = first.click(&mut client, "add", json!({"by": "3"})).await?;
    first.take_diff(&r, &reply)?;
    let old = first.join_ref.clone();

    let new = client
        .push_join(&topic, join_payload(&page, &counter))
        .await?;
    let close = client.recv().await?;
    assert_frame(&close, json!([old, old, topic, "phx_close", {}]));
    let reply = client.recv().await?;
    let mut second = Joined {
        topic: topic.clone(),
        join_ref: new.clone(),
        tree: joined_tree(&reply, &topic, &new)?,
    };
    assert_eq!(second.tree.text("count")?, "0", "a fresh mount");

    // an event of the old join is ignored; the next one, of the new join, is answered
    first
        .push(
            &mut client,
            "event",
            json!({"type": "click", "event": "add", "value": {"by": "5"}}),
        )
        .await?;
    let r = second
        .push(
            &mut client,
            "event",
            json!({"type": "click", "event": "add", "value": {"by": "1"}}),
        )
        .await?;
    let reply = client.recv().await?;
    assert_frame(
        &reply,
        ok_reply(
            &new,
            &r,
            &topic,
            json!({"diff": {"1": "1", "t": "Counter 1"}}),
        ),
    );
    second.take_diff(&r, &reply)?;

    // leave: the reply, then phx_close
    let r = second.push(&mut client, "phx_leave", json!({})).await?;
    assert_frame(&client.recv().await?, ok_reply(&new, &r, &topic, json!({})));
    assert_frame(
        &client.recv().await?,
        json!([new, new, topic, "phx_close", {}]),
    );

    // the topic is no longer joined
    let r = second
        .push(
            &mut client,
            "event",
            json!({"type": "click", "event": "add", "value": {"by": "1"}}),
        )
        .await?;
    assert_frame(
        &client.recv().await?,
        error_reply(None, &r, &topic, "unmatched topic"),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 9. Timers
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_timer_pushes_its_diffs_in_order_with_the_join_ref() -> Result<()> {
    let server = server().await?;
    let page = page(&server, "/counter", None).await?;
    let mut client = connect(&server, &page).await?;
    let mut view = join_ok(&mut client, &page, &url(&server, "/counter")).await?;
    let topic = page.topic();
    let jr = view.join_ref.clone();

    let r = view
        .push(
            &mut client,
            "event",
            json!({"type": "click", "event": "tick", "value": {}}),
        )
        .await?;
    assert_frame(&client.recv().await?, ok_reply(&jr, &r, &topic, json!({})));
    for tick in 1..=3 {
        let push = client.recv().await?;
        assert_frame(
            &push,
            json!([jr, null, topic, "diff", {"2": tick.to_string()}]),
        );
        view.tree.merge(&push.payload)?;
        assert_eq!(view.tree.text("ticks")?, tick.to_string());
    }
    // events still answer after the timer
    let (r, reply) = view.click(&mut client, "add", json!({"by": "1"})).await?;
    view.take_diff(&r, &reply)?;
    assert_eq!(view.tree.text("count")?, "1");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 10. Components' messages, unknown messages
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn cids_messages_are_answered_and_unknown_messages_refused() -> Result<()> {
    let server = server().await?;
    let page = page(&server, "/counter", None).await?;
    let mut client = connect(&server, &page).await?;
    let mut view = join_ok(&mut client, &page, &url(&server, "/counter")).await?;
    let topic = page.topic();
    let jr = view.join_ref.clone();

    let (r, reply) = view
        .call(&mut client, "cids_will_destroy", json!({"cids": [1, 2]}))
        .await?;
    assert_frame(&reply, ok_reply(&jr, &r, &topic, json!({"cids": []})));
    let (r, reply) = view
        .call(&mut client, "cids_destroyed", json!({"cids": [1, 2]}))
        .await?;
    assert_frame(&reply, ok_reply(&jr, &r, &topic, json!({"cids": []})));
    let (r, reply) = view.call(&mut client, "foo", json!({})).await?;
    assert_frame(
        &reply,
        error_reply(Some(&jr), &r, &topic, "unknown event \"foo\""),
    );

    let (r, reply) = view.click(&mut client, "add", json!({"by": "4"})).await?;
    view.take_diff(&r, &reply)?;
    assert_eq!(view.tree.text("count")?, "4");

    // the socket's heartbeat
    client
        .send(None, Some("hb"), "phoenix", "heartbeat", json!({}))
        .await?;
    assert_frame(
        &client.recv().await?,
        json!([null, "hb", "phoenix", "phx_reply", {"status": "ok", "response": {}}]),
    );

    // lv:clear-flash clears a flash message without reaching the view
    let (r, reply) = view.click(&mut client, "flash", json!({})).await?;
    view.take_diff(&r, &reply)?;
    assert!(
        view.tree.html()?.contains(">count is 4</p>"),
        "{}",
        view.tree.html()?
    );
    let (r, reply) = view
        .click(&mut client, "lv:clear-flash", json!({"key": "info"}))
        .await?;
    view.take_diff(&r, &reply)?;
    assert!(
        view.tree.html()?.contains("<div id=\"flash\"></div>"),
        "{}",
        view.tree.html()?
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 11. Another instance with the same secret
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn another_instance_with_the_same_secret_accepts_a_pages_tokens() -> Result<()> {
    let first = server().await?;
    let second = server().await?;
    let page = page(&first, "/counter", None).await?;

    // the socket lands on the other instance: its CSRF token and the page's tokens hold
    let mut client = connect(&second, &page).await?;
    let mut view = join_ok(&mut client, &page, &url(&second, "/counter")).await?;
    assert_eq!(view.tree.text("count")?, "0");
    let (r, reply) = view.click(&mut client, "add", json!({"by": "2"})).await?;
    view.take_diff(&r, &reply)?;
    assert_eq!(view.tree.text("count")?, "2");

    // and the first instance, stopped, does not matter
    first.stop().await?;
    let (r, reply) = view.click(&mut client, "add", json!({"by": "1"})).await?;
    view.take_diff(&r, &reply)?;
    assert_eq!(view.tree.text("count")?, "3");
    Ok(())
}
