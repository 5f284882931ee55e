//! The live-view benchmark's server (the `livestate-view-bench-server` binary): two views
//! and a channel, served by one livestate [`Endpoint`] with the default [`ServerConfig`].
//!
//! | route | what |
//! |---|---|
//! | `/thermostat` | a view: a number and `inc` / `dec` buttons |
//! | `/rows` | a view: a caption above a keyed list of [`ROWS`] rows; `bump` (`phx-value-id`) adds 1 to one row's score |
//! | `/socket/websocket`, `counter:*` | a channel (phx-live-state) with the thermostat's number and the same `inc` / `dec` events |
//! | `/bench/config` | the server's socket buffer sizes, as JSON, for the result lines |
//!
//! The views' pages, `/live/websocket` and `/live/live.js` are the endpoint's
//! `views_router()`; the channel's socket is its `router()`.

use axum::Router;
use axum::routing::get;
use livestate_core::{Channel, ChannelError, Doc, EventContext, JoinContext, Reply};
use livestate_server::{Endpoint, ServerConfig};
use livestate_view::live::{Live, LiveView, Socket, ViewError, Views};
use livestate_view::{Assigns, Rendered, html};
use serde::Deserialize;
use serde_json::json;
use std::future::Future;

/// The secret the benchmark's pages are signed with (fixed: the server is a benchmark).
const SECRET: &str = "livestate-view-bench-server: a fixed secret key base, 64 bytes...";

/// The rows of the `/rows` view.
pub const ROWS: usize = 100;

/// The row the benchmark changes: row 37 of 100 (as `livestate-bench`'s `view/one_row`).
pub const BUMPED_ROW: usize = 37;

/// A thermostat: a number and two buttons.
#[derive(Clone, Debug)]
pub struct Thermostat {
    celsius: i32,
}

impl Default for Thermostat {
    fn default() -> Thermostat {
        Thermostat { celsius: 20 }
    }
}

/// The thermostat's events (and the counter channel's).
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ThermostatEvent {
    /// One degree up.
    Inc {},
    /// One degree down.
    Dec {},
}

impl LiveView for Thermostat {
    type Event = ThermostatEvent;
    type Info = ();

    async fn handle_event(
        &mut self,
        event: ThermostatEvent,
        _: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        match event {
            ThermostatEvent::Inc {} => self.celsius += 1,
            ThermostatEvent::Dec {} => self.celsius -= 1,
        }
        Ok(())
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            div class="thermostat" {
                button phx-click="dec" { "-" }
                span id="celsius" { (@celsius) " °C" }
                button phx-click="inc" { "+" }
            }
        }
    }
}

/// One row of the `/rows` view; its hash tells the list whether it changed.
#[derive(Clone, Debug, Hash)]
pub struct Row {
    id: u32,
    name: String,
    score: u32,
}

/// A caption above a keyed list of rows.
#[derive(Clone, Debug)]
pub struct RowsView {
    caption: String,
    rows: Vec<Row>,
}

impl Default for RowsView {
    fn default() -> RowsView {
        RowsView {
            caption: "Scores".to_owned(),
            rows: (0..ROWS as u32)
                .map(|id| Row {
                    id,
                    name: format!("player {id}"),
                    score: id * 10,
                })
                .collect(),
        }
    }
}

/// The rows view's events.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RowsEvent {
    /// `phx-click="bump" phx-value-id="37"`: add 1 to that row's score.
    Bump {
        /// The row's id (values of clicks come as strings).
        id: String,
    },
}

impl LiveView for RowsView {
    type Event = RowsEvent;
    type Info = ();

    async fn handle_event(
        &mut self,
        event: RowsEvent,
        _: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        let RowsEvent::Bump { id } = event;
        let id: u32 = id
            .parse()
            .map_err(|_| ViewError::new("id must be a number"))?;
        let row = self
            .rows
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or_else(|| ViewError::new("no such row"))?;
        row.score += 1;
        Ok(())
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            table class="board" {
                caption { (@caption) }
                @for row in &@rows key (row.id) {
                    tr id=(format_args!("row-{}", row.id)) {
                        td class="name" { (row.name) }
                        td class="score" { (row.score) }
                        td { button phx-click="bump" phx-value-id=(row.id) { "+1" } }
                    }
                }
            }
        }
    }
}

/// The thermostat as a phx-live-state channel: the state `{"celsius": 20}`, the same
/// `inc` and `dec` events, each a `state:patch` of one number.
#[derive(Debug, Clone, Copy, Default)]
pub struct CounterChannel;

impl Channel for CounterChannel {
    type State = Doc;
    type Event = ThermostatEvent;
    type Params = serde::de::IgnoredAny;

    async fn init(&self, _: &Self::Params, _: &JoinContext) -> Result<Doc, ChannelError> {
        Ok(Doc::new(json!({"celsius": 20})))
    }

    async fn handle_event(
        &self,
        event: ThermostatEvent,
        state: &mut Doc,
        _: &EventContext,
    ) -> Result<Reply, ChannelError> {
        let by = match event {
            ThermostatEvent::Inc {} => 1,
            ThermostatEvent::Dec {} => -1,
        };
        state.increment("/celsius", by)?;
        Ok(Reply::none())
    }
}

/// The benchmark's endpoint: the two views and the counter channel on `counter:*`.
pub fn endpoint(config: ServerConfig) -> Endpoint {
    let views = Views::builder(SECRET)
        .live("/thermostat", Thermostat::default())
        .live("/rows", RowsView::default())
        .build();
    Endpoint::builder()
        .config(config)
        .channel("counter:*", CounterChannel)
        .views(views)
        .build()
}

/// The whole app: the endpoint's routes, its views' routes and `/bench/config`.
pub fn app(endpoint: &Endpoint, config: &ServerConfig) -> Router {
    let described = json!({
        "read_buffer_size": config.read_buffer_size,
        "write_buffer_size": config.write_buffer_size,
        "max_write_buffer_size": config.max_write_buffer_size,
        "max_frame_size": config.max_frame_size,
    })
    .to_string();
    endpoint
        .router()
        .merge(endpoint.views_router())
        .route("/bench/config", get(move || async move { described }))
}

/// Serve the benchmark's app on `listener` until `signal` (then every socket is closed
/// with 1001).
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let endpoint = endpoint(config.clone());
    let app = app(&endpoint, &config);
    livestate_server::serve(listener, app, &endpoint, signal).await
}
