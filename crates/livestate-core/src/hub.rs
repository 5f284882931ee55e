//! [`Hub`]: the routes, the live keys and the limits of one livestate node.
//!
//! The hub is a cheap clonable handle. The transport asks it for a [`Session`] per socket;
//! sessions ask it for the authority of a key when a client joins.

use crate::api::ApiError;
use crate::authority::{self, Command, KeyHandle, MessageRequest};
use crate::backplane::{Backplane, MemoryBackplane};
use crate::channel::{Assigns, Channel, ChannelError, JoinContext, Scope};
use crate::outbox::Outbox;
use crate::session::Session;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::Value;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// How often a request retries when it meets an authority that is stopping.
pub(crate) const ATTEMPTS: u32 = 50;

/// Wait before attempt `n + 1` of a request whose authority was stopping.
pub(crate) async fn backoff(attempt: u32) {
    tokio::time::sleep(Duration::from_millis(u64::from(attempt.min(10)))).await;
}

/// Limits and timings of a node. Every queue is bounded by one of these.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Channels one socket may have joined at once (default 100); the next join gets the
    /// error `"too many channels joined"`.
    pub max_channels: usize,
    /// Frames queued for one socket before its subscriptions lag (default 1024).
    pub outbox_capacity: usize,
    /// Bytes queued for one socket before its subscriptions lag (default 1 MiB): what a
    /// stalled socket can keep alive.
    pub outbox_bytes: usize,
    /// Commands queued for one key's authority before senders wait (default 1024).
    pub mailbox_capacity: usize,
    /// How long a shared key lives after its last subscriber left (default 60 s).
    pub ttl: Duration,
    /// How long `init` or a handler may run before it is abandoned (default 30 s).
    pub handler_timeout: Duration,
    /// How often an authority checks whether a lagging socket has drained (default 50 ms).
    pub resync_interval: Duration,
    /// What a key's state may become, for channels that do not set their own
    /// ([`Channel::state_limits`]).
    pub state: crate::doc::StateLimits,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_channels: 100,
            outbox_capacity: 1024,
            outbox_bytes: 1 << 20,
            mailbox_capacity: 1024,
            ttl: Duration::from_secs(60),
            handler_timeout: Duration::from_secs(30),
            resync_interval: Duration::from_millis(50),
            state: crate::doc::StateLimits::default(),
        }
    }
}

/// A node's routes, live keys and limits.
#[derive(Clone)]
pub struct Hub {
    pub(crate) inner: Arc<HubInner>,
}

pub(crate) struct HubInner {
    routes: Vec<Route>,
    /// The authority of every live shared key, by topic.
    pub(crate) keys: Mutex<HashMap<String, KeyHandle>>,
    /// The channels of connection-scoped topics joined on this node, by topic: where
    /// [`Hub::broadcast`] delivers.
    pub(crate) connections: Mutex<HashMap<String, Vec<KeyHandle>>>,
    pub(crate) backplane: Arc<dyn Backplane>,
    pub(crate) limits: Limits,
    /// Cancelled when the node shuts down: no new joins, sockets close.
    pub(crate) shutdown: CancellationToken,
    ids: AtomicU64,
    /// Different for every start of a node, so request ids never repeat across restarts.
    pub(crate) instance: u64,
    /// Whether the task routing this node's answers to key tasks runs (clusters only).
    answers_routed: std::sync::Once,
    /// Whether the task handing other nodes' broadcasts to this node's channels runs.
    broadcasts_routed: std::sync::Once,
}

/// Builds a [`Hub`].
pub struct HubBuilder {
    routes: Vec<Route>,
    backplane: Arc<dyn Backplane>,
    limits: Limits,
}

struct Route {
    pattern: Pattern,
    channel: Arc<dyn ErasedChannel>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    Prefix(String),
}

impl Pattern {
    fn parse(s: &str) -> Pattern {
        match s.strip_suffix('*') {
            Some(prefix) => Pattern::Prefix(prefix.to_owned()),
            None => Pattern::Exact(s.to_owned()),
        }
    }

    /// How well `topic` matches: exact beats any prefix, a longer prefix a shorter one.
    fn rank(&self, topic: &str) -> Option<usize> {
        match self {
            Pattern::Exact(t) if t == topic => Some(usize::MAX),
            Pattern::Prefix(p) if topic.starts_with(p.as_str()) => Some(p.len()),
            _ => None,
        }
    }
}

