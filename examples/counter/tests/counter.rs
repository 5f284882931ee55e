//! The counter channel in process (`TestChannel`), and the page over HTTP.

use counter::CounterChannel;
use livestate::Hub;
use livestate::testing::{TestChannel, TestError};
use livestate_testkit::{TestServer, http};
use serde_json::json;

#[tokio::test]
async fn versions_wrap_to_0_after_10() -> anyhow::Result<()> {
    let hub = Hub::builder().channel("counter:*", CounterChannel).build();
    let mut counter = TestChannel::join(&hub, "counter:1", json!({})).await?;
    assert_eq!(
        (counter.state(), counter.version()),
        (&json!({"count": 0}), 0)
    );

    let mut versions = Vec::new();
    for _ in 0..16 {
        versions.push(counter.push("increment", json!({})).await?.version);
    }
    assert_eq!(versions, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 1, 2, 3, 4, 5]);
    assert_eq!(counter.state(), &json!({"count": 16}));

    // a late joiner gets the count and the current version
    let late = TestChannel::join(&hub, "counter:1", json!({})).await?;
    assert_eq!((late.state(), late.version()), (&json!({"count": 16}), 5));
    Ok(())
}

#[tokio::test]
async fn an_unknown_event_is_refused_and_changes_nothing() -> anyhow::Result<()> {
    let hub = Hub::builder().channel("counter:*", CounterChannel).build();
    let mut counter = TestChannel::join(&hub, "counter:1", json!({})).await?;
    let err = counter.push("decrement", json!({})).await.unwrap_err();
    assert_eq!(
        err,
        TestError::Refused("unknown event \"decrement\"".into())
    );
    assert_eq!(counter.state(), &json!({"count": 0}));
    Ok(())
}

#[tokio::test]
async fn the_page_is_served() -> anyhow::Result<()> {
    let server = TestServer::start_app(counter::endpoint(), |r| counter::pages().merge(r)).await?;
    let page = http::get(server.addr, "/").await?;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(r#"<button id="increment""#),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"topic: "counter:1""#));
    server.stop().await
}
