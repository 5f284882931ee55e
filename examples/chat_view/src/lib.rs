//! A chat room as a live view attached to a shared key, as PhoenixLiveState's `live_state`
//! attaches a LiveView to a state server.
//!
//! The room `NAME` is the key `room:NAME` of a typed channel, [`RoomChannel`]: its state is
//! the room's last [`HISTORY`] messages, and its one event, `post {author, text}`, is
//! validated by the channel (a refusal names why). The page is a view, [`ChatRoom`]: its
//! mount attaches to the key (`socket.attach`), its template renders the messages from
//! `@shared` as a keyed list, and its form's `phx-submit` posts through the key's channel
//! (`socket.send_event`). Every page of a room updates from the key's changes, whichever
//! page (or node) posted; a page opened later gets the history with its first render.
//!
//! The lobby is at `/`, another room at `/?room=NAME` ([`check_room`] says which names
//! are rooms; a page for another name shows why). What the view refuses (an empty post,
//! one too long, an event it does not know) is shown on the page. While the view has lost
//! its key (its authority went away and joining it again has not worked yet), the page
//! shows "reconnecting…".
//!
//! In cluster mode (`--redis URL`, [`Args`]) several nodes share every room through Redis:
//! a page on one node sees what a page on another posted, and when the node holding a
//! room's lease dies another takes the room over from its last commit. The nodes sign
//! their pages with the same secret (`SECRET_KEY_BASE`), so a page served by one node
//! joins on any other.
//!
//! Run it with `cargo run -p chat_view` and open <http://127.0.0.1:4015/> in two windows.

use livestate::view::live::{
    Flash, Live, LiveView, Params, Session, Shared, Socket, ViewError, Views,
};
use livestate::view::{Assigns, Rendered, html};
use livestate::{
    Channel, ChannelError, Doc, Endpoint, EndpointBuilder, EventContext, JoinContext, Reply,
    Settings, Ttl,
};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use std::time::Duration;

/// How many messages a room keeps.
pub const HISTORY: usize = 200;
/// The longest author's name, in characters.
pub const MAX_AUTHOR: usize = 40;
/// The longest message, in characters.
pub const MAX_TEXT: usize = 500;
/// The longest room name, in characters.
pub const MAX_ROOM: usize = 32;
/// The room at `/`.
pub const LOBBY: &str = "lobby";
/// How long a room is kept after the last page left it.
pub const ROOM_TTL: Duration = Duration::from_secs(3600);
/// Where the binary listens without `--bind` (or `$BIND`).
pub const DEFAULT_BIND: &str = "127.0.0.1:4015";

/// The development secret that signs the pages' tokens. In production set
/// `SECRET_KEY_BASE` (at least 32 bytes, the same on every node and across restarts).
const DEV_SECRET_KEY_BASE: &str = "chat_view example: a development secret, not for production";

/// The key of room `name`.
pub fn room_key(name: &str) -> String {
    format!("room:{name}")
}

