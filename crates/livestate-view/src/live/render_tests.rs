//! One render for many views (`group`): views served over the socket layer as a browser's
//! are (a page's tokens, one in-process socket each), attached to one key; the renders are
//! counted by a slot that counts its own computations.

use super::{
    CSRF_VERIFIED, DeadRequest, DeadResponse, LiveView, RenderGroup, Socket, ViewError, Views,
};
use crate::{Assigns, Rendered, html};
use livestate_core::acl::{Acl, Permissions};
use livestate_core::{DocChannel, Hub, OutboxReceiver, Session};
use livestate_protocol::Message;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// How many times each test's counted slot was computed (one counter per test: tests run
/// at once).
static BOARD_RENDERS: AtomicUsize = AtomicUsize::new(0);
static PANICKY_RENDERS: AtomicUsize = AtomicUsize::new(0);
static PANIC_NEXT: AtomicBool = AtomicBool::new(false);
static OFF_RENDERS: AtomicUsize = AtomicUsize::new(0);

fn counted(counter: &AtomicUsize, state: &Value) -> String {
    counter.fetch_add(1, Ordering::SeqCst);
    state["n"].to_string()
}

/// The part every test view shares: no events of its own, and a mount that attaches
/// to `$key` when connected (and first sets `$field` from the URL's param of that name).
macro_rules! attached {
    ($key:literal $(, $field:ident)?) => {
        type Event = Value;
        type Info = ();

        async fn handle_event(&mut self, _: Value, _: &mut Socket<Self>) -> Result<(), ViewError> {
            Ok(())
        }

        async fn mount(
            &mut self,
            _params: &super::Params,
            _: &super::Session,
            socket: &mut Socket<Self>,
        ) -> Result<(), ViewError> {
            $(self.$field = text(_params, stringify!($field));)?
            if socket.connected() {
                socket.attach($key).await?;
            }
            Ok(())
        }
    };
}

/// A scoreboard: what it shows reads `@shared` alone.
#[derive(Clone, Default)]
struct Board;

impl LiveView for Board {
    attached!("doc:board");

