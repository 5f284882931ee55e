//! The WebSocket endpoint: `GET /socket/websocket?vsn=2.0.0&<params>`.
//!
//! This is the transport only: a read loop feeding the socket's [`Session`] and a write
//! loop draining its outbox, batching whatever is queued into one flush. The protocol
//! lives in `livestate-core`.
//!
//! Close codes are those of [`livestate_protocol::close`]. The transport's own:
//! a binary frame closes with 1003, a frame over the size limit with 1009, no frame for
//! the idle timeout with 4001, shutdown with 1001, and a client that does not read what it
//! is sent within the write timeout is dropped (4008 when a close frame still gets through).
//!
//! Close handshakes (RFC 6455 §5.5.1): a client's close frame is answered with one (the
//! client sees its own code, or 1005 when it sent none, as phoenix.js `disconnect()`
//! does). When the server closes, it sends its close frame and
//! then reads and discards what the client still sends, until the client's close arrives
//! or [`DRAIN_TIMEOUT`] passes, so the code reaches a client that keeps sending instead of
//! being lost to a reset. After a frame over the size limit the rest of that frame cannot
//! be parsed, so the server only waits (the same timeout) before it lets go.
//!
//! Origins, as Phoenix's `check_origin`: with `allow_origins` set, an upgrade that sends an
//! `Origin` must send a listed one (403 otherwise); one that sends none (a Node or native
//! client: only browsers send it, and only browsers need the check) is let through.

use crate::app::{AppState, ConnectInfo};
use crate::observe::{Peer, refuse};
use crate::params;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use livestate_core::session::Close;
use livestate_core::{Assigns, OutboxReceiver, Session};
use livestate_protocol::{Text, close};
use std::future::{Future, poll_fn};
use std::net::SocketAddr;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;
use tokio::sync::oneshot;
use tracing::Instrument;

/// The only serializer version livestate speaks.
pub const VSN: &str = "2.0.0";

/// The sub-protocol phoenix.js offers (with its auth token) and expects echoed.
pub const SUBPROTOCOL: &str = "phoenix";

/// Most frames one flush carries.
const BATCH: usize = 256;

/// Batches written back to back before the writer looks at the close signal again.
const CLOSE_CHECK_EVERY: u32 = 16;

/// How long a socket the server closes is read (and what is read discarded) while waiting
/// for the client's close frame.
pub(crate) const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// The prefix of the sub-protocol phoenix.js 1.8 carries its `authToken` in.
const AUTH_TOKEN_PREFIX: &str = "base64url.bearer.phx.";

pub(crate) async fn handler(
    State(app): State<AppState>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    Peer(peer): Peer,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    if let Some(refused) = refuse_upgrade(&app, &query, app.foreign_origin(&headers)) {
        return refused;
    }
    let params = params::nest(&query);
    let assigns = match &app.connect {
        None => params,
        Some(connect) => {
            let info = ConnectInfo {
                params,
                auth_token: auth_token(&headers),
                headers,
            };
            match connect(info).await {
                Ok(assigns) => assigns,
                Err(refused) => {
                    return refuse(StatusCode::FORBIDDEN, refused.0);
                }
            }
        }
    };
    accept(app, assigns, peer, upgrade, Serves::Channels)
}

/// What a socket's session serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Serves {
    /// Channels (and views, which refuse joins without the page's CSRF token).
    Channels,
    /// Live views only: the `/live` socket, which skips the channels' `connect` callback.
    #[cfg(feature = "view")]
    Views,
}

/// What every upgrade checks: the serializer version, shutdown, the origin (`foreign`: the
/// request's `Origin` when the socket's policy refuses it). `Some`: the refusal.
pub(crate) fn refuse_upgrade(
    app: &AppState,
    query: &[(String, String)],
    foreign: Option<&axum::http::HeaderValue>,
) -> Option<Response> {
    match query
        .iter()
        .find(|(k, _)| k == "vsn")
        .map(|(_, v)| v.as_str())
    {
        Some(VSN) => {}
        Some(other) => {
            return Some(refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "unsupported vsn {other:?}: livestate speaks the Phoenix V2 JSON serializer, connect with ?vsn={VSN}"
                ),
            ));
        }
        None => {
            return Some(refuse(
                StatusCode::BAD_REQUEST,
                format!(
                    "missing vsn: livestate speaks the Phoenix V2 JSON serializer, connect with ?vsn={VSN}"
                ),
            ));
        }
    }
    if app.hub.is_shutting_down() {
        return Some(refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            "server shutting down",
        ));
    }
    if let Some(origin) = foreign {
        let shown = origin.to_str().unwrap_or("(not text)");
        return Some(refuse(
            StatusCode::FORBIDDEN,
            format!("origin {shown} is not allowed"),
        ));
    }
    None
}

