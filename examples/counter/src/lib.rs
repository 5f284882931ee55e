//! A shared counter whose versions wrap after 10, as LiveState's `max_version` makes them:
//! the page shows the count and the version, and after 16 clicks they are 16 and 5
//! (versions go 0, 1, ..., 10, 0, 1, ...). The client accepts a patch whose version is its
//! own plus one, or 0.
//!
//! Run it with `cargo run -p counter` and open <http://127.0.0.1:4005/>.

use livestate::axum::Router;
use livestate::axum::response::Html;
use livestate::axum::routing::get;
use livestate::{Channel, ChannelError, Endpoint, EventContext, JoinContext, Reply, Settings};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

/// The state of a `counter:` topic: `{"count": 0}`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Count {
    /// How many times `increment` was handled.
    pub count: u64,
}

/// The channel behind `counter:*`: one count per topic, shared by everyone on it.
pub struct CounterChannel;

/// What the page sends.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CounterEvent {
    /// Add one.
    Increment,
}

impl Channel for CounterChannel {
    type State = Count;
    type Event = CounterEvent;
    type Params = IgnoredAny;

    fn settings(&self) -> Settings {
        Settings::shared().max_version(10)
    }

    async fn init(&self, _: &IgnoredAny, _: &JoinContext) -> Result<Count, ChannelError> {
        Ok(Count::default())
    }

    async fn handle_event(
        &self,
        event: CounterEvent,
        state: &mut Count,
        _: &EventContext,
    ) -> Result<Reply, ChannelError> {
        match event {
            CounterEvent::Increment => state.count += 1,
        }
        Ok(Reply::none())
    }
}

/// livestate's routes with `counter:*` routed to [`CounterChannel`].
pub fn endpoint() -> Endpoint {
    Endpoint::builder()
        .channel("counter:*", CounterChannel)
        .build()
}

/// The page, at `/`.
pub fn pages() -> Router {
    Router::new().route("/", get(Html(include_str!("../assets/index.html"))))
}
