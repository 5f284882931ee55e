//! Views attached to shared keys: the state at the attach, changes from elsewhere, writes
//! as the key's group, refusals, `live_assign` on typed channels, the first GET's read.

use super::testing::{TestError, ViewTest};
use super::{Live, LiveView, SharedChange, Socket, ViewError};
use crate::{Assigns, Rendered, html};
use livestate_core::{Channel, ChannelError, DocChannel, EventContext, Hub, JoinContext, Reply};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// A room on the `doc:` key of its name: messages in `/messages`.
#[derive(Clone, Default)]
struct Room {
    /// Copied from the key in `handle_shared`.
    count: usize,
    kinds: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum RoomEvent {
    Post {
        text: String,
    },
    Clear {},
    /// A write the `doc:` channel refuses (not a JSON Pointer).
    Bad {},
}

impl LiveView for Room {
    type Event = RoomEvent;
    type Info = ();

    async fn mount(
        &mut self,
        _: &super::Params,
        _: &super::Session,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        let state = socket.attach("doc:room").await?;
        if state.is_null() || state.get("messages").is_none() {
            socket
                .live_assign("doc:room", "/messages", json!([]))
                .await?;
        }
        Ok(())
    }

    async fn handle_event(
        &mut self,
        event: RoomEvent,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        match event {
            RoomEvent::Post { text } => {
                let payload = json!({"path": "/messages/-", "value": text});
                socket.send_event("doc:room", "put", payload).await
            }
            RoomEvent::Clear {} => socket.send_event("doc:room", "reset", json!({})).await,
            RoomEvent::Bad {} => {
                let payload = json!({"path": "no pointer", "value": 1});
                socket.send_event("doc:room", "put", payload).await
            }
        }
    }

    async fn handle_shared(
        &mut self,
        change: &SharedChange,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        let state = socket.shared().state(&change.key);
        self.count = state["messages"].as_array().map_or(0, Vec::len);
        self.kinds.push(format!("{:?}", change.kind));
        Ok(())
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            ul {
                @for (i, text) in @shared.state("doc:room")["messages"].as_array().into_iter().flatten().enumerate() key (i) {
                    li { (text.as_str().unwrap_or_default()) }
                }
            }
            p { (@count) }
        }
    }
}

fn hub() -> Hub {
    Hub::builder()
        .channel("doc:*", DocChannel::default())
        .build()
}

#[tokio::test]
async fn attached_views_share_the_key_and_see_each_others_changes() -> Result<(), TestError> {
    let hub = hub();
    let mut ann = ViewTest::new(Room::default())
        .hub(hub.clone())
        .mount("/")
        .await?;
    let mut bo = ViewTest::new(Room::default())
        .hub(hub.clone())
        .mount("/")
        .await?;
    ann.click("post", json!({"text": "hi"})).await?;
    // ann's own write is in ann's page once acknowledged
    assert!(ann.html()?.contains("<li>hi</li>"), "{}", ann.html()?);
    // bo gets it as a change of the key
    let step = bo.next_shared().await?;
    assert!(bo.html()?.contains("<li>hi</li>"), "{}", bo.html()?);
    assert!(!step.diff.is_empty());
    assert_eq!(bo.view().count, 1);
    assert_eq!(bo.view().kinds.last().map(String::as_str), Some("New"));
    // the key's authority counts both views as subscribers
    assert_eq!(hub.live_keys(), 1);
    // a late joiner gets the history
    let late = ViewTest::new(Room::default())
        .hub(hub.clone())
        .mount("/")
        .await?;
    assert!(late.html()?.contains("<li>hi</li>"));
    Ok(())
}

