//! LiveState's testbed todo list, served by livestate: a channel that keeps a list of
//! todos for each `todo:` topic, a plain page (`/`) and a React page (`/react`, built on
//! the `useLiveState` hook of `clients/js`) that add to it.
//!
//! Run it with `cargo run -p todo` and open <http://127.0.0.1:4001/>. The guide
//! `docs/guide.md` builds this example from nothing.

use livestate::axum::Router;
use livestate::axum::http::header::CONTENT_TYPE;
use livestate::axum::response::Html;
use livestate::axum::routing::get;
use livestate::{Channel, ChannelError, Endpoint, EventContext, JoinContext, Reply};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The state of a `todo:` topic, as pages see it: `{"todos": ["milk", ...]}`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Todos {
    /// The todos, oldest first.
    pub todos: Vec<String>,
}

/// The channel behind `todo:*`: one list per topic, shared by everyone on it.
pub struct TodoChannel {
    /// How long adding a todo takes (LiveState's testbed sleeps 500 ms, so that its browser
    /// test sees the button disabled while the event is in flight).
    pub delay: Duration,
}

/// What pages send to a `todo:` topic.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TodoEvent {
    /// `pushEvent("add_todo", {todo: "milk"})`.
    AddTodo {
        /// The todo.
        todo: String,
    },
}

impl Channel for TodoChannel {
    type State = Todos;
    type Event = TodoEvent;
    type Params = IgnoredAny;

    async fn init(&self, _: &IgnoredAny, _: &JoinContext) -> Result<Todos, ChannelError> {
        Ok(Todos::default())
    }

    async fn handle_event(
        &self,
        event: TodoEvent,
        state: &mut Todos,
        _: &EventContext,
    ) -> Result<Reply, ChannelError> {
        match event {
            TodoEvent::AddTodo { todo } => {
                tokio::time::sleep(self.delay).await;
                state.todos.push(todo);
            }
        }
        Ok(Reply::none())
    }
}

/// livestate's routes (`/socket`, `/livestate.js`, `/health`) with `todo:*` routed to
/// `channel`.
pub fn endpoint(channel: TodoChannel) -> Endpoint {
    Endpoint::builder().channel("todo:*", channel).build()
}

/// The pages: `/` (plain JavaScript) and `/react` (React, with its bundle at `/react.js`).
pub fn pages() -> Router {
    Router::new()
        .route("/", get(Html(include_str!("../assets/index.html"))))
        .route("/react", get(Html(include_str!("../assets/react.html"))))
        .route(
            "/react.js",
            get(([(CONTENT_TYPE, "text/javascript")], REACT_JS)),
        )
}

/// The React page's bundle: `assets/react-todo.jsx` and the `useLiveState` hook, built by
/// `clients/js/build.mjs` (which also checks that this committed copy is up to date).
pub const REACT_JS: &str = include_str!("../assets/react-todo.js");
