//! livestate's Redis backplane: several livestate nodes share every key through one Redis.
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

mod dispatch;
mod scripts;

use futures_util::future::BoxFuture;
use livestate_core::backplane::{
    Acquired, Answer, Backplane, BackplaneError, Broadcast, Change, Commit, Committed, Lease,
    PresenceEntry, Published, Request, Snapshot,
};
use livestate_protocol::PatchOp;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// What travels on a key's change channel.
#[derive(Debug, Serialize, Deserialize)]
enum WireMsg {
    Change(Change),
    Presence {
        joins: Vec<PresenceEntry>,
        leaves: Vec<PresenceEntry>,
    },
}

/// How to reach Redis and how this node behaves.
#[derive(Debug, Clone)]
pub struct RedisOptions {
    /// `redis://host:6379` (or with a database, `redis://host:6379/2`).
    pub url: String,
    /// The prefix of every Redis key and channel (default `livestate`).
    pub prefix: String,
    /// This node's id, unique in the cluster (default: derived from the process).
    pub node: String,
    /// How long a lease lives without renewal (default 3 s): how long a dead authority's
    /// keys wait before another node takes them over.
    pub lease_time: Duration,
    /// How long a forwarded request waits for its outcome (default 5 s).
    pub forward_timeout: Duration,
    /// How long one Redis command may take before it counts as unavailable (default 2 s).
    pub command_timeout: Duration,
}

impl RedisOptions {
    /// Options for `url` with the defaults.
    pub fn new(url: impl Into<String>) -> RedisOptions {
        RedisOptions {
            url: url.into(),
            prefix: "livestate".to_owned(),
            node: default_node(),
            lease_time: Duration::from_secs(3),
            forward_timeout: livestate_core::backplane::DEFAULT_FORWARD_TIMEOUT,
            command_timeout: Duration::from_secs(2),
        }
    }
}

fn default_node() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("node-{}-{:x}", std::process::id(), nanos)
}

/// Why the backplane could not start.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The URL does not parse.
    #[error("invalid Redis URL {url}: {message}")]
    BadUrl {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// Redis does not answer at that URL.
    #[error("cannot reach Redis at {url}: {message}")]
    Unreachable {
        /// The URL.
        url: String,
        /// Why.
        message: String,
    },
    /// Another running node uses this node id (its heartbeat went on for twice the lease
    /// time while this one waited).
    #[error(
        "node id {node} is in use by another running node on Redis at {url}; give each node its own --node-id"
    )]
    NodeInUse {
        /// The node id.
        node: String,
        /// The URL.
        url: String,
    },
}

/// The Redis backplane of one node.
pub struct RedisBackplane {
    opts: RedisOptions,
    conn: ConnectionManager,
    subscribe: mpsc::UnboundedSender<dispatch::Subscribe>,
    answers: Mutex<Option<mpsc::Receiver<Answer>>>,
    broadcasts: Mutex<Option<mpsc::Receiver<Broadcast>>>,
    scripts: Scripts,
    /// This process, in the node's heartbeat (another process with the same node id is
    /// refused at start-up).
    instance: String,
    /// Keys this node leads whose next commit may store just its patch (a key is not here
    /// when its log has grown past its snapshot, or this node has not committed to it yet
    /// under its lease).
    logging: Mutex<HashSet<String>>,
}

/// The most entries a key's change log holds before the whole state is stored again.
pub const MAX_LOG_ENTRIES: u64 = 10_000;

/// The least log bytes before the whole state is stored again (small states are not
/// rewritten on every change).
const MIN_LOG_BYTES: u64 = 64 * 1024;

struct Scripts {
    acquire: Script,
    renew: Script,
    release: Script,
    commit: Script,
    forward: Script,
    attach: Script,
    elsewhere: Script,
    track: Script,
    cleanup: Script,
}