#[tokio::test]
async fn a_refused_write_is_an_error_and_no_change() -> Result<(), TestError> {
    let mut ann = ViewTest::new(Room::default()).hub(hub()).mount("/").await?;
    // the attach itself is no change (mount has the state); mount's live_assign is one
    assert_eq!(ann.view().kinds, ["New"]);
    let refused = ann.click("bad", json!({})).await.unwrap_err();
    assert!(
        matches!(&refused, TestError::Refused(r) if r.contains("no pointer")),
        "{refused}"
    );
    assert_eq!(ann.view().kinds, ["New"]);
    ann.click("post", json!({"text": "hi"})).await?;
    assert_eq!(ann.view().kinds, ["New", "New"]);
    Ok(())
}

#[tokio::test]
async fn a_reset_reaches_the_view_as_a_reset() -> Result<(), TestError> {
    let hub = hub();
    let mut ann = ViewTest::new(Room::default())
        .hub(hub.clone())
        .mount("/")
        .await?;
    ann.click("post", json!({"text": "hi"})).await?;
    // a reset through the server API (say, a moderator's) re-runs the channel's init
    let api = |e: livestate_core::api::ApiError| TestError::Usage(e.to_string());
    let moderator = hub.api().subscribe("doc:room").await.map_err(api)?;
    moderator.reset().await.map_err(api)?;
    ann.next_shared().await?;
    assert_eq!(ann.view().kinds.last().map(String::as_str), Some("Reset"));
    assert_eq!(ann.shared().state("doc:room"), &json!({}));
    assert_eq!(ann.view().count, 0);
    Ok(())
}

#[tokio::test]
async fn the_first_get_reads_the_key_and_attaches_nothing() -> Result<(), TestError> {
    let hub = hub();
    let dead = ViewTest::new(Room::default())
        .hub(hub.clone())
        .disconnected()
        .mount("/")
        .await;
    // nobody started the key: the read is null, and live_assign needs a connected view
    assert!(
        matches!(dead, Err(TestError::Refused(_))),
        "{:?}",
        dead.err()
    );
    assert_eq!(hub.live_keys(), 0);
    let mut ann = ViewTest::new(Room::default())
        .hub(hub.clone())
        .mount("/")
        .await?;
    ann.click("post", json!({"text": "hi"})).await?;
    let dead = ViewTest::new(Room::default())
        .hub(hub.clone())
        .disconnected()
        .mount("/")
        .await?;
    assert!(dead.html()?.contains("<li>hi</li>"));
    Ok(())
}

/// A typed channel: a vote, written through its events only.
struct Votes;

#[derive(Default, Serialize, Deserialize)]
struct Tally {
    yes: u32,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum VoteEvent {
    Yes {},
}

impl Channel for Votes {
    type State = Tally;
    type Event = VoteEvent;
    type Params = serde::de::IgnoredAny;

    async fn init(&self, _: &Self::Params, _: &JoinContext) -> Result<Tally, ChannelError> {
        Ok(Tally::default())
    }

    async fn handle_event(
        &self,
        event: VoteEvent,
        state: &mut Tally,
        _: &EventContext,
    ) -> Result<Reply, ChannelError> {
        let VoteEvent::Yes {} = event;
        if state.yes >= 2 {
            return Err(ChannelError::refused("the vote is closed"));
        }
        state.yes += 1;
        Ok(Reply::none())
    }
}

#[derive(Clone, Default)]
struct Ballot {
    refusal: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum BallotEvent {
    Yes {},
    Assign {},
}

impl LiveView for Ballot {
    type Event = BallotEvent;
    type Info = ();

    async fn mount(
        &mut self,
        _: &super::Params,
        _: &super::Session,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        socket.attach("vote:lunch").await?;
        Ok(())
    }