impl HubBuilder {
    /// Serve topics matching `pattern` with `channel`. A pattern is a topic (`"lobby"`) or
    /// a prefix ending in `*` (`"doc:*"`); the most specific match wins.
    ///
    /// # Panics
    /// When `pattern` is already routed: a misconfiguration found at start-up.
    pub fn channel<C: Channel>(mut self, pattern: &str, channel: C) -> HubBuilder {
        let pattern = Pattern::parse(pattern);
        assert!(
            !self.routes.iter().any(|r| r.pattern == pattern),
            "livestate: the topic pattern {pattern:?} is routed twice"
        );
        self.routes.push(Route {
            pattern,
            channel: Arc::new(Erased(Arc::new(channel))),
        });
        self
    }

    /// Whether `pattern` is routed already.
    pub fn routes(&self, pattern: &str) -> bool {
        let pattern = Pattern::parse(pattern);
        self.routes.iter().any(|r| r.pattern == pattern)
    }

    /// Use this backplane instead of the in-memory one.
    pub fn backplane(mut self, backplane: Arc<dyn Backplane>) -> HubBuilder {
        self.backplane = backplane;
        self
    }

    /// Use these limits.
    pub fn limits(mut self, limits: Limits) -> HubBuilder {
        self.limits = limits;
        self
    }

    /// The hub.
    pub fn build(self) -> Hub {
        Hub {
            inner: Arc::new(HubInner {
                routes: self.routes,
                keys: Mutex::new(HashMap::new()),
                connections: Mutex::new(HashMap::new()),
                backplane: self.backplane,
                limits: self.limits,
                shutdown: CancellationToken::new(),
                ids: AtomicU64::new(1),
                instance: instance_id(),
                answers_routed: std::sync::Once::new(),
                broadcasts_routed: std::sync::Once::new(),
            }),
        }
    }
}

impl Hub {
    /// Start building a hub (in-memory backplane, default limits, no routes).
    pub fn builder() -> HubBuilder {
        HubBuilder {
            routes: Vec::new(),
            backplane: Arc::new(MemoryBackplane::new()),
            limits: Limits::default(),
        }
    }

    /// A session for a new socket, sending through `outbox`, with the socket's assigns
    /// (its connect params and whatever the connect callback added).
    pub fn session(&self, outbox: Outbox, socket: Assigns) -> Session {
        Session::new(self.clone(), outbox, Arc::new(socket))
    }

    /// A new outbox with the configured capacity.
    pub fn outbox(&self) -> (Outbox, crate::outbox::OutboxReceiver) {
        let limits = &self.inner.limits;
        Outbox::new(limits.outbox_capacity, limits.outbox_bytes)
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Begin shutting down: refuse new joins and tell every session to close.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// Cancelled once [`Hub::shutdown`] was called.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// Whether the hub is shutting down.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutdown.is_cancelled()
    }

    /// How many shared keys have a live authority.
    pub fn live_keys(&self) -> usize {
        self.inner.lock_keys().len()
    }

    /// How many connections of the connection-scoped `topic` are joined on this node.
    pub fn connections(&self, topic: &str) -> usize {
        self.inner.lock_connections().get(topic).map_or(0, Vec::len)
    }

    /// Send `message` to the shared key `topic`: its channel's `handle_message` runs on the
    /// key's authority (after `init`, with empty params, if the key had no state), and
    /// every joiner gets the resulting patch. Returns the wire version of the change.
    ///
    /// ```
    /// # use livestate_core::{Hub, DocChannel};
    /// # async fn demo(hub: Hub) -> Result<(), livestate_core::api::ApiError> {
    /// let version = hub.send("chat:lobby", serde_json::json!({"text": "hello"})).await?;
    /// # Ok(()) }
    /// ```
    pub async fn send(&self, topic: &str, message: Value) -> Result<u64, ApiError> {
        let channel = self
            .route(topic)
            .ok_or_else(|| ApiError::NoRoute(topic.to_owned()))?;
        if channel.scope() != Scope::Shared {
            // a connection-scoped topic has no one state to change: Hub::broadcast
            return Err(ApiError::NotShared(topic.to_owned()));
        }
        for attempt in 0..ATTEMPTS {
            if self.is_shutting_down() {
                break;
            }
            let key = self.key(topic, &channel);
            let (done, answer) = oneshot::channel();
            let request = MessageRequest {
                message: message.clone(),
                done,
            };
            if key.send(Command::Message(request)).await.is_ok() {
                if let Ok(result) = answer.await {
                    return result.map_err(ApiError::from);
                }
            }
            backoff(attempt).await;
        }
        Err(ApiError::Unavailable(topic.to_owned()))
    }

