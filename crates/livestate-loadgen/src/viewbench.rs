//! The live-view benchmark's server (the `livestate-view-bench-server` binary): two views
//! and a channel, served by one livestate [`Endpoint`] with the default [`ServerConfig`].
//!
//! | route | what |
//! |---|---|
//! | `/thermostat` | a view: a number and `inc` / `dec` buttons |
//! | `/rows` | a view: a caption above a keyed list of [`ROWS`] rows; `bump` (`phx-value-id`) adds 1 to one row's score |
//! | `/board` | a view attached to the shared key [`BOARD_KEY`] (`doc:board`), showing only what it reads from `@shared`: the writer's last sequence number (`seq-N`), its index, and standings of 100 rows computed from N |
//! | `/socket/websocket`, `counter:*` | a channel (phx-live-state) with the thermostat's number and the same `inc` / `dec` events |
//! | `/socket/websocket`, `doc:*` | documents ([`DocChannel`], starting `{}`; the public may read and write, so the HTTP state API `/api/state/doc:...` writes too), coalesced when [`Options::coalesce`] says so; `doc:board` is the board's key |
//! | `/bench/config` | the server's socket buffer sizes, as JSON, for the result lines |
//! | `/bench/render-stats` | the views' shared renders so far, `{"computed": N, "reused": N}` (from [`serve_with`]) |
//! | `/bench/options` | the [`Options`] it runs with, `{"shared_render", "coalesce_ms", "cluster"}` (from [`serve_with`]) |
//!
//! The views' pages, `/live/websocket` and `/live/live.js` are the endpoint's
//! `views_router()`; the channel's socket is its `router()`.
//!
//! [`Options`] change the board's benchmark only (the shared render off, coalescing of
//! `doc:*` keys, a cluster node on Redis); the other routes behave the same either way.

use axum::Router;
use axum::routing::get;
use livestate_core::acl::{Acl, Permission, Permissions};
use livestate_core::backplane::Backplane;
use livestate_core::{Channel, ChannelError, Doc, DocChannel, EventContext, JoinContext, Reply};
use livestate_server::{Endpoint, ServerConfig};
use livestate_view::live::{Live, LiveView, Params, Session, Shared, Socket, ViewError, Views};
use livestate_view::{Assigns, Rendered, html};
use serde::Deserialize;
use serde_json::{Value, json};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

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

/// The shared key the `/board` view attaches to.
pub const BOARD_KEY: &str = "doc:board";

/// The board's path.
pub const BOARD_PATH: &str = "/board";

/// A board: what it shows comes from [`BOARD_KEY`] alone (through `@shared`), so every
/// board view shows the same and, with the shared render on, a change of the key is
/// rendered once for all of them. The writer of the benchmark puts
/// `{"s": WRITER, "n": SEQ, "t": NS}` at `/m`; the board shows `seq-SEQ`, `writer-WRITER`
/// and standings of [`STANDINGS`] rows computed from SEQ.
#[derive(Clone, Debug, Default)]
pub struct Board;

impl LiveView for Board {
    type Event = Value;
    type Info = ();

    async fn mount(
        &mut self,
        _: &Params,
        _: &Session,
        socket: &mut Socket<Self>,
    ) -> Result<(), ViewError> {
        if socket.connected() {
            socket.attach(BOARD_KEY).await?;
        }
        Ok(())
    }

    async fn handle_event(&mut self, _: Value, _: &mut Socket<Self>) -> Result<(), ViewError> {
        Ok(())
    }

