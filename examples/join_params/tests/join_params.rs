//! The join params and failing channels in process (`TestChannel`), and the pages over HTTP.

use join_params::INIT_ERROR;
use livestate::testing::{TestChannel, TestError};
use livestate_testkit::{TestServer, http};
use serde_json::json;

#[tokio::test]
async fn the_join_params_are_the_state_of_each_join() -> anyhow::Result<()> {
    let hub = join_params::endpoint().hub().clone();
    let foo = TestChannel::join(&hub, "join_params", json!({"foo": "foo"})).await?;
    let bar = TestChannel::join(&hub, "join_params", json!({"foo": "bar"})).await?;
    assert_eq!(foo.state(), &json!({"foo": "foo"}));
    assert_eq!(bar.state(), &json!({"foo": "bar"}));
    Ok(())
}

/// The params are the channel's `Params` type: a join whose params do not decode is
/// refused, naming the field.
#[tokio::test]
async fn bad_join_params_are_refused_naming_the_field() -> anyhow::Result<()> {
    let hub = join_params::endpoint().hub().clone();
    let err = TestChannel::join(&hub, "join_params", json!({}))
        .await
        .err();
    assert_eq!(
        err,
        Some(TestError::JoinRefused(
            "bad join params: missing field `foo`".into()
        ))
    );
    let err = TestChannel::join(&hub, "join_params", json!({"foo": 1}))
        .await
        .err();
    assert_eq!(
        err,
        Some(TestError::JoinRefused(
            "bad join params: foo: invalid type: integer `1`, expected a string".into()
        ))
    );
    Ok(())
}

#[tokio::test]
async fn the_error_topics_fail_as_the_errors_page_expects() -> anyhow::Result<()> {
    let hub = join_params::endpoint().hub().clone();
    let err = TestChannel::join(&hub, "garbage", json!({})).await.err();
    assert_eq!(err, Some(TestError::JoinRefused("unmatched topic".into())));
    let err = TestChannel::join(&hub, "failing", json!({})).await.err();
    assert_eq!(err, Some(TestError::InitFailed(INIT_ERROR.into())));
    Ok(())
}

#[tokio::test]
async fn the_pages_are_served() -> anyhow::Result<()> {
    let server =
        TestServer::start_app(join_params::endpoint(), |r| join_params::pages().merge(r)).await?;
    let page = http::get(server.addr, "/").await?;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(r#"topic: "join_params", params"#),
        "{}",
        page.body
    );
    let errors = http::get(server.addr, "/errors").await?;
    assert_eq!(errors.status, 200);
    assert!(errors.body.contains(r#"showError("garbage", "unmatched")"#));
    assert!(
        errors
            .body
            .contains(r#"showError("failing", "init-error")"#)
    );
    server.stop().await
}
