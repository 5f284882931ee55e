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

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use livestate_core::channel::decode_payload;
use livestate_core::{Channel, ChannelError, Doc, EventContext, JoinContext, Reply, Ttl};
use livestate_server::Endpoint;
use serde::Deserialize;
use serde_json::{Value, json};
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

#[derive(Deserialize)]
struct Post {
    name: String,
    text: String,
}

impl Channel for ChatChannel {
    type State = Doc;

    fn ttl(&self) -> Ttl {
        Ttl::After(ROOM_TTL)
    }

    async fn init(&self, _: &str, _: &Value, _: &JoinContext) -> Result<Doc, ChannelError> {
        Ok(Doc::new(json!({"messages": []})))
    }

    async fn handle_event(
        &self,
        event: &str,
        payload: Value,
        doc: &mut Doc,
        _: &EventContext,
    ) -> Result<Reply, ChannelError> {
        match event {
            "post" => {
                let Post { name, text } = decode_payload(event, payload)?;
                let (name, text) = (name.trim(), text.trim());
                check("name", name, MAX_NAME)?;
                check("text", text, MAX_TEXT)?;
                doc.append("/messages", json!({"name": name, "text": text}))?;
                if doc.get("/messages")?.as_array().map_or(0, Vec::len) > HISTORY {
                    doc.remove("/messages/0")?;
                }
                Ok(Reply::none())
            }
            _ => Err(ChannelError::unknown_event(event)),
        }
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