    fn render(assigns: Assigns<'_, super::Live<Self>>) -> Rendered<'_> {
        html! {
            main {
                h1 { "Scores" }
                p class="n" { (counted(&BOARD_RENDERS, @shared.state("doc:board"))) }
                @for name in names(&@shared, "doc:board") key (name) { b { (name) } }
            }
        }
    }
}

fn names(shared: &super::Shared, key: &str) -> Vec<String> {
    shared.state(key)["names"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect()
}

/// Like `Board`, with a slot that panics when told to.
#[derive(Clone, Default)]
struct Panicky;

impl LiveView for Panicky {
    attached!("doc:panicky");

    fn render(assigns: Assigns<'_, super::Live<Self>>) -> Rendered<'_> {
        html! { p { (fragile(@shared.state("doc:panicky"))) } }
    }
}

fn fragile(state: &Value) -> String {
    assert!(
        !PANIC_NEXT.swap(false, Ordering::SeqCst),
        "a render that panics once"
    );
    counted(&PANICKY_RENDERS, state)
}

/// A greeting: its shared slot reads the view's own `user` too.
#[derive(Clone, Default)]
struct Greeting {
    user: String,
}

impl LiveView for Greeting {
    attached!("doc:greet", user);

    fn render(assigns: Assigns<'_, super::Live<Self>>) -> Rendered<'_> {
        html! { p { (greet(&@user, @shared.state("doc:greet"))) } }
    }
}

fn text(params: &super::Params, name: &str) -> String {
    params
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn greet(user: &str, state: &Value) -> String {
    format!("{user}: {}", state["n"])
}

/// A room among many on one key: its slot reads `room`, named in its render group.
#[derive(Clone, Default)]
struct Room {
    room: String,
}

impl LiveView for Room {
    attached!("doc:rooms", room);

    fn render_group(&self, group: &mut RenderGroup) {
        group.assign("room", &self.room);
    }

    fn render(assigns: Assigns<'_, super::Live<Self>>) -> Rendered<'_> {
        html! { p { (@shared.state("doc:rooms")[@room.as_str()]) } }
    }
}

/// A board whose views render alone (`shared_render(false)`), to compare.
#[derive(Clone, Default)]
struct Alone;

impl LiveView for Alone {
    attached!("doc:alone");

    fn render(assigns: Assigns<'_, super::Live<Self>>) -> Rendered<'_> {
        html! { p { (counted(&OFF_RENDERS, @shared.state("doc:alone"))) } }
    }
}

const SECRET: &str = "a-secret-key-base-of-at-least-32-bytes-long";

/// A hub serving `views`, bound to them; its `doc:` keys open to the server API.
fn serve(views: &Views) -> Hub {
    let open = Acl {
        group: Permissions::ALL,
        public: Permissions::ALL,
    };
    let hub = Hub::builder()
        .channel("doc:*", DocChannel::default().acl(open))
        .process("lv:*", views.process())
        .build();
    views.bind(&hub);
    hub
}

/// A page's first GET: the view's id and its tokens.
async fn page(views: &Views, hub: &Hub, url: &str) -> (String, String, String) {
    let DeadResponse::Page(html) = views
        .dead_render(DeadRequest {
            url,
            session: Default::default(),
            flash: None,
            csrf_secret: "secret",
            hub: Some(hub.clone()),
        })
        .await
    else {
        panic!("a page");
    };
    let attr = |name: &str| {
        let start = html.find(&format!("{name}=\"")).expect(name) + name.len() + 2;
        html[start..start + html[start..].find('"').unwrap()].to_owned()
    };
    (
        attr("id"),
        attr("data-phx-session"),
        attr("data-phx-static"),
    )
}

/// One browser's socket with the page's view joined.
struct Tab {
    _session: Session,
    rx: OutboxReceiver,
}

impl Tab {
    async fn join(
        hub: &Hub,
        url: &str,
        (id, session, static_token): &(String, String, String),
    ) -> Tab {
        let (outbox, rx) = hub.outbox();
        let mut assigns = livestate_core::Assigns::default();
        assigns.insert(CSRF_VERIFIED.into(), Value::Bool(true));
        let mut socket = hub.process_session(outbox, assigns);
        let join = json!(["1", "1", format!("lv:{id}"), "phx_join",
            {"session": session, "static": static_token, "url": url, "params": {}}]);
        socket.handle_text(&join.to_string()).await.expect("joins");
        let mut tab = Tab {
            _session: socket,
            rx,
        };
        let reply = tab.next().await;
        assert_eq!(reply.payload["status"], "ok", "{reply:?}");
        tab
    }

    async fn next(&mut self) -> Message {
        let frame = tokio::time::timeout(Duration::from_secs(60), self.rx.recv())
            .await
            .expect("a frame (the test hangs otherwise)")
            .expect("the socket stays open");
        Message::decode(frame.as_str()).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_identical_views_get_one_change_from_one_render() {
    let views = Views::builder(SECRET).live("/", Board).build();
    let hub = serve(&views);
    hub.api()
        .put("doc:board", "", json!({"n": 0, "names": ["ada"]}))
        .await
        .unwrap();
    let page = page(&views, &hub, "/").await;
    let mut tabs = Vec::new();
    for _ in 0..1000 {
        tabs.push(Tab::join(&hub, "http://localhost/", &page).await);
    }
    let before = BOARD_RENDERS.load(Ordering::SeqCst);
    let stats = views.render_stats();
    hub.api().put("doc:board", "/n", json!(1)).await.unwrap();
    let mut payloads = std::collections::BTreeSet::new();
    for tab in &mut tabs {
        let diff = tab.next().await;
        assert_eq!(diff.event, "diff");
        payloads.insert(diff.payload.to_string());
    }
    // one render, one payload, for a thousand views
    assert_eq!(BOARD_RENDERS.load(Ordering::SeqCst) - before, 1);
    assert_eq!(payloads.into_iter().collect::<Vec<_>>(), [r#"{"0":"1"}"#]);
    let after = views.render_stats();
    assert_eq!(after.computed - stats.computed, 1);
    assert_eq!(after.reused - stats.reused, 999);
    // a change to the list: still one render, and the list's diff alone
    hub.api()
        .put("doc:board", "/names/-", json!("bo"))
        .await
        .unwrap();
    let mut payloads = std::collections::BTreeSet::new();
    for tab in &mut tabs {
        payloads.insert(tab.next().await.payload.to_string());
    }
    assert_eq!(payloads.len(), 1, "{payloads:?}");
    let payload: Value = serde_json::from_str(payloads.first().unwrap()).unwrap();
    assert_eq!(payload["1"]["k"]["kc"], 2);
    assert_eq!(payload["1"]["k"]["1"]["0"], "bo");
    assert_eq!(BOARD_RENDERS.load(Ordering::SeqCst) - before, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_whose_shared_render_panics_fails_alone() {
    let views = Views::builder(SECRET).live("/", Panicky).build();
    let hub = serve(&views);
    hub.api()
        .put("doc:panicky", "", json!({"n": 0}))
        .await
        .unwrap();
    let page = page(&views, &hub, "/").await;
    let mut tabs = Vec::new();
    for _ in 0..10 {
        tabs.push(Tab::join(&hub, "http://localhost/", &page).await);
    }
    let before = PANICKY_RENDERS.load(Ordering::SeqCst);
    PANIC_NEXT.store(true, Ordering::SeqCst);
    hub.api().put("doc:panicky", "/n", json!(7)).await.unwrap();
    let (mut crashed, mut diffs) = (0, Vec::new());
    for tab in &mut tabs {
        let m = tab.next().await;
        match m.event.as_str() {
            "phx_error" => crashed += 1,
            "diff" => diffs.push(m.payload),
            other => panic!("{other}"),
        }
    }
    assert_eq!(crashed, 1);
    assert_eq!(diffs, vec![json!({"0": "7"}); 9]);
    // the others shared the render that worked
    assert_eq!(PANICKY_RENDERS.load(Ordering::SeqCst) - before, 1);
}

#[tokio::test]
async fn views_whose_changed_slots_read_their_own_assigns_render_alone() {
    let views = Views::builder(SECRET)
        .live("/", Greeting::default())
        .build();
    let hub = serve(&views);
    hub.api()
        .put("doc:greet", "", json!({"n": 0}))
        .await
        .unwrap();
    let mut tabs = Vec::new();
    for user in ["ada", "bo", "cy"] {
        let url = format!("/?user={user}");
        let page = page(&views, &hub, &url).await;
        tabs.push((
            user,
            Tab::join(&hub, &format!("http://localhost{url}"), &page).await,
        ));
    }
    let stats = views.render_stats();
    hub.api().put("doc:greet", "/n", json!(5)).await.unwrap();
    for (user, tab) in &mut tabs {
        assert_eq!(tab.next().await.payload, json!({"0": format!("{user}: 5")}));
    }
    assert_eq!(views.render_stats(), stats);
}

#[tokio::test]
async fn views_share_renders_by_the_assigns_their_render_group_names() {
    let views = Views::builder(SECRET).live("/", Room::default()).build();
    let hub = serve(&views);
    hub.api()
        .put("doc:rooms", "", json!({"a": 0, "b": 0}))
        .await
        .unwrap();
    let mut tabs = Vec::new();
    for room in ["a", "a", "a", "b", "b"] {
        let url = format!("/?room={room}");
        let page = page(&views, &hub, &url).await;
        tabs.push((
            room,
            Tab::join(&hub, &format!("http://localhost{url}"), &page).await,
        ));
    }
    let stats = views.render_stats();
    hub.api()
        .put("doc:rooms", "", json!({"a": 1, "b": 2}))
        .await
        .unwrap();
    for (room, tab) in &mut tabs {
        let shown = if *room == "a" { "1" } else { "2" };
        assert_eq!(tab.next().await.payload, json!({"0": shown}));
    }
    let after = views.render_stats();
    assert_eq!(
        (after.computed - stats.computed, after.reused - stats.reused),
        (2, 3)
    );
}

#[tokio::test]
async fn without_shared_renders_every_view_renders() {
    let views = Views::builder(SECRET)
        .live("/", Alone)
        .shared_render(false)
        .build();
    let hub = serve(&views);
    hub.api()
        .put("doc:alone", "", json!({"n": 0}))
        .await
        .unwrap();
    let page = page(&views, &hub, "/").await;
    let mut tabs = Vec::new();
    for _ in 0..20 {
        tabs.push(Tab::join(&hub, "http://localhost/", &page).await);
    }
    let before = OFF_RENDERS.load(Ordering::SeqCst);
    hub.api().put("doc:alone", "/n", json!(3)).await.unwrap();
    for tab in &mut tabs {
        assert_eq!(tab.next().await.payload, json!({"0": "3"}));
    }
    assert_eq!(OFF_RENDERS.load(Ordering::SeqCst) - before, 20);
    assert_eq!(views.render_stats(), super::RenderStats::default());
}

/// A coalescing key (a 50 ms window) changed 1,000 times in one second, on tokio's paused
/// clock: each view gets about twenty diffs, in order, the last one showing the last value,
/// each computed once for every view.
#[tokio::test(start_paused = true)]
async fn views_of_a_coalescing_key_get_one_diff_per_window() {
    let open = Acl {
        group: Permissions::ALL,
        public: Permissions::ALL,
    };
    let views = Views::builder(SECRET).live("/", Board).build();
    let hub = Hub::builder()
        .channel(
            "doc:*",
            DocChannel::default()
                .acl(open)
                .coalesce(Duration::from_millis(50)),
        )
        .process("lv:*", views.process())
        .build();
    views.bind(&hub);
    let api = hub.api();
    api.put("doc:board", "", json!({"n": 0, "names": []}))
        .await
        .unwrap();
    let page = page(&views, &hub, "/").await;
    let mut tabs = Vec::new();
    for _ in 0..3 {
        tabs.push(Tab::join(&hub, "http://localhost/", &page).await);
    }
    let stats = views.render_stats();
    for n in 1..=1000 {
        api.put("doc:board", "/n", json!(n)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for tab in &mut tabs {
        // the diffs, until the one showing the last value; each shows a later value
        let mut shown = Vec::new();
        while shown.last() != Some(&1000) {
            let diff = tab.next().await;
            assert_eq!(diff.event, "diff", "{diff:?}");
            let n: u64 = diff.payload["0"].as_str().unwrap().parse().unwrap();
            shown.push(n);
        }
        assert!(shown.windows(2).all(|w| w[0] < w[1]), "{shown:?}");
        assert!(
            (18..=22).contains(&shown.len()),
            "{} diffs: {shown:?}",
            shown.len()
        );
        assert!(tab.rx.try_recv().is_none(), "nothing after the last value");
    }
    let after = views.render_stats();
    let computed = after.computed - stats.computed;
    assert!((18..=22).contains(&computed), "{computed} renders");
    assert_eq!(after.reused - stats.reused, 2 * computed);
}
