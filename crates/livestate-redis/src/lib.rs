//! livestate's Redis backplane: several livestate nodes share every key through one Redis.
//!
//! ```
//! use livestate_core::{DocChannel, Hub};
//! use livestate_redis::{RedisBackplane, RedisOptions};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> anyhow::Result<()> {
//! # let redis = livestate_testkit::redis::RedisServer::start().await?;
//! # let url = redis.url();
//! // two nodes (two processes, usually) on one Redis at `url` (`redis://127.0.0.1:6379`)
//! let node = |id: &str| {
//!     let mut options = RedisOptions::new(url.clone());
//!     options.node = id.to_owned();
//!     RedisBackplane::connect(options)
//! };
//! let a = Hub::builder().channel("doc:*", DocChannel::default()).backplane(node("a").await?).build();
//! let b = Hub::builder().channel("doc:*", DocChannel::default()).backplane(node("b").await?).build();
//!
//! // one state for every node: a change made on `a` reaches `b`'s subscribers
//! let mut on_b = b.api().subscribe("doc:shared").await?;
//! let on_a = a.api().subscribe("doc:shared").await?;
//! on_a.put("/n", json!(1)).await?;
//! let change = on_b.next().await.expect("a change");
//! assert_eq!((change.path.as_str(), change.value), ("/n", Some(json!(1))));
//! # Ok(()) }
//! ```
//!
//! Redis is the distributed engine; livestate adds no consensus of its own. For each key:
//!
//! | Redis key (`P` is the prefix, `T` the topic) | what |
//! |---|---|
//! | `P:{T}:lease` | the lease, `node|epoch`, expiring unless renewed (`SET PX`) |
//! | `P:{T}:epoch` | the epoch counter (fencing tokens only ever grow) |
//! | `P:{T}:state` | a snapshot (`json` at `version`), the last committed version (`head`) and its `epoch`, the log's size |
//! | `P:{T}:log` | the change log: `"VERSION PATCH"` for every version after the snapshot |
//! | `P:{T}:ev:ID` | a committed event id, for at-most-once (kept a minute, and at least four forward timeouts) |
//! | `P:{T}:att` | nodes with subscribers, with the time their attachment lapses |
//! | `P:{T}:pres` | presence entries, `node|phx_ref` → entry |
//! | channel `P:{T}:chg` | committed changes and presence diffs, in order |
//! | channel `P:{T}:req` | requests forwarded to the key's authority |
//! | channel `P:bcast` | messages for the connection-scoped channels of a topic, on every node |
//!
//! and per node `P:node:N` (alive while renewed), `P:node:N:ans` (its answers channel),
//! `P:node:N:pkeys` (topics where it has presence), and `P:nodes` (last heartbeats).
//!
//! Every commit is one Lua script that checks the lease value (node and epoch), the event
//! id and the version, appends the patch to the log (or, now and then, stores the whole
//! state and starts a new log), and publishes the change: so a change is in Redis before
//! anyone sees it, and a node that lost its lease can never overwrite. A commit costs what
//! its patch weighs; the whole state is stored again once the log outweighs it (or holds
//! [`MAX_LOG_ENTRIES`]), so loading costs at most about twice the state. The topic is a
//! hash tag of every per-key entry. Use one Redis server (with replicas if you like), not a
//! Redis Cluster, and give it persistence (`appendonly yes`, `appendfsync always` for no
//! loss at all) if a Redis restart must keep the state.
//!
//! Modules: `options`, `node` (the connection, key names, heartbeat), one per part of the
//! backplane (`lease`, `log`, `bus`, `forward`, `presence`), `dispatch` (the pub/sub
//! connection), `wire` (messages on a key's change channel), `scripts` (the Lua).

mod bus;
mod dispatch;
mod forward;
mod lease;
mod log;
mod node;
mod options;
mod presence;
mod scripts;
mod wire;

pub use node::{MAX_LOG_ENTRIES, RedisBackplane};
pub use options::{ConnectError, RedisOptions};
