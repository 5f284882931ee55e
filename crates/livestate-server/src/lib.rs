//! livestate's HTTP side: an [`Endpoint`] (the WebSocket, `/health`, `/livestate.js`) to
//! nest into an axum application, and [`serve()`], which runs an application until a
//! shutdown signal and then closes every socket with 1001.
//!
//! ```
//! use livestate_core::DocChannel;
//! use livestate_server::{Endpoint, serve};
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! // livestate beside an application's own routes
//! let live = Endpoint::builder().channel("doc:*", DocChannel::default()).build();
//! let app = axum::Router::new()
//!     .route("/hello", axum::routing::get(|| async { "hello" }))
//!     .merge(live.router());
//!
//! // serve until `stop` (`serve_app` binds, and stops on SIGINT or SIGTERM)
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let addr = listener.local_addr()?;
//! let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
//! let server = tokio::spawn({
//!     let live = live.clone();
//!     async move { serve(listener, app, &live, async { stopped.await.ok(); }).await }
//! });
//!
//! let mut tcp = tokio::net::TcpStream::connect(addr).await?;
//! tcp.write_all(b"GET /health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").await?;
//! let mut response = String::new();
//! tcp.read_to_string(&mut response).await?;
//! assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
//!
//! stop.send(()).ok();
//! server.await??;
//! # Ok(()) }
//! ```
//!
//! See [`endpoint`] for mounting livestate into an existing app, with a `connect` callback
//! and CORS.
//!
//! Modules:
//! - [`endpoint`]: [`Endpoint`] and its builder, with its routes.
//! - `app`: what every route shares, and the connect callback's [`ConnectInfo`] and
//!   [`ConnectRefused`].
//! - [`http_api`]: the HTTP state API (JSON, SSE) and its OpenAPI description, `/metrics`.
//! - [`mod@serve`]: running an application until a signal, with a graceful shutdown.
//! - `logging` (feature `logging`): a tracing subscriber for binaries.
//! - `observe`: HTTP refusals logged at WARN, the peer address of a socket.
//! - `ws`: the WebSocket transport (read loop, batched write loop, close codes).
//! - `params`: connect params from the query string.
//! - `sse`: the HTTP API's event streams, bounded like a socket's outbox.
//! - `timed_io`: the write timeout on every accepted connection.
//! - `views` (feature `view`): live views' pages and their socket at `/live/websocket`.

mod app;
pub mod endpoint;
pub mod http_api;
#[cfg(feature = "logging")]
pub mod logging;
mod observe;
mod params;
pub mod serve;
mod sse;
mod timed_io;
#[cfg(feature = "view")]
pub mod views;
mod ws;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use std::time::Duration;

pub use app::{ConnectInfo, ConnectRefused};
pub use endpoint::{Endpoint, EndpointBuilder};
pub use serve::{serve, serve_app, shutdown_signal};
pub use ws::{SUBPROTOCOL, VSN};

/// The transport's limits and timings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The largest frame a client may send (default 1 MiB); a larger one closes the socket
    /// with 1009.
    pub max_frame_size: usize,
    /// A socket that sends no frame for this long is closed with 4001 (default 60 s;
    /// phoenix.js sends a heartbeat every 30 s).
    pub idle_timeout: Duration,
    /// A socket that does not take what it is sent for this long is dropped (default 30 s):
    /// a WebSocket, an event stream, or any HTTP response.
    pub write_timeout: Duration,
    /// The WebSocket read buffer per socket (default 4 KiB; most of a socket's memory).
    pub read_buffer_size: usize,
    /// The WebSocket write buffer size before a write goes out (default 4 KiB).
    pub write_buffer_size: usize,
    /// The most a socket's write buffer may hold (at least twice the frame limit).
    pub max_write_buffer_size: usize,
    /// How long shutdown waits for sockets to close before giving up (default 5 s).
    pub shutdown_grace: Duration,
    /// How long an HTTP API request's body may take to arrive (default 10 s; 408 after).
    pub body_timeout: Duration,
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
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            body_timeout: Duration::from_secs(10),
        }
    }
}

/// The browser client: `phoenix` and `phx-live-state` bundled with esbuild (built by
/// `clients/js/build.mjs`, committed, so it works offline).
pub const LIVESTATE_JS: &str = include_str!("../assets/livestate.js");

/// The demo page the binary serves at `/`.
pub const DEMO_HTML: &str = include_str!("../assets/index.html");

pub(crate) async fn health() -> &'static str {
    "ok\n"
}

pub(crate) async fn livestate_js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        LIVESTATE_JS,
    )
}

/// A router serving the demo page at `/` (merge it beside an [`Endpoint`]'s router).
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

/// How long [`serve()`] waits for sockets at shutdown when nothing else is configured.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
