//! The dashboard in process (`ViewTest` on the app's own hub): users' pages tracked in the
//! shared key's presence and seen by the admin page as they come and go, the visits kept
//! in the key, guest names, names refused, renames, what the views refuse; and the pages
//! over HTTP.

use dashboard::{Admin, Guests, Online, SITE, Visitor, online};
use livestate::Hub;
use livestate::view::live::testing::{TestError, TestView, ViewTest};
use livestate::view::live::{LiveView, Navigation, Session};
use serde_json::json;
use std::time::Duration;
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

/// The hub of the app's endpoint: the `doc:site` channel as the server serves it.
fn hub() -> Hub {
    dashboard::endpoint().hub().clone()
}

/// A session with the `user` cookie's user.
fn user(name: &str) -> Session {
    Session::from_iter([("user".to_owned(), json!(name))])
}

/// A user page at `url` (`/`, `/about?name=bo`) on `hub`.
async fn visit(
    hub: &Hub,
    guests: &Guests,
    session: Session,
    url: &str,
) -> Result<TestView<Visitor>, TestError> {
    let page = if url.starts_with("/about") {
        "/about"
    } else {
        "/"
    };
    ViewTest::new(Visitor::new(page, guests.clone()))
        .hub(hub.clone())
        .session(session)
        .mount(url)
        .await
}

/// Who is online as `view` sees them: `(name, tabs, pages)`, by name.
fn who<V: LiveView>(view: &TestView<V>) -> Vec<(String, usize, Vec<String>)> {
    online(view.shared())
        .into_iter()
        .map(
            |Online {
                 name, tabs, pages, ..
             }| (name, tabs, pages),
        )
        .collect()
}

fn entry(name: &str, tabs: usize, pages: &[&str]) -> (String, usize, Vec<String>) {
    (
        name.to_owned(),
        tabs,
        pages.iter().map(|p| (*p).to_owned()).collect(),
    )
}

/// Handle `view`'s shared frames until `done` holds (at most 20 frames). A frame that
/// does not come within a minute fails the test rather than hanging it (a guard, not a
/// measure: frames come within milliseconds).
async fn until<V: LiveView>(
    view: &mut TestView<V>,
    what: &str,
    done: impl Fn(&TestView<V>) -> bool,
) -> Result<(), TestError> {
    for _ in 0..20 {
        if done(view) {
            return Ok(());
        }
        let next = tokio::time::timeout(Duration::from_secs(60), view.next_shared()).await;
        match next {
            Ok(step) => step.map(drop)?,
            Err(_) => {
                return Err(TestError::Usage(format!(
                    "not {what}, and no change came: {:?}",
                    view.shared()
                )));
            }
        }
    }
    Err(TestError::Usage(format!(
        "not {what} after 20 frames: {:?}",
        view.shared()
    )))
}