    fn render(assigns: Assigns<'_, Live<Self>>) -> Rendered<'_> {
        html! {
            main class="board" {
                h1 { "Board" }
                p class="seq" { (board_seq(&@shared)) }
                p class="writer" { (board_writer(&@shared)) }
                table class="standings" {
                    @for (rank, score) in board_standings(&@shared) key (rank) {
                        tr { td { (rank) } td { (score) } }
                    }
                }
            }
        }
    }
}

/// The rows of the board's standings.
pub const STANDINGS: u64 = 100;

/// The board's standings, a keyed list of [`STANDINGS`] rows computed from the last
/// sequence number N: row `r` shows `N / (r + 1)`, so a change moves a few rows (row 0
/// every time, row 1 every other time, …) as a scoreboard's would, and each render
/// walks the whole list as a real one does.
fn board_standings(shared: &Shared) -> Vec<(u64, u64)> {
    let n = shared.state(BOARD_KEY)["m"]["n"].as_u64().unwrap_or(0);
    (0..STANDINGS).map(|r| (r, n / (r + 1))).collect()
}

/// `seq-N`: the last sequence number written at `/m/n` of the board's key (`seq-none`
/// before any).
pub fn board_seq(shared: &Shared) -> String {
    match shared.state(BOARD_KEY)["m"]["n"].as_u64() {
        Some(n) => format!("seq-{n}"),
        None => "seq-none".to_owned(),
    }
}

/// `writer-S`: who wrote the last sequence number.
fn board_writer(shared: &Shared) -> String {
    match shared.state(BOARD_KEY)["m"]["s"].as_u64() {
        Some(s) => format!("writer-{s}"),
        None => "writer-none".to_owned(),
    }
}

/// What the board's benchmark varies; [`Options::default`] is the plain server.
#[derive(Clone)]
pub struct Options {
    /// Views attached to one key share renders (default on).
    pub shared_render: bool,
    /// Coalesce every `doc:` key's changes within this window (default none).
    pub coalesce: Option<Duration>,
    /// A cluster's backplane (default: in memory, one node).
    pub backplane: Option<Arc<dyn Backplane>>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            shared_render: true,
            coalesce: None,
            backplane: None,
        }
    }
}

/// The benchmark's endpoint: the views and the counter channel on `counter:*`, `doc:*`.
pub fn endpoint(config: ServerConfig) -> Endpoint {
    endpoint_with(config, Options::default())
}

/// [`endpoint`] with `options`.
pub fn endpoint_with(config: ServerConfig, options: Options) -> Endpoint {
    build(config, options).0
}

/// The endpoint and its views (for their render counts).
fn build(config: ServerConfig, options: Options) -> (Endpoint, Views) {
    let views = Views::builder(SECRET)
        .live("/thermostat", Thermostat::default())
        .live("/rows", RowsView::default())
        .live(BOARD_PATH, Board)
        .shared_render(options.shared_render)
        .build();
    // the public (the HTTP API's callers) may write too: the busy key's writer uses it
    let acl = Acl {
        group: Permissions::ALL,
        public: Permissions::READ.with(Permission::Write),
    };
    let mut docs = DocChannel::new(json!({})).acl(acl);
    if let Some(window) = options.coalesce {
        docs = docs.coalesce(window);
    }
    let mut builder = Endpoint::builder()
        .config(config)
        .channel("counter:*", CounterChannel)
        .channel("doc:*", docs)
        .views(views.clone());
    if let Some(backplane) = options.backplane {
        builder = builder.backplane(backplane);
    }
    (builder.build(), views)
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
    serve_with(listener, config, Options::default(), signal).await
}

/// [`serve`] with `options`.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    options: Options,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let described = json!({
        "shared_render": options.shared_render,
        "coalesce_ms": options.coalesce.map(|w| u64::try_from(w.as_millis()).unwrap_or(u64::MAX)),
        "cluster": options.backplane.is_some(),
    })
    .to_string();
    let (endpoint, views) = build(config.clone(), options);
    let app =
        app(&endpoint, &config)
            .route("/bench/options", get(move || async move { described }))
            .route(
                "/bench/render-stats",
                get(move || {
                    let stats = views.render_stats();
                    async move {
                        json!({"computed": stats.computed, "reused": stats.reused}).to_string()
                    }
                }),
            );
    livestate_server::serve(listener, app, &endpoint, signal).await
}
