//! `GET /api/state/{topic}/events`: a key's changes as Server-Sent Events, bounded like a
//! WebSocket's outbox.
//!
//! The stream is `snapshot` (`{"state": ..., "version": N}`), then one `change` per
//! change, and a comment every 15 s. A task takes the key's changes as they come and queues
//! them, encoded, in an [`Outbox`] of the socket's bounds (frames and bytes), which the
//! response body drains. A client that reads slower than the key changes fills it: the
//! stream then lags, skips changes, and once the client has read half of what was queued
//! gets a fresh `snapshot`; a client that reads nothing for the write timeout while the
//! stream lags is dropped. What one stalled client holds is the outbox's byte bound.

use crate::app::AppState;
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use livestate_core::api::{Current, Subscription};
use livestate_core::outbox::{Outbox, OutboxReceiver, Pushed};
use livestate_protocol::Text;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior};

/// How often a comment keeps an idle stream open through proxies.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The event stream of an attached subscription.
pub(crate) fn respond(app: &AppState, sub: Subscription) -> Response {
    let limits = app.hub.limits();
    let (outbox, rx) = app.hub.outbox();
    outbox.try_push(snapshot(sub.current()));
    let dropped = Arc::new(AtomicBool::new(false));
    let pump = Pump {
        sub,
        outbox,
        dropped: dropped.clone(),
        write_timeout: app.config.write_timeout,
        resync_interval: limits.resync_interval,
    };
    tokio::spawn(pump.run());
    let body = stream::unfold(Some((rx, dropped)), next_chunk);
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// The next chunk of the body: queued events, then the end (or, for a client dropped for
/// not reading, an error, so the connection is aborted rather than ended cleanly).
async fn next_chunk(
    state: Option<(OutboxReceiver, Arc<AtomicBool>)>,
) -> Option<(
    Result<Bytes, std::io::Error>,
    Option<(OutboxReceiver, Arc<AtomicBool>)>,
)> {
    let (mut rx, dropped) = state?;
    match rx.recv().await {
        Some(text) => Some((Ok(text.into_bytes()), Some((rx, dropped)))),
        None if dropped.load(Ordering::Relaxed) => {
            Some((Err(std::io::Error::other("the client did not read")), None))
        }
        None => None,
    }
}

fn event(name: &str, data: &str) -> Text {
    // compact JSON has no line breaks, so the data is one `data:` line
    Text::from(format!("event: {name}\ndata: {data}\n\n"))
}

fn snapshot(current: &Current) -> Text {
    let data = serde_json::to_string(current).unwrap_or_default();
    event("snapshot", &data)
}

struct Pump {
    sub: Subscription,
    outbox: Outbox,
    dropped: Arc<AtomicBool>,
    write_timeout: Duration,
    resync_interval: Duration,
}

impl Pump {
    async fn run(mut self) {
        let mut lagging_since: Option<Instant> = None;
        let mut resync = tokio::time::interval(self.resync_interval);
        resync.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut keep_alive = tokio::time::interval_at(Instant::now() + KEEP_ALIVE, KEEP_ALIVE);
        loop {
            tokio::select! {
                // the client went away: detach from the key
                () = self.outbox.closed() => return,
                change = self.sub.next() => {
                    let Some(change) = change else { return };
                    if lagging_since.is_some() {
                        continue;
                    }
                    let data = serde_json::to_string(&change).unwrap_or_default();
                    match self.outbox.try_push(event("change", &data)) {
                        Pushed::Queued => {}
                        Pushed::Full => lagging_since = Some(Instant::now()),
                        Pushed::Closed => return,
                    }
                }
                _ = resync.tick(), if lagging_since.is_some() => {
                    if self.outbox.has_drained() {
                        let Ok(current) = self.sub.get().await else { return };
                        if self.outbox.try_push(snapshot(&current)) == Pushed::Queued {
                            lagging_since = None;
                        }
                    } else if lagging_since.is_some_and(|t| t.elapsed() >= self.write_timeout) {
                        tracing::info!("an event stream did not read for {:?}: dropping it", self.write_timeout);
                        self.dropped.store(true, Ordering::Relaxed);
                        return;
                    }
                }
                _ = keep_alive.tick() => {
                    self.outbox.try_push(Text::from_static(": keep-alive\n\n"));
                }
            }
        }
    }
}
