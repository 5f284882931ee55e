//! The shared form in process (`ViewTest` on the app's own hub): two editors on one key, a
//! change by one reaching the other, errors kept to the person typing and never written,
//! "saved by", presence, what the view refuses; and the page over HTTP.

use livestate::Hub;
use livestate::view::live::Session;
use livestate::view::live::testing::{TestError, TestView, ViewTest};
use serde_json::{Value, json};
use shared_form::{EventForm, Field, Guests, RECORD, check_date, initial_record};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The text of the element whose id is `id` in `html` (up to its first nested tag),
/// unescaped.
fn text_of(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let open = start + html[start..].find('>')? + 1;
    let close = open + html[open..].find('<')?;
    Some(unescape(&html[open..close]))
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The `value` of the input named `record[NAME]` (the text of the textarea for notes).
fn input(html: &str, name: &str) -> Option<String> {
    let start = html.find(&format!("name=\"record[{name}]\""))?;
    if name == "notes" {
        let open = start + html[start..].find('>')? + 1;
        let close = open + html[open..].find("</textarea>")?;
        return Some(unescape(&html[open..close]));
    }
    let from = start + html[start..].find("value=\"")? + "value=\"".len();
    let to = from + html[from..].find('"')?;
    Some(unescape(&html[from..to]))
}

fn hub() -> Hub {
    shared_form::endpoint().hub().clone()
}

/// The form for `name` (by `?name=`) on `hub`.
async fn editor(hub: &Hub, name: &str) -> Result<TestView<EventForm>, TestError> {
    ViewTest::new(EventForm::new(Guests::default()))
        .hub(hub.clone())
        .mount(&format!("/?name={name}"))
        .await
}

/// A change of the field `name` to `value` (URL-encoded), the other fields as in `view`'s
/// page, as the stock client sends it.
async fn type_in(view: &mut TestView<EventForm>, name: &str, value: &str) -> Result<(), TestError> {
    let html = view.html()?;
    let mut form = Vec::new();
    for field in ["title", "date", "notes"] {
        if field == name {
            form.push(format!("record[{field}]={value}"));
        } else {
            let current = input(&html, field).unwrap_or_default();
            form.push(format!("record[{field}]={}", encode(&current)));
        }
    }
    let target = format!("record[{name}]");
    view.change("change", &form.join("&"), &target).await?;
    Ok(())
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Handle `view`'s shared frames until `done` holds (at most 20 frames; a frame that does
/// not come within a minute fails the test rather than hanging it: a guard, not a measure).
async fn until(
    view: &mut TestView<EventForm>,
    what: &str,
    done: impl Fn(&str) -> bool,
) -> Result<(), TestError> {
    for _ in 0..20 {
        if done(&view.html()?) {
            return Ok(());
        }
        let next = tokio::time::timeout(Duration::from_secs(60), view.next_shared()).await;
        match next {
            Ok(step) => step.map(drop)?,
            Err(_) => {
                return Err(TestError::Usage(format!(
                    "not {what}, and no change came: {}",
                    view.html()?
                )));
            }
        }
    }
    Err(TestError::Usage(format!(
        "not {what} after 20 frames: {}",
        view.html()?
    )))
}

async fn record(hub: &Hub) -> anyhow::Result<(Value, u64)> {
    let current = hub.api().get(RECORD).await?;
    Ok((current.state, current.version))
}

#[tokio::test]
async fn a_change_by_one_editor_reaches_the_other() -> anyhow::Result<()> {
    let hub = hub();
    let mut ann = editor(&hub, "ann").await?;
    let mut bo = editor(&hub, "bo").await?;
    let html = bo.html()?;
    assert_eq!(input(&html, "title").as_deref(), Some("Team offsite"));
    assert_eq!(input(&html, "date").as_deref(), Some("2026-05-14"));
    assert_eq!(text_of(&html, "saved").as_deref(), Some("not saved yet"));

    type_in(&mut ann, "title", "Offsite%20in%20Lyon").await?;
    // ann's own write is in ann's page once committed
    let html = ann.html()?;
    assert_eq!(input(&html, "title").as_deref(), Some("Offsite in Lyon"));
    let (state, version) = record(&hub).await?;
    assert_eq!(state["title"], "Offsite in Lyon");
    assert_eq!(state["saved_by"], "ann");
    assert_eq!(
        text_of(&html, "saved"),
        Some(format!("saved by ann at version {version}"))
    );

    // bo gets it as changes of the key (next_shared): the field, then who saved it
    until(&mut bo, "ann's title", |html| {
        input(html, "title").as_deref() == Some("Offsite in Lyon")
    })
    .await?;
    until(&mut bo, "saved by ann", |html| {
        text_of(html, "saved") == Some(format!("saved by ann at version {version}"))
    })
    .await?;

    // and back: bo's notes reach ann
    type_in(&mut bo, "notes", "Bring%20%3Cboots%3E%0Aand%20a%20hat").await?;
    until(&mut ann, "bo's notes", |html| {
        input(html, "notes").as_deref() == Some("Bring <boots>\nand a hat")
    })
    .await?;
    until(&mut ann, "saved by bo", |html| {
        text_of(html, "saved").is_some_and(|s| s.starts_with("saved by bo at version "))
    })
    .await?;
    assert_eq!(record(&hub).await?.0["notes"], "Bring <boots>\nand a hat");
    // the title was left as ann wrote it
    assert_eq!(record(&hub).await?.0["title"], "Offsite in Lyon");
    Ok(())
}

#[tokio::test]
async fn errors_show_only_to_the_person_typing_and_are_never_written() -> anyhow::Result<()> {
    let hub = hub();
    let mut ann = editor(&hub, "ann").await?;
    let mut bo = editor(&hub, "bo").await?;
    let before = record(&hub).await?;

    // a blank title: ann sees the error and what she typed; nothing is written
    type_in(&mut ann, "title", "%20%20").await?;
    let html = ann.html()?;
    assert_eq!(
        text_of(&html, "title-error").as_deref(),
        Some("title is required")
    );
    assert_eq!(input(&html, "title").as_deref(), Some("  "));
    // a date in another format, and a day that does not exist
    type_in(&mut ann, "date", "14%2F05%2F2026").await?;
    assert_eq!(
        text_of(&ann.html()?, "date-error").as_deref(),
        Some("date must be YYYY-MM-DD")
    );
    type_in(&mut ann, "date", "2026-02-29").await?;
    assert_eq!(
        text_of(&ann.html()?, "date-error").as_deref(),
        Some("2026-02-29 is not a day of the calendar")
    );
    assert_eq!(record(&hub).await?, before, "an invalid value was written");

    // bo changes the notes: bo's page has no error, the old title and date
    type_in(&mut bo, "notes", "hello").await?;
    let html = bo.html()?;
    assert!(!html.contains("-error"), "{html}");
    assert_eq!(input(&html, "title").as_deref(), Some("Team offsite"));
    assert_eq!(input(&html, "date").as_deref(), Some("2026-05-14"));
    // ann gets bo's change and keeps her own errors and drafts
    until(&mut ann, "bo's notes", |html| {
        input(html, "notes").as_deref() == Some("hello")
    })
    .await?;
    let html = ann.html()?;
    assert_eq!(
        text_of(&html, "title-error").as_deref(),
        Some("title is required")
    );
    assert_eq!(input(&html, "title").as_deref(), Some("  "));
    assert_eq!(input(&html, "date").as_deref(), Some("2026-02-29"));

    // a leap day is a day; the error goes, the value is written, bo sees it
    type_in(&mut ann, "date", "2028-02-29").await?;
    assert!(!ann.html()?.contains("id=\"date-error\""));
    assert_eq!(record(&hub).await?.0["date"], "2028-02-29");
    until(&mut bo, "ann's date", |html| {
        input(html, "date").as_deref() == Some("2028-02-29")
    })
    .await?;
    assert!(!bo.html()?.contains("-error"));
    Ok(())
}

#[tokio::test]
async fn a_submit_saves_the_valid_fields_and_shows_the_errors() -> anyhow::Result<()> {
    let hub = hub();
    let mut ann = editor(&hub, "ann").await?;
    ann.submit(
        "save",
        "record[title]=&record[date]=2026-06-01&record[notes]=n",
    )
    .await?;
    assert_eq!(
        ann.flash().get("error"),
        Some("not saved: title is required")
    );
    let (state, _) = record(&hub).await?;
    assert_eq!(state["title"], "Team offsite");
    assert_eq!(state["date"], "2026-06-01");
    assert_eq!(state["notes"], "n");
    ann.submit(
        "save",
        "record[title]=Picnic&record[date]=2026-06-01&record[notes]=n",
    )
    .await?;
    assert_eq!(ann.flash().get("info"), Some("saved"));
    assert_eq!(ann.flash().get("error"), None);
    assert_eq!(record(&hub).await?.0["title"], "Picnic");
    Ok(())
}

#[tokio::test]
async fn editors_are_listed_as_they_come_and_go() -> anyhow::Result<()> {
    let hub = hub();
    let mut ann = editor(&hub, "ann").await?;
    until(&mut ann, "ann listed", |html| {
        text_of(html, "editors").as_deref() == Some("ann")
    })
    .await?;
    let mut bo = editor(&hub, "bo").await?;
    until(&mut bo, "both listed", |html| {
        text_of(html, "editors").as_deref() == Some("ann, bo")
    })
    .await?;
    until(&mut ann, "bo listed", |html| {
        text_of(html, "editors").as_deref() == Some("ann, bo")
    })
    .await?;
    drop(bo);
    until(&mut ann, "bo gone", |html| {
        text_of(html, "editors").as_deref() == Some("ann")
    })
    .await?;
    // a page without a name is a guest; a cookie's user is the name
    let guest = ViewTest::new(EventForm::new(Guests::default()))
        .hub(hub.clone())
        .mount("/")
        .await?;
    assert_eq!(guest.view().name, "guest-1");
    let cy = ViewTest::new(EventForm::new(Guests::default()))
        .hub(hub.clone())
        .session(Session::from_iter([("user".to_owned(), json!("cy"))]))
        .mount("/?name=ignored")
        .await?;
    assert_eq!(cy.view().name, "cy");
    Ok(())
}

#[tokio::test]
async fn bad_input_is_shown_on_the_page() -> anyhow::Result<()> {
    let hub = hub();
    // a name too long is refused: the page says so, and the editor is a guest
    let long = "x".repeat(33);
    let mut guest = editor(&hub, &long).await?;
    let refused = "name refused (a name is at most 32 characters): you are guest-1";
    assert_eq!(guest.flash().get("error"), Some(refused));
    assert_eq!(
        text_of(&guest.html()?, "flash-error").as_deref(),
        Some(refused)
    );
    assert_eq!(text_of(&guest.html()?, "me").as_deref(), Some("guest-1"));

    guest.click("delete_everything", json!({})).await?;
    assert_eq!(
        guest.flash().get("error"),
        Some("unknown event \"delete_everything\"")
    );
    // a field the form does not have
    guest
        .change("change", "record[owner]=me", "record[owner]")
        .await?;
    assert_eq!(
        guest.flash().get("error"),
        Some("the form has no field \"record.owner\"")
    );
    // a change without its value
    guest
        .change("change", "record[date]=2026-01-01", "record[title]")
        .await?;
    assert_eq!(
        guest.flash().get("error"),
        Some("the change has no value for title")
    );
    // a form that does not fit
    guest.submit("save", "record=oops").await?;
    assert_eq!(
        guest.flash().get("error"),
        Some(
            "bad payload for save: record: invalid type: string \"oops\", expected struct RecordParams"
        )
    );
    // a title too long
    type_in(&mut guest, "title", &"t".repeat(81)).await?;
    assert_eq!(
        text_of(&guest.html()?, "title-error").as_deref(),
        Some("title is at most 80 characters")
    );
    assert_eq!(record(&hub).await?.0, initial_record());
    Ok(())
}

#[test]
fn dates_are_days_of_the_calendar() {
    for ok in ["2026-01-31", "2024-02-29", "2000-02-29", "2026-12-31"] {
        assert_eq!(check_date(ok), Ok(()), "{ok}");
    }
    for bad in [
        "1900-02-29",
        "2026-04-31",
        "2026-00-10",
        "2026-13-01",
        "2026-01-00",
    ] {
        assert_eq!(
            check_date(bad),
            Err(format!("{bad} is not a day of the calendar"))
        );
    }
    for bad in [
        "",
        "2026-1-01",
        "2026/01/01",
        "20260101",
        "2026-01-01T10",
        "２０２６-01-01",
    ] {
        assert_eq!(
            check_date(bad),
            Err("date must be YYYY-MM-DD".to_owned()),
            "{bad}"
        );
    }
    assert_eq!(
        Field::Notes.check(&"n".repeat(2001)),
        Err("notes are at most 2000 characters".into())
    );
    assert_eq!(Field::Notes.check(""), Ok(()));
}

/// The first GET's render reads the key once, through the server API: the page's first
/// HTML has the key's state and its version.
#[tokio::test]
async fn the_first_get_shows_the_version_of_the_key() -> anyhow::Result<()> {
    let hub = hub();
    let mut ann = editor(&hub, "ann").await?;
    type_in(&mut ann, "title", "Picnic").await?;
    let (_, version) = record(&hub).await?;
    assert!(version > 0);
    let dead = ViewTest::new(EventForm::new(Guests::default()))
        .hub(hub.clone())
        .disconnected()
        .mount("/?name=bo")
        .await?;
    assert_eq!(input(&dead.html()?, "title").as_deref(), Some("Picnic"));
    assert_eq!(
        text_of(&dead.html()?, "saved"),
        Some(format!("saved by ann at version {version}"))
    );
    Ok(())
}

/// `socket.attach` returns with the key's state and the presence sent right after it, so
/// the view's first render over the socket (the join's reply) lists the editors.
#[tokio::test]
async fn the_join_renders_the_presence_of_the_key() -> anyhow::Result<()> {
    let hub = hub();
    let ann = editor(&hub, "ann").await?;
    let presence = &ann.shared().get(RECORD).expect("attached").presence;
    assert!(presence.contains_key("ann"), "{presence:?}");
    assert_eq!(text_of(&ann.html()?, "editors").as_deref(), Some("ann"));
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
    let live = shared_form::endpoint();
    let app = shared_form::app(&live);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        livestate::serve(listener, app, &live, async {
            let _ = stopped.await;
        })
        .await
    });
    // nobody started the key yet: the first GET reads nothing, and the form is empty
    let first = get(addr, "/?name=ann").await?;
    // the key is the views' alone: no socket or HTTP API reaches it
    let socket = get(addr, "/socket/websocket").await?;
    let api = get(addr, "/api/state/doc:offsite").await?;
    let _ = stop.send(());
    server.await??;
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(first.contains("data-phx-session="), "{first}");
    assert!(first.contains("phx-change=\"change\""), "{first}");
    assert!(first.contains("phx-auto-recover=\"ignore\""), "{first}");
    assert!(first.contains("phx-debounce=\"300\""), "{first}");
    assert!(first.contains("<b id=\"me\">ann</b>"), "{first}");
    assert!(socket.starts_with("HTTP/1.1 404"), "{socket}");
    assert!(api.starts_with("HTTP/1.1 404"), "{api}");
    Ok(())
}
