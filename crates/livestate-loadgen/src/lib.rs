//! livestate-loadgen: drives a WebSocket server with many sockets and reports what it
//! measured as one JSON line, the same way for livestate and for its peers.
//!
//! Three scenarios ([`Scenario`]) for every target:
//! - `connect`: open N sockets, joined to one topic or each to its own; join time
//!   (connect + join reply) p50/p99 and the server's resident memory per socket.
//! - `events`: N sockets, each on its own topic with one request in flight; requests per
//!   second and round trip p50/p99/max.
//! - `fanout`: N receivers and S senders on one topic, the senders together sending R
//!   messages per second; deliveries per second, loss and end-to-end latency p50/p99/max.
//!
//! And three for livestate's live views, against the `livestate-view-bench-server` binary
//! ([`viewbench`]), with a LiveView client that joins `lv:` topics as the stock
//! `phoenix_live_view` client does and applies nothing (`live`):
//! - `view-bytes`: the bytes on the wire of a one-row update of a 100-row keyed list (the
//!   reply's frame, its payload, the diff) against the whole page's HTML.
//! - `view-connect`: N thermostat views, each its own page and socket, joined and idle; the
//!   server's resident memory per view, with its socket buffer sizes.
//! - `view-events`: N views and N channel sockets with the same counter, side by side at
//!   the same rate; round trip p50/p99 of a click (its reply with the diff) against a
//!   channel event (`lvs_evt:inc` to its `state:patch`).
//!
//! And three for shared keys (issue 18), against the same server's `/board` view attached
//! to `doc:board` (`shared`): `shared-views` (N board views and a writer at a fixed rate:
//! deliveries per second, write to the last view's diff p50/p99, server CPU),
//! `shared-sockets` (the same with phx-live-state sockets joined to the key: the CPU
//! baseline) and `busy-key` (a busy key to sockets and views: messages per second per
//! subscriber and staleness, with and without the server's coalescing).
//!
//! Three targets ([`Target`]), each a thin adapter in `target`: livestate (Phoenix V2 +
//! LiveState events), Socket.IO 4 (Engine.IO v4 over a raw WebSocket) and the bare
//! broadcaster of [`bare`], the machine's ceiling.
//!
//! Nothing the server does makes a run hang or panic: connection failures, join errors,
//! timeouts, disconnects and lost messages are counts in the result, and every run ends
//! within its [`Config::bound`].
//!
//! ```no_run
//! use livestate_loadgen::{Config, Scenario, Target};
//! # async fn demo() {
//! let mut cfg = Config::new(Scenario::Fanout, Target::Livestate, "ws://127.0.0.1:4000");
//! cfg.clients = 100;
//! let report = livestate_loadgen::run(&cfg).await;
//! println!("{}", report.to_line());
//! # }
//! ```
//!
//! Modules:
//! - [`config`]: [`Config`] and [`Scenario`].
//! - [`report`]: [`Report`], the result line.
//! - [`hist`]: [`Histogram`], HDR-style percentiles.
//! - [`bare`]: the bare axum broadcaster (the `livestate-bare` binary).
//! - [`viewbench`]: the live-view benchmark's server (the `livestate-view-bench-server`
//!   binary): a thermostat view, a 100-row list view and the counter as a channel.
//! - `target`: the protocol adapters; `scenario`: the scenarios; `wire`: lean frame
//!   reading; `clock`: the shared monotonic clock; `probe`: `/proc` readings; `live`: the
//!   LiveView client.

pub mod bare;
mod clock;
pub mod config;
pub mod hist;
mod live;
mod probe;
pub mod report;
mod scenario;
mod target;
pub mod viewbench;
mod wire;

pub use config::{Config, Scenario, Writer};
pub use hist::Histogram;
pub use report::Report;
pub use target::Target;

/// Run a scenario and return its result. Never panics on what the server does; always
/// returns within [`Config::bound`] plus a few seconds.
pub async fn run(cfg: &Config) -> Report {
    scenario::run(cfg).await
}
