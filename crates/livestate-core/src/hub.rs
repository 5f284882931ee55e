//! [`Hub`]: a node's routes, live keys and limits, behind a cheap clonable handle.
//!
//! The transport asks it for a [`Session`](crate::Session) per socket; sessions and the
//! server API ask it for the authority of a key, which it starts when there is none.
//! [`Hub::send`] and [`Hub::broadcast`] hand messages to channels from Rust code.

use crate::calls::ApiError;
use crate::channel::{Channel, Scope};
use crate::limits::Limits;
use crate::mailbox::{Command, KeyHandle, MessageRequest};
use crate::metrics::Metrics;
use crate::outbox::{Outbox, OutboxReceiver};
use crate::process::TopicProcess;
use crate::registry::Node;
use crate::routes::{ErasedChannel, Routes, Served};
use crate::wire;
use livestate_backplane::{Backplane, Broadcast};
use serde_json::Value;
use std::sync::{Arc, Once};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

/// How often a request retries when it meets an authority that is stopping.
const ATTEMPTS: u32 = 50;

/// A node's routes, live keys and limits.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    routes: Routes,
    node: Arc<Node>,
    /// Cancelled when the node shuts down: no new joins, sockets close.
    shutdown: CancellationToken,
    /// Whether the task routing this node's answers to key tasks runs (clusters only).
    answers_routed: Once,
    /// Whether the task handing other nodes' broadcasts to this node's channels runs.
    broadcasts_routed: Once,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("live_keys", &self.live_keys())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Hub`].
pub struct HubBuilder {
    routes: Routes,
    cluster: Option<Arc<dyn Backplane>>,
    limits: Limits,
}

impl HubBuilder {
    /// Serve topics matching `pattern` with `channel`. A pattern is a topic (`"lobby"`) or
    /// a prefix ending in `*` (`"doc:*"`); the most specific match wins.
    ///
    /// # Panics
    /// When `pattern` is already routed: a misconfiguration found at start-up.
    pub fn channel<C: Channel>(mut self, pattern: &str, channel: C) -> HubBuilder {
        self.routes.add(pattern, channel);
        self
    }

    /// Serve topics matching `pattern` with a topic process: each join a task of its own
    /// that answers the topic's messages itself (see [`crate::process`]).
    ///
    /// # Panics
    /// When `pattern` is already routed.
    pub fn process(mut self, pattern: &str, process: Arc<dyn TopicProcess>) -> HubBuilder {
        self.routes.add_process(pattern, process);
        self
    }

    /// Whether `pattern` is routed already.
    pub fn routes(&self, pattern: &str) -> bool {
        self.routes.has(pattern)
    }

    /// Make this node one of a cluster sharing every key through `backplane` (without
    /// one, the node is standalone: its state in memory, nothing shared).
    pub fn backplane(mut self, backplane: Arc<dyn Backplane>) -> HubBuilder {
        self.cluster = Some(backplane);
        self
    }

    /// Use these limits.
    pub fn limits(mut self, limits: Limits) -> HubBuilder {
        self.limits = limits;
        self
    }

    /// The hub.
    ///
    /// # Panics
    /// When a channel's coalescing window is not shorter than the hub's TTL it keys on.
    pub fn build(self) -> Hub {
        self.routes.check_windows(self.limits.ttl);
        Hub {
            inner: Arc::new(HubInner {
                routes: self.routes,
                node: Arc::new(Node::new(self.limits, self.cluster)),
                shutdown: CancellationToken::new(),
                answers_routed: Once::new(),
                broadcasts_routed: Once::new(),
            }),
        }
    }
}

impl Hub {
    /// Start building a hub (standalone, default limits, no routes).
    pub fn builder() -> HubBuilder {
        HubBuilder {
            routes: Routes::default(),
            cluster: None,
            limits: Limits::default(),
        }
    }

    /// A new outbox with the configured capacity.
    pub fn outbox(&self) -> (Outbox, OutboxReceiver) {
        let limits = self.limits();
        let (outbox, receiver) = Outbox::new(limits.outbox_capacity, limits.outbox_bytes);
        self.metrics().watch_outbox(outbox.queued_bytes_counter());
        (outbox, receiver)
    }

    /// What this node counts: `/metrics` serves [`Metrics::encode`].
    pub fn metrics(&self) -> &Metrics {
        &self.inner.node.metrics
    }

    /// The limits.
    pub fn limits(&self) -> &Limits {
        &self.inner.node.limits
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
        self.inner.node.keys().len()
    }

    /// How many connections of the connection-scoped `topic` are joined on this node.
    pub fn connections(&self, topic: &str) -> usize {
        self.inner.node.connections().get(topic).map_or(0, Vec::len)
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
        let mut retries = self.retries();
        while retries.next().await {
            let key = self.key(topic, &channel);
            let (done, answer) = oneshot::channel();
            let message = message.clone();
            let request = Command::Message(MessageRequest { message, done });
            if key.send(request).await.is_ok() {
                if let Ok(answered) = answer.await {
                    return answered;
                }
            }
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
        if let Some(cluster) = &self.inner.node.cluster {
            let out = Broadcast {
                origin: cluster.node().to_owned(),
                topic: topic.to_owned(),
                message: message.clone(),
            };
            cluster
                .broadcast(out)
                .await
                .map_err(|e| ApiError::Unavailable(format!("{topic}: {e}")))?;
        }
        let mut took = 0;
        for answer in self.deliver(topic, message).await {
            if let Ok(Ok(_)) = answer.await {
                took += 1;
            }
        }
        Ok(took)
    }

    /// Hand `message` to every connection of `topic` joined on this node, into their
    /// mailboxes in order (a slow handler holds nothing up unless its mailbox is full);
    /// their answers, for whoever waits for them.
    async fn deliver(
        &self,
        topic: &str,
        message: Value,
    ) -> Vec<oneshot::Receiver<Result<u64, ApiError>>> {
        let joined: Vec<KeyHandle> = {
            let mut connections = self.inner.node.connections();
            match connections.get_mut(topic) {
                Some(list) => {
                    list.retain(|h| !h.is_closed());
                    list.clone()
                }
                None => Vec::new(),
            }
        };
        let mut answers = Vec::new();
        for handle in joined {
            let (done, answer) = oneshot::channel();
            let message = message.clone();
            let request = MessageRequest { message, done };
            if handle.send(Command::Message(request)).await.is_ok() {
                answers.push(answer);
            }
        }
        answers
    }

    /// Note a joined connection of a connection-scoped topic, for [`Hub::broadcast`] (its
    /// authority removes itself when it ends).
    pub(crate) fn register_connection(&self, topic: &str, handle: KeyHandle) {
        self.route_broadcasts();
        let mut connections = self.inner.node.connections();
        let list = connections.entry(topic.to_owned()).or_default();
        list.retain(|h| !h.is_closed());
        list.push(handle);
    }

    /// In a cluster, start handing the messages other nodes broadcast to this node's
    /// connections (once).
    fn route_broadcasts(&self) {
        let Some(cluster) = &self.inner.node.cluster else {
            return;
        };
        self.inner.broadcasts_routed.call_once(|| {
            let Some(mut broadcasts) = cluster.take_broadcasts() else {
                return;
            };
            let hub = Arc::downgrade(&self.inner);
            tokio::spawn(async move {
                while let Some(message) = broadcasts.recv().await {
                    let Some(inner) = hub.upgrade() else { break };
                    let hub = Hub { inner };
                    if message.origin == hub.inner.node.id {
                        continue;
                    }
                    // in the order sent; nobody here waits for the outcomes
                    hub.deliver(&message.topic, message.message).await;
                }
            });
        });
    }

    /// In a cluster, start routing the answers to this node's forwarded requests to the
    /// tasks of their keys (once).
    fn route_answers(&self) {
        let Some(cluster) = &self.inner.node.cluster else {
            return;
        };
        self.inner.answers_routed.call_once(|| {
            let Some(mut answers) = cluster.take_answers() else {
                return;
            };
            let node = Arc::downgrade(&self.inner.node);
            tokio::spawn(async move {
                while let Some(message) = answers.recv().await {
                    let Some(node) = node.upgrade() else { break };
                    let answer = match wire::decode_answer(&message) {
                        Ok(answer) => answer,
                        Err(e) => {
                            tracing::warn!("an answer does not decode: {e}");
                            continue;
                        }
                    };
                    if let Some(handle) = node.live_key(&answer.key) {
                        let _ = handle.send(Command::Answer(answer)).await;
                    }
                }
            });
        });
    }

    /// The channel serving `topic`.
    pub(crate) fn route(&self, topic: &str) -> Option<Arc<dyn ErasedChannel>> {
        self.inner.routes.route(topic)
    }

    /// What serves `topic`: a channel or a topic process.
    pub(crate) fn serving(&self, topic: &str) -> Option<Served> {
        self.inner.routes.serving(topic)
    }

    /// The node's shared context.
    pub(crate) fn node(&self) -> &Arc<Node> {
        &self.inner.node
    }

    /// The authority of a shared key, started if there is none.
    pub(crate) fn key(&self, topic: &str, channel: &Arc<dyn ErasedChannel>) -> KeyHandle {
        self.route_answers();
        let mut keys = self.inner.node.keys();
        if let Some(handle) = keys.get(topic).filter(|h| !h.is_closed()) {
            return handle.clone();
        }
        let handle = channel.spawn(self.inner.node.clone(), topic.to_owned(), Scope::Shared);
        keys.insert(topic.to_owned(), handle.clone());
        handle
    }

    /// The retry policy of a request to a key's authority: one that meets an authority
    /// that is stopping (its key expired just then) tries again with a fresh one.
    pub(crate) fn retries(&self) -> Retries<'_> {
        Retries {
            hub: self,
            attempt: 0,
        }
    }
}

/// Attempts of a request to a key's authority: `while retries.next().await { ... }` runs
/// the body until it returns, waiting a little longer before each new attempt, and gives
/// up after a while or when the node shuts down.
pub(crate) struct Retries<'a> {
    hub: &'a Hub,
    attempt: u32,
}

impl Retries<'_> {
    /// Whether to make another attempt (after the wait before it).
    pub(crate) async fn next(&mut self) -> bool {
        if self.attempt > 0 {
            let wait = u64::from(self.attempt.min(10));
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        self.attempt += 1;
        self.attempt <= ATTEMPTS && !self.hub.is_shutting_down()
    }
}