    /// Send `message` to every state of `topic`, as Phoenix PubSub reaches every channel
    /// process subscribed to a topic: for a connection-scoped channel, each joined
    /// connection on every node of the cluster runs `handle_message` on its own state and
    /// gets its own patch; for a shared key, its one authority does (as [`Hub::send`]).
    ///
    /// Messages sent one after another from one node reach every connection in that order.
    /// Returns how many states on this node took it (a shared key counts one); channels on
    /// other nodes get it without an answer (fire and forget, as PubSub: a node that is down
    /// when it is sent never sees it). A connection whose handler refuses it (or
    /// that has no state, its `init` having failed) is not counted and keeps its state.
    ///
    /// ```
    /// # use livestate_core::Hub;
    /// # async fn demo(hub: Hub) -> Result<(), livestate_core::api::ApiError> {
    /// // every page showing "news" (one state per connection) gets the headline
    /// let reached = hub.broadcast("news", serde_json::json!({"headline": "hi"})).await?;
    /// # Ok(()) }
    /// ```
    pub async fn broadcast(&self, topic: &str, message: Value) -> Result<usize, ApiError> {
        let channel = self
            .route(topic)
            .ok_or_else(|| ApiError::NoRoute(topic.to_owned()))?;
        if channel.scope() == Scope::Shared {
            return self.send(topic, message).await.map(|_| 1);
        }
        if self.is_shutting_down() {
            return Err(ApiError::Unavailable(topic.to_owned()));
        }
        let backplane = &self.inner.backplane;
        if backplane.cluster() {
            let out = crate::backplane::Broadcast {
                origin: backplane.node().to_owned(),
                topic: topic.to_owned(),
                message: message.clone(),
            };
            backplane
                .broadcast(out)
                .await
                .map_err(|e| ApiError::Unavailable(format!("{topic}: {e}")))?;
        }
        Ok(self.deliver_local(topic, message).await)
    }

    /// The connections of `topic` joined on this node.
    fn joined_connections(&self, topic: &str) -> Vec<KeyHandle> {
        let mut connections = self.inner.lock_connections();
        match connections.get_mut(topic) {
            Some(list) => {
                list.retain(|h| !h.is_closed());
                list.clone()
            }
            None => Vec::new(),
        }
    }

    /// Hand `message` to every connection of `topic` joined on this node, into their
    /// mailboxes in order (a slow handler holds nothing up unless its mailbox is full);
    /// their answers, for whoever waits for them.
    async fn deliver(
        &self,
        topic: &str,
        message: Value,
    ) -> Vec<oneshot::Receiver<Result<u64, ChannelError>>> {
        let mut answers = Vec::new();
        for handle in self.joined_connections(topic) {
            let (done, answer) = oneshot::channel();
            let request = MessageRequest {
                message: message.clone(),
                done,
            };
            if handle.send(Command::Message(request)).await.is_ok() {
                answers.push(answer);
            }
        }
        answers
    }

    /// Run `handle_message` on every connection of `topic` joined on this node; how many
    /// took it.
    async fn deliver_local(&self, topic: &str, message: Value) -> usize {
        let mut took = 0;
        for answer in self.deliver(topic, message).await {
            if let Ok(Ok(_)) = answer.await {
                took += 1;
            }
        }
        took
    }

    /// Note a joined connection of a connection-scoped topic, for [`Hub::broadcast`] (its
    /// authority removes itself when it ends).
    pub(crate) fn register_connection(&self, topic: &str, handle: KeyHandle) {
        self.route_broadcasts();
        let mut connections = self.inner.lock_connections();
        let list = connections.entry(topic.to_owned()).or_default();
        list.retain(|h| !h.is_closed());
        list.push(handle);
    }

    /// In a cluster, start handing the messages other nodes broadcast to this node's
    /// connections (once).
    fn route_broadcasts(&self) {
        if !self.inner.backplane.cluster() {
            return;
        }
        self.inner.broadcasts_routed.call_once(|| {
            let Some(mut broadcasts) = self.inner.backplane.take_broadcasts() else {
                return;
            };
            let hub = Arc::downgrade(&self.inner);
            tokio::spawn(async move {
                while let Some(message) = broadcasts.recv().await {
                    let Some(inner) = hub.upgrade() else { break };
                    let hub = Hub { inner };
                    if message.origin == hub.inner.backplane.node() {
                        continue;
                    }
                    // in the order sent; nobody here waits for the outcomes
                    hub.deliver(&message.topic, message.message).await;
                }
            });
        });
    }