impl Scripts {
    fn new() -> Scripts {
        Scripts {
            acquire: Script::new(scripts::ACQUIRE),
            renew: Script::new(scripts::RENEW),
            release: Script::new(scripts::RELEASE),
            commit: Script::new(scripts::COMMIT),
            forward: Script::new(scripts::FORWARD),
            attach: Script::new(scripts::ATTACH),
            elsewhere: Script::new(scripts::ELSEWHERE),
            track: Script::new(scripts::TRACK),
            cleanup: Script::new(scripts::CLEANUP),
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> BackplaneError {
    BackplaneError::Unavailable(e.to_string())
}

impl RedisBackplane {
    /// Connect to Redis (failing at once, naming the URL, when it cannot be reached), start
    /// this node's pub/sub dispatcher and heartbeat.
    pub async fn connect(opts: RedisOptions) -> Result<Arc<RedisBackplane>, ConnectError> {
        let url = opts.url.clone();
        let client = redis::Client::open(url.as_str()).map_err(|e| ConnectError::BadUrl {
            url: url.clone(),
            message: e.to_string(),
        })?;
        let unreachable = |message: String| ConnectError::Unreachable {
            url: url.clone(),
            message,
        };
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(opts.command_timeout))
            .set_response_timeout(Some(opts.command_timeout))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let mut conn = tokio::time::timeout(
            opts.command_timeout * 2,
            client.get_connection_manager_with_config(config),
        )
        .await
        .map_err(|_| unreachable("no answer".to_owned()))?
        .map_err(|e| unreachable(e.to_string()))?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        // Claim the node id: a node that restarts after a crash waits for its old
        // heartbeat to run out; a second running node with the same id is refused.
        let instance = default_node();
        let alive = format!("{}:node:{}", opts.prefix, opts.node);
        let lease_ms = u64::try_from(opts.lease_time.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let claim_until = tokio::time::Instant::now() + opts.lease_time * 2;
        loop {
            let claimed: Option<String> = redis::cmd("SET")
                .arg(&alive)
                .arg(&instance)
                .arg("NX")
                .arg("PX")
                .arg(lease_ms)
                .query_async(&mut conn)
                .await
                .map_err(|e| unreachable(e.to_string()))?;
            if claimed.is_some() {
                break;
            }
            if tokio::time::Instant::now() >= claim_until {
                return Err(ConnectError::NodeInUse {
                    node: opts.node.clone(),
                    url: url.clone(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (subscribe, requests) = mpsc::unbounded_channel();
        tokio::spawn(dispatch::run(client, requests));
        let backplane = Arc::new(RedisBackplane {
            opts,
            conn,
            subscribe,
            answers: Mutex::new(None),
            broadcasts: Mutex::new(None),
            scripts: Scripts::new(),
            instance,
            logging: Mutex::new(HashSet::new()),
        });
        let (tx, rx) = mpsc::channel(4096);
        backplane
            .route(
                backplane.answers_channel(&backplane.opts.node),
                dispatch::Route::Answers(tx),
            )
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        *backplane.answers.lock().unwrap_or_else(|e| e.into_inner()) = Some(rx);
        let (tx, rx) = mpsc::channel(4096);
        backplane
            .route(
                backplane.broadcast_channel(),
                dispatch::Route::Broadcasts(backplane.opts.node.clone(), tx),
            )
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        *backplane
            .broadcasts
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some(rx);
        tokio::spawn(heartbeat(Arc::downgrade(&backplane)));
        Ok(backplane)
    }

    /// The options it runs with.
    pub fn options(&self) -> &RedisOptions {
        &self.opts
    }

    fn key(&self, topic: &str, part: &str) -> String {
        format!("{}:{{{}}}:{}", self.opts.prefix, topic, part)
    }

    fn node_key(&self, node: &str, part: &str) -> String {
        if part.is_empty() {
            format!("{}:node:{}", self.opts.prefix, node)
        } else {
            format!("{}:node:{}:{}", self.opts.prefix, node, part)
        }
    }

    fn answers_channel(&self, node: &str) -> String {
        self.node_key(node, "ans")
    }

    fn broadcast_channel(&self) -> String {
        format!("{}:bcast", self.opts.prefix)
    }

    fn lease_value(lease: &Lease) -> String {
        format!("{}|{}", lease.node, lease.epoch)
    }

    fn lease_ms(&self) -> u64 {
        u64::try_from(self.opts.lease_time.as_millis()).unwrap_or(u64::MAX)
    }

    /// Run one Redis call with the command timeout; any failure is "unavailable".
    async fn run<T>(
        &self,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, BackplaneError> {
        match tokio::time::timeout(self.opts.command_timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(unavailable(e)),
            Err(_) => Err(unavailable(format!(
                "Redis did not answer within {:?}",
                self.opts.command_timeout
            ))),
        }
    }

    /// Register a route with the dispatcher and wait until Redis confirmed it.
    async fn route(&self, channel: String, route: dispatch::Route) -> Result<(), BackplaneError> {
        let (done, confirmed) = oneshot::channel();
        self.subscribe
            .send(dispatch::Subscribe {
                channel,
                route,
                done,
            })
            .map_err(|_| unavailable("the pub/sub dispatcher stopped"))?;
        match tokio::time::timeout(self.opts.command_timeout, confirmed).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(unavailable("Redis did not confirm a subscription")),
        }
    }

    fn corrupt(topic: &str, message: impl Into<String>) -> BackplaneError {
        BackplaneError::Corrupt {
            key: topic.to_owned(),
            message: message.into(),
        }
    }

    /// The state at the last committed version, from the stored snapshot (`json` at
    /// `version`, `epoch`, `head`) and the change log after it, reporting what is malformed.
    fn snapshot(
        topic: &str,
        fields: StoredFields,
        log: Vec<String>,
    ) -> Result<Option<Snapshot>, BackplaneError> {
        let (Some(json), Some(version)) = (fields.json, fields.version) else {
            return Ok(None);
        };
        let state: Value = serde_json::from_str(&json)
            .map_err(|e| Self::corrupt(topic, format!("the stored state is not JSON: {e}")))?;
        let number = |what: &str, v: &str| {
            v.parse::<u64>().map_err(|_| {
                Self::corrupt(topic, format!("the stored {what} {v:?} is not a number"))
            })
        };
        let mut at = number("version", &version)?;
        let head = match fields.head {
            Some(h) => number("head", &h)?,
            None => at,
        };
        let epoch = fields.epoch.and_then(|e| e.parse().ok()).unwrap_or(0);
        // the log holds changes an authority made within its limits; replaying it needs no
        // more than the depth ceiling, which keeps the walk bounded whatever Redis holds
        let mut doc = livestate_core::Doc::with_limits(state, livestate_core::StateLimits::TRUSTED);
        for entry in &log {
            let parsed = entry.split_once(' ').and_then(|(v, patch)| {
                let v = v.parse::<u64>().ok()?;
                let ops = serde_json::from_str::<Vec<PatchOp>>(patch).ok()?;
                Some((v, ops))
            });
            let Some((v, ops)) = parsed else {
                return Err(Self::corrupt(topic, "a logged change is malformed"));
            };
            if v != at + 1 {
                return Err(Self::corrupt(
                    topic,
                    format!("the change log skips from version {at} to {v}"),
                ));
            }
            doc.replay(&ops).map_err(|e| {
                Self::corrupt(topic, format!("the logged change {v} does not apply: {e}"))
            })?;
            doc.settle();
            at = v;
        }
        if at != head {
            return Err(Self::corrupt(
                topic,
                format!("the change log ends at version {at}, the key is at {head}"),
            ));
        }
        Ok(Some(Snapshot {
            state: doc.into_value(),
            version: at,
            epoch,
        }))
    }

    fn set_logging(&self, topic: &str, on: bool) {
        let mut logging = self.logging.lock().unwrap_or_else(|e| e.into_inner());
        if on {
            if !logging.contains(topic) {
                logging.insert(topic.to_owned());
            }
        } else {
            logging.remove(topic);
        }
    }

    fn is_logging(&self, topic: &str) -> bool {
        self.logging
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(topic)
    }

    /// Seconds a committed event id is remembered: longer than any retry of it.
    fn event_marker_secs(&self) -> u64 {
        (self.opts.forward_timeout.as_secs() * 4).max(60)
    }
}

/// The stored snapshot's fields.
struct StoredFields {
    json: Option<String>,
    version: Option<String>,
    epoch: Option<String>,
    head: Option<String>,
}

fn boxed<'a, T>(f: impl Future<Output = T> + Send + 'a) -> BoxFuture<'a, T> {
    Box::pin(f)
}

impl Backplane for RedisBackplane {
    fn cluster(&self) -> bool {
        true
    }

    fn node(&self) -> &str {
        &self.opts.node
    }

    fn lease_time(&self) -> Duration {
        self.opts.lease_time
    }

    fn forward_timeout(&self) -> Duration {
        self.opts.forward_timeout
    }

    fn acquire<'a>(&'a self, topic: &'a str) -> BoxFuture<'a, Result<Acquired, BackplaneError>> {
        boxed(async move {
            let mut conn = self.conn.clone();
            let mut call = self.scripts.acquire.prepare_invoke();
            call.key(self.key(topic, "lease"))
                .key(self.key(topic, "epoch"))
                .arg(&self.opts.node)
                .arg(self.lease_ms());
            let reply: Vec<Option<String>> = self.run(call.invoke_async(&mut conn)).await?;
            match reply.first().and_then(Option::as_deref) {
                Some("ok") => {
                    let epoch = reply
                        .get(1)
                        .cloned()
                        .flatten()
                        .and_then(|e| e.parse().ok())
                        .ok_or_else(|| Self::corrupt(topic, "the epoch counter is not a number"))?;
                    // the first commit under this lease stores the whole state
                    self.set_logging(topic, false);
                    // only the lease holder commits: what is loaded now stays current
                    let snapshot = match self.load(topic).await {
                        Ok(s) => s,
                        Err(e @ BackplaneError::Corrupt { .. }) => {
                            // never applied blindly; the new authority starts from init
                            tracing::error!("{e}; starting {topic} from its init");
                            None
                        }
                        Err(e) => return Err(e),
                    };
                    Ok(Acquired {
                        lease: Lease {
                            key: topic.to_owned(),
                            epoch,
                            node: self.opts.node.clone(),
                        },
                        snapshot,
                    })
                }
                Some("held") => Err(BackplaneError::Held {
                    key: topic.to_owned(),
                    holder: reply.get(1).cloned().flatten().unwrap_or_default(),
                }),
                _ => Err(Self::corrupt(
                    topic,
                    format!("unexpected answer to acquire: {reply:?}"),
                )),
            }
        })
    }

    fn renew<'a>(&'a self, lease: &'a Lease) -> BoxFuture<'a, Result<(), BackplaneError>> {
        boxed(async move {
            let mut conn = self.conn.clone();
            let mut call = self.scripts.renew.prepare_invoke();
            call.key(self.key(&lease.key, "lease"))
                .arg(Self::lease_value(lease))
                .arg(self.lease_ms());
            let renewed: i64 = self.run(call.invoke_async(&mut conn)).await?;
            if renewed == 1 {
                Ok(())
            } else {
                Err(BackplaneError::Fenced {
                    key: lease.key.clone(),
                    epoch: lease.epoch,
                })
            }
        })
    }

    fn release<'a>(
        &'a self,
        lease: &'a Lease,
        drop_state: bool,
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        boxed(async move {
            let mut conn = self.conn.clone();
            let mut call = self.scripts.release.prepare_invoke();
            self.set_logging(&lease.key, false);
            call.key(self.key(&lease.key, "lease"))
                .key(self.key(&lease.key, "state"))
                .key(self.key(&lease.key, "log"))
                .arg(Self::lease_value(lease))
                .arg(if drop_state { "1" } else { "0" });
            let _: i64 = self.run(call.invoke_async(&mut conn)).await?;
            Ok(())
        })
    }

    fn load<'a>(
        &'a self,
        topic: &'a str,
    ) -> BoxFuture<'a, Result<Option<Snapshot>, BackplaneError>> {
        boxed(async move {
            let mut conn = self.conn.clone();
            let key = self.key(topic, "state");
            #[allow(clippy::type_complexity)]
            let ((json, version, epoch, head), log): (
                (
                    Option<String>,
                    Option<String>,
                    Option<String>,
                    Option<String>,
                ),
                Vec<String>,
            ) = self
                .run(
                    redis::pipe()
                        .atomic()
                        .cmd("HMGET")
                        .arg(&key)
                        .arg("json")
                        .arg("version")
                        .arg("epoch")
                        .arg("head")
                        .cmd("LRANGE")
                        .arg(self.key(topic, "log"))
                        .arg(0)
                        .arg(-1)
                        .query_async(&mut conn),
                )
                .await?;
            let fields = StoredFields {
                json,
                version,
                epoch,
                head,
            };
            Self::snapshot(topic, fields, log)
        })
    }

    fn commit<'a>(
        &'a self,
        lease: &'a Lease,
        commit: Commit<'a>,
    ) -> BoxFuture<'a, Result<Committed, BackplaneError>> {
        boxed(async move {
            let key = &lease.key;
            // per change: the published message, whether it names an event, the log entry
            let mut per_change = Vec::with_capacity(commit.changes.len());
            for (i, staged) in commit.changes.iter().enumerate() {
                let version = commit.version + i as u64;
                let change = WireMsg::Change(Change {
                    epoch: lease.epoch,
                    version,
                    patch: staged.patch.to_vec(),
                    reset: staged.reset,
                    origin: staged.origin.cloned(),
                });
                let message = serde_json::to_string(&change).map_err(unavailable)?;
                let patch = serde_json::to_string(staged.patch).map_err(unavailable)?;
                let marker = match staged.event {
                    Some(e) => self.key(key, &format!("ev:{}", e.0)),
                    None => self.key(key, "ev:-"),
                };
                per_change.push((
                    message,
                    staged.event.is_some(),
                    format!("{version} {patch}"),
                    marker,
                ));
            }
            let reset = commit.changes.iter().any(|c| c.reset);
            let mut whole = commit.whole || reset || !self.is_logging(key);
            loop {
                // the whole state is serialized only when it is stored
                let state = if whole {
                    serde_json::to_string(commit.state).map_err(unavailable)?
                } else {
                    String::new()
                };
                let mut conn = self.conn.clone();
                let mut call = self.scripts.commit.prepare_invoke();
                call.key(self.key(key, "lease"))
                    .key(self.key(key, "state"))
                    .key(self.key(key, "log"));
                for (_, _, _, marker) in &per_change {
                    call.key(marker);
                }
                call.arg(Self::lease_value(lease))
                    .arg(commit.version)
                    .arg(lease.epoch)
                    .arg(self.key(key, "chg"))
                    .arg(if whole { "1" } else { "0" })
                    .arg(state)
                    .arg(self.event_marker_secs())
                    .arg(per_change.len());
                for (message, has_event, entry, _) in &per_change {
                    call.arg(message)
                        .arg(if *has_event { "1" } else { "0" })
                        .arg(entry);
                }
                let reply: Vec<Option<String>> = self.run(call.invoke_async(&mut conn)).await?;
                let field = |i: usize| reply.get(i).cloned().flatten().unwrap_or_default();
                let number = |i: usize| field(i).parse::<u64>().unwrap_or(0);
                return match reply.first().and_then(Option::as_deref) {
                    Some("ok") => {
                        let (log_bytes, log_entries, snapshot_bytes) =
                            (number(1), number(2), number(3));
                        let due = log_bytes > snapshot_bytes.max(MIN_LOG_BYTES)
                            || log_entries >= MAX_LOG_ENTRIES;
                        self.set_logging(key, !due);
                        Ok(Committed::Done)
                    }
                    Some("whole") if !whole => {
                        whole = true;
                        continue;
                    }
                    Some("fenced") => {
                        self.set_logging(key, false);
                        Err(BackplaneError::Fenced {
                            key: key.clone(),
                            epoch: lease.epoch,
                        })
                    }
                    Some("dup") => Ok(Committed::Duplicate {
                        index: number(1) as usize,
                        version: field(2).parse().unwrap_or(commit.version),
                    }),
                    Some("order") => Err(BackplaneError::OutOfOrder {
                        key: key.clone(),
                        version: commit.version,
                        stored: number(1),
                    }),
                    Some("corrupt") => Err(Self::corrupt(
                        key,
                        format!("the stored version {:?} is not a number", field(1)),
                    )),
                    _ => Err(Self::corrupt(
                        key,
                        format!("unexpected answer to commit: {reply:?}"),
                    )),
                };
            }
        })
    }

    fn subscribe<'a>(
        &'a self,
        topic: &'a str,
    ) -> BoxFuture<'a, Result<mpsc::Receiver<Published>, BackplaneError>> {
        boxed(async move {
            let (tx, rx) = mpsc::channel(4096);
            self.route(self.key(topic, "chg"), dispatch::Route::Changes(tx))
                .await?;
            Ok(rx)
        })
    }

    fn forward<'a>(
        &'a self,
        topic: &'a str,
        requests: Vec<Request>,
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        boxed(async move {
            // one message: an array of requests
            let message = serde_json::to_string(&requests).map_err(unavailable)?;
            let mut conn = self.conn.clone();
            let mut call = self.scripts.forward.prepare_invoke();
            call.key(self.key(topic, "lease"))
                .arg(self.key(topic, "req"))
                .arg(message);
            let receivers: i64 = self.run(call.invoke_async(&mut conn)).await?;
            if receivers > 0 {
                Ok(())
            } else {
                Err(BackplaneError::NoAuthority(topic.to_owned()))
            }
        })
    }

    fn serve<'a>(
        &'a self,
        lease: &'a Lease,
    ) -> BoxFuture<'a, Result<mpsc::Receiver<Request>, BackplaneError>> {
        boxed(async move {
            let (tx, rx) = mpsc::channel(4096);
            self.route(self.key(&lease.key, "req"), dispatch::Route::Requests(tx))
                .await?;
            Ok(rx)
        })
    }

    fn answer<'a>(
        &'a self,
        node: &'a str,
        answer: Answer,
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        boxed(async move {
            let message = serde_json::to_string(&answer).map_err(unavailable)?;
            let mut conn = self.conn.clone();
            let channel = self.answers_channel(node);
            let _: i64 = self.run(conn.publish(channel, message)).await?;
            Ok(())
        })
    }

    fn take_answers(&self) -> Option<mpsc::Receiver<Answer>> {
        self.answers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    fn broadcast<'a>(&'a self, message: Broadcast) -> BoxFuture<'a, Result<(), BackplaneError>> {
        boxed(async move {
            let message = serde_json::to_string(&message).map_err(unavailable)?;
            let mut conn = self.conn.clone();
            let _: i64 = self
                .run(conn.publish(self.broadcast_channel(), message))
                .await?;
            Ok(())
        })
    }

    fn take_broadcasts(&self) -> Option<mpsc::Receiver<Broadcast>> {
        self.broadcasts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    fn attach<'a>(
        &'a self,
        topic: &'a str,
        count: usize,
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        boxed(async move {
            let mut conn = self.conn.clone();
            let mut call = self.scripts.attach.prepare_invoke();
            call.key(self.key(topic, "att"))
                .arg(&self.opts.node)
                .arg(count)
                .arg(self.lease_ms());
            let _: i64 = self.run(call.invoke_async(&mut conn)).await?;
            Ok(())
        })
    }

    fn attached_elsewhere<'a>(
        &'a self,
        topic: &'a str,
    ) -> BoxFuture<'a, Result<usize, BackplaneError>> {
        boxed(async move {
            let mut conn = self.conn.clone();
            let mut call = self.scripts.elsewhere.prepare_invoke();
            call.key(self.key(topic, "att")).arg(&self.opts.node);
            let n: i64 = self.run(call.invoke_async(&mut conn)).await?;
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    fn track<'a>(
        &'a self,
        topic: &'a str,
        joins: Vec<PresenceEntry>,
        leaves: Vec<PresenceEntry>,
    ) -> BoxFuture<'a, Result<(), BackplaneError>> {
        boxed(async move {
            let field = |e: &PresenceEntry| format!("{}|{}", e.node, e.phx_ref);
            let mut args = Vec::new();
            for e in &joins {
                args.push(field(e));
                args.push(serde_json::to_string(e).map_err(unavailable)?);
            }
            let left: Vec<String> = leaves.iter().map(field).collect();
            let count = joins.len();
            let message =
                serde_json::to_string(&WireMsg::Presence { joins, leaves }).map_err(unavailable)?;
            let mut conn = self.conn.clone();
            let mut call = self.scripts.track.prepare_invoke();
            call.key(self.key(topic, "pres"))
                .key(self.node_key(&self.opts.node, "pkeys"))
                .arg(self.key(topic, "chg"))
                .arg(message)
                .arg(topic)
                .arg(count);
            for a in &args {
                call.arg(a);
            }
            for l in &left {
                call.arg(l);
            }
            let _: i64 = self.run(call.invoke_async(&mut conn)).await?;
            Ok(())
        })
    }

    fn presence<'a>(
        &'a self,
        topic: &'a str,
    ) -> BoxFuture<'a, Result<Vec<PresenceEntry>, BackplaneError>> {
        boxed(async move {
            let mut conn = self.conn.clone();
            let raw: Vec<String> = self.run(conn.hvals(self.key(topic, "pres"))).await?;
            let mut entries = Vec::new();
            for text in raw {
                match serde_json::from_str::<PresenceEntry>(&text) {
                    Ok(e) => entries.push(e),
                    Err(e) => {
                        tracing::error!("malformed presence entry for {topic}: {e}; left out")
                    }
                }
            }
            // only nodes that are alive
            let mut nodes: Vec<String> = entries.iter().map(|e| e.node.clone()).collect();
            nodes.sort();
            nodes.dedup();
            let mut alive = Vec::new();
            for node in nodes {
                let exists: bool = self.run(conn.exists(self.node_key(&node, ""))).await?;
                if exists {
                    alive.push(node);
                }
            }
            entries.retain(|e| alive.contains(&e.node));
            Ok(entries)
        })
    }
}

