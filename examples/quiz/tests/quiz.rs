//! The quiz in process (`ViewTest` on the endpoint's hub): what the moderator does reaches
//! every participant's view, a reset reaches `handle_shared` as a reset, the channel
//! refuses a non-moderator with its reason, bad input is shown; and the pages, cookies and
//! the HTTP reset over a real server.

use livestate::view::live::LiveView;
use livestate::view::live::testing::{TestView, ViewTest};
use livestate_testkit::{TestServer, http};
use quiz::{HubHandle, ModeratorPage, ParticipantPage, QuizConfig};
use serde_json::json;
use std::time::Duration;

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

/// Handle `view`'s changes of the key until `done` holds (at most 10, each waited for at
/// most 30 s).
async fn until<V: LiveView>(
    view: &mut TestView<V>,
    what: &str,
    done: impl Fn(&TestView<V>) -> bool,
) -> anyhow::Result<()> {
    for _ in 0..10 {
        if done(view) {
            return Ok(());
        }
        tokio::time::timeout(Duration::from_secs(30), view.next_shared())
            .await
            .map_err(|_| {
                anyhow::anyhow!(
                    "{what}: no change came; the page: {}",
                    view.html().unwrap_or_default()
                )
            })??;
    }
    anyhow::bail!(
        "{what}: not so after 10 changes; the page: {}",
        view.html()?
    )
}

