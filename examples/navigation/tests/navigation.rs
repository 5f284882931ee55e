//! The shop's two views in process (`ViewTest`): patches, navigation, flash and each bad
//! input; then the pages over HTTP.

use livestate::view::live::Navigation;
use livestate::view::live::testing::{TestView, ViewTest};
use navigation::{ProductList, ProductPage};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The names of the products the list shows, in order.
fn names(html: &str) -> Vec<&str> {
    html.split(r#"data-phx-link="redirect" data-phx-link-state="push">"#)
        .skip(1)
        .filter_map(|rest| rest.split_once("</a>").map(|(name, _)| name))
        .filter(|name| !name.contains("back to the list"))
        .collect()
}

async fn list(url: &str) -> anyhow::Result<TestView<ProductList>> {
    Ok(ViewTest::new(ProductList::default()).mount(url).await?)
}

async fn product(url: &str) -> anyhow::Result<TestView<ProductPage>> {
    Ok(ViewTest::new(ProductPage::default())
        .path("/products/{id}")
        .mount(url)
        .await?)
}

#[tokio::test]
async fn the_list_is_sorted_by_name_and_a_patch_sorts_it_by_price() -> anyhow::Result<()> {
    let mut view = list("/").await?;
    assert_eq!(names(&view.html()?), ["Anvil", "Birdseed", "Catapult"]);
    assert_eq!(view.title(), Some("Products by name, page 1"));
    assert!(view.html()?.contains(r#"id="sort-name" href="/?sort=name" data-phx-link="patch" data-phx-link-state="push" class="current""#));

    // a live_patch link: handle_params with the new URL, and only what changed is sent
    let step = view.patch("/?sort=price").await?;
    assert_eq!(step.navigation, None);
    assert!(!step.diff.is_empty());
    assert_eq!(
        names(&view.html()?),
        ["Birdseed", "Glue", "Earthquake pills"]
    );
    assert_eq!(view.title(), Some("Products by price, page 1"));
    assert!(view.html()?.contains(
        r#"href="/?sort=price" data-phx-link="patch" data-phx-link-state="push" class="current""#
    ));

    // back: the same URL shows the same list again
    view.patch("/?sort=name").await?;
    assert_eq!(names(&view.html()?), ["Anvil", "Birdseed", "Catapult"]);
    Ok(())
}

#[tokio::test]
async fn next_page_is_a_push_patch_and_the_last_page_refuses_it() -> anyhow::Result<()> {
    let mut view = list("/?sort=price").await?;
    assert!(!view.html()?.contains(r#"id="previous""#));

    let step = view.click("next_page", json!({})).await?;
    let to = "/?sort=price&page=2".to_owned();
    assert_eq!(
        step.navigation,
        Some(Navigation::Patch { to, replace: false })
    );
    // the patch has run handle_params already
    assert_eq!(names(&view.html()?), ["Dynamite", "Giant fan", "Anvil"]);
    assert!(view.html()?.contains(r#"<span id="page">2</span> of 3"#));
    assert!(
        view.html()?
            .contains(r#"id="previous" href="/?sort=price&amp;page=1""#)
    );

    view.click("next_page", json!({})).await?;
    assert_eq!(names(&view.html()?), ["Catapult"]);
    assert!(
        view.html()?
            .contains(r#"<button id="next" phx-click="next_page" disabled>"#)
    );
    assert!(view.flash().is_empty());

    // a click sent anyway: refused, shown in the flash, and the page stays
    let step = view.click("next_page", json!({})).await?;
    assert_eq!(step.navigation, None);
    assert_eq!(view.flash().get("error"), Some("This is the last page."));
    assert!(view.html()?.contains("This is the last page."));
    assert_eq!(names(&view.html()?), ["Catapult"]);
    Ok(())
}

#[tokio::test]
async fn cheapest_navigates_to_the_product_with_a_flash() -> anyhow::Result<()> {
    let mut view = list("/").await?;
    let step = view.click("cheapest", json!({})).await?;
    let to = "/products/2".to_owned();
    assert_eq!(
        step.navigation,
        Some(Navigation::Navigate { to, replace: false })
    );
    assert_eq!(
        view.flash().get("info"),
        Some("Our cheapest product: Birdseed.")
    );

    // the product view mounts with the flash the navigation carried
    let mut page = ViewTest::new(ProductPage::default())
        .path("/products/{id}")
        .flash("info", "Our cheapest product: Birdseed.")
        .mount("/products/2")
        .await?;
    assert!(page.html()?.contains(
        r#"<p class="flash-info" role="alert" title="click to close" phx-click="lv:clear-flash" phx-value-key="info">Our cheapest product: Birdseed.</p>"#
    ));
    // lv:clear-flash clears it
    page.click("lv:clear-flash", json!({"key": "info"})).await?;
    assert!(page.flash().is_empty());
    assert!(!page.html()?.contains("cheapest"));
    Ok(())
}

#[tokio::test]
async fn a_url_that_does_not_fit_shows_page_1_by_name_and_says_why() -> anyhow::Result<()> {
    let mut view = list("/?sort=colour&page=9").await?;
    let html = view.html()?;
    assert!(html.contains(
        r#"<p id="problem" class="problem">There is no sort order &quot;colour&quot;: sorted by name. There is no page &quot;9&quot;: showing page 1.</p>"#
    ), "{html}");
    assert_eq!(names(&html), ["Anvil", "Birdseed", "Catapult"]);

    view.patch("/?page=two").await?;
    assert!(
        view.html()?
            .contains("There is no page &quot;two&quot;: showing page 1.")
    );
    view.patch("/?page=0").await?;
    assert!(
        view.html()?
            .contains("There is no page &quot;0&quot;: showing page 1.")
    );

    // a good URL: the message goes
    view.patch("/?sort=price&page=3").await?;
    assert!(!view.html()?.contains(r#"id="problem""#));
    assert_eq!(names(&view.html()?), ["Catapult"]);
    Ok(())
}

#[tokio::test]
async fn the_list_shows_an_unknown_event_and_a_value_that_does_not_fit() -> anyhow::Result<()> {
    let mut view = list("/?sort=price").await?;
    let step = view.click("bogus", json!({})).await?;
    assert_eq!(step.navigation, None);
    assert_eq!(view.flash().get("error"), Some("unknown event \"bogus\""));
    assert!(view.html()?.contains("unknown event &quot;bogus&quot;"));

    let step = view.click("cheapest", json!(7)).await?;
    assert_eq!(step.navigation, None);
    let shown = view.flash().get("error").unwrap_or_default();
    assert!(shown.starts_with("bad payload for cheapest"), "{shown}");
    // the list stays as it was
    assert_eq!(
        names(&view.html()?),
        ["Birdseed", "Glue", "Earthquake pills"]
    );
    Ok(())
}

#[tokio::test]
async fn a_product_page_and_a_patch_to_the_next_product() -> anyhow::Result<()> {
    let mut view = product("/products/1").await?;
    let html = view.html()?;
    assert!(html.contains(r#"<h1 id="name">Anvil</h1><p id="price">$129.00</p>"#));
    assert!(html.contains(r#"<a id="back" href="/" data-phx-link="redirect""#));
    assert!(html.contains(r#"<a id="next-product" href="/products/2" data-phx-link="patch""#));
    assert_eq!(view.title(), Some("Anvil"));

    // the last product's next one is the first
    view.patch("/products/7").await?;
    assert!(view.html()?.contains(r#"<h1 id="name">Glue</h1>"#));
    assert!(
        view.html()?
            .contains(r#"href="/products/1" data-phx-link="patch""#)
    );
    assert_eq!(view.title(), Some("Glue"));
    Ok(())
}

#[tokio::test]
async fn a_product_id_that_names_no_product_is_shown_not_a_crash() -> anyhow::Result<()> {
    for (url, id) in [("/products/99", "99"), ("/products/abc", "abc")] {
        let view = product(url).await?;
        let html = view.html()?;
        let message = format!("There is no product &quot;{id}&quot;.");
        assert!(html.contains(&message), "{url}: {html}");
        assert!(!html.contains(r#"id="name""#), "{url}: {html}");
        assert!(!html.contains(r#"id="next-product""#), "{url}: {html}");
        assert!(html.contains(r#"id="back""#), "{url}: {html}");
        assert_eq!(view.title(), Some("No such product"));
    }

    // the first GET renders it too (not connected)
    let dead = ViewTest::new(ProductPage::default())
        .path("/products/{id}")
        .disconnected()
        .mount("/products/0")
        .await?;
    assert!(dead.html()?.contains("There is no product &quot;0&quot;."));

    // a patch from a product to no product, and back
    let mut view = product("/products/3").await?;
    view.patch("/products/8").await?;
    assert!(view.html()?.contains("There is no product &quot;8&quot;."));
    view.patch("/products/3").await?;
    assert!(view.html()?.contains(r#"<h1 id="name">Catapult</h1>"#));
    assert!(!view.html()?.contains("There is no product"));
    Ok(())
}

#[tokio::test]
async fn the_product_page_shows_any_event_as_unknown() -> anyhow::Result<()> {
    let mut view = product("/products/4").await?;
    view.click("buy", json!({})).await?;
    assert_eq!(view.flash().get("error"), Some("unknown event \"buy\""));
    assert!(view.html()?.contains(r#"<p class="flash-error""#));
    assert!(view.html()?.contains(r#"<h1 id="name">Dynamite</h1>"#));
    Ok(())
}

/// A GET of `path` from `addr`: the status and the body.
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
async fn the_endpoint_serves_both_views_and_the_client() -> anyhow::Result<()> {
    let live = navigation::endpoint();
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

    let (status, page) = get(addr, "/?sort=price").await?;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-phx-main"), "{page}");
    assert!(
        page.contains("<title>Products by price, page 1</title>"),
        "{page}"
    );
    assert!(page.contains(">Birdseed</a>"), "{page}");

    let (status, page) = get(addr, "/products/5").await?;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(r#"<h1 id="name">Earthquake pills</h1>"#),
        "{page}"
    );

    // a product that does not exist is a page that says so
    let (status, page) = get(addr, "/products/42").await?;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("There is no product &quot;42&quot;."),
        "{page}"
    );

    let (status, _) = get(addr, "/live/live.js").await?;
    assert_eq!(status, 200);
    let (status, _) = get(addr, "/products").await?;
    assert_eq!(status, 404);

    let _ = stop.send(());
    server.await??;
    Ok(())
}