/// Keep this node alive in Redis, and clean up after nodes that died: their presence goes,
/// with a leave for every key it was in.
async fn heartbeat(backplane: std::sync::Weak<RedisBackplane>) {
    loop {
        let Some(bp) = backplane.upgrade() else {
            return;
        };
        let lease = bp.opts.lease_time;
        let mut conn = bp.conn.clone();
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let alive = bp.node_key(&bp.opts.node, "");
        let nodes = format!("{}:nodes", bp.opts.prefix);
        let beat: redis::RedisResult<()> = redis::pipe()
            .cmd("SET")
            .arg(&alive)
            .arg(&bp.instance)
            .arg("PX")
            .arg(bp.lease_ms())
            .ignore()
            .cmd("ZADD")
            .arg(&nodes)
            .arg(now_ms)
            .arg(&bp.opts.node)
            .ignore()
            .query_async(&mut conn)
            .await;
        if let Err(e) = beat {
            tracing::warn!("Redis heartbeat failed: {e}");
        } else {
            let stale =
                now_ms.saturating_sub(2 * u64::try_from(lease.as_millis()).unwrap_or(u64::MAX));
            let dead: redis::RedisResult<Vec<String>> =
                conn.zrangebyscore(&nodes, "-inf", stale).await;
            for node in dead.unwrap_or_default() {
                let lock = bp.node_key(&node, "cleanup");
                let mine: redis::RedisResult<bool> = redis::cmd("SET")
                    .arg(&lock)
                    .arg(&bp.opts.node)
                    .arg("NX")
                    .arg("PX")
                    .arg(10_000)
                    .query_async::<Option<String>>(&mut conn)
                    .await
                    .map(|r| r.is_some());
                if mine.unwrap_or(false) {
                    let mut call = bp.scripts.cleanup.prepare_invoke();
                    call.key(bp.node_key(&node, "pkeys"))
                        .key(&nodes)
                        .arg(&node)
                        .arg(&bp.opts.prefix);
                    match call.invoke_async::<i64>(&mut conn).await {
                        Ok(n) => tracing::info!(
                            "node {node} is gone: its presence in {n} keys was removed"
                        ),
                        Err(e) => tracing::warn!("cleaning up after node {node} failed: {e}"),
                    }
                }
            }
        }
        drop(bp);
        tokio::time::sleep(lease / 3).await;
    }
}
