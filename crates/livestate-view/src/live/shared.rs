//! Views attached to shared keys, as PhoenixLiveState's `live_state` attaches a LiveView to
//! a state server.
//!
//! A connected view attaches to a key exactly as a socket joins it: the view has an
//! in-process socket of the engine ([`Links`]: a `Session` whose outbox the view's task
//! reads), so the key's authority sees one more joined channel, with the same ACL (an
//! attached view is the key's group), presence, TTL, lag accounting and, in a cluster,
//! forwarding and failover as every socket. The view keeps a copy of each key's state,
//! taken from `state:change` and kept current with `state:patch`, and re-renders when it
//! changes. The first GET's render reads a key once through the server API and attaches
//! nothing (no presence, no TTL hold).

use super::group::{Groups, PatchEntry};
use super::view::ViewError;
use livestate_core::api::{ApiError, ChangeKind, Current};
use livestate_core::{Assigns, Hub, OutboxReceiver, Session};
use livestate_protocol::livestate::{StateChange, StatePatch};
use livestate_protocol::{Message, PatchOp, Text, event};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

/// What a view reads of the keys it attached to (`@shared` in a template).
#[derive(Debug, Clone, Default)]
pub struct Shared {
    keys: BTreeMap<String, KeyState>,
}

/// One attached key, as the view sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyState {
    /// The key's state (shared with the other views attached to the key on this node).
    pub state: Arc<Value>,
    /// Its version, as the view's channel of the key counts it (0 at the attach).
    pub version: u64,
    /// Whether the copy may be behind: the key's authority went away (its node stopped,
    /// Redis is down) and the view is joining it again. It catches up by itself.
    pub stale: bool,
    /// Who is attached to the key, for channels with presence on: phoenix.js's format,
    /// `{key: {"metas": [meta, ...]}}`, kept current with every join and leave.
    pub presence: Map<String, Value>,
    /// A hash of `presence` kept with it (an XOR of its metas' hashes), so views can tell
    /// cheaply that they show the same presence.
    presence_hash: u64,
}

impl Shared {
    /// The key's state, or `null` when the view is not attached to it.
    pub fn state(&self, key: &str) -> &Value {
        self.keys.get(key).map_or(&Value::Null, |k| &*k.state)
    }

    /// The key as the view sees it.
    pub fn get(&self, key: &str) -> Option<&KeyState> {
        self.keys.get(key)
    }

    /// A key read once (the first GET's render): not attached.
    pub(crate) fn insert_read(&mut self, key: &str, Current { state, version }: Current) {
        let read = KeyState {
            state: Arc::new(state),
            version,
            stale: false,
            presence: Map::new(),
            presence_hash: 0,
        };
        self.keys.insert(key.to_owned(), read);
    }

    /// The key's entry, made when missing.
    fn entry(&mut self, key: &str) -> &mut KeyState {
        self.keys.entry(key.to_owned()).or_insert_with(|| KeyState {
            state: Arc::new(Value::Null),
            version: 0,
            stale: false,
            presence: Map::new(),
            presence_hash: 0,
        })
    }

    /// Every attached key as the shared renders compare them: name, state, version,
    /// staleness, presence.
    pub(crate) fn identity(&self) -> impl Iterator<Item = (&str, &Arc<Value>, u64, bool, u64)> {
        self.keys
            .iter()
            .map(|(k, s)| (k.as_str(), &s.state, s.version, s.stale, s.presence_hash))
    }

    /// Whether any attached key may be behind.
    pub fn stale(&self) -> bool {
        self.keys.values().any(|k| k.stale)
    }
}

/// A change of an attached key, for [`LiveView::handle_shared`](super::LiveView::handle_shared).
#[derive(Debug, Clone, PartialEq)]
pub struct SharedChange {
    /// The key.
    pub key: String,
    /// What happened: PhoenixLiveState's kinds (`new`, `updated`, `deleted` at a path;
    /// `reset`: the whole state replaced, at the attach or after the view fell behind).
    pub kind: ChangeKind,
    /// The JSON Pointer of what changed (`""` for a reset).
    pub path: String,
    /// The key's version after the change.
    pub version: u64,
    /// For a `reset`: true when the whole state was sent again because the view fell
    /// behind or joined a lost key again (the key itself was not reset); false when the
    /// key was reset (its channel's `init` ran again).
    pub resync: bool,
}

