//! Testing helpers for applications, in-process and without a network, as LiveState's
//! `TestHelpers`: join a topic, push an event, and assert the state or the patch that
//! followed.
//!
//! A [`TestChannel`] is one socket joined to one topic of a [`Hub`]. It keeps the topic's
//! state the way the browser client does (applying every patch), so a test reads
//! [`TestChannel::state`] after an event.
//!
//! ```
//! use livestate_core::testing::TestChannel;
//! use livestate_core::{DocChannel, Hub};
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), livestate_core::testing::TestError> {
//! let hub = Hub::builder().channel("doc:*", DocChannel::default()).build();
//! let mut doc = TestChannel::join(&hub, "doc:notes", json!({})).await?;
//! assert_eq!(doc.state(), &json!({}));
//!
//! let pushed = doc.push("put", json!({"path": "/title", "value": "Groceries"})).await?;
//! assert_eq!(pushed.patch, json!([{"op": "add", "path": "/title", "value": "Groceries"}]));
//! assert_eq!(doc.state(), &json!({"title": "Groceries"}));
//!
//! // a refused event is an error carrying the reason; nothing changed
//! let err = doc.push("delete", json!({"path": "/nope"})).await.unwrap_err();
//! assert_eq!(err.to_string(), "refused: no value at /nope");
//! assert_eq!(doc.state(), &json!({"title": "Groceries"}));
//!
//! // changes made by others (another joiner, `Hub::send`) arrive with `next_change`
//! let mut other = TestChannel::join(&hub, "doc:notes", json!({})).await?;
//! other.push("put", json!({"path": "/done", "value": false})).await?;
//! doc.next_change().await?;
//! assert_eq!(doc.state(), &json!({"title": "Groceries", "done": false}));
//! # Ok(()) }
//! ```

use crate::channel::Assigns;
use crate::doc::Doc;
use crate::hub::Hub;
use crate::outbox::OutboxReceiver;
use crate::session::Session;
use livestate_protocol::{Message, PatchOp};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long a helper waits for the server before failing.
pub const WAIT: Duration = Duration::from_secs(5);

/// Why a test step failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TestError {
    /// The join was refused (unrouted topic, `authorize`, limits), with the reason.
    #[error("join refused: {0}")]
    JoinRefused(String),
    /// The join succeeded but the channel's `init` failed, with its message.
    #[error("init failed: {0}")]
    InitFailed(String),
    /// The event was refused, with the reason.
    #[error("refused: {0}")]
    Refused(String),
    /// The handler panicked: the channel was closed with `phx_error`.
    #[error("channel failed: {0}")]
    Failed(String),
    /// The server closed the socket.
    #[error("socket closed ({code}): {reason}")]
    Closed {
        /// The close code.
        code: u16,
        /// The reason.
        reason: String,
    },
    /// Nothing came within [`WAIT`].
    #[error("nothing within {WAIT:?}: {0}")]
    Timeout(String),
    /// Something the protocol does not allow (a patch that does not apply, ...).
    #[error("protocol: {0}")]
    Protocol(String),
}

/// What came back for a pushed event.
#[derive(Debug, Clone, PartialEq)]
pub struct Pushed {
    /// The reply events the handler sent, in order: `(event, payload)`.
    pub events: Vec<(String, Value)>,
    /// The patch, as JSON (`[]` when nothing changed).
    pub patch: Value,
    /// The wire version after the event.
    pub version: u64,
}

/// One socket joined to one topic of a hub.
pub struct TestChannel {
    session: Session,
    rx: OutboxReceiver,
    topic: String,
    join_ref: String,
    next_ref: u64,
    state: Value,
    version: u64,
    /// Presence as phoenix.js's `Presence` keeps it: key → metas.
    presence: BTreeMap<String, Vec<Value>>,
}

impl TestChannel {
    /// Join `topic` with `params` on a socket with no assigns.
    pub async fn join(hub: &Hub, topic: &str, params: Value) -> Result<TestChannel, TestError> {
        TestChannel::join_with_assigns(hub, topic, params, Assigns::new()).await
    }