    pub(crate) fn next_id(&self) -> u64 {
        self.inner.ids.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn route(&self, topic: &str) -> Option<Arc<dyn ErasedChannel>> {
        self.inner
            .routes
            .iter()
            .filter_map(|r| r.pattern.rank(topic).map(|rank| (rank, r)))
            .max_by_key(|(rank, _)| *rank)
            .map(|(_, r)| r.channel.clone())
    }

    /// The authority of a shared key if it is live.
    pub(crate) fn live_key(&self, topic: &str) -> Option<KeyHandle> {
        self.inner
            .lock_keys()
            .get(topic)
            .filter(|h| !h.is_closed())
            .cloned()
    }

    /// In a cluster, start routing the answers to this node's forwarded requests to the
    /// tasks of their keys (once).
    fn route_answers(&self) {
        if !self.inner.backplane.cluster() {
            return;
        }
        self.inner.answers_routed.call_once(|| {
            let Some(mut answers) = self.inner.backplane.take_answers() else {
                return;
            };
            let hub = Arc::downgrade(&self.inner);
            tokio::spawn(async move {
                while let Some(answer) = answers.recv().await {
                    let Some(inner) = hub.upgrade() else { break };
                    let handle = Hub { inner }.live_key(&answer.key);
                    if let Some(handle) = handle {
                        let _ = handle.send(Command::Answer(answer)).await;
                    }
                }
            });
        });
    }

    /// The authority of a shared key, started if there is none.
    pub(crate) fn key(&self, topic: &str, channel: &Arc<dyn ErasedChannel>) -> KeyHandle {
        self.route_answers();
        let mut keys = self.inner.lock_keys();
        if let Some(handle) = keys.get(topic) {
            if !handle.is_closed() {
                return handle.clone();
            }
        }
        let handle = channel.spawn(self.clone(), topic.to_owned(), Scope::Shared);
        keys.insert(topic.to_owned(), handle.clone());
        handle
    }
}

/// A number that differs between starts of a node: the start time and the process id.
fn instance_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 48)
}

impl HubInner {
    pub(crate) fn lock_keys(&self) -> std::sync::MutexGuard<'_, HashMap<String, KeyHandle>> {
        // Nothing panics while holding this lock; recover rather than spread a poison.
        self.keys.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn lock_connections(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, Vec<KeyHandle>>> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A channel with its state type erased, so routes of different channels fit one table.
pub(crate) trait ErasedChannel: Send + Sync + 'static {
    fn scope(&self) -> Scope;
    fn acl(&self) -> crate::acl::Acl;
    fn max_version(&self) -> u64;
    fn authorize<'a>(
        &'a self,
        topic: &'a str,
        params: &'a Value,
        ctx: &'a mut JoinContext,
    ) -> BoxFuture<'a, Result<(), ChannelError>>;
    fn spawn(&self, hub: Hub, topic: String, scope: Scope) -> KeyHandle;
}

struct Erased<C>(Arc<C>);

impl<C: Channel> ErasedChannel for Erased<C> {
    fn scope(&self) -> Scope {
        self.0.scope()
    }

    fn acl(&self) -> crate::acl::Acl {
        self.0.acl()
    }

    fn max_version(&self) -> u64 {
        self.0.max_version()
    }

    fn authorize<'a>(
        &'a self,
        topic: &'a str,
        params: &'a Value,
        ctx: &'a mut JoinContext,
    ) -> BoxFuture<'a, Result<(), ChannelError>> {
        Box::pin(async move {
            match AssertUnwindSafe(self.0.authorize(topic, params, ctx))
                .catch_unwind()
                .await
            {
                Ok(result) => result,
                Err(_) => Err(ChannelError::refused("authorization failed")),
            }
        })
    }

    fn spawn(&self, hub: Hub, topic: String, scope: Scope) -> KeyHandle {
        authority::spawn(self.0.clone(), hub, topic, scope)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_route_wins() {
        let exact = Pattern::parse("doc:special");
        let long = Pattern::parse("doc:sp*");
        let short = Pattern::parse("doc:*");
        let any = Pattern::parse("*");
        let topic = "doc:special";
        let ranks: Vec<_> = [&exact, &long, &short, &any]
            .iter()
            .map(|p| p.rank(topic))
            .collect();
        assert!(ranks.windows(2).all(|w| w[0] > w[1]), "{ranks:?}");
        assert_eq!(short.rank("other"), None);
        assert_eq!(exact.rank("doc:specialx"), None);
    }
}
