//! livestate's HTTP side: the axum router with the WebSocket endpoint, and [`serve`],
//! which runs it until a shutdown signal and then closes every socket with 1001.
//!
//! ```no_run
//! use livestate_core::{DocChannel, Hub};
//! use livestate_server::{ServerConfig, router, serve};
//!
//! # async fn run() -> std::io::Result<()> {
//! let hub = Hub::builder().channel("doc:*", DocChannel::default()).build();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:4000").await?;
//! serve(listener, hub, ServerConfig::default(), async {
//!     let _ = tokio::signal::ctrl_c().await;
//! }).await
//! # }
//! ```
//!
//! Modules:
//! - [`cli`]: the `serve` command line, shared by the binaries.
//! - `ws`: the WebSocket transport (read loop, batched write loop, close codes).
//! - `params`: connect params from the query string.

pub mod cli;
mod params;
mod ws;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use livestate_core::Hub;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::task::TaskTracker;

pub use ws::{SUBPROTOCOL, VSN};

/// The transport's limits and timings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The largest frame a client may send (default 1 MiB); a larger one closes the socket
    /// with 1009.
    pub max_frame_size: usize,
    /// A socket that sends no frame for this long is closed with 4001 (default 60 s;
    /// phoenix.js sends a heartbeat every 30 s).
    pub idle_timeout: Duration,
    /// A socket that does not take what it is sent for this long is dropped (default 30 s).
    pub write_timeout: Duration,
    /// The WebSocket read buffer per socket (default 4 KiB; most of a socket's memory).
    pub read_buffer_size: usize,
    /// The WebSocket write buffer size before a write goes out (default 4 KiB).
    pub write_buffer_size: usize,
    /// The most a socket's write buffer may hold (at least twice the frame limit).
    pub max_write_buffer_size: usize,
    /// How long shutdown waits for sockets to close before giving up (default 5 s).
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            max_frame_size: 1 << 20,
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(30),
            read_buffer_size: 4 << 10,
            write_buffer_size: 4 << 10,
            max_write_buffer_size: 4 << 20,
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) hub: Hub,
    pub(crate) config: Arc<ServerConfig>,
    /// Every open socket holds a token of this tracker, so shutdown can wait for them.
    pub(crate) sockets: TaskTracker,
}

/// The browser client: `phoenix` and `phx-live-state` bundled with esbuild (built by
/// `clients/js/build.mjs`, committed, so it works offline).
pub const LIVESTATE_JS: &str = include_str!("../assets/livestate.js");

/// The demo page the binary serves at `/`.
pub const DEMO_HTML: &str = include_str!("../assets/index.html");

/// A router serving `GET /health`, `GET /livestate.js` and the WebSocket at
/// `/socket/websocket`.
pub fn router(hub: Hub, config: ServerConfig) -> Router {
    router_with_tracker(hub, config, TaskTracker::new())
}

fn router_with_tracker(hub: Hub, config: ServerConfig, sockets: TaskTracker) -> Router {
    let state = AppState {
        hub,
        config: Arc::new(config),
        sockets,
    };
    Router::new()
        .route("/health", get(health))
        .route("/livestate.js", get(livestate_js))
        .route("/socket/websocket", get(ws::handler))
        .with_state(state)
}

async fn health() -> &'static str {
    "ok\n"
}

async fn livestate_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        LIVESTATE_JS,
    )
}

/// A router serving the demo page at `/` (merge it into [`router`]'s).
pub fn demo_router() -> Router {
    Router::new()
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        )
        .route(
            "/",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    DEMO_HTML,
                )
            }),
        )
}

/// Serve until `signal` completes; then refuse new joins, close every socket with 1001
/// (so clients reconnect elsewhere), and return once they are closed (or after
/// [`ServerConfig::shutdown_grace`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    hub: Hub,
    config: ServerConfig,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, hub, config, Router::new(), signal).await
}

/// [`serve`], with `extra` routes merged beside livestate's (the binary adds its demo page).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    hub: Hub,
    config: ServerConfig,
    extra: Router,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = config.shutdown_grace;
    let sockets = TaskTracker::new();
    let app = router_with_tracker(hub.clone(), config, sockets.clone()).merge(extra);
    let stopping = hub.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            signal.await;
            tracing::info!("shutting down: closing every socket with 1001");
            stopping.shutdown();
        })
        .await?;
    sockets.close();
    if tokio::time::timeout(grace, sockets.wait()).await.is_err() {
        tracing::warn!(
            "{} sockets still open after {grace:?}; exiting anyway",
            sockets.len()
        );
    }
    Ok(())
}
