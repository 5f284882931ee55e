//! The hooks page in process (`ViewTest`): a hook's event and its reply, an event pushed to
//! the hooks, and each bad input; then the page over HTTP, with the hooks in its head.

use hooks::HookDemo;
use livestate::view::live::testing::{TestView, ViewTest};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn mount() -> anyhow::Result<TestView<HookDemo>> {
    Ok(ViewTest::new(HookDemo::default()).mount("/").await?)
}

#[tokio::test]
async fn the_viewport_hook_gets_a_reply_and_the_page_shows_the_size() -> anyhow::Result<()> {
    let mut view = mount().await?;
    let html = view.html()?;
    assert!(html.contains(r#"<p id="viewport" phx-hook="Viewport" phx-update="ignore">"#));
    assert!(html.contains("The server knows nothing of your window yet."));

    let step = view
        .hook("viewport", json!({"width": 1280, "height": 720}))
        .await?;
    assert_eq!(step.reply, Some(json!({"kind": "desktop", "reports": 1})));
    assert!(step.events.is_empty());
    assert!(
        view.html()?
            .contains("The server knows: 1280 × 720 pixels, 1 report(s).")
    );

    // a resized window reports again
    let step = view
        .hook("viewport", json!({"width": 500, "height": 800}))
        .await?;
    assert_eq!(step.reply, Some(json!({"kind": "phone", "reports": 2})));
    let step = view
        .hook("viewport", json!({"width": 800, "height": 600}))
        .await?;
    assert_eq!(step.reply, Some(json!({"kind": "tablet", "reports": 3})));
    assert!(
        view.html()?
            .contains("The server knows: 800 × 600 pixels, 3 report(s).")
    );
    assert!(view.flash().is_empty());
    Ok(())
}

#[tokio::test]
async fn highlight_next_pushes_an_event_to_the_hooks() -> anyhow::Result<()> {
    let mut view = mount().await?;
    assert!(
        view.html()?
            .contains(r#"<div id="highlighter" phx-hook="Highlighter">"#)
    );
    assert!(view.html()?.contains(r#"<li id="planet-2">Earth</li>"#));

    let step = view.click("highlight_next", json!({})).await?;
    assert_eq!(
        step.events,
        [json!(["highlight", {"id": "planet-0", "name": "Mercury"}])]
    );
    assert_eq!(step.reply, None);
    let step = view.click("highlight_next", json!({})).await?;
    assert_eq!(
        step.events,
        [json!(["highlight", {"id": "planet-1", "name": "Venus"}])]
    );

    // after the last planet, the first again
    for _ in 2..8 {
        view.click("highlight_next", json!({})).await?;
    }
    let step = view.click("highlight_next", json!({})).await?;
    assert_eq!(
        step.events,
        [json!(["highlight", {"id": "planet-0", "name": "Mercury"}])]
    );
    Ok(())
}

#[tokio::test]
async fn a_report_that_does_not_fit_is_shown_and_gets_no_reply() -> anyhow::Result<()> {
    let mut view = mount().await?;
    view.hook("viewport", json!({"width": 1024, "height": 768}))
        .await?;

    let step = view
        .hook("viewport", json!({"width": "wide", "height": 768}))
        .await?;
    assert_eq!(step.reply, None);
    let shown = view.flash().get("error").unwrap_or_default();
    assert_eq!(
        shown,
        "bad payload for viewport: width: invalid type: string \"wide\", expected u32"
    );
    assert!(view.html()?.contains(r#"<p class="flash-error""#));

    let step = view.hook("viewport", json!({"width": 1024})).await?;
    assert_eq!(step.reply, None);
    let shown = view.flash().get("error").unwrap_or_default();
    assert!(shown.contains("missing field `height`"), "{shown}");

    // one that decodes but that the view refuses
    let step = view
        .hook("viewport", json!({"width": 0, "height": 768}))
        .await?;
    assert_eq!(step.reply, None);
    assert_eq!(
        view.flash().get("error"),
        Some("A window of 0 × 768 pixels shows nothing.")
    );

    // what the view knew stays
    assert!(
        view.html()?
            .contains("The server knows: 1024 × 768 pixels, 1 report(s).")
    );

    // lv:clear-flash clears the message
    view.click("lv:clear-flash", json!({"key": "error"}))
        .await?;
    assert!(view.flash().is_empty());
    assert!(!view.html()?.contains("flash-error"));
    Ok(())
}

#[tokio::test]
async fn an_unknown_event_is_shown() -> anyhow::Result<()> {
    let mut view = mount().await?;
    let step = view.hook("bogus", json!({})).await?;
    assert_eq!(step.reply, None);
    assert!(step.events.is_empty());
    assert_eq!(view.flash().get("error"), Some("unknown event \"bogus\""));
    assert!(view.html()?.contains("unknown event &quot;bogus&quot;"));

    view.click("bogus_click", json!({})).await?;
    assert_eq!(
        view.flash().get("error"),
        Some("unknown event \"bogus_click\"")
    );
    Ok(())
}

/// A GET of `path` from `addr`: the status and the whole response.
async fn get(addr: std::net::SocketAddr, path: &str) -> anyhow::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow::anyhow!("not an HTTP response: {response}"))?;
    Ok((status, response))
}

#[tokio::test]
async fn the_page_has_the_hooks_in_its_head() -> anyhow::Result<()> {
    let live = hooks::endpoint();
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

    let (status, page) = get(addr, "/").await?;
    assert_eq!(status, 200, "{page}");
    let head = page.split("</head>").next().unwrap_or_default();
    assert!(
        head.contains(r#"<script defer src="/live/live.js"></script>"#),
        "{head}"
    );
    assert!(head.contains(hooks::HOOKS), "{head}");
    assert!(page.contains(r#"phx-hook="Viewport""#), "{page}");

    let _ = stop.send(());
    server.await??;
    Ok(())
}
