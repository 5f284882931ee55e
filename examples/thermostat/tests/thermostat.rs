//! The thermostat in process (`ViewTest`): clicks, presets, the mode, the timer, what it
//! refuses; and its page over HTTP.

use livestate::view::live::testing::ViewTest;
use serde_json::json;
use thermostat::{Thermostat, Tick};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The text of the element whose id is `id` in `html` (up to its first nested tag),
/// unescaped.
fn text_of(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let open = start + html[start..].find('>')? + 1;
    let close = open + html[open..].find('<')?;
    let escaped = &html[open..close];
    Some(
        escaped
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&"),
    )
}

#[tokio::test]
async fn plus_and_minus_change_the_temperature_and_only_its_slots() -> anyhow::Result<()> {
    let mut view = ViewTest::new(Thermostat::default()).mount("/").await?;
    let html = view.html()?;
    assert_eq!(text_of(&html, "celsius").as_deref(), Some("21"));
    assert_eq!(text_of(&html, "mode").as_deref(), Some("comfort"));
    assert_eq!(text_of(&html, "clock").as_deref(), Some("0:00"));
    assert_eq!(view.title(), Some("Thermostat"));

    let step = view.click("inc", json!({})).await?;
    assert_eq!(text_of(&view.html()?, "celsius").as_deref(), Some("22"));
    // the diff: the temperature (slot 1) and the "heating to" line (slot 4), nothing else
    assert_eq!(json!(step.diff), json!({"1": "22", "4": "22"}));

    view.click("dec", json!({})).await?;
    view.click("dec", json!({})).await?;
    assert_eq!(view.view().celsius, 20);
    assert!(view.flash().is_empty());
    Ok(())
}

#[tokio::test]
async fn presets_set_the_temperature() -> anyhow::Result<()> {
    let mut view = ViewTest::new(Thermostat::default()).mount("/").await?;
    view.click("set", json!({"celsius": "17"})).await?;
    assert_eq!(text_of(&view.html()?, "celsius").as_deref(), Some("17"));
    assert!(view.flash().is_empty());
    Ok(())
}

