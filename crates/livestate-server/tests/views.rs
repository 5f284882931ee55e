//! Live views' pages and joins, as the stock `phoenix_live_view` client meets them: the
//! first GET, the socket at `/live/websocket`, joins and their refusals. Every case asserts
//! the exact frames the server answers (events and navigation: `view_events.rs`).
//!
//! | case | expected |
//! |---|---|
//! | GET of a path no view serves | 404 |
//! | GET of a view | 200, the root div, the CSRF meta tag, a `_livestate_csrf` cookie (once) |
//! | GET of `/private` without a user | 302 to `/login` with a `__phoenix_flash__` cookie, shown once |
//! | join with valid tokens | ok `{rendered, liveview_version: "1.2.12"}` |
//! | join without a session, with another page's session or static token, of an unserved path | error `unauthorized` |
//! | join with a tampered session token, on a socket without the CSRF token | error `stale` |
//! | join of a view of another live session | error `{redirect: {to}}` |
//! | socket upgrade from another origin | 403 |

mod views_support;

use anyhow::{Context, Result, bail};
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
// 1. The first GET
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_first_get_serves_the_page_its_tokens_and_one_csrf_cookie() -> Result<()> {
    let server = server().await?;

    let missing = get(&server, "/no/such/page", None).await?;
    assert_eq!(missing.status, 404, "{missing:?}");

    let first = page(&server, "/counter", None).await?;
    let r = &first.response;
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(first.id.starts_with("phx-"), "id {:?}", first.id);
    let div = format!(
        "<div id=\"{}\" data-phx-main data-phx-session=\"{}\" data-phx-static=\"{}\"><main>",
        first.id, first.session, first.static_token
    );
    assert!(r.body.contains(&div), "no root div {div:?} in {}", r.body);
    let meta = format!(
        "<meta name=\"csrf-token\" content=\"{}\">",
        first.csrf_token
    );
    assert!(r.body.contains(&meta), "{}", r.body);
    assert!(r.body.contains("<title>Counter 0</title>"), "{}", r.body);
    assert!(r.body.contains("<span id=\"count\">0</span>"), "{}", r.body);
    // not connected in the first render
    assert!(
        r.body.contains("<span id=\"connected\">false</span>"),
        "{}",
        r.body
    );
    let set = set_cookies(r);
    assert_eq!(
        set,
        [format!(
            "_livestate_csrf={}; Path=/; HttpOnly; SameSite=Lax",
            first.csrf_cookie
        )],
        "the first GET sets the CSRF cookie, and only it"
    );
    assert!(!first.csrf_cookie.is_empty());

    // the browser sends it back: no new cookie, and the new page's token goes with it
    let second = page(&server, "/counter", Some(&cookie_header(&first))).await?;
    assert_eq!(set_cookies(&second.response), Vec::<&str>::new());
    assert_eq!(second.csrf_cookie, first.csrf_cookie);
    assert_ne!(second.id, first.id, "every page has an id of its own");
    let mut client = connect(&server, &second).await?;
    join_ok(&mut client, &second, &url(&server, "/counter")).await?;
    Ok(())
}