/// Whether `name` is a room's name: 1 to [`MAX_ROOM`] lowercase letters, digits, `-` or
/// `_`; else why not.
pub fn check_room(name: &str) -> Result<(), String> {
    let fits = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    if name.is_empty() || name.chars().count() > MAX_ROOM || !name.chars().all(fits) {
        return Err(format!(
            "{name:?} is not a room: a room's name is 1 to {MAX_ROOM} lowercase letters, digits, - or _"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The room's key

/// The channel behind `room:*`: `{"messages": [{"id": 1, "author": ..., "text": ...}, ...]}`,
/// the last [`HISTORY`] messages, ids counting up from 1.
pub struct RoomChannel;

/// What the room's key takes.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoomEvent {
    /// A new message.
    Post {
        /// Who posts.
        author: String,
        /// What.
        text: String,
    },
}

impl Channel for RoomChannel {
    type State = Doc;
    type Event = RoomEvent;
    type Params = IgnoredAny;

    fn settings(&self) -> Settings {
        Settings::shared().ttl(Ttl::After(ROOM_TTL))
    }

    /// Only rooms with a valid name: a page never asks for another, a hand-made socket may.
    async fn authorize(&self, _: &IgnoredAny, ctx: &mut JoinContext) -> Result<(), ChannelError> {
        let name = ctx.topic.strip_prefix("room:").unwrap_or_default();
        check_room(name).map_err(ChannelError::refused)
    }

    async fn init(&self, _: &IgnoredAny, _: &JoinContext) -> Result<Doc, ChannelError> {
        Ok(Doc::new(json!({"messages": []})))
    }

    async fn handle_event(
        &self,
        event: RoomEvent,
        doc: &mut Doc,
        _: &EventContext,
    ) -> Result<Reply, ChannelError> {
        let RoomEvent::Post { author, text } = event;
        let (author, text) = (author.trim(), text.trim());
        check("author", author, MAX_AUTHOR)?;
        check("text", text, MAX_TEXT)?;
        let messages = doc
            .get("/messages")?
            .as_array()
            .cloned()
            .unwrap_or_default();
        // ids only grow: the newest message's, plus one (the oldest may have been dropped)
        let id = messages
            .last()
            .and_then(|m| m["id"].as_u64())
            .map_or(1, |last| last + 1);
        doc.append(
            "/messages",
            json!({"id": id, "author": author, "text": text}),
        )?;
        if messages.len() + 1 > HISTORY {
            doc.remove("/messages/0")?;
        }
        Ok(Reply::none())
    }
}

/// Refuses an empty or too long `field`, naming the problem.
fn check(field: &str, value: &str, max: usize) -> Result<(), ChannelError> {
    if value.is_empty() {
        return Err(ChannelError::refused(format!("{field} is required")));
    }
    if value.chars().count() > max {
        return Err(ChannelError::refused(format!(
            "{field} is longer than {max} characters"
        )));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The page

/// The chat page of one room.
#[derive(Clone, Debug, Default)]
pub struct ChatRoom {
    /// The room's name.
    pub room: String,
    /// Why the URL names no room (the page then shows this instead).
    pub bad_room: Option<String>,
    /// The name the author typed last: kept across posts.
    pub author: String,
    /// The text of a post the room refused, shown again in the form.
    pub draft: String,
    /// How many messages this page posted: the form's id, so each post gets an empty form.
    pub posted: u64,
}

/// The form's fields: `author=...&text=...`.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// `phx-submit`.
    Post {
        /// Who posts.
        author: String,
        /// What.
        text: String,
    },
}

/// One message as the page shows it.
#[derive(Debug, Hash, PartialEq, Eq)]
pub struct Shown<'a> {
    /// Its id in the room.
    pub id: u64,
    /// Who posted it.
    pub author: &'a str,
    /// What.
    pub text: &'a str,
}

/// The messages of `room` the view has from its key, oldest first.
pub fn messages<'a>(shared: &'a Shared, room: &str) -> Vec<Shown<'a>> {
    let state = shared.state(&room_key(room));
    state["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| {
            Some(Shown {
                id: m["id"].as_u64()?,
                author: m["author"].as_str()?,
                text: m["text"].as_str()?,
            })
        })
        .collect()
}

impl LiveView for ChatRoom {
    type Event = Event;
    type Info = ();

    async fn mount(
        &mut self,
        params: &Params,
        _: &Session,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        let room = match params.get("room") {
            None => LOBBY.to_owned(),
            Some(Value::String(name)) => name.clone(),
            Some(other) => other.to_string(),
        };
        if let Err(why) = check_room(&room) {
            self.bad_room = Some(why);
            socket.page_title("no such room · chat");
            return Ok(());
        }
        // connected, the view joins the key (and its changes re-render it); in the first
        // GET's render the key is read once
        socket.attach(&room_key(&room)).await?;
        socket.page_title(format!("#{room} · chat"));
        self.room = room;
        Ok(())
    }

    async fn handle_event(
        &mut self,
        event: Event,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        let Event::Post { author, text } = event;
        if self.bad_room.is_some() {
            return Err(ViewError::new("this page has no room to post to"));
        }
        self.author = author.trim().to_owned();
        // the key's channel validates the post; the message itself comes back as a change
        // of the key, on this page as on every other page of the room
        let payload = json!({"author": author, "text": text});
        match socket
            .send_event(&room_key(&self.room), "post", payload)
            .await
        {
            Ok(()) => {
                self.draft.clear();
                self.posted += 1;
                socket.clear_flash(Some("error"));
            }
            Err(refused) => {
                // the client shows the server's value of an input it does not have focus
                // on: the text goes back into the form with the reason
                self.draft = text;
                socket.put_flash("error", refused.0);
            }
        }
        Ok(())
    }