#[tokio::test]
async fn eco_mode_caps_the_heating() -> anyhow::Result<()> {
    let mut view = ViewTest::new(Thermostat::default()).mount("/").await?;
    assert!(!view.html()?.contains("eco-note"));
    assert_eq!(text_of(&view.html()?, "heating-to").as_deref(), Some("21"));
    view.click("toggle_mode", json!({})).await?;
    let html = view.html()?;
    assert_eq!(text_of(&html, "mode").as_deref(), Some("eco"));
    assert!(html.contains("id=\"eco-note\""), "{html}");
    assert_eq!(text_of(&html, "heating-to").as_deref(), Some("18"));
    assert_eq!(text_of(&html, "celsius").as_deref(), Some("21"));
    view.click("toggle_mode", json!({})).await?;
    assert_eq!(text_of(&view.html()?, "mode").as_deref(), Some("comfort"));
    assert_eq!(text_of(&view.html()?, "heating-to").as_deref(), Some("21"));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_timer_moves_the_clock_and_sends_its_slot_alone() -> anyhow::Result<()> {
    let mut view = ViewTest::new(Thermostat::default()).mount("/").await?;
    // under the paused clock, each second passes at once
    let first = view.next_info().await?;
    // slot 5 is the `@if @connected` block, its slot 0 the clock: nothing else is sent
    assert_eq!(json!(first.diff), json!({"5": {"0": "0:01"}}));
    assert_eq!(text_of(&view.html()?, "clock").as_deref(), Some("0:01"));
    // re-armed by handle_info: it keeps ticking
    for _ in 0..60 {
        view.next_info().await?;
    }
    assert_eq!(text_of(&view.html()?, "clock").as_deref(), Some("1:01"));
    // the other slots did not move
    assert_eq!(text_of(&view.html()?, "celsius").as_deref(), Some("21"));
    // a message sent by hand is handled the same way
    view.info(Tick).await?;
    assert_eq!(view.view().seconds, 62);
    Ok(())
}

#[tokio::test]
async fn the_first_get_has_no_timer() -> anyhow::Result<()> {
    let view = ViewTest::new(Thermostat::default())
        .disconnected()
        .mount("/")
        .await?;
    let html = view.html()?;
    assert!(html.contains("connecting…"), "{html}");
    assert_eq!(text_of(&html, "clock"), None);
    Ok(())
}

#[tokio::test]
async fn out_of_range_is_shown_on_the_page_and_changes_nothing() -> anyhow::Result<()> {
    let mut view = ViewTest::new(Thermostat::default()).mount("/").await?;
    view.click("set", json!({"celsius": "30"})).await?;
    let step = view.click("inc", json!({})).await?;
    assert_eq!(
        view.flash().get("error"),
        Some("the thermostat goes no higher than 30 °C")
    );
    assert_eq!(view.view().celsius, 30);
    // the refusal's answer is the page's diff: the flash message
    assert!(
        json!(step.diff)
            .to_string()
            .contains("the thermostat goes no higher than 30 °C"),
        "{:?}",
        step.diff
    );
    let html = view.html()?;
    assert_eq!(
        text_of(&html, "flash-error").as_deref(),
        Some("the thermostat goes no higher than 30 °C")
    );
    // a click on the message clears it (the runtime's lv:clear-flash)
    view.click("lv:clear-flash", json!({"key": "error"}))
        .await?;
    assert!(view.flash().is_empty());
    assert_eq!(text_of(&view.html()?, "flash-error"), None);

    view.click("set", json!({"celsius": "10"})).await?;
    view.click("dec", json!({})).await?;
    assert_eq!(
        view.flash().get("error"),
        Some("the thermostat goes no lower than 10 °C")
    );
    assert_eq!(view.view().celsius, 10);
    view.click("set", json!({"celsius": "99"})).await?;
    assert_eq!(
        view.flash().get("error"),
        Some("the thermostat goes no higher than 30 °C")
    );
    assert_eq!(view.view().celsius, 10);
    Ok(())
}

#[tokio::test]
async fn values_that_do_not_fit_are_shown_on_the_page() -> anyhow::Result<()> {
    let mut view = ViewTest::new(Thermostat::default()).mount("/").await?;
    // not a number
    view.click("set", json!({"celsius": "warm"})).await?;
    assert_eq!(
        view.flash().get("error"),
        Some("\"warm\" is not a temperature")
    );
    // no value at all: the event does not decode
    view.click("set", json!({})).await?;
    assert_eq!(
        view.flash().get("error"),
        Some("bad payload for set: missing field `celsius`")
    );
    // a value of the wrong type
    view.click("set", json!({"celsius": 18})).await?;
    assert_eq!(
        view.flash().get("error"),
        Some("bad payload for set: celsius: invalid type: integer `18`, expected a string")
    );
    assert_eq!(view.view().celsius, 21);
    Ok(())
}

#[tokio::test]
async fn an_unknown_event_is_shown_on_the_page() -> anyhow::Result<()> {
    let mut view = ViewTest::new(Thermostat::default()).mount("/").await?;
    view.click("bogus", json!({})).await?;
    assert_eq!(view.flash().get("error"), Some("unknown event \"bogus\""));
    assert_eq!(
        text_of(&view.html()?, "flash-error").as_deref(),
        Some("unknown event \"bogus\"")
    );
    assert_eq!(view.view().celsius, 21);
    Ok(())
}

/// `GET path` on `addr`: the whole response.
async fn get(addr: std::net::SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response)
}

#[tokio::test]
async fn the_page_is_served_with_its_first_render() -> anyhow::Result<()> {
    let live = thermostat::endpoint();
    let app = live.router().merge(live.views_router());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        livestate::serve(listener, app, &live, async {
            let _ = stopped.await;
        })
        .await
    });
    let page = get(addr, "/").await?;
    let client = get(addr, "/live/live.js").await?;
    let missing = get(addr, "/nowhere").await?;
    let _ = stop.send(());
    server.await??;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("data-phx-session="), "{page}");
    assert!(page.contains("<title>Thermostat</title>"), "{page}");
    assert!(page.contains("<span id=\"celsius\">21</span>"), "{page}");
    assert!(page.contains("connecting…"), "{page}");
    assert!(client.starts_with("HTTP/1.1 200"), "{client}");
    assert!(client.contains("LiveSocket"));
    assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");
    Ok(())
}