#[tokio::test]
async fn the_dashboard_sees_users_come_and_go() -> anyhow::Result<()> {
    let hub = hub();
    let guests = Guests::default();
    let mut admin = ViewTest::new(Admin::default())
        .hub(hub.clone())
        .mount("/admin")
        .await?;
    assert_eq!(who(&admin), []);
    assert_eq!(
        text_of(&admin.html()?, "online-count").as_deref(),
        Some("0")
    );

    let ann = visit(&hub, &guests, user("ann"), "/").await?;
    assert_eq!(text_of(&ann.html()?, "name").as_deref(), Some("ann"));
    until(&mut admin, "ann online", |a| {
        who(a) == [entry("ann", 1, &["/"])]
    })
    .await?;
    let html = admin.html()?;
    assert!(html.contains("<td class=\"name\">ann</td>"), "{html}");
    assert_eq!(text_of(&html, "online-count").as_deref(), Some("1"));
    assert_eq!(admin.title(), Some("Dashboard: 1 online"));
    // the meta says since when: a time of day
    let since = &online(admin.shared())[0].since;
    assert!(since.ends_with(" UTC") && since.len() == 12, "{since}");

    // ann's second tab, on another page: one person, two tabs
    let ann_about = visit(&hub, &guests, user("ann"), "/about").await?;
    until(&mut admin, "ann in two tabs", |a| {
        who(a) == [entry("ann", 2, &["/", "/about"])]
    })
    .await?;
    let bo = visit(&hub, &guests, Session::new(), "/?name=bo").await?;
    until(&mut admin, "bo online", |a| {
        who(a) == [entry("ann", 2, &["/", "/about"]), entry("bo", 1, &["/"])]
    })
    .await?;
    assert_eq!(admin.title(), Some("Dashboard: 2 online"));

    // a page that goes away leaves, as a closed tab does
    drop(bo);
    until(&mut admin, "bo gone", |a| {
        who(a) == [entry("ann", 2, &["/", "/about"])]
    })
    .await?;
    drop(ann_about);
    until(&mut admin, "ann in one tab", |a| {
        who(a) == [entry("ann", 1, &["/"])]
    })
    .await?;
    drop(ann);
    until(&mut admin, "nobody online", |a| who(a).is_empty()).await?;
    assert_eq!(
        text_of(&admin.html()?, "online-count").as_deref(),
        Some("0")
    );
    // three visits were counted in the key
    until(&mut admin, "3 visits", |a| {
        text_of(&a.html().unwrap_or_default(), "visits").as_deref() == Some("3")
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn users_see_who_else_is_online() -> anyhow::Result<()> {
    let hub = hub();
    let guests = Guests::default();
    let count = |v: &TestView<Visitor>| text_of(&v.html().unwrap_or_default(), "online-count");
    let mut ann = visit(&hub, &guests, user("ann"), "/").await?;
    assert_eq!(count(&ann).as_deref(), Some("1"));
    let bo = visit(&hub, &guests, user("bo"), "/").await?;
    until(&mut ann, "bo seen", |v| count(v).as_deref() == Some("2")).await?;
    drop(bo);
    until(&mut ann, "bo gone", |v| count(v).as_deref() == Some("1")).await?;
    Ok(())
}

/// A view tracked in a key's presence gets the key's `presence_state` (itself in it: it
/// was tracked as it joined) and then the `presence_diff` of its own join, with the same
/// `phx_ref`: as phoenix.js's `Presence.syncDiff`, the view's copy replaces the metas of a
/// ref it has, so the view sees its own page once.
#[tokio::test]
async fn a_page_sees_itself_once_in_the_presence() -> anyhow::Result<()> {
    let hub = hub();
    let ann = visit(&hub, &Guests::default(), user("ann"), "/").await?;
    // the join's frames (state, presence_state, presence_diff) came before the reply to
    // the visit's increment, which the mount waited for: no frame is pending
    let metas = &ann.shared().get(SITE).expect("attached").presence["ann"]["metas"];
    assert_eq!(
        metas.as_array().map(Vec::len),
        Some(1),
        "ann's metas as ann's page sees them: {metas}"
    );
    assert_eq!(who(&ann), [entry("ann", 1, &["/"])]);
    Ok(())
}

#[tokio::test]
async fn guests_are_numbered_and_names_too_long_are_refused() -> anyhow::Result<()> {
    let hub = hub();
    let guests = Guests::default();
    let one = visit(&hub, &guests, Session::new(), "/").await?;
    assert_eq!(one.view().name, "guest-1");
    let two = visit(&hub, &guests, Session::new(), "/?name=").await?;
    assert_eq!(two.view().name, "guest-2");
    // the first GET's render tracks nobody and takes no number
    let dead = ViewTest::new(Visitor::new("/", guests.clone()))
        .hub(hub.clone())
        .disconnected()
        .mount("/")
        .await?;
    assert_eq!(dead.view().name, "guest");

    let long = "x".repeat(33);
    let mut three = visit(&hub, &guests, Session::new(), &format!("/?name={long}")).await?;
    let refused = "name refused (a name is at most 32 characters): you are guest-3";
    assert_eq!(three.flash().get("error"), Some(refused));
    assert_eq!(
        text_of(&three.html()?, "flash-error").as_deref(),
        Some(refused)
    );
    assert_eq!(three.view().name, "guest-3");
    // a cookie's name is checked the same way
    let four = visit(&hub, &guests, user(&"y".repeat(40)), "/").await?;
    assert_eq!(
        four.flash().get("error"),
        Some("name refused (a name is at most 32 characters): you are guest-4")
    );
    assert!(!four.view().signed_in);
    // exactly 32 characters is fine
    let fine = "z".repeat(32);
    let five = visit(&hub, &guests, Session::new(), &format!("/?name={fine}")).await?;
    assert_eq!(five.view().name, fine);
    assert!(five.flash().is_empty());
    until(&mut three, "every page tracked", |v| {
        let names: Vec<String> = who(v).into_iter().map(|(n, ..)| n).collect();
        names == ["guest-1", "guest-2", "guest-3", "guest-4", fine.as_str()]
    })
    .await?;
    drop((one, two, four, five));
    Ok(())
}

#[tokio::test]
async fn a_page_renames_itself_and_bad_names_are_shown() -> anyhow::Result<()> {
    let hub = hub();
    let guests = Guests::default();
    let mut bo = visit(&hub, &guests, Session::new(), "/about?name=bo").await?;
    let step = bo.submit("rename", "name=Cy%20%26%20Di").await?;
    assert_eq!(
        step.navigation,
        Some(Navigation::Navigate {
            to: "/about?name=Cy%20%26%20Di".into(),
            replace: false
        })
    );
    // the new page is tracked under the new name
    let cy = visit(&hub, &guests, Session::new(), "/about?name=Cy%20%26%20Di").await?;
    assert_eq!(cy.view().name, "Cy & Di");

    let step = bo
        .submit("rename", &format!("name={}", "n".repeat(33)))
        .await?;
    assert_eq!(step.navigation, None);
    assert_eq!(
        bo.flash().get("error"),
        Some("a name is at most 32 characters")
    );
    assert_eq!(
        text_of(&bo.html()?, "flash-error").as_deref(),
        Some("a name is at most 32 characters")
    );
    bo.submit("rename", "name=%20%20").await?;
    assert_eq!(bo.flash().get("error"), Some("a name can't be blank"));
    assert_eq!(bo.view().name, "bo");

    // a page named by its cookie keeps that name, and has no rename form
    let mut ann = visit(&hub, &guests, user("ann"), "/").await?;
    assert!(!ann.html()?.contains("id=\"rename\""));
    assert!(bo.html()?.contains("id=\"rename\""));
    let step = ann.submit("rename", "name=eve").await?;
    assert_eq!(step.navigation, None);
    assert_eq!(
        ann.flash().get("error"),
        Some("you are signed in as ann (your cookie names you)")
    );
    Ok(())
}

#[tokio::test]
async fn visits_are_counted_in_the_key_and_the_admin_resets_them() -> anyhow::Result<()> {
    let hub = hub();
    let guests = Guests::default();
    let mut admin = ViewTest::new(Admin::default())
        .hub(hub.clone())
        .mount("/admin")
        .await?;
    assert_eq!(text_of(&admin.html()?, "visits").as_deref(), Some("0"));
    let mut ann = visit(&hub, &guests, user("ann"), "/").await?;
    // ann's own visit is in ann's page once the increment is committed
    assert_eq!(text_of(&ann.html()?, "visits").as_deref(), Some("1"));
    let _bo = visit(&hub, &guests, user("bo"), "/").await?;
    until(&mut admin, "2 visits", |a| {
        text_of(&a.html().unwrap_or_default(), "visits").as_deref() == Some("2")
    })
    .await?;
    // the first GET's render reads the key once
    let dead = ViewTest::new(Admin::default())
        .hub(hub.clone())
        .disconnected()
        .mount("/admin")
        .await?;
    assert_eq!(text_of(&dead.html()?, "visits").as_deref(), Some("2"));

    // the admin writes 0 with live_assign; every page sees it
    admin.click("reset_visits", json!({})).await?;
    assert_eq!(text_of(&admin.html()?, "visits").as_deref(), Some("0"));
    assert_eq!(admin.flash().get("info"), Some("visits reset"));
    until(&mut ann, "0 visits", |v| {
        text_of(&v.html().unwrap_or_default(), "visits").as_deref() == Some("0")
    })
    .await?;
    let current = hub.api().get(SITE).await?;
    assert_eq!(current.state, json!({"visits": 0}));
    Ok(())
}

#[tokio::test]
async fn unknown_events_and_forms_that_do_not_fit_are_shown() -> anyhow::Result<()> {
    let hub = hub();
    let mut admin = ViewTest::new(Admin::default())
        .hub(hub.clone())
        .mount("/admin")
        .await?;
    admin.click("kick_everyone", json!({})).await?;
    assert_eq!(
        admin.flash().get("error"),
        Some("unknown event \"kick_everyone\"")
    );
    assert_eq!(
        text_of(&admin.html()?, "flash-error").as_deref(),
        Some("unknown event \"kick_everyone\"")
    );
    // dismissed with a click on it
    admin
        .click("lv:clear-flash", json!({"key": "error"}))
        .await?;
    assert!(admin.flash().is_empty());

    let mut ann = visit(&hub, &Guests::default(), Session::new(), "/?name=ann").await?;
    ann.click("bogus", json!({})).await?;
    assert_eq!(ann.flash().get("error"), Some("unknown event \"bogus\""));
    ann.submit("rename", "nom=eve").await?;
    assert_eq!(
        ann.flash().get("error"),
        Some("bad payload for rename: missing field `name`")
    );
    assert_eq!(ann.view().name, "ann");
    Ok(())
}

#[tokio::test]
async fn what_another_client_writes_in_the_key_does_not_break_the_dashboard() -> anyhow::Result<()>
{
    let hub = hub();
    let mut admin = ViewTest::new(Admin::default())
        .hub(hub.clone())
        .mount("/admin")
        .await?;
    // any joiner of the key is its group, and may write it: say, a string for the visits
    let other = hub.api().subscribe(SITE).await?;
    other.put("/visits", json!("lots")).await?;
    admin.next_shared().await?;
    assert_eq!(text_of(&admin.html()?, "visits").as_deref(), Some("0"));
    // the next visit's increment is refused with the doc channel's reason: the page
    // says so, and works
    let ann = visit(&hub, &Guests::default(), user("ann"), "/").await?;
    assert_eq!(
        ann.flash().get("error"),
        Some("your visit was not counted: /visits is a string, not a number")
    );
    drop(ann);
    admin.click("reset_visits", json!({})).await?;
    let ann = visit(&hub, &Guests::default(), user("ann"), "/").await?;
    assert_eq!(text_of(&ann.html()?, "visits").as_deref(), Some("1"));
    Ok(())
}

/// `GET path` on `addr` with `cookie` (if any): the whole response.
async fn get(
    addr: std::net::SocketAddr,
    path: &str,
    cookie: Option<&str>,
) -> anyhow::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let cookie = cookie.map_or_else(String::new, |c| format!("Cookie: {c}\r\n"));
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{cookie}Connection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response)
}

#[tokio::test]
async fn the_pages_are_served_with_their_first_render() -> anyhow::Result<()> {
    let live = dashboard::endpoint();
    let app = dashboard::app(&live);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        livestate::serve(listener, app, &live, async {
            let _ = stopped.await;
        })
        .await
    });
    let ann = get(addr, "/", Some("user=ann")).await?;
    let long = get(addr, &format!("/about?name={}", "x".repeat(40)), None).await?;
    let admin = get(addr, "/admin", None).await?;
    // the key is the views' alone: no socket or HTTP API reaches it
    let socket = get(addr, "/socket/websocket", None).await?;
    let api = get(addr, "/api/state/doc:site", None).await?;
    let _ = stop.send(());
    server.await??;
    assert!(ann.starts_with("HTTP/1.1 200"), "{ann}");
    assert!(ann.contains("data-phx-session="), "{ann}");
    assert!(ann.contains("<span id=\"name\">ann</span>"), "{ann}");
    assert!(!ann.contains("id=\"rename\""), "{ann}");
    assert!(
        long.contains("name refused (a name is at most 32 characters): you are guest"),
        "{long}"
    );
    assert!(long.contains("<code id=\"page\">/about</code>"), "{long}");
    assert!(admin.starts_with("HTTP/1.1 200"), "{admin}");
    assert!(admin.contains("phx-click=\"reset_visits\""), "{admin}");
    assert!(socket.starts_with("HTTP/1.1 404"), "{socket}");
    assert!(api.starts_with("HTTP/1.1 404"), "{api}");
    Ok(())
}