/// Upgrade, and run the socket's session with `assigns`.
pub(crate) fn accept(
    app: AppState,
    assigns: Assigns,
    peer: Option<SocketAddr>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
    serves: Serves,
) -> Response {
    let upgrade = match upgrade {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    let config = app.config.clone();
    let sockets = app.sockets.token();
    upgrade
        .protocols([SUBPROTOCOL])
        .read_buffer_size(config.read_buffer_size)
        .write_buffer_size(config.write_buffer_size)
        .max_write_buffer_size(config.max_write_buffer_size.max(config.max_frame_size * 2))
        .max_message_size(config.max_frame_size)
        .max_frame_size(config.max_frame_size)
        .on_upgrade(move |ws| async move {
            run(ws, app, assigns, peer, serves).await;
            drop(sockets);
        })
}

/// The token phoenix.js sends as the sub-protocol `base64url.bearer.phx.<token>` (its
/// encoding is base64 without padding, in either alphabet).
fn auth_token(headers: &HeaderMap) -> Option<String> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    headers
        .get_all(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix(AUTH_TOKEN_PREFIX).map(str::to_owned))
        .and_then(|encoded| {
            let encoded = encoded.trim_end_matches('=');
            STANDARD_NO_PAD
                .decode(encoded)
                .or_else(|_| URL_SAFE_NO_PAD.decode(encoded))
                .ok()
        })
        .and_then(|bytes| String::from_utf8(bytes).ok())
}

async fn run(
    ws: WebSocket,
    app: AppState,
    assigns: Assigns,
    peer: Option<SocketAddr>,
    serves: Serves,
) {
    let (outbox, outbox_rx) = app.hub.outbox();
    let session = match serves {
        Serves::Channels => app.hub.session(outbox, assigns),
        #[cfg(feature = "view")]
        Serves::Views => app.hub.process_session(outbox, assigns),
    };
    // every log line of the socket (its joins, events, refusals) names it
    let span = match peer {
        Some(peer) => tracing::debug_span!("socket", id = session.id(), %peer),
        None => tracing::debug_span!("socket", id = session.id()),
    };
    run_session(ws, app, session, outbox_rx)
        .instrument(span)
        .await;
}

async fn run_session(
    ws: WebSocket,
    app: AppState,
    mut session: Session,
    outbox_rx: OutboxReceiver,
) {
    tracing::debug!("socket open");
    let (sink, mut stream) = ws.split();
    let (close_tx, close_rx) = oneshot::channel();
    let writer = tokio::spawn(write_loop(
        sink,
        outbox_rx,
        close_rx,
        app.config.write_timeout,
    ));
    let ended = read_loop(&mut stream, &mut session, &app).await;
    match &ended {
        Ended::Server { close, .. } => {
            tracing::debug!(code = close.code, reason = %close.reason, "socket closed by the server");
        }
        Ended::Client => tracing::debug!("socket closed by the client"),
    }
    let (close, drain) = match ended {
        Ended::Server { close, readable } => (Some(close), Some(readable)),
        Ended::Client => (None, None),
    };
    let _ = close_tx.send(close);
    session.close().await;
    match drain {
        // the close frame goes out while what the client still sends is read and dropped
        Some(readable) => {
            let (_, ()) = tokio::join!(writer, drain_input(&mut stream, readable));
        }
        None => {
            let _ = writer.await;
        }
    }
}

/// How the read loop ended.
enum Ended {
    /// The client closed (its close frame, which the writer answers) or the connection
    /// broke.
    Client,
    /// The server closes with `close`; `readable`: whether what follows can still be read
    /// as frames (not after a frame over the size limit).
    Server { close: Close, readable: bool },
}

impl Ended {
    fn server(close: Close) -> Ended {
        Ended::Server {
            close,
            readable: true,
        }
    }
}

/// After the server's close: read and discard until the client's close frame, the end of
/// the connection or [`DRAIN_TIMEOUT`]; when the input cannot be read as frames, just wait.
async fn drain_input(stream: &mut SplitStream<WebSocket>, readable: bool) {
    let drain = async {
        if !readable {
            return std::future::pending::<()>().await;
        }
        while let Some(Ok(message)) = stream.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, drain).await;
}

async fn read_loop(
    stream: &mut SplitStream<WebSocket>,
    session: &mut Session,
    app: &AppState,
) -> Ended {
    let shutdown = app.hub.shutdown_token();
    let idle = app.config.idle_timeout;
    loop {
        let next = tokio::select! {
            biased;
            () = shutdown.cancelled() => {
                return Ended::server(Close::new(close::GOING_AWAY, "server shutting down"));
            }
            next = tokio::time::timeout(idle, stream.next()) => next,
        };
        let message = match next {
            Err(_) => {
                return Ended::server(Close::new(
                    close::IDLE_TIMEOUT,
                    format!("no frame for {} s", idle.as_secs()),
                ));
            }
            Ok(None) => return Ended::Client,
            Ok(Some(Err(e))) => return read_error(e),
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Message::Text(text) => {
                if let Err(close) = session.handle_text(text.as_str()).await {
                    return Ended::server(close);
                }
            }
            Message::Binary(_) => {
                return Ended::server(Close::new(
                    close::UNSUPPORTED_DATA,
                    "binary frames are not supported: use the V2 JSON serializer",
                ));
            }
            Message::Ping(_) | Message::Pong(_) => {}
            Message::Close(_) => return Ended::Client,
        }
    }
}