/// A frame of the view's socket: as it came (a patch every view of the key receives is
/// decoded once, by the first), or decoded already.
pub(crate) enum Incoming {
    Frame(Text),
    Message(Message),
}

/// The view's in-process socket and its copies of the keys.
pub(crate) struct Links {
    hub: Hub,
    /// What the views of this node share (decoded patches).
    groups: Arc<Groups>,
    /// The view's session data, which the key's channel sees as the socket's assigns.
    assigns: Assigns,
    socket: Option<(Session, OutboxReceiver)>,
    links: BTreeMap<String, Link>,
    /// Frames read while waiting for a reply, applied next.
    held: VecDeque<Message>,
    next_ref: u64,
}

struct Link {
    join_ref: String,
    params: Value,
    /// Not joined: its authority went away, and joining again has not worked yet.
    stale: bool,
    /// Whether its state arrived since the join.
    synced: bool,
}

/// How long a view waits before it tries again to join a key it lost.
const REJOIN_EVERY: Duration = Duration::from_secs(1);

impl Links {
    pub(crate) fn new(hub: Hub, assigns: Assigns, groups: Arc<Groups>) -> Links {
        Links {
            hub,
            groups,
            assigns,
            socket: None,
            links: BTreeMap::new(),
            held: VecDeque::new(),
            next_ref: 0,
        }
    }

    /// The engine.
    pub(crate) fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Read `key` once (the first GET): its state, or `null` when nobody started it yet.
    pub(crate) async fn read(&self, key: &str) -> Result<Current, ViewError> {
        match self.hub.api().get(key).await {
            Ok(current) => Ok(current),
            Err(ApiError::UnknownKey(_)) => Ok(Current {
                state: Value::Null,
                version: 0,
            }),
            Err(e) => Err(ViewError::new(e.to_string())),
        }
    }

    /// Join `key` with `params` as a socket does, and wait for its state.
    pub(crate) async fn attach(
        &mut self,
        key: &str,
        params: Value,
        shared: &mut Shared,
        changes: &mut Vec<SharedChange>,
    ) -> Result<(), ViewError> {
        if self.links.contains_key(key) {
            return Ok(());
        }
        let join_ref = self.join(key, &params).await?;
        self.links.insert(
            key.to_owned(),
            Link {
                join_ref,
                params,
                stale: false,
                synced: false,
            },
        );
        // the authority sends the state right after its reply
        while !self.links.get(key).is_some_and(|l| l.synced) {
            match self.recv().await {
                Some(incoming) => self.apply(incoming, shared, changes).await,
                // a tick to join lost keys again: not this one's business
                None => continue,
            }
        }
        // and the presence right after the state: take what has come, for the first render
        while let Some(incoming) = self.try_recv() {
            self.apply(incoming, shared, changes).await;
        }
        Ok(())
    }