    async fn handle_event(
        &mut self,
        event: BallotEvent,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        let done = match event {
            BallotEvent::Yes {} => socket.send_event("vote:lunch", "yes", json!({})).await,
            BallotEvent::Assign {} => socket.live_assign("vote:lunch", "/yes", json!(9)).await,
        };
        if let Err(e) = done {
            self.refusal = e.0;
        }
        Ok(())
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! { p { (@shared.state("vote:lunch")["yes"]) } p { (@refusal) } }
    }
}

#[tokio::test]
async fn typed_channels_take_their_events_and_refuse_with_a_reason() -> Result<(), TestError> {
    let hub = Hub::builder().channel("vote:*", Votes).build();
    let mut view = ViewTest::new(Ballot::default()).hub(hub).mount("/").await?;
    view.click("yes", json!({})).await?;
    view.click("yes", json!({})).await?;
    assert!(view.html()?.contains("<p>2</p>"), "{}", view.html()?);
    view.click("yes", json!({})).await?;
    assert_eq!(view.view().refusal, "the vote is closed");
    view.click("assign", json!({})).await?;
    assert!(
        view.view()
            .refusal
            .starts_with("live_assign writes only keys"),
        "{}",
        view.view().refusal
    );
    assert!(view.html()?.contains("<p>2</p>"));
    Ok(())
}

#[tokio::test]
async fn a_key_the_channel_refuses_fails_the_mount_with_its_reason() {
    let hub = Hub::builder()
        .channel("doc:*", DocChannel::default())
        .build();
    // no channel serves vote:*: the join is refused
    let refused = ViewTest::new(Ballot::default())
        .hub(hub)
        .mount("/")
        .await
        .err();
    assert_eq!(refused, Some(TestError::Refused("unmatched topic".into())));
    let _ = Value::Null;
}

/// A dashboard: who is on `doc:team` (presence on), tracked under the session's user.
#[derive(Clone, Default)]
struct Dashboard;

impl LiveView for Dashboard {
    type Event = Value;
    type Info = ();

    async fn mount(
        &mut self,
        _: &super::Params,
        session: &super::Session,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        let user = session.get("user").cloned().unwrap_or(Value::Null);
        let params = json!({"presence": {"key": user, "meta": {"page": "dashboard"}}});
        socket.attach_with("doc:team", params).await?;
        Ok(())
    }