#[tokio::test]
async fn an_on_mount_halt_redirects_the_first_get_with_a_flash_shown_once() -> Result<()> {
    let server = server().await?;

    let redirect = get(&server, "/private", None).await?;
    assert_eq!(redirect.status, 302, "{redirect:?}");
    assert_eq!(redirect.header("location"), Some("/login"));
    let set = set_cookies(&redirect);
    assert_eq!(set.len(), 1, "only the flash cookie: {set:?}");
    let flash = cookie_value(set[0]).to_owned();
    assert!(!flash.is_empty());
    assert_eq!(
        set[0],
        format!("__phoenix_flash__={flash}; Max-Age=60; Path=/; SameSite=Lax")
    );

    let login = page(
        &server,
        "/login",
        Some(&format!("__phoenix_flash__={flash}")),
    )
    .await?;
    let body = &login.response.body;
    assert!(
        body.contains("<p class=\"flash-error\" phx-click=\"lv:clear-flash\" phx-value-key=\"error\">log in first</p>"),
        "{body}"
    );
    assert_eq!(
        set_cookie(&login.response, "__phoenix_flash__"),
        Some("__phoenix_flash__=; Max-Age=0; Path=/"),
        "the flash cookie is cleared: {:?}",
        login.response.headers
    );
    // the join of that page shows the flash too (its static token carries it)
    let mut client = connect(&server, &login).await?;
    let joined = join_ok(&mut client, &login, &url(&server, "/login")).await?;
    assert!(
        joined.tree.html()?.contains(">log in first</p>"),
        "{}",
        joined.tree.html()?
    );

    // a page without the cookie shows no flash
    let plain = get(&server, "/login", None).await?;
    assert_eq!(plain.status, 200);
    assert!(!plain.body.contains("log in first"), "{}", plain.body);
    assert_eq!(set_cookie(&plain, "__phoenix_flash__"), None);

    // with a user the page is served
    let private = page(&server, "/private", Some("user=ann")).await?;
    assert!(
        private
            .response
            .body
            .contains("hello <span id=\"user\">ann</span>")
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 2. A join and an event
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_join_renders_the_view_and_an_event_answers_its_diff() -> Result<()> {
    let server = server().await?;
    let page = page(&server, "/counter", None).await?;
    let mut client = connect(&server, &page).await?;
    let (jr, reply) = join(&mut client, &page, &url(&server, "/counter")).await?;
    let rendered = &reply.payload["response"]["rendered"];
    assert_eq!(rendered["1"], "0", "the count's slot: {rendered}");
    assert_eq!(rendered["t"], "Counter 0");
    let mut view = Joined {
        topic: page.topic(),
        join_ref: jr.clone(),
        tree: joined_tree(&reply, &page.topic(), &jr)?,
    };
    assert_eq!(view.tree.text("count")?, "0");
    assert_eq!(view.tree.text("connected")?, "true");
    assert_eq!(view.tree.title.as_deref(), Some("Counter 0"));

    let (r, reply) = view.click(&mut client, "add", json!({"by": "2"})).await?;
    assert_frame(
        &reply,
        ok_reply(
            &jr,
            &r,
            &page.topic(),
            json!({"diff": {"1": "2", "t": "Counter 2"}}),
        ),
    );
    view.take_diff(&r, &reply)?;
    assert_eq!(view.tree.text("count")?, "2");
    assert_eq!(view.tree.title.as_deref(), Some("Counter 2"));

    // a phx-click with a JS command sends the pushed value
    let (r, reply) = view.click(&mut client, "add", json!({"by": "-1"})).await?;
    view.take_diff(&r, &reply)?;
    assert_eq!(view.tree.text("count")?, "1");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 3. Join refusals
// ---------------------------------------------------------------------------------------

/// One character of a token's signature changed.
fn tamper(token: &str) -> String {
    let dot = token.find('.').expect("a token is PAYLOAD.SIGNATURE");
    let at = dot + (token.len() - dot) / 2;
    let mut bytes = token.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).expect("ascii")
}

#[tokio::test]
async fn joins_with_missing_foreign_or_tampered_tokens_are_refused() -> Result<()> {
    let server = server().await?;
    let a = page(&server, "/counter", None).await?;
    let b = page(&server, "/counter", Some(&cookie_header(&a))).await?;
    let counter = url(&server, "/counter");
    let topic = a.topic();
    let mut client = connect(&server, &a).await?;

    let refused = async |client: &mut livestate_testkit::Client,
                         payload: Value,
                         reason: &str|
           -> Result<()> {
        let (jr, reply) = join_with(client, &topic, payload.clone()).await?;
        assert_eq!(
            as_json(&reply),
            error_reply(Some(&jr), &jr, &topic, reason),
            "join {payload}"
        );
        Ok(())
    };

    let mut payload = join_payload(&a, &counter);
    payload.as_object_mut().context("object")?.remove("session");
    refused(&mut client, payload, "unauthorized").await?;

    let mut payload = join_payload(&a, &counter);
    payload["session"] = json!(b.session);
    refused(&mut client, payload, "unauthorized").await?;

    let mut payload = join_payload(&a, &counter);
    payload["session"] = json!(tamper(&a.session));
    refused(&mut client, payload, "stale").await?;

    // every other character in the signature's last place (which carries padding bits)
    let base64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let (kept, last) = a.session.split_at(a.session.len() - 1);
    for other in base64url.chars().filter(|c| c.to_string() != last) {
        let mut payload = join_payload(&a, &counter);
        payload["session"] = json!(format!("{kept}{other}"));
        refused(&mut client, payload, "stale").await?;
    }
    let mut payload = join_payload(&a, &counter);
    payload["session"] = json!(a.static_token);
    refused(&mut client, payload, "stale").await?;

    let mut payload = join_payload(&a, &counter);
    payload["static"] = json!(b.static_token);
    refused(&mut client, payload, "unauthorized").await?;

    let mut payload = join_payload(&a, &counter);
    payload["url"] = json!(url(&server, "/no/such/view"));
    refused(&mut client, payload, "unauthorized").await?;

    let mut payload = join_payload(&a, &counter);
    payload.as_object_mut().context("object")?.remove("url");
    refused(&mut client, payload, "unauthorized").await?;

    // the socket and the page are fine: the right tokens join
    let mut view = join_ok(&mut client, &a, &counter).await?;
    assert_eq!(view.tree.text("count")?, "0");
    let (r, reply) = view.click(&mut client, "add", json!({"by": "1"})).await?;
    view.take_diff(&r, &reply)?;
    assert_eq!(view.tree.text("count")?, "1");
    Ok(())
}

#[tokio::test]
async fn a_socket_without_the_pages_csrf_token_has_every_join_refused_stale() -> Result<()> {
    let server = server().await?;
    let a = page(&server, "/counter", None).await?;
    // another browser: another CSRF secret, hence another token
    let other = page(&server, "/keys", None).await?;
    assert_ne!(other.csrf_cookie, a.csrf_cookie);
    let counter = url(&server, "/counter");
    let keys = url(&server, "/keys");

    let sockets: [(&str, Option<&str>, Option<String>); 4] = [
        (
            "another browser's token",
            Some(other.csrf_token.as_str()),
            Some(cookie_header(&a)),
        ),
        ("a garbage token", Some("garbage"), Some(cookie_header(&a))),
        ("no token", None, Some(cookie_header(&a))),
        ("no cookie", Some(a.csrf_token.as_str()), None),
    ];
    for (what, token, cookie) in sockets {
        let headers: Vec<(&str, &str)> = cookie.iter().map(|c| ("cookie", c.as_str())).collect();
        let mut client = connect_with(&server, token, &headers).await?;
        for (page, url) in [(&a, &counter), (&other, &keys)] {
            let (jr, reply) = join(&mut client, page, url).await?;
            assert_eq!(
                as_json(&reply),
                error_reply(Some(&jr), &jr, &page.topic(), "stale"),
                "{what}"
            );
        }
    }
    Ok(())
}

#[tokio::test]
async fn private_joins_with_its_user_and_another_live_sessions_page_is_redirected() -> Result<()> {
    let server = server().await?;
    let private = page(&server, "/private", Some("user=ann")).await?;
    let cookie = format!("{}; user=ann", cookie_header(&private));
    let login = page(&server, "/login", Some(&cookie)).await?;
    let mut client = connect(&server, &private).await?;

    // the page's session token carries the user: the join works
    let view = join_ok(&mut client, &private, &url(&server, "/private")).await?;
    assert_eq!(view.tree.text("user")?, "ann");

    // a page of the live session "default" joined at /private (live session "private")
    let to = url(&server, "/private");
    let (jr, reply) = join(&mut client, &login, &to).await?;
    assert_frame(
        &reply,
        json!([jr, jr, login.topic(), "phx_reply", {"status": "error", "response": {"redirect": {"to": to}}}]),
    );

    // and the other way around: the private page's tokens at /login
    let to = url(&server, "/login");
    let (jr, reply) = join(&mut client, &private, &to).await?;
    assert_frame(
        &reply,
        json!([jr, jr, private.topic(), "phx_reply", {"status": "error", "response": {"redirect": {"to": to}}}]),
    );

    // the login page itself joins fine, and so does the private page again
    join_ok(&mut client, &login, &url(&server, "/login")).await?;
    let view = join_ok(&mut client, &private, &url(&server, "/private")).await?;
    assert_eq!(view.tree.text("user")?, "ann");
    Ok(())
}

// ---------------------------------------------------------------------------------------
// 4. The socket's Origin
// ---------------------------------------------------------------------------------------

/// The status of a refused upgrade.
fn refused_status(result: Result<livestate_testkit::Client>) -> Result<u16> {
    use tokio_tungstenite::tungstenite::Error;
    match result {
        Ok(_) => bail!("the upgrade was accepted"),
        Err(e) => match e.downcast_ref::<Error>() {
            Some(Error::Http(response)) => Ok(response.status().as_u16()),
            _ => bail!("not an HTTP refusal: {e:#}"),
        },
    }
}

#[tokio::test]
async fn only_the_pages_own_origin_may_open_the_view_socket() -> Result<()> {
    let server = server().await?;
    let page = page(&server, "/counter", None).await?;
    let cookie = cookie_header(&page);
    let token = Some(page.csrf_token.as_str());

    let evil = connect_with(
        &server,
        token,
        &[("cookie", &cookie), ("origin", "http://evil.example")],
    )
    .await;
    assert_eq!(refused_status(evil)?, 403);
    let other_port = format!("http://127.0.0.1:{}", server.addr.port().wrapping_add(1));
    let near = connect_with(
        &server,
        token,
        &[("cookie", &cookie), ("origin", &other_port)],
    )
    .await;
    assert_eq!(refused_status(near)?, 403);

    let own = format!("http://{}", server.addr);
    let mut client = connect_with(&server, token, &[("cookie", &cookie), ("origin", &own)]).await?;
    join_ok(&mut client, &page, &url(&server, "/counter")).await?;

    // no Origin: not a browser
    let mut client = connect_with(&server, token, &[("cookie", &cookie)]).await?;
    join_ok(&mut client, &page, &url(&server, "/counter")).await?;
    Ok(())
}
