//! The test app's views driven through `livestate_view::live::testing`, the harness app
//! developers use: events of every kind, forms, navigation, flash, timers, errors.

use livestate_testkit::views::{Counter, Hook, Keys, Nav, Patch, Private, Signup};
use livestate_view::live::testing::{TestError, ViewTest};
use livestate_view::live::{Navigation, Session};
use serde_json::{Value, json};

#[tokio::test]
async fn clicks_change_the_count_the_title_and_the_flash() -> Result<(), TestError> {
    let mut view = ViewTest::new(Counter::default()).mount("/counter").await?;
    assert_eq!(view.mounted().diff["1"], "0");
    assert_eq!(view.title(), Some("Counter 0"));
    let step = view.click("add", json!({"by": "2"})).await?;
    // only the changed slot, and the title
    assert_eq!(
        Value::Object(step.diff),
        json!({"1": "2", "t": "Counter 2"})
    );
    assert!(view.html()?.contains(r#"<span id="count">2</span>"#));
    view.click("flash", json!({})).await?;
    assert_eq!(view.flash().get("info"), Some("count is 2"));
    // lv:clear-flash is handled without the view
    view.click("lv:clear-flash", json!({"key": "info"})).await?;
    assert!(view.flash().is_empty());
    Ok(())
}

#[tokio::test]
async fn a_failing_handler_is_refused_and_the_view_stays() -> Result<(), TestError> {
    let mut view = ViewTest::new(Counter::default()).mount("/counter").await?;
    let failed = view.click("fail", json!({})).await.unwrap_err();
    assert_eq!(failed, TestError::Refused("this handler fails".into()));
    let bad = view.click("add", json!({"by": "x"})).await.unwrap_err();
    assert_eq!(bad, TestError::Refused("by must be a number".into()));
    let unknown = view.click("no_such_event", json!({})).await.unwrap_err();
    assert!(
        matches!(&unknown, TestError::Refused(r) if r.contains("no_such_event")),
        "{unknown}"
    );
    let crashed = view.click("crash", json!({})).await.unwrap_err();
    assert_eq!(
        crashed,
        TestError::Crashed("the counter crashed on purpose".into())
    );
    view.click("add", json!({"by": "1"})).await?;
    assert!(view.html()?.contains(r#"<span id="count">1</span>"#));
    // `liveSocket.execJS` sends no kind (`type: null`): the event is handled all the same
    view.push(json!({"type": null, "event": "add", "value": {"by": "1"}}))
        .await?;
    assert!(view.html()?.contains(r#"<span id="count">2</span>"#));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn timers_reach_handle_info_in_order() -> Result<(), TestError> {
    let mut view = ViewTest::new(Counter::default()).mount("/counter").await?;
    view.click("tick", json!({})).await?;
    for tick in 1..=3 {
        let step = view.next_info().await?;
        assert_eq!(step.diff["2"], tick.to_string());
    }
    Ok(())
}

#[tokio::test]
async fn forms_are_decoded_with_their_target() -> Result<(), TestError> {
    let mut view = ViewTest::new(Signup::default()).mount("/form").await?;
    view.change("validate", "user%5Bemail%5D=ann", "user[email]")
        .await?;
    let html = view.html()?;
    assert!(html.contains("an email needs an @"), "{html}");
    assert!(
        html.contains(r#"<span id="target">user.email</span>"#),
        "{html}"
    );
    view.submit("save", "user[email]=ann%40x").await?;
    assert_eq!(view.flash().get("info"), Some("saved ann@x"));
    assert!(view.html()?.contains("<li>ann@x</li>"));
    // a form string the decoder refuses names why
    let deep = format!("a{}=1", "[b]".repeat(40));
    let refused = view.submit("save", &deep).await.unwrap_err();
    assert!(
        matches!(&refused, TestError::Refused(r) if r.contains("nests more than 32 levels")),
        "{refused}"
    );
    Ok(())
}

#[tokio::test]
async fn keys_and_hooks_get_their_values_and_replies() -> Result<(), TestError> {
    let mut keys = ViewTest::new(Keys::default()).mount("/keys").await?;
    keys.keyup("key", "Enter").await?;
    assert!(keys.html()?.contains(r#"<span id="last">Enter</span>"#));
    let mut hook = ViewTest::new(Hook::default()).mount("/hook").await?;
    let step = hook.hook("ping", json!({"n": 4})).await?;
    assert_eq!(step.reply, Some(json!({"n": 8, "pings": 1})));
    assert_eq!(step.events, vec![json!(["pong-pushed", {"n": 1}])]);
    Ok(())
}

#[tokio::test]
async fn patches_run_handle_params_and_navigation_is_reported() -> Result<(), TestError> {
    let mut view = ViewTest::new(Patch::default())
        .mount("/patch?tab=b")
        .await?;
    assert!(view.html()?.contains(r#"<span id="tab">b</span>"#));
    view.patch("/patch?tab=a").await?;
    assert!(view.html()?.contains(r#"<span id="tab">a</span>"#));
    let step = view.click("to_c", json!({})).await?;
    assert_eq!(
        step.navigation,
        Some(Navigation::Patch {
            to: "/patch?tab=c".into(),
            replace: false
        })
    );
    assert_eq!(view.uri(), "/patch?tab=c");
    assert!(view.html()?.contains(r#"<span id="tab">c</span>"#));
    let step = view.click("away", json!({})).await?;
    assert_eq!(
        step.navigation,
        Some(Navigation::Navigate {
            to: "/counter".into(),
            replace: false
        })
    );

    let mut nav = ViewTest::new(Nav::default())
        .path("/nav/{page}")
        .mount("/nav/one")
        .await?;
    assert!(nav.html()?.contains(r#"<h1 id="page">one</h1>"#));
    let step = nav.click("other", json!({})).await?;
    assert_eq!(
        step.navigation,
        Some(Navigation::Navigate {
            to: "/nav/two".into(),
            replace: false
        })
    );
    assert_eq!(nav.flash().get("info"), Some("from one"));
    Ok(())
}

#[tokio::test]
async fn the_session_reaches_mount_and_the_first_render_is_not_connected() -> Result<(), TestError>
{
    let session = Session::from_iter([("user".to_owned(), json!("ann"))]);
    let view = ViewTest::new(Private::default())
        .session(session)
        .mount("/private")
        .await?;
    assert!(view.html()?.contains(r#"<span id="user">ann</span>"#));
    let dead = ViewTest::new(Counter::default())
        .disconnected()
        .mount("/counter")
        .await?;
    assert!(
        dead.html()?
            .contains(r#"<span id="connected">false</span>"#)
    );
    let wrong = ViewTest::new(Nav::default())
        .path("/nav/{page}")
        .mount("/other")
        .await;
    assert!(matches!(wrong, Err(TestError::Usage(_))));
    Ok(())
}