    /// Join `topic` with `params` on a socket whose assigns are `assigns` (what a connect
    /// callback would have set).
    pub async fn join_with_assigns(
        hub: &Hub,
        topic: &str,
        params: Value,
        assigns: Assigns,
    ) -> Result<TestChannel, TestError> {
        let (outbox, rx) = hub.outbox();
        let mut channel = TestChannel {
            session: hub.session(outbox, assigns),
            rx,
            topic: topic.to_owned(),
            join_ref: "1".to_owned(),
            next_ref: 1,
            state: Value::Null,
            version: 0,
            presence: BTreeMap::new(),
        };
        channel.send("1", "phx_join", params).await?;
        let reply = channel.next_frame().await?;
        if reply.payload["status"] != "ok" {
            return Err(TestError::JoinRefused(reason(&reply.payload["response"])));
        }
        let first = channel.next_frame().await?;
        match first.event.as_str() {
            "state:change" => {
                channel.apply(&first)?;
                Ok(channel)
            }
            "error" => Err(TestError::InitFailed(
                first.payload["message"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            )),
            other => Err(TestError::Protocol(format!(
                "expected state:change, got {other}"
            ))),
        }
    }

    /// The topic's state as this client has it.
    pub fn state(&self) -> &Value {
        &self.state
    }

    /// The topic's wire version as this client has it.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Who is attached to the topic (for channels with presence), as this client has heard:
    /// each presence key with its metas.
    pub fn presence(&self) -> &BTreeMap<String, Vec<Value>> {
        &self.presence
    }

    /// Wait until the presence satisfies `check` (reading what arrives meanwhile).
    pub async fn wait_presence(
        &mut self,
        check: impl Fn(&BTreeMap<String, Vec<Value>>) -> bool,
    ) -> Result<(), TestError> {
        while !check(&self.presence) {
            let f = self.next_frame().await?;
            if f.event == "state:change" || f.event == "state:patch" {
                self.apply(&f)?;
            }
        }
        Ok(())
    }

    /// Push the event `lvs_evt:<event>` and wait for its outcome: `Ok` with the reply
    /// events and the patch (already applied to [`TestChannel::state`]), or the refusal.
    pub async fn push(&mut self, event: &str, payload: Value) -> Result<Pushed, TestError> {
        self.next_ref += 1;
        let r#ref = self.next_ref.to_string();
        self.send(&r#ref, &format!("lvs_evt:{event}"), payload)
            .await?;
        let mut events = Vec::new();
        let mut patch = json!([]);
        loop {
            let f = self.next_frame().await?;
            match f.event.as_str() {
                "phx_reply" if f.r#ref.as_deref() == Some(r#ref.as_str()) => {
                    return if f.payload["status"] == "ok" {
                        Ok(Pushed {
                            events,
                            patch,
                            version: self.version,
                        })
                    } else {
                        Err(TestError::Refused(reason(&f.payload["response"])))
                    };
                }
                "phx_error" => return Err(TestError::Failed(reason(&f.payload))),
                "state:patch" => {
                    self.apply(&f)?;
                    patch = f.payload["patch"].clone();
                }
                "state:change" => self.apply(&f)?,
                _ if f.join_ref.as_deref() == Some(self.join_ref.as_str()) => {
                    events.push((f.event, f.payload));
                }
                _ => {}
            }
        }
    }

    /// Wait for the next change made by someone else (a patch or a whole state) and apply
    /// it; returns the patch, or the whole new state for a `state:change`.
    pub async fn next_change(&mut self) -> Result<Value, TestError> {
        loop {
            let f = self.next_frame().await?;
            match f.event.as_str() {
                "state:patch" => {
                    self.apply(&f)?;
                    return Ok(f.payload["patch"].clone());
                }
                "state:change" => {
                    self.apply(&f)?;
                    return Ok(self.state.clone());
                }
                "phx_error" => return Err(TestError::Failed(reason(&f.payload))),
                _ => {}
            }
        }
    }

    /// Ask for the whole state again (`lvs_refresh`) and wait for it.
    pub async fn refresh(&mut self) -> Result<&Value, TestError> {
        self.next_ref += 1;
        let r#ref = self.next_ref.to_string();
        self.send(&r#ref, "lvs_refresh", json!({})).await?;
        loop {
            let f = self.next_frame().await?;
            if f.event == "state:change" {
                self.apply(&f)?;
                return Ok(&self.state);
            }
        }
    }

    /// Leave the topic and close the socket.
    pub async fn leave(self) {
        self.session.close().await;
    }

    async fn send(&mut self, r#ref: &str, event: &str, payload: Value) -> Result<(), TestError> {
        let text = json!([self.join_ref, r#ref, self.topic, event, payload]).to_string();
        self.session
            .handle_text(&text)
            .await
            .map_err(|c| TestError::Closed {
                code: c.code,
                reason: c.reason,
            })
    }

    async fn next_frame(&mut self) -> Result<Message, TestError> {
        let text = tokio::time::timeout(WAIT, self.rx.recv())
            .await
            .map_err(|_| TestError::Timeout(format!("waiting for a frame on {}", self.topic)))?
            .ok_or_else(|| TestError::Protocol("the socket's outbox closed".into()))?;
        let frame =
            Message::decode(text.as_str()).map_err(|e| TestError::Protocol(e.to_string()))?;
        match frame.event.as_str() {
            "presence_state" => {
                self.presence.clear();
                self.presence_joins(&frame.payload);
            }
            "presence_diff" => {
                self.presence_leaves(&frame.payload["leaves"]);
                self.presence_joins(&frame.payload["joins"]);
            }
            _ => {}
        }
        Ok(frame)
    }

    fn presence_joins(&mut self, joins: &Value) {
        for (key, entry) in joins.as_object().into_iter().flatten() {
            let metas = self.presence.entry(key.clone()).or_default();
            for meta in entry["metas"].as_array().into_iter().flatten() {
                if !metas.iter().any(|m| m["phx_ref"] == meta["phx_ref"]) {
                    metas.push(meta.clone());
                }
            }
        }
    }

    fn presence_leaves(&mut self, leaves: &Value) {
        for (key, entry) in leaves.as_object().into_iter().flatten() {
            let gone: Vec<&Value> = entry["metas"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|m| &m["phx_ref"])
                .collect();
            if let Some(metas) = self.presence.get_mut(key) {
                metas.retain(|m| !gone.contains(&&m["phx_ref"]));
                if metas.is_empty() {
                    self.presence.remove(key);
                }
            }
        }
    }

    fn apply(&mut self, f: &Message) -> Result<(), TestError> {
        let version = f.payload["version"]
            .as_u64()
            .ok_or_else(|| TestError::Protocol(format!("no version in {}", f.event)))?;
        if f.event == "state:change" {
            self.state = f.payload["state"].clone();
        } else {
            let ops: Vec<PatchOp> = serde_json::from_value(f.payload["patch"].clone())
                .map_err(|e| TestError::Protocol(format!("bad patch: {e}")))?;
            let state = std::mem::take(&mut self.state);
            let mut doc = Doc::with_limits(state, crate::doc::StateLimits::TRUSTED);
            let applied = doc.replay(&ops);
            self.state = doc.into_value();
            applied.map_err(|e| TestError::Protocol(format!("patch does not apply: {e}")))?;
        }
        self.version = version;
        Ok(())
    }
}

fn reason(response: &Value) -> String {
    response["reason"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| response.to_string())
}