/// A read error: a frame over the limit gets 1009, text that is not UTF-8 1007; anything
/// else is a broken connection.
fn read_error(e: axum::Error) -> Ended {
    let inner = e.into_inner();
    match inner.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(cap)) => Ended::Server {
            close: Close::new(close::MESSAGE_TOO_BIG, cap.to_string()),
            readable: false,
        },
        Some(tungstenite::Error::Utf8(_)) => Ended::server(Close::new(
            close::INVALID_FRAME,
            "text frame is not valid UTF-8",
        )),
        Some(tungstenite::Error::Protocol(p)) => {
            tracing::debug!("websocket protocol error: {p}");
            Ended::Client
        }
        _ => {
            tracing::debug!("websocket read error: {inner}");
            Ended::Client
        }
    }
}

/// End the writer: send the server's close frame, or (the client closed) flush the answer
/// to the client's close frame.
async fn finish(sink: &mut SplitSink<WebSocket, Message>, close: Option<Close>) {
    match close {
        Some(close) => send_close(sink, &close).await,
        None => {
            let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
        }
    }
}

async fn write_loop(
    mut sink: SplitSink<WebSocket, Message>,
    mut outbox: OutboxReceiver,
    mut close_rx: oneshot::Receiver<Option<Close>>,
    write_timeout: Duration,
) {
    let mut batches_since_close_check = 0;
    loop {
        // Frames already queued go out without a `select!` over both sources (measurable at
        // a million deliveries a second); the close signal is still looked at whenever the
        // outbox is empty, and every few batches while it is not.
        let queued = if batches_since_close_check < CLOSE_CHECK_EVERY {
            outbox.try_recv()
        } else {
            None
        };
        let first = match queued {
            Some(frame) => {
                batches_since_close_check += 1;
                frame
            }
            None => {
                batches_since_close_check = 0;
                tokio::select! {
                    biased;
                    close = &mut close_rx => return finish(&mut sink, close.ok().flatten()).await,
                    frame = outbox.recv() => match frame {
                        Some(frame) => frame,
                        // the session ended, which happens only after the close was decided:
                        // it may not have been seen yet
                        None => return finish(&mut sink, close_rx.await.ok().flatten()).await,
                    },
                }
            }
        };
        let done = {
            let mut batch = pin!(async {
                feed(&mut sink, first).await?;
                for _ in 1..BATCH {
                    match outbox.try_recv() {
                        Some(frame) => feed(&mut sink, frame).await?,
                        None => break,
                    }
                }
                sink.flush().await
            });
            // Most batches are written at once (the socket has room): only one that has to
            // wait gets a timer.
            match poll_fn(|cx| Poll::Ready(batch.as_mut().poll(cx))).await {
                Poll::Ready(result) => Ok(result),
                Poll::Pending => tokio::time::timeout(write_timeout, batch).await,
            }
        };
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                // after the client's close frame nothing more can be sent but the answer
                // to it, which closing flushes
                tracing::debug!("websocket write failed: {e}");
                let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
                return;
            }
            Err(_) => {
                tracing::info!("client did not read for {write_timeout:?}: dropping it");
                let close = Close::new(close::SLOW_CONSUMER, "too slow to read");
                let _ =
                    tokio::time::timeout(Duration::from_millis(100), send_close(&mut sink, &close))
                        .await;
                return;
            }
        }
    }
}

async fn feed(sink: &mut SplitSink<WebSocket, Message>, frame: Text) -> Result<(), axum::Error> {
    match Utf8Bytes::try_from(frame.into_bytes()) {
        Ok(text) => sink.feed(Message::Text(text)).await,
        // `Text` is built from strings only; this cannot happen, and a frame we cannot send
        // is skipped rather than sent corrupt.
        Err(e) => {
            tracing::error!("dropping a frame that is not UTF-8: {e}");
            Ok(())
        }
    }
}

async fn send_close(sink: &mut SplitSink<WebSocket, Message>, close: &Close) {
    let frame = CloseFrame {
        code: close.code,
        reason: close.reason.clone().into(),
    };
    let _ = tokio::time::timeout(
        Duration::from_secs(1),
        sink.send(Message::Close(Some(frame))),
    )
    .await;
}
