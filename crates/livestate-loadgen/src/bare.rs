//! The bare broadcaster: the ceiling of the machine for the fan-out benchmarks.
//!
//! It does the least a WebSocket relay can do with the same stack as livestate (axum 0.8,
//! tokio, the same WebSocket buffer sizes, a bounded queue per socket drained by a writer
//! that batches whatever is queued into one flush), and nothing else: no protocol, no
//! state, no encoding.
//!
//! - `GET /ws`: every text frame a socket sends is queued, as the same bytes (a clone of
//!   the received `Utf8Bytes`), to every connected socket of `/ws`, sender included.
//! - `GET /ws?echo`: every text frame is sent back to its sender only.
//!
//! A socket whose queue is full misses frames (counted, never waited for).
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! livestate_loadgen::bare::serve(listener, livestate_loadgen::bare::BareConfig::default(), async {
//!     let _ = tokio::signal::ctrl_c().await;
//! })
//! .await
//! # }
//! ```

use axum::Router;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::mpsc;

/// Most frames one flush carries (as livestate's writer).
const BATCH: usize = 256;

/// The broadcaster's buffers and queues. The defaults are livestate's.
#[derive(Debug, Clone)]
pub struct BareConfig {
    /// Frames queued per socket before it misses frames (livestate's outbox: 1,024).
    pub queue: usize,
    /// WebSocket read buffer per socket (livestate: 4 KiB).
    pub read_buffer_size: usize,
    /// WebSocket write buffer size before a write goes out (livestate: 4 KiB).
    pub write_buffer_size: usize,
    /// Largest frame accepted (livestate: 1 MiB).
    pub max_frame_size: usize,
    /// Set `TCP_NODELAY` on accepted sockets (used by [`serve`]).
    pub nodelay: bool,
}

impl Default for BareConfig {
    fn default() -> Self {
        BareConfig {
            queue: 1024,
            read_buffer_size: 4 << 10,
            write_buffer_size: 4 << 10,
            max_frame_size: 1 << 20,
            nodelay: true,
        }
    }
}

#[derive(Default)]
struct Hub {
    sockets: RwLock<HashMap<u64, mpsc::Sender<Utf8Bytes>>>,
    next_id: AtomicU64,
    missed: AtomicU64,
}

#[derive(Clone)]
struct App {
    hub: Arc<Hub>,
    config: Arc<BareConfig>,
}

/// The router: `GET /ws` (broadcast) and `GET /ws?echo` (echo).
pub fn router(config: BareConfig) -> Router {
    let app = App {
        hub: Arc::default(),
        config: Arc::new(config),
    };
    Router::new().route("/ws", get(upgrade)).with_state(app)
}

/// Serve [`router`] on `listener` until `signal` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: BareConfig,
    signal: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let nodelay = config.nodelay;
    let listener = listener.tap_io(move |tcp| {
        if nodelay {
            let _ = tcp.set_nodelay(true);
        }
    });
    axum::serve(listener, router(config))
        .with_graceful_shutdown(signal)
        .await
}

async fn upgrade(
    State(app): State<App>,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    let echo = query.is_some_and(|q| {
        q.split('&')
            .any(|kv| kv == "echo" || kv.starts_with("echo="))
    });
    let c = &app.config;
    ws.read_buffer_size(c.read_buffer_size)
        .write_buffer_size(c.write_buffer_size)
        .max_write_buffer_size((4 << 20).max(c.max_frame_size * 2))
        .max_message_size(c.max_frame_size)
        .max_frame_size(c.max_frame_size)
        .on_upgrade(move |socket| run(socket, app, echo))
}

async fn run(socket: WebSocket, app: App, echo: bool) {
    let (tx, rx) = mpsc::channel(app.config.queue.max(1));
    let (sink, mut stream) = socket.split();
    let writer = tokio::spawn(write_loop(sink, rx));
    let id = app.hub.next_id.fetch_add(1, Ordering::Relaxed);
    if !echo {
        app.hub
            .sockets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx.clone());
    }
    while let Some(Ok(msg)) = stream.next().await {
        match msg {
            Message::Text(text) if echo => {
                if tx.try_send(text).is_err() {
                    app.hub.missed.fetch_add(1, Ordering::Relaxed);
                }
            }
            Message::Text(text) => {
                let sockets = app.hub.sockets.read().unwrap_or_else(|e| e.into_inner());
                let mut missed = 0;
                for s in sockets.values() {
                    if s.try_send(text.clone()).is_err() {
                        missed += 1;
                    }
                }
                drop(sockets);
                if missed > 0 {
                    app.hub.missed.fetch_add(missed, Ordering::Relaxed);
                }
            }
            Message::Close(_) => break,
            Message::Binary(_) | Message::Ping(_) | Message::Pong(_) => {}
        }
    }
    if !echo {
        app.hub
            .sockets
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }
    drop(tx);
    // the writer ends once it has sent what is queued; a peer that stopped reading does
    // not keep it alive
    let mut writer = writer;
    if tokio::time::timeout(std::time::Duration::from_secs(1), &mut writer)
        .await
        .is_err()
    {
        writer.abort();
    }
}

async fn write_loop(mut sink: SplitSink<WebSocket, Message>, mut rx: mpsc::Receiver<Utf8Bytes>) {
    while let Some(first) = rx.recv().await {
        let batch = async {
            sink.feed(Message::Text(first)).await?;
            for _ in 1..BATCH {
                match rx.try_recv() {
                    Ok(text) => sink.feed(Message::Text(text)).await?,
                    Err(_) => break,
                }
            }
            sink.flush().await
        };
        if batch.await.is_err() {
            return;
        }
    }
}