/// Whether the page shows the paused banner.
fn paused<V: LiveView>(view: &TestView<V>) -> bool {
    view.html().is_ok_and(|h| h.contains(r#"id="paused""#))
}

fn config() -> QuizConfig {
    QuizConfig {
        secret_key_base: "quiz tests: a secret of at least thirty-two bytes".into(),
        moderator_key: "the-key".into(),
    }
}

/// The app of `config()`: its endpoint, and how to mount its pages.
struct App {
    live: livestate::Endpoint,
    config: QuizConfig,
}

impl App {
    fn new() -> App {
        let config = config();
        App {
            live: quiz::endpoint_with(&config),
            config,
        }
    }

    /// A participant's page at `url`, as participant `id` (none: without a cookie).
    async fn participant(
        &self,
        id: Option<&str>,
        url: &str,
    ) -> anyhow::Result<TestView<ParticipantPage>> {
        let ids = self.config.ids();
        let mut test = ViewTest::new(ParticipantPage::new(ids.clone(), quiz::questions()))
            .hub(self.live.hub().clone());
        if let Some(id) = id {
            test = test.session(ids.participant_session(id));
        }
        Ok(test.mount(url).await?)
    }

    /// The moderator's page at `url`; `moderator`: with the moderator's token.
    async fn moderator(
        &self,
        moderator: bool,
        url: &str,
    ) -> anyhow::Result<TestView<ModeratorPage>> {
        let ids = self.config.ids();
        let hub = HubHandle::of(self.live.hub().clone());
        let session = if moderator {
            ids.moderator_session("mod")
        } else {
            ids.participant_session("eve")
        };
        let view = ViewTest::new(ModeratorPage::new(ids, hub, quiz::questions()))
            .hub(self.live.hub().clone())
            .session(session)
            .mount(url)
            .await?;
        Ok(view)
    }
}

#[tokio::test]
async fn what_the_moderator_does_reaches_every_participant_at_once() -> anyhow::Result<()> {
    let app = App::new();
    let mut host = app.moderator(true, "/moderator?quiz=t").await?;
    let mut ann = app.participant(Some("ann"), "/?quiz=t").await?;
    let mut bo = app.participant(Some("bo"), "/?quiz=t").await?;
    assert_eq!(
        text_of(&ann.html()?, "question").as_deref(),
        Some("Question 1 of 3: Which protocol does phx-live-state speak?")
    );
    assert_eq!(text_of(&ann.html()?, "paused"), None);
    assert_eq!(text_of(&host.html()?, "not-moderator"), None);

    // the moderator pauses: both participants' pages show the banner
    host.click("pause", json!({})).await?;
    assert_eq!(host.flash().get("info"), Some("the quiz is paused"));
    assert!(host.html()?.contains(r#"id="resume""#));
    for page in [&mut ann, &mut bo] {
        until(page, "the banner", paused).await?;
        assert_eq!(
            text_of(&page.html()?, "paused").as_deref(),
            Some("The quiz is paused")
        );
    }
    // answering meanwhile is refused, with the reason
    ann.click("answer", json!({"choice": "0"})).await?;
    assert_eq!(ann.flash().get("error"), Some("the quiz is paused"));

    // resumed: the banner goes everywhere
    host.click("resume", json!({})).await?;
    for page in [&mut ann, &mut bo] {
        until(page, "no banner", |p| !paused(p)).await?;
    }
    ann.click("answer", json!({"choice": "0"})).await?;
    assert_eq!(ann.flash().get("error"), None);
    assert_eq!(
        text_of(&ann.html()?, "answer").as_deref(),
        Some("Your answer: A")
    );
    bo.click("answer", json!({"choice": "2"})).await?;
    // the moderator sees the answers per participant as they come
    until(&mut host, "two answers", |h| h.view().rows.len() == 2).await?;
    let html = host.html()?;
    assert_eq!(
        text_of(&html, "count-0").as_deref(),
        Some("A: Phoenix Channels — 1")
    );
    assert_eq!(text_of(&html, "count-2").as_deref(), Some("C: MQTT — 1"));
    assert_eq!(host.view().rows.len(), 2);

    // the next question reaches both pages
    host.click("next", json!({})).await?;
    for page in [&mut ann, &mut bo] {
        until(page, "question 2", |p| p.view().quiz.question == 1).await?;
        assert_eq!(
            text_of(&page.html()?, "question").as_deref(),
            Some("Question 2 of 3: What does a state:patch carry?")
        );
        assert_eq!(
            text_of(&page.html()?, "answer").as_deref(),
            Some("Pick an answer.")
        );
    }
    host.click("next", json!({})).await?;
    host.click("next", json!({})).await?;
    assert_eq!(
        text_of(&host.html()?, "over").as_deref(),
        Some("The quiz is over.")
    );
    host.click("next", json!({})).await?;
    assert_eq!(host.flash().get("error"), Some("the quiz is over"));
    until(&mut ann, "the end", |p| p.view().quiz.is_over()).await?;
    assert_eq!(
        text_of(&ann.html()?, "over").as_deref(),
        Some("The quiz is over. Thanks for playing!")
    );
    ann.click("answer", json!({"choice": "0"})).await?;
    assert_eq!(ann.flash().get("error"), Some("the quiz is over"));
    // one key, every page a subscriber of it
    assert_eq!(app.live.hub().live_keys(), 1);
    Ok(())
}

#[tokio::test]
async fn a_reset_reaches_every_participant_as_a_reset() -> anyhow::Result<()> {
    let app = App::new();
    let mut host = app.moderator(true, "/moderator?quiz=r").await?;
    let mut ann = app.participant(Some("ann"), "/?quiz=r").await?;
    // the attach's own state is no change, and no notice
    assert!(ann.view().kinds.is_empty(), "{:?}", ann.view().kinds);
    assert!(!ann.view().reset);
    ann.click("answer", json!({"choice": "1"})).await?;
    host.click("next", json!({})).await?;
    until(&mut ann, "question 2", |p| p.view().quiz.question == 1).await?;

    // the server API's reset (what POST /api/state/quiz:r/reset does): the channel's init
    // runs again, and the participant's handle_shared gets it as a reset
    app.live.hub().api().reset("quiz:r").await?;
    until(&mut ann, "the reset", |p| p.view().reset).await?;
    assert_eq!(ann.view().kinds.last().map(String::as_str), Some("reset"));
    assert!(ann.view().reset);
    let html = ann.html()?;
    assert_eq!(
        text_of(&html, "reset").as_deref(),
        Some("the moderator reset the quiz")
    );
    assert_eq!(ann.view().quiz.question, 0);
    assert_eq!(ann.view().my_answer, None);
    assert!(ann.view().quiz.answers.is_empty());

    // the quiz moves on: the notice goes
    until(&mut host, "the reset", |h| h.view().quiz.question == 0).await?;
    host.click("next", json!({})).await?;
    until(&mut ann, "no notice", |p| !p.view().reset).await?;
    assert_eq!(text_of(&ann.html()?, "reset"), None);
    assert_eq!(ann.view().quiz.question, 1);

    // the moderator's reset button is the same reset
    host.click("reset", json!({})).await?;
    assert_eq!(host.flash().get("info"), Some("the quiz starts again"));
    until(&mut host, "the reset", |h| h.view().quiz.question == 0).await?;
    until(&mut ann, "the reset", |p| p.view().reset).await?;
    assert_eq!(ann.view().quiz.question, 0);
    assert_eq!(ann.view().kinds.last().map(String::as_str), Some("reset"));
    assert_eq!(
        text_of(&ann.html()?, "reset").as_deref(),
        Some("the moderator reset the quiz")
    );
    Ok(())
}

#[tokio::test]
async fn the_channel_refuses_a_non_moderator_with_its_reason() -> anyhow::Result<()> {
    let app = App::new();
    let mut eve = app.moderator(false, "/moderator?quiz=n").await?;
    let mut ann = app.participant(Some("ann"), "/?quiz=n").await?;
    assert!(eve.html()?.contains(r#"id="not-moderator""#));
    let refusals = [
        ("pause", "only the moderator may pause the quiz"),
        ("resume", "only the moderator may resume the quiz"),
        ("next", "only the moderator may move to the next question"),
        ("reset", "only the moderator may reset the quiz"),
    ];
    for (event, reason) in refusals {
        eve.click(event, json!({})).await?;
        assert_eq!(eve.flash().get("error"), Some(reason), "{event}");
        assert_eq!(
            text_of(&eve.html()?, "flash-error").as_deref(),
            Some(reason)
        );
    }
    // nothing changed for the participants
    ann.click("answer", json!({"choice": "0"})).await?;
    assert_eq!(ann.flash().get("error"), None);
    assert!(!ann.view().quiz.paused);
    assert_eq!(ann.view().quiz.question, 0);

    // a moderator token signed with another secret is nobody's
    let forger = QuizConfig {
        secret_key_base: "another secret, of at least thirty-two bytes".into(),
        ..config()
    };
    let mut forged = ViewTest::new(ModeratorPage::new(
        app.config.ids(),
        HubHandle::of(app.live.hub().clone()),
        quiz::questions(),
    ))
    .hub(app.live.hub().clone())
    .session(forger.ids().moderator_session("eve"))
    .mount("/moderator?quiz=n")
    .await?;
    assert!(!forged.view().moderator);
    forged.click("pause", json!({})).await?;
    assert_eq!(
        forged.flash().get("error"),
        Some("only the moderator may pause the quiz")
    );
    Ok(())
}

#[tokio::test]
async fn bad_input_is_shown_on_the_page() -> anyhow::Result<()> {
    let app = App::new();
    let mut ann = app.participant(Some("ann"), "/?quiz=b").await?;
    let refusals = [
        ("bogus", json!({}), "unknown event \"bogus\""),
        (
            "answer",
            json!({}),
            "bad payload for answer: missing field `choice`",
        ),
        ("answer", json!({"choice": "B"}), "\"B\" is not a choice"),
        (
            "answer",
            json!({"choice": "7"}),
            "question 1 has no choice 7",
        ),
    ];
    for (event, value, reason) in refusals {
        ann.click(event, value).await?;
        assert_eq!(ann.flash().get("error"), Some(reason), "{event}");
        assert_eq!(
            text_of(&ann.html()?, "flash-error").as_deref(),
            Some(reason)
        );
    }
    ann.click("answer", json!({"choice": "1"})).await?;
    ann.click("answer", json!({"choice": "2"})).await?;
    assert_eq!(
        ann.flash().get("error"),
        Some("you answered question 1 already")
    );
    assert_eq!(ann.view().my_answer, Some(1));
    // the message goes with a click on it
    ann.click("lv:clear-flash", json!({"key": "error"})).await?;
    assert!(ann.flash().is_empty());

    // a page without a participant cookie answers as nobody
    let mut nobody = app.participant(None, "/?quiz=b").await?;
    nobody.click("answer", json!({"choice": "0"})).await?;
    assert_eq!(
        nobody.flash().get("error"),
        Some("answering needs a participant id: load the page again (with cookies on)")
    );
    // a quiz name that is not one refuses the mount
    let bad = app.participant(Some("ann"), "/?quiz=a%2Fb").await;
    assert_eq!(
        bad.err().map(|e| e.to_string()),
        Some("refused: a quiz's name is 1 to 40 letters, digits, - or _".to_owned())
    );
    Ok(())
}

/// A refused event changes nothing, so the page must not take it for a reset: the view's
/// next change of the key is the moderator's pause, as an update of `/paused`.
///
/// Fails: the `state:change` that the key's authority sends the sender of a refused event
/// (the unchanged state, at the same version) reaches the view's `handle_shared` as a
/// `reset` change, after the refusal; the page says "the moderator reset the quiz".
#[tokio::test]
async fn a_refused_answer_is_not_a_reset() -> anyhow::Result<()> {
    let app = App::new();
    let mut host = app.moderator(true, "/moderator?quiz=x").await?;
    let mut ann = app.participant(Some("ann"), "/?quiz=x").await?;
    ann.click("answer", json!({"choice": "1"})).await?;
    ann.click("answer", json!({"choice": "2"})).await?;
    assert_eq!(
        ann.flash().get("error"),
        Some("you answered question 1 already")
    );
    let before = ann.view().kinds.len();
    host.click("pause", json!({})).await?;
    until(&mut ann, "the pause", |p| p.view().quiz.paused).await?;
    assert_eq!(
        ann.view().kinds[before..],
        ["updated"],
        "what reached handle_shared after the refusal"
    );
    assert!(!ann.view().reset, "{}", ann.html()?);
    Ok(())
}

/// The cookie `name` a response sets: `name=TOKEN`.
fn set_cookie(response: &http::Response, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    response
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        .find_map(|(_, v)| v.split(';').next().filter(|c| c.starts_with(&prefix)))
        .map(str::to_owned)
}

#[tokio::test]
async fn the_pages_cookies_and_the_http_reset() -> anyhow::Result<()> {
    let config = config();
    let live = quiz::endpoint_with(&config);
    let hub = live.hub().clone();
    let router = quiz::app(&live, &config);
    let server = TestServer::start_app(live, |_| router).await?;

    // a participant's first load: the first render, and a participant cookie
    let page = http::get(server.addr, "/?quiz=h").await?;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Question 1 of 3"), "{}", page.body);
    assert!(page.body.contains("data-phx-session="));
    assert!(set_cookie(&page, "quiz_participant").is_some());
    assert_eq!(set_cookie(&page, "quiz_moderator"), None);

    // the moderator's page without the key: not the moderator
    let stranger = http::get(server.addr, "/moderator?quiz=h&key=wrong").await?;
    assert!(stranger.body.contains(r#"id="not-moderator""#));
    assert_eq!(set_cookie(&stranger, "quiz_moderator"), None);
    // with the key: a moderator cookie, which is the credential from then on
    let host = http::get(server.addr, "/moderator?quiz=h&key=the-key").await?;
    assert_eq!(host.status, 200);
    assert!(
        !host.body.contains(r#"id="not-moderator""#),
        "{}",
        host.body
    );
    let cookie = set_cookie(&host, "quiz_moderator").expect("a moderator cookie");
    let again = http::request(
        server.addr,
        "GET",
        "/moderator?quiz=h",
        &[("cookie", &cookie)],
        "",
    )
    .await?;
    assert!(!again.body.contains(r#"id="not-moderator""#));

    // a participant's view, attached to the key
    let ids = config.ids();
    let mut ann = ViewTest::new(ParticipantPage::new(ids.clone(), quiz::questions()))
        .hub(hub.clone())
        .session(ids.participant_session("ann"))
        .mount("/?quiz=h")
        .await?;
    ann.click("answer", json!({"choice": "0"})).await?;

    // the HTTP reset: the moderator key is the API's token
    let path = "/api/state/quiz:h/reset";
    let refused = http::request(server.addr, "POST", path, &[], "{}").await?;
    assert_eq!(refused.status, 401);
    let bearer = "Bearer the-key";
    let reset = http::request(
        server.addr,
        "POST",
        path,
        &[("authorization", bearer)],
        "{}",
    )
    .await?;
    assert_eq!(reset.status, 200, "{}", reset.body);
    until(&mut ann, "the reset", |p| p.view().reset).await?;
    assert_eq!(ann.view().my_answer, None);
    drop(ann);
    server.stop().await
}
