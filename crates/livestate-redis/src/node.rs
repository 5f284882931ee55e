//! [`RedisBackplane`]: one node's connection to Redis (a multiplexed connection for
//! commands, one pub/sub connection shared by all its keys, see `dispatch`), how its Redis
//! keys are named, and its heartbeat. What it does for each part of the backplane is in
//! `lease`, `log`, `bus`, `forward` and `presence`.

use crate::dispatch;
use crate::options::{ConnectError, RedisOptions, default_node};
use crate::scripts;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use livestate_backplane::{Backplane, BackplaneError, Broadcast, Lease};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// The Redis backplane of one node.
pub struct RedisBackplane {
    pub(crate) opts: RedisOptions,
    pub(crate) conn: ConnectionManager,
    subscribe: mpsc::UnboundedSender<dispatch::Subscribe>,
    pub(crate) answers: Mutex<Option<mpsc::Receiver<Bytes>>>,
    pub(crate) broadcasts: Mutex<Option<mpsc::Receiver<Broadcast>>>,
    pub(crate) scripts: Scripts,
    /// This process, in the node's heartbeat (another process with the same node id is
    /// refused at start-up).
    instance: String,
    /// Keys this node leads whose next commit may store just its patch (a key is not here
    /// when its log has grown past its snapshot, or this node has not committed to it yet
    /// under its lease).
    pub(crate) logging: Mutex<HashSet<String>>,
}

/// The most entries a key's change log holds before the whole state is stored again.
pub const MAX_LOG_ENTRIES: u64 = 10_000;

/// The least log bytes before the whole state is stored again (small states are not
/// rewritten on every change).
pub(crate) const MIN_LOG_BYTES: u64 = 64 * 1024;

/// The scripts, loaded once.
pub(crate) struct Scripts {
    pub(crate) acquire: Script,
    pub(crate) renew: Script,
    pub(crate) release: Script,
    pub(crate) commit: Script,
    pub(crate) forward: Script,
    pub(crate) attach: Script,
    pub(crate) elsewhere: Script,
    pub(crate) track: Script,
    pub(crate) cleanup: Script,
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

pub(crate) fn unavailable(e: impl std::fmt::Display) -> BackplaneError {
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

    pub(crate) fn key(&self, topic: &str, part: &str) -> String {
        format!("{}:{{{}}}:{}", self.opts.prefix, topic, part)
    }

    pub(crate) fn node_key(&self, node: &str, part: &str) -> String {
        if part.is_empty() {
            format!("{}:node:{}", self.opts.prefix, node)
        } else {
            format!("{}:node:{}:{}", self.opts.prefix, node, part)
        }
    }

    pub(crate) fn answers_channel(&self, node: &str) -> String {
        self.node_key(node, "ans")
    }

    pub(crate) fn broadcast_channel(&self) -> String {
        format!("{}:bcast", self.opts.prefix)
    }

    pub(crate) fn lease_value(lease: &Lease) -> String {
        format!("{}|{}", lease.node, lease.epoch)
    }

    pub(crate) fn lease_ms(&self) -> u64 {
        u64::try_from(self.opts.lease_time.as_millis()).unwrap_or(u64::MAX)
    }

    /// Run one Redis call with the command timeout; any failure is "unavailable".
    pub(crate) async fn run<T>(
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
    pub(crate) async fn route(
        &self,
        channel: String,
        route: dispatch::Route,
    ) -> Result<(), BackplaneError> {
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

    pub(crate) fn corrupt(topic: &str, message: impl Into<String>) -> BackplaneError {
        BackplaneError::Corrupt {
            key: topic.to_owned(),
            message: message.into(),
        }
    }
}

/// A future as the backplane's traits return it.
pub(crate) fn boxed<'a, T>(f: impl Future<Output = T> + Send + 'a) -> BoxFuture<'a, T> {
    Box::pin(f)
}

impl Backplane for RedisBackplane {
    fn node(&self) -> &str {
        &self.opts.node
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
