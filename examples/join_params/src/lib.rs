//! Join params, and the errors a page can meet, as in LiveState's testbed:
//!
//! - `/` joins the topic `join_params` with the params `{"foo": ...}` (from the page's
//!   `?foo=` query, default `"foo"`); the channel puts them in its state and the page
//!   shows them. Each join has its own state ([`Settings::connection`]): with a shared state,
//!   only the first joiner's params would count.
//! - `/errors` has one element joining `garbage`, which no channel serves (the page shows
//!   `unmatched topic`), and one joining `failing`, whose `init` fails (the page shows its
//!   message).
//!
//! Run it with `cargo run -p join_params` and open <http://127.0.0.1:4004/>.

use livestate::axum::Router;
use livestate::axum::response::Html;
use livestate::axum::routing::get;
use livestate::event::AnyEvent;
use livestate::{Channel, ChannelError, Endpoint, JoinContext, Settings};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The state of a `join_params` join: its params, `{"foo": "..."}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Joined {
    /// The join param `foo`.
    pub foo: String,
}

/// The channel behind `join_params`: the state is the join's params.
pub struct JoinParamsChannel;

impl Channel for JoinParamsChannel {
    type State = Joined;
    /// It takes no events.
    type Event = AnyEvent;
    /// The params are the state.
    type Params = Joined;

    fn settings(&self) -> Settings {
        Settings::connection()
    }

    async fn init(&self, params: &Joined, _: &JoinContext) -> Result<Joined, ChannelError> {
        Ok(params.clone())
    }
}

/// What [`FailingChannel`]'s `init` fails with; the page shows it.
pub const INIT_ERROR: &str = "this channel always fails to start";

/// The channel behind `failing`: its `init` fails, so a joiner gets the `error` push
/// `{"message": INIT_ERROR}`, which phx-live-state turns into a `livestate-error`.
pub struct FailingChannel;

impl Channel for FailingChannel {
    type State = Value;
    type Event = AnyEvent;
    type Params = IgnoredAny;

    async fn init(&self, _: &IgnoredAny, _: &JoinContext) -> Result<Value, ChannelError> {
        Err(ChannelError::refused(INIT_ERROR))
    }
}

/// livestate's routes: `join_params` and `failing` (and nothing for `garbage`).
pub fn endpoint() -> Endpoint {
    Endpoint::builder()
        .channel("join_params", JoinParamsChannel)
        .channel("failing", FailingChannel)
        .build()
}

/// The pages: `/` (join params) and `/errors`.
pub fn pages() -> Router {
    Router::new()
        .route("/", get(Html(include_str!("../assets/index.html"))))
        .route("/errors", get(Html(include_str!("../assets/errors.html"))))
}