    /// Send the key's channel the event `name` with `payload`, as the key's group, and
    /// wait until it is committed (or refused, with the reason).
    pub(crate) async fn event(
        &mut self,
        key: &str,
        name: &str,
        payload: Value,
    ) -> Result<(), ViewError> {
        let Some(link) = self.links.get(key) else {
            return Err(ViewError::new(format!(
                "the view is not attached to {key:?}"
            )));
        };
        let join_ref = link.join_ref.clone();
        let r#ref = self.make_ref();
        let message = Message {
            join_ref: Some(join_ref),
            r#ref: Some(r#ref.clone()),
            topic: key.to_owned(),
            event: format!("{}{name}", event::LVS_EVT_PREFIX),
            payload,
        };
        self.send(message).await?;
        self.reply(key, &r#ref).await.map(|_| ())
    }

    /// Apply the frames read while waiting for a reply.
    pub(crate) async fn apply_held(
        &mut self,
        shared: &mut Shared,
        changes: &mut Vec<SharedChange>,
    ) {
        while let Some(message) = self.held.pop_front() {
            self.apply(Incoming::Message(message), shared, changes)
                .await;
        }
    }

    /// A tick of [`Links::recv`]'s `None`: join the lost keys again.
    pub(crate) async fn tick(&mut self) {
        self.rejoin().await;
    }

    fn make_ref(&mut self) -> String {
        self.next_ref += 1;
        self.next_ref.to_string()
    }

    /// Send `phx_join` and wait for its reply; its join_ref.
    async fn join(&mut self, key: &str, params: &Value) -> Result<String, ViewError> {
        let r#ref = self.make_ref();
        let message = Message {
            join_ref: Some(r#ref.clone()),
            r#ref: Some(r#ref.clone()),
            topic: key.to_owned(),
            event: event::PHX_JOIN.to_owned(),
            payload: params.clone(),
        };
        self.send(message).await?;
        self.reply(key, &r#ref).await.map(|_| r#ref)
    }

    /// Send a message on the view's socket (opened at the first).
    async fn send(&mut self, message: Message) -> Result<(), ViewError> {
        let (session, rx) = self.socket.get_or_insert_with(|| {
            let (outbox, rx) = self.hub.outbox();
            (self.hub.session(outbox, self.assigns.clone()), rx)
        });
        // the session waits for room in the outbox this task alone reads: make room first
        while let Some(frame) = rx.try_recv() {
            if let Ok(message) = Message::decode(frame.as_str()) {
                self.held.push_back(message);
            }
        }
        session
            .handle(message)
            .await
            .map_err(|close| ViewError::new(close.reason))
    }

    /// Read frames until the reply to `r#ref` on `key`; what else arrives is held. The
    /// key's channel failing meanwhile (its handler panicked, its authority went away)
    /// is the answer too: no reply comes after it.
    async fn reply(&mut self, key: &str, r#ref: &str) -> Result<Value, ViewError> {
        let join_ref = self.links.get(key).map(|l| l.join_ref.clone());
        let mut held = Vec::new();
        let found = loop {
            let Some(message) = self.read_frame().await else {
                break Err(ViewError::new("the view's socket closed"));
            };
            let on_key = message.topic == key;
            let failed = on_key
                && matches!(message.event.as_str(), event::PHX_ERROR | event::PHX_CLOSE)
                && message.join_ref.is_some()
                && message.join_ref == join_ref;
            if failed {
                let reason = message
                    .payload
                    .get("reason")
                    .and_then(Value::as_str)
                    .unwrap_or("the key's channel closed")
                    .to_owned();
                // applied next: the view marks the key stale and joins it again
                held.push(message);
                break Err(ViewError::new(reason));
            }
            let is_reply = on_key
                && message.event == event::PHX_REPLY
                && message.r#ref.as_deref() == Some(r#ref);
            if !is_reply {
                held.push(message);
                continue;
            }
            let payload = message.payload;
            let response = payload.get("response").cloned().unwrap_or(Value::Null);
            break match payload.get("status").and_then(Value::as_str) {
                Some("ok") => Ok(response),
                _ => Err(ViewError::new(
                    response
                        .get("reason")
                        .and_then(Value::as_str)
                        .unwrap_or("refused"),
                )),
            };
        };
        self.held.extend(held);
        found
    }

    /// The next frame (a held one first), or `None` when it is time to join again the
    /// keys whose authority went away ([`Links::rejoin`]). Cancel-safe.
    pub(crate) async fn recv(&mut self) -> Option<Incoming> {
        if let Some(message) = self.held.pop_front() {
            return Some(Incoming::Message(message));
        }
        let retry = self.links.values().any(|l| l.stale);
        let Some((_, rx)) = self.socket.as_mut() else {
            return std::future::pending().await;
        };
        tokio::select! {
            frame = rx.recv() => match frame {
                Some(frame) => Some(Incoming::Frame(frame)),
                None => std::future::pending().await,
            },
            () = tokio::time::sleep(REJOIN_EVERY), if retry => None,
        }
    }

    /// Join again every key whose authority went away; a key that cannot be joined yet
    /// (its node is down, Redis is) stays stale and is tried again later.
    pub(crate) async fn rejoin(&mut self) {
        let stale: Vec<(String, Value)> = self
            .links
            .iter()
            .filter(|(_, l)| l.stale)
            .map(|(k, l)| (k.clone(), l.params.clone()))
            .collect();
        for (key, params) in stale {
            if let Ok(join_ref) = self.join(&key, &params).await {
                if let Some(link) = self.links.get_mut(&key) {
                    link.join_ref = join_ref;
                    link.stale = false;
                }
            }
        }
    }

    /// A frame already received, if there is one.
    fn try_recv(&mut self) -> Option<Incoming> {
        if let Some(message) = self.held.pop_front() {
            return Some(Incoming::Message(message));
        }
        let (_, rx) = self.socket.as_mut()?;
        rx.try_recv().map(Incoming::Frame)
    }

    /// The next frame from the socket.
    async fn read_frame(&mut self) -> Option<Message> {
        let (_, rx) = self.socket.as_mut()?;
        let frame = rx.recv().await?;
        Message::decode(frame.as_str()).ok()
    }

    /// Apply one frame of the view's socket to the copies of the keys. A `state:patch`
    /// every view of the key receives is decoded and applied once for all of them.
    pub(crate) async fn apply(
        &mut self,
        incoming: Incoming,
        shared: &mut Shared,
        changes: &mut Vec<SharedChange>,
    ) {
        let message = match incoming {
            Incoming::Message(message) => message,
            Incoming::Frame(frame) => {
                // a broadcast `state:patch` is the same frame for every view of the key
                let mut other = None;
                let patch = self.groups.patch(&frame, || {
                    let message = Message::decode(frame.as_str()).ok()?;
                    if message.event == event::STATE_PATCH && message.join_ref.is_none() {
                        return decode_patch(Some(frame.clone()), message);
                    }
                    other = Some(message);
                    None
                });
                if let Some(patch) = patch {
                    return self.apply_patch(&patch, shared, changes).await;
                }
                match other {
                    Some(message) => message,
                    None => return,
                }
            }
        };
        self.apply_message(message, shared, changes).await;
    }

    /// Apply a patch to the copy of its key.
    async fn apply_patch(
        &mut self,
        patch: &PatchEntry,
        shared: &mut Shared,
        changes: &mut Vec<SharedChange>,
    ) {
        let Some(link) = self.links.get(&patch.topic) else {
            return;
        };
        let key = patch.topic.clone();
        let known = shared.entry(&key);
        let Some(after) = patch.after(&known.state) else {
            // a copy that went wrong is replaced whole
            let refresh = Message {
                join_ref: Some(link.join_ref.clone()),
                r#ref: None,
                topic: key,
                event: event::LVS_REFRESH.to_owned(),
                payload: json!({}),
            };
            let _ = self.send(refresh).await;
            return;
        };
        known.state = after;
        known.version = patch.version;
        if patch.reset {
            changes.push(SharedChange {
                key,
                kind: ChangeKind::Reset,
                path: String::new(),
                version: patch.version,
                resync: false,
            });
            return;
        }
        changes.extend(patch.ops.iter().map(|op| SharedChange {
            key: key.clone(),
            kind: kind_of(op),
            path: path_of(op).to_owned(),
            version: patch.version,
            resync: false,
        }));
    }

    /// Apply one decoded frame of the view's socket.
    async fn apply_message(
        &mut self,
        message: Message,
        shared: &mut Shared,
        changes: &mut Vec<SharedChange>,
    ) {
        let Some(link) = self.links.get_mut(&message.topic) else {
            return;
        };
        let current = message
            .join_ref
            .as_deref()
            .is_none_or(|jr| jr == link.join_ref);
        if !current {
            return;
        }
        let key = message.topic.clone();
        match message.event.as_str() {
            event::STATE_CHANGE => {
                let Ok(change) = serde_json::from_value::<StateChange<Value>>(message.payload)
                else {
                    return;
                };
                // the first state after the attach is what `attach` returns, and a state
                // sent again after a refused event is the same: neither is a change
                let known = shared.entry(&key);
                let changed = link.synced && *known.state != change.state;
                link.synced = true;
                if *known.state != change.state {
                    known.state = Arc::new(change.state);
                }
                known.version = change.version;
                known.stale = false;
                if changed {
                    changes.push(SharedChange {
                        key,
                        kind: ChangeKind::Reset,
                        path: String::new(),
                        version: change.version,
                        resync: true,
                    });
                }
            }
            event::STATE_PATCH => {
                if let Some(patch) = decode_patch(None, message) {
                    self.apply_patch(&patch, shared, changes).await;
                }
            }
            event::PRESENCE_STATE => {
                if let Value::Object(presence) = message.payload {
                    let known = shared.entry(&key);
                    known.presence_hash = presence
                        .iter()
                        .flat_map(|(k, entry)| {
                            metas_of(entry).into_iter().map(move |m| meta_hash(k, &m))
                        })
                        .fold(0, |h, m| h ^ m);
                    known.presence = presence;
                    changes.push(presence_change(key));
                }
            }
            event::PRESENCE_DIFF => {
                let known = shared.entry(&key);
                known.presence_hash ^= merge_presence(&mut known.presence, &message.payload);
                changes.push(presence_change(key));
            }
            event::PHX_ERROR | event::PHX_CLOSE | event::ERROR => {
                // the key's authority went away: the copy may be behind until the view
                // has joined the key again (a fresh state follows the join)
                shared.entry(&key).stale = true;
                link.stale = true;
                self.rejoin().await;
            }
            _ => {}
        }
    }
}

/// A presence change, as a change of `/presence` (presence is not in the key's state).
fn presence_change(key: String) -> SharedChange {
    SharedChange {
        key,
        kind: ChangeKind::Updated,
        path: "/presence".to_owned(),
        version: 0,
        resync: false,
    }
}

/// A `state:patch`'s payload, decoded (`frame`: the broadcast it came in).
fn decode_patch(frame: Option<Text>, message: Message) -> Option<PatchEntry> {
    let patch = serde_json::from_value::<StatePatch<Vec<PatchOp>>>(message.payload).ok()?;
    Some(PatchEntry::new(
        frame,
        message.topic,
        patch.patch,
        patch.version,
        patch.reset,
    ))
}

/// A presence entry's metas.
fn metas_of(entry: &Value) -> Vec<Value> {
    entry
        .get("metas")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// One meta's share of a presence hash.
fn meta_hash(key: &str, meta: &Value) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    (key, meta.to_string()).hash(&mut h);
    h.finish()
}

/// Apply a `presence_diff` (`{joins, leaves}`) to a presence map, as phoenix.js's
/// `Presence.syncDiff` does: a join's metas replace those of the same `phx_ref`.
/// Returns what changes in the presence hash (XOR it in).
fn merge_presence(presence: &mut Map<String, Value>, diff: &Value) -> u64 {
    let mut delta = 0;
    let ref_of = |m: &Value| m.get("phx_ref").cloned();
    if let Some(joins) = diff.get("joins").and_then(Value::as_object) {
        for (key, entry) in joins {
            let joined = metas_of(entry);
            let slot = presence
                .entry(key.clone())
                .or_insert_with(|| json!({"metas": []}));
            if let Some(Value::Array(all)) = slot.get_mut("metas") {
                all.retain(|m| {
                    let replaced = joined.iter().any(|j| ref_of(j) == ref_of(m));
                    if replaced {
                        delta ^= meta_hash(key, m);
                    }
                    !replaced
                });
                for meta in &joined {
                    delta ^= meta_hash(key, meta);
                }
                all.extend(joined);
            }
        }
    }
    if let Some(leaves) = diff.get("leaves").and_then(Value::as_object) {
        for (key, entry) in leaves {
            let gone = metas_of(entry);
            let kept = presence.get_mut(key).and_then(|e| e.get_mut("metas"));
            if let Some(Value::Array(kept)) = kept {
                kept.retain(|m| {
                    let left = gone.iter().any(|g| ref_of(g) == ref_of(m));
                    if left {
                        delta ^= meta_hash(key, m);
                    }
                    !left
                });
                if kept.is_empty() {
                    presence.remove(key);
                }
            }
        }
    }
    delta
}

fn kind_of(op: &PatchOp) -> ChangeKind {
    match op {
        PatchOp::Add { .. } | PatchOp::Copy { .. } | PatchOp::Move { .. } => ChangeKind::New,
        PatchOp::Remove { .. } => ChangeKind::Deleted,
        _ => ChangeKind::Updated,
    }
}

fn path_of(op: &PatchOp) -> &str {
    match op {
        PatchOp::Add { path, .. }
        | PatchOp::Remove { path }
        | PatchOp::Replace { path, .. }
        | PatchOp::Move { path, .. }
        | PatchOp::Copy { path, .. }
        | PatchOp::Test { path, .. } => path,
    }
}

impl Drop for Links {
    /// The view is gone: its socket leaves every key it joined, as a closed tab's does.
    fn drop(&mut self) {
        if let Some((session, _)) = self.socket.take() {
            if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                runtime.spawn(session.close());
            }
        }
    }
}