    async fn handle_event(&mut self, _: Value, _: &mut Socket<Self>) -> Result<(), ViewError> {
        Ok(())
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            ul {
                @for user in @shared.get("doc:team").map(|k| k.presence.keys().collect::<Vec<_>>()).unwrap_or_default() key (user) {
                    li { (user) }
                }
            }
        }
    }
}

fn session(user: &str) -> super::Session {
    super::Session::from_iter([("user".to_owned(), json!(user))])
}

/// Handle the view's shared frames until its page shows `text` (at most 10 frames).
async fn until_shown(
    view: &mut super::testing::TestView<Dashboard>,
    text: &str,
    shown: bool,
) -> Result<(), TestError> {
    for _ in 0..10 {
        if view.html()?.contains(text) == shown {
            return Ok(());
        }
        view.next_shared().await?;
    }
    Err(TestError::Usage(format!(
        "{text:?} shown is not {shown}: {}",
        view.html()?
    )))
}

#[tokio::test(start_paused = true)]
async fn presence_and_ttl_see_views_as_sockets() -> Result<(), TestError> {
    let channel = DocChannel::default()
        .presence(true)
        .ttl(livestate_core::Ttl::After(std::time::Duration::from_secs(
            5,
        )));
    let hub = Hub::builder().channel("doc:*", channel).build();
    let mut ann = ViewTest::new(Dashboard)
        .hub(hub.clone())
        .session(session("ann"))
        .mount("/")
        .await?;
    until_shown(&mut ann, "<li>ann</li>", true).await?;
    let mut bo = ViewTest::new(Dashboard)
        .hub(hub.clone())
        .session(session("bo"))
        .mount("/")
        .await?;
    until_shown(&mut bo, "<li>ann</li><li>bo</li>", true).await?;
    // ann sees bo join...
    until_shown(&mut ann, "<li>bo</li>", true).await?;
    // ...and leave: a view that goes away leaves the key as a closed tab does
    drop(bo);
    until_shown(&mut ann, "<li>bo</li>", false).await?;
    // the last view gone, the key lives out its TTL, then stops
    drop(ann);
    assert_eq!(hub.live_keys(), 1);
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    for _ in 0..100 {
        if hub.live_keys() == 0 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(hub.live_keys(), 0);
    Ok(())
}

/// A node of a cluster in one process.
fn node(cluster: &livestate_backplane::memory::MemoryCluster, id: &str) -> Hub {
    let backplane: std::sync::Arc<dyn livestate_core::backplane::Backplane> = cluster.node(id);
    use livestate_core::acl::{Acl, Permissions};
    let open = Acl {
        group: Permissions::ALL,
        public: Permissions::ALL,
    };
    Hub::builder()
        .channel("doc:*", DocChannel::default().acl(open))
        .backplane(backplane)
        .build()
}

#[tokio::test(start_paused = true)]
async fn a_view_on_another_node_keeps_the_key_when_the_leader_dies() -> Result<(), TestError> {
    let cluster =
        livestate_backplane::memory::MemoryCluster::new(std::time::Duration::from_secs(3));
    let (a, b) = (node(&cluster, "a"), node(&cluster, "b"));
    // a attaches first: a holds the key's lease
    let mut on_a = ViewTest::new(Room::default())
        .hub(a.clone())
        .mount("/")
        .await?;
    let mut on_b = ViewTest::new(Room::default())
        .hub(b.clone())
        .mount("/")
        .await?;
    on_a.click("post", json!({"text": "one"})).await?;
    for _ in 0..10 {
        if on_b.html()?.contains("<li>one</li>") {
            break;
        }
        on_b.next_shared().await?;
    }
    assert!(on_b.html()?.contains("<li>one</li>"), "{}", on_b.html()?);
    cluster.kill("a");
    drop(on_a);
    // b's next write finds no authority; once a's lease runs out, b takes the key over
    on_b.click("post", json!({"text": "two"})).await?;
    for _ in 0..10 {
        if on_b.html()?.contains("<li>two</li>") {
            break;
        }
        on_b.next_shared().await?;
    }
    assert!(
        on_b.html()?.contains("<li>one</li><li>two</li>"),
        "{}",
        on_b.html()?
    );
    assert!(!on_b.shared().stale());
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_view_whose_key_is_lost_shows_it_stale_and_catches_up() -> Result<(), TestError> {
    let cluster =
        livestate_backplane::memory::MemoryCluster::new(std::time::Duration::from_secs(3));
    let (a, b) = (node(&cluster, "a"), node(&cluster, "b"));
    let mut on_a = ViewTest::new(Room::default())
        .hub(a.clone())
        .mount("/")
        .await?;
    on_a.click("post", json!({"text": "one"})).await?;
    // a's node loses the cluster: its authority of the key stops, the view sees it
    cluster.kill("a");
    let mut stale = false;
    for _ in 0..20 {
        on_a.next_shared().await?;
        stale |= on_a.shared().stale();
        if stale {
            break;
        }
    }
    assert!(stale, "the view never saw its key go");
    // meanwhile b writes; when a is back in the cluster, the view catches up by itself
    let mut on_b = ViewTest::new(Room::default())
        .hub(b.clone())
        .mount("/")
        .await?;
    on_b.click("post", json!({"text": "two"})).await?;
    drop(cluster.node("a"));
    for _ in 0..50 {
        if !on_a.shared().stale() && on_a.html()?.contains("<li>two</li>") {
            break;
        }
        on_a.next_shared().await?;
    }
    assert!(!on_a.shared().stale());
    assert!(
        on_a.html()?.contains("<li>one</li><li>two</li>"),
        "{}",
        on_a.html()?
    );
    Ok(())
}

#[tokio::test]
async fn a_write_the_keys_acl_refuses_names_why() -> Result<(), TestError> {
    use livestate_core::acl::{Acl, Permission, Permissions};
    // attached views are the key's group, which may read here but not write
    let read_only = Acl {
        group: Permissions::NONE.with(Permission::Read),
        public: Permissions::NONE,
    };
    let hub = Hub::builder()
        .channel("doc:*", DocChannel::default().acl(read_only))
        .build();
    // Room's mount writes `/messages`: refused, with the ACL's reason
    let refused = ViewTest::new(Room::default())
        .hub(hub)
        .mount("/")
        .await
        .err();
    assert!(
        matches!(&refused, Some(TestError::Refused(r)) if r.contains("permission")),
        "{refused:?}"
    );
    Ok(())
}

/// Panics when its key changes.
#[derive(Clone, Default)]
struct Fragile;

impl LiveView for Fragile {
    type Event = Value;
    type Info = ();

    async fn mount(
        &mut self,
        _: &super::Params,
        _: &super::Session,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        socket.attach("doc:fragile").await?;
        Ok(())
    }

    async fn handle_event(&mut self, _: Value, _: &mut Socket<Self>) -> Result<(), ViewError> {
        Ok(())
    }

    async fn handle_shared(
        &mut self,
        _: &SharedChange,
        _: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        panic!("cannot take this change")
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! { p { (@shared.state("doc:fragile")) } }
    }
}

#[tokio::test]
async fn a_panic_in_handle_shared_crashes_that_view_alone() -> Result<(), TestError> {
    let hub = hub();
    let mut fragile = ViewTest::new(Fragile).hub(hub.clone()).mount("/").await?;
    let mut other = ViewTest::new(Room::default())
        .hub(hub.clone())
        .mount("/")
        .await?;
    let api = |e: livestate_core::api::ApiError| TestError::Usage(e.to_string());
    let writer = hub.api().subscribe("doc:fragile").await.map_err(api)?;
    writer.put("/n", json!(1)).await.map_err(api)?;
    // behind a socket this view crashes (phx_error) and its client mounts it afresh
    let crashed = fragile.next_shared().await.unwrap_err();
    assert_eq!(
        crashed,
        TestError::Crashed("cannot take this change".into())
    );
    // another view is untouched
    other.click("post", json!({"text": "still here"})).await?;
    assert!(other.html()?.contains("<li>still here</li>"));
    Ok(())
}

/// Records every change it is given.
#[derive(Clone, Default)]
struct Recorder {
    resyncs: u32,
}

impl LiveView for Recorder {
    type Event = Value;
    type Info = ();

    async fn mount(
        &mut self,
        _: &super::Params,
        _: &super::Session,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        socket.attach("doc:busy").await?;
        Ok(())
    }

    async fn handle_event(&mut self, _: Value, _: &mut Socket<Self>) -> Result<(), ViewError> {
        Ok(())
    }

    async fn handle_shared(
        &mut self,
        change: &SharedChange,
        _: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        if change.resync {
            self.resyncs += 1;
        }
        Ok(())
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! { p { (@shared.state("doc:busy")["n"]) } }
    }
}

#[tokio::test(start_paused = true)]
async fn a_view_that_fell_behind_catches_up_from_the_current_state() -> Result<(), TestError> {
    let mut limits = livestate_core::Limits::default();
    limits.outbox_capacity = 4;
    let hub = Hub::builder()
        .channel("doc:*", DocChannel::default())
        .limits(limits)
        .build();
    let mut view = ViewTest::new(Recorder::default())
        .hub(hub.clone())
        .mount("/")
        .await?;
    // the view reads nothing while the key changes 50 times: its socket's outbox fills up
    let api = |e: livestate_core::api::ApiError| TestError::Usage(e.to_string());
    let writer = hub.api().subscribe("doc:busy").await.map_err(api)?;
    for n in 1..=50 {
        writer.put("/n", json!(n)).await.map_err(api)?;
    }
    // then it catches up: the whole state once (a resync), never a wrong one
    for _ in 0..100 {
        if view.shared().state("doc:busy")["n"] == json!(50) {
            break;
        }
        view.next_shared().await?;
    }
    assert_eq!(view.shared().state("doc:busy")["n"], json!(50));
    assert!(view.html()?.contains("<p>50</p>"));
    assert_eq!(
        view.view().resyncs,
        1,
        "a lagging view is sent the whole state"
    );
    Ok(())
}
