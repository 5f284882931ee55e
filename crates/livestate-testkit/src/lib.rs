//! Test tools for livestate: a Rust Phoenix V2 / LiveState client, servers to test
//! against (in-process on port 0, or a spawned binary), and channels whose behaviour the
//! tests need.
//!
//! Modules:
//! - [`client`]: [`Client`], a raw V2 client with LiveState helpers, and [`LiveView`],
//!   which keeps a topic's state the way phx-live-state does.
//! - [`http`]: a small HTTP/1.1 client.
//! - [`redis`]: [`redis::RedisServer`], a `redis-server` of the test's own.
//! - [`suite`]: the behavioural suite every cluster backplane passes.
//! - [`server`]: [`TestServer`] (in-process) and [`ServerProcess`] (a spawned binary).
//! - [`channels`]: test channels (failing init, panicking handler, connection scope, ...)
//!   and [`channels::test_hub`], the hub the test server binary serves.
//! - [`views`]: live views for the browser and protocol tests, served by
//!   `livestate-view-testapp`.

pub mod channels;
pub mod client;
pub mod http;
pub mod redis;
pub mod server;
pub mod suite;
pub mod view_oracle;
pub mod views;

pub use client::{Client, Frame, LiveView};
pub use server::{ServerProcess, TestServer};