    fn handle_refusal(&mut self, reason: &str, socket: &mut Socket<Self>) -> bool {
        socket.put_flash("error", reason);
        true
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            main id="chat" {
                (flash(&@flash))
                @if @shared.stale() {
                    p id="reconnecting" class="banner" role="status" { "reconnecting…" }
                }
                @if let Some(why) = &@bad_room {
                    h1 { "No such room" }
                    p id="bad-room" class="error" { (why) }
                    p { a id="lobby" href="/" { "Go to the lobby" } }
                } @else {
                    h1 id="room" { "#" (@room) }
                    ul id="messages" {
                        @for message in messages(&@shared, &@room) key (message.id) {
                            li id=(format!("m-{}", message.id)) {
                                b class="author" { (message.author) }
                                ": "
                                span class="text" { (message.text) }
                            }
                        }
                    }
                    // A new id after each post: the client builds a new form, whose text
                    // input is empty; the author's input gets the name kept in the view.
                    // The inputs have no id (an id would make the client keep the old one).
                    // Their values are the view's: the client shows the server's value of
                    // an input it has no focus on, so a refused text is rendered again.
                    form id=(format!("post-{}", @posted)) phx-submit="post" {
                        input type="text" name="author" value=(@author) placeholder="your name" autocomplete="off";
                        " "
                        input type="text" name="text" value=(@draft) placeholder="a message" autocomplete="off";
                        " "
                        button id="send" type="submit" { "Send" }
                    }
                }
            }
        }
    }
}

/// The flash messages, each a paragraph that clears it when clicked.
fn flash(flash: &Flash) -> Rendered<'_> {
    html! {
        div id="flash" {
            @for (kind, message) in flash.iter() key (kind) {
                p id=(format!("flash-{kind}")) class=(format!("flash {kind}")) role="alert"
                    phx-click="lv:clear-flash" phx-value-key=(kind) title="click to dismiss" {
                    (message)
                }
            }
        }
    }
}

/// A little style for the page.
const STYLE: &str = "<style>
body { font-family: sans-serif; margin: 2rem; max-width: 40rem; }
#messages { list-style: none; padding: 0; }
.error { color: #b00; }
.banner { background: #ffd; padding: 0.5rem; }
.flash { padding: 0.5rem; cursor: pointer; }
.flash.error { background: #fdd; }
</style>";

// ---------------------------------------------------------------------------------------
// The app

/// The secret the pages' tokens are signed with: `SECRET_KEY_BASE`, else the development
/// one (every node of a cluster must have the same).
pub fn secret_key_base() -> String {
    std::env::var("SECRET_KEY_BASE").unwrap_or_else(|_| DEV_SECRET_KEY_BASE.to_owned())
}

/// The views: the chat page at `/`.
pub fn views() -> Views {
    Views::builder(secret_key_base())
        .head(STYLE)
        .live("/", ChatRoom::default())
        .build()
}

/// The endpoint's builder: `room:*` and the views (add a backplane for a cluster).
pub fn builder() -> EndpointBuilder {
    Endpoint::builder()
        .channel("room:*", RoomChannel)
        .views(views())
}

/// The app on one node, rooms in memory.
pub fn endpoint() -> Endpoint {
    builder().build()
}

/// The command line: `--bind ADDR`, `--redis URL` (cluster mode), and for a cluster's
/// tests `--node-id ID` and `--lease-ms MS`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Args {
    /// Where to listen.
    pub bind: Option<String>,
    /// The Redis every node shares the rooms through.
    pub redis: Option<String>,
    /// This node's id in the cluster (default: one made from the process).
    pub node_id: Option<String>,
    /// How long a lease lives without renewal, in milliseconds (default 3000).
    pub lease_ms: Option<u64>,
}

impl Args {
    /// Parse the arguments after the program's name.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
        let mut parsed = Args::default();
        let mut args = args.into_iter();
        while let Some(flag) = args.next() {
            let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--bind" => parsed.bind = Some(value()?),
                "--redis" => parsed.redis = Some(value()?),
                "--node-id" => parsed.node_id = Some(value()?),
                "--lease-ms" => {
                    let ms = value()?;
                    let ms = ms
                        .parse()
                        .map_err(|_| format!("--lease-ms takes milliseconds, not {ms:?}"))?;
                    parsed.lease_ms = Some(ms);
                }
                other => {
                    return Err(format!(
                        "unknown argument {other:?}; usage: chat_view [--bind ADDR] [--redis URL [--node-id ID] [--lease-ms MS]]"
                    ));
                }
            }
        }
        Ok(parsed)
    }
}

/// The app as `args` say: standalone, or a node of the cluster on `--redis`.
pub async fn endpoint_for(args: &Args) -> Result<Endpoint, livestate::redis::ConnectError> {
    let Some(url) = &args.redis else {
        return Ok(endpoint());
    };
    let mut opts = livestate::redis::RedisOptions::new(url.clone());
    if let Some(node) = &args.node_id {
        opts.node.clone_from(node);
    }
    if let Some(ms) = args.lease_ms {
        opts.lease_time = Duration::from_millis(ms);
    }
    let backplane = livestate::redis::RedisBackplane::connect(opts).await?;
    Ok(builder().backplane(backplane).build())
}
