//! Chat rooms: everyone on the topic `chat:<room>` shares one state, the room's last
//! [`HISTORY`] messages, so a late joiner (or a reloaded page) sees the conversation so far.
//!
//! The state is a [`Doc`]: posting appends one message (and drops the oldest once the
//! history is full), and the patch every joiner gets is that one `add` (and `remove`),
//! whatever the length of the history.
//!
//! A room lives in memory while someone is in it, and for [`ROOM_TTL`] after the last one
//! left; then its history is gone.
//!
//! Run it with `cargo run -p chat` and open <http://127.0.0.1:4002/> in two windows.

use livestate::axum::Router;
use livestate::axum::response::Html;
use livestate::axum::routing::get;
use livestate::{
    Channel, ChannelError, Doc, Endpoint, EventContext, JoinContext, Reply, Settings, Ttl,
};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;
use std::time::Duration;

/// How many messages a room keeps.
pub const HISTORY: usize = 200;
/// The longest name, in characters.
pub const MAX_NAME: usize = 40;
/// The longest message, in characters.
pub const MAX_TEXT: usize = 1000;
/// How long a room is kept after the last person left.
pub const ROOM_TTL: Duration = Duration::from_secs(3600);

/// The channel behind `chat:*`: `{"messages": [{"name": ..., "text": ...}, ...]}`.
pub struct ChatChannel;

/// What pages send to a room.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatEvent {
    /// `pushEvent("post", {name, text})`.
    Post {
        /// Who posts.
        name: String,
        /// What.
        text: String,
    },
}

impl Channel for ChatChannel {
    type State = Doc;
    type Event = ChatEvent;
    type Params = IgnoredAny;

    fn settings(&self) -> Settings {
        Settings::shared().ttl(Ttl::After(ROOM_TTL))
    }

    async fn init(&self, _: &IgnoredAny, _: &JoinContext) -> Result<Doc, ChannelError> {
        Ok(Doc::new(json!({"messages": []})))
    }

    async fn handle_event(
        &self,
        event: ChatEvent,
        doc: &mut Doc,
        _: &EventContext,
    ) -> Result<Reply, ChannelError> {
        let ChatEvent::Post { name, text } = event;
        let (name, text) = (name.trim(), text.trim());
        check("name", name, MAX_NAME)?;
        check("text", text, MAX_TEXT)?;
        doc.append("/messages", json!({"name": name, "text": text}))?;
        if doc.get("/messages")?.as_array().map_or(0, Vec::len) > HISTORY {
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

/// livestate's routes with `chat:*` routed to [`ChatChannel`].
pub fn endpoint() -> Endpoint {
    Endpoint::builder().channel("chat:*", ChatChannel).build()
}

/// The page, at `/` (the room is `?room=`, default `lobby`).
pub fn pages() -> Router {
    Router::new().route("/", get(Html(include_str!("../assets/index.html"))))
}
