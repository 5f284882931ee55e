//! The signup form in process (`ViewTest`): live validation of the touched fields only,
//! `_target`, a signup, the empty form, what the view refuses; and its page over HTTP.

use livestate::view::live::testing::ViewTest;
use serde_json::json;
use signup::{Signup, User};
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
async fn only_the_fields_the_user_touched_show_their_errors() -> anyhow::Result<()> {
    let mut view = ViewTest::new(Signup::default()).mount("/").await?;
    // typing in the email input, the name untouched: the client marks it unused
    let form = "user[_unused_name]=&user[name]=&user[email]=ann";
    view.change("validate", form, "user[email]").await?;
    let html = view.html()?;
    assert_eq!(
        text_of(&html, "email-error").as_deref(),
        Some(" email needs an @ with something on each side")
    );
    assert_eq!(text_of(&html, "name-error"), None, "{html}");
    assert_eq!(text_of(&html, "target").as_deref(), Some("user[email]"));
    // the name is blank too: known, not shown
    assert_eq!(
        view.view().name.error.as_deref(),
        Some("name can't be blank")
    );
    assert!(!view.view().name.used);

    // now the name input was used (and left blank)
    view.change(
        "validate",
        "user[name]=&user[email]=ann%40example.org",
        "user[name]",
    )
    .await?;
    let html = view.html()?;
    assert_eq!(
        text_of(&html, "name-error").as_deref(),
        Some(" name can't be blank")
    );
    assert_eq!(text_of(&html, "email-error"), None, "{html}");
    assert_eq!(text_of(&html, "target").as_deref(), Some("user[name]"));
    assert!(html.contains("value=\"ann@example.org\""), "{html}");
    Ok(())
}

#[tokio::test]
async fn a_valid_submit_signs_up_and_welcomes() -> anyhow::Result<()> {
    let mut view = ViewTest::new(Signup::default()).mount("/").await?;
    assert!(view.html()?.contains("id=\"signup-form-0\""));
    view.submit("save", "user[name]=Ann&user[email]=ann%40example.org")
        .await?;
    assert_eq!(view.flash().get("info"), Some("welcome Ann"));
    assert_eq!(
        view.view().users,
        [User {
            name: "Ann".into(),
            email: "ann@example.org".into()
        }]
    );
    let html = view.html()?;
    assert_eq!(text_of(&html, "flash-info").as_deref(), Some("welcome Ann"));
    assert_eq!(text_of(&html, "user-count").as_deref(), Some("1"));
    assert!(
        html.contains("<li>Ann &lt;ann@example.org&gt;</li>"),
        "{html}"
    );
    // a fresh, empty form
    assert!(html.contains("id=\"signup-form-1\""), "{html}");
    assert!(html.contains("name=\"user[email]\" value=\"\""), "{html}");

    // the same email again: refused by the validation
    view.change(
        "validate",
        "user[_unused_name]=&user[name]=&user[email]=ANN%40example.org",
        "user[email]",
    )
    .await?;
    assert_eq!(
        text_of(&view.html()?, "email-error").as_deref(),
        Some(" ANN@example.org has signed up already")
    );
    view.submit("save", "user[name]=Bo&user[email]=bo%40example.org")
        .await?;
    assert_eq!(view.flash().get("info"), Some("welcome Bo"));
    assert_eq!(view.view().users.len(), 2);
    assert_eq!(text_of(&view.html()?, "user-count").as_deref(), Some("2"));
    Ok(())
}

#[tokio::test]
async fn the_empty_form_submitted_shows_every_error_on_the_page() -> anyhow::Result<()> {
    let mut view = ViewTest::new(Signup::default()).mount("/").await?;
    view.submit("save", "user[name]=&user[email]=").await?;
    let message = "not signed up: name can't be blank; email can't be blank";
    assert_eq!(view.flash().get("error"), Some(message));
    let html = view.html()?;
    assert_eq!(text_of(&html, "flash-error").as_deref(), Some(message));
    assert_eq!(
        text_of(&html, "name-error").as_deref(),
        Some(" name can't be blank")
    );
    assert_eq!(
        text_of(&html, "email-error").as_deref(),
        Some(" email can't be blank")
    );
    assert!(view.view().users.is_empty());

    // fixed and sent again: the error message goes, the welcome comes
    view.submit("save", "user[name]=Ann&user[email]=ann%40example.org")
        .await?;
    assert_eq!(view.flash().get("error"), None);
    assert_eq!(view.flash().get("info"), Some("welcome Ann"));
    Ok(())
}

#[tokio::test]
async fn a_name_too_long_is_an_error() -> anyhow::Result<()> {
    let mut view = ViewTest::new(Signup::default()).mount("/").await?;
    let long = "a".repeat(41);
    view.submit("save", &format!("user[name]={long}&user[email]=a%40b"))
        .await?;
    assert_eq!(
        view.flash().get("error"),
        Some("not signed up: name is longer than 40 characters")
    );
    assert!(view.view().users.is_empty());
    Ok(())
}

#[tokio::test]
async fn forms_that_do_not_fit_are_shown_on_the_page() -> anyhow::Result<()> {
    let mut view = ViewTest::new(Signup::default()).mount("/").await?;
    // `user` is a string, not the form's fields
    view.submit("save", "user=oops").await?;
    assert_eq!(
        view.flash().get("error"),
        Some(
            "bad payload for save: user: invalid type: string \"oops\", expected struct UserParams"
        )
    );
    // no `user` at all
    view.change("validate", "name=Ann", "name").await?;
    assert_eq!(
        view.flash().get("error"),
        Some("bad payload for validate: missing field `user`")
    );
    let html = view.html()?;
    assert_eq!(
        text_of(&html, "flash-error").as_deref(),
        Some("bad payload for validate: missing field `user`")
    );
    assert!(view.view().users.is_empty());
    Ok(())
}

#[tokio::test]
async fn an_unknown_event_is_shown_on_the_page() -> anyhow::Result<()> {
    let mut view = ViewTest::new(Signup::default()).mount("/").await?;
    view.click("bogus", json!({})).await?;
    assert_eq!(view.flash().get("error"), Some("unknown event \"bogus\""));
    assert_eq!(
        text_of(&view.html()?, "flash-error").as_deref(),
        Some("unknown event \"bogus\"")
    );
    // dismissed with a click on it
    view.click("lv:clear-flash", json!({"key": "error"}))
        .await?;
    assert!(view.flash().is_empty());
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
    let live = signup::endpoint();
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
    let _ = stop.send(());
    server.await??;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("data-phx-session="), "{page}");
    assert!(page.contains("phx-submit=\"save\""), "{page}");
    assert!(page.contains("name=\"user[email]\""), "{page}");
    Ok(())
}
