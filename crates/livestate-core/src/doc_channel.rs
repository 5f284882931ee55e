//! [`DocChannel`]: the built-in channel for `doc:<key>` topics, so the binary is useful
//! without writing Rust.
//!
//! Each `doc:` topic is a shared JSON document, initially `{}`. Paths are JSON Pointers.
//!
//! | event | payload | effect |
//! |---|---|---|
//! | `put` | `{"path": "/a/b", "value": ...}` | set the value (add a member, replace one, replace an array element, or append with `-` or the array's length); the parent must exist |
//! | `delete` | `{"path": "/a/b"}` | remove the value, which must exist |
//! | `patch` | `{"ops": [RFC 6902 ops]}` | apply the patch atomically |
//! | `increment` | `{"path": "/n", "by": 1}` | add `by` (default 1) to a number |
//! | `reset` | `{}` | back to the initial document |
//!
//! A bad path, a missing field or a failing op is refused with its reason and changes
//! nothing.
//!
//! Permissions ([`crate::acl`]): `put` and `increment` need write, `delete` needs delete,
//! `reset` needs reset, `patch` needs write (and delete when it removes or moves).
//!
//! With presence on, a join with params `{"presence": {"key": "ann", "meta": {...}}}` shows
//! in the doc's presence under that key.

use crate::acl::{Acl, Permission, Permissions, patch_permissions};
use crate::channel::{Channel, ChannelError, EventContext, JoinContext, Reply};
use crate::doc::{Doc, StateLimits, empty_object};
use crate::settings::{Settings, Ttl};
use livestate_protocol::PatchOp;
use serde::Deserialize;
use serde_json::Value;

/// The `doc:` channel: shared JSON documents edited with JSON Pointers and RFC 6902.
#[derive(Debug, Clone)]
pub struct DocChannel {
    initial: Value,
    settings: Settings,
}

impl Default for DocChannel {
    fn default() -> DocChannel {
        DocChannel::new(empty_object())
    }
}

impl DocChannel {
    /// Documents that start as `initial` (and go back to it on `reset`).
    pub fn new(initial: Value) -> DocChannel {
        let only = |p| Permissions::NONE.with(p);
        DocChannel {
            initial,
            settings: Settings::shared()
                .permission("delete", only(Permission::Delete))
                .permission("reset", only(Permission::Reset)),
        }
    }

    /// With this ACL (default: group all, public read).
    pub fn acl(mut self, acl: Acl) -> DocChannel {
        self.settings = self.settings.acl(acl);
        self
    }

    /// With this TTL (default: the hub's).
    pub fn ttl(mut self, ttl: Ttl) -> DocChannel {
        self.settings = self.settings.ttl(ttl);
        self
    }

    /// With this `max_version` (default 1000).
    pub fn max_version(mut self, max_version: u64) -> DocChannel {
        self.settings = self.settings.max_version(max_version);
        self
    }

    /// With presence on or off (default off).
    pub fn presence(mut self, on: bool) -> DocChannel {
        self.settings = self.settings.presence(on);
        self
    }

    /// With these state limits (default: the hub's).
    pub fn limits(mut self, limits: StateLimits) -> DocChannel {
        self.settings = self.settings.limits(limits);
        self
    }

    /// With this coalescing window (default none; see [`Settings::coalesce`]).
    pub fn coalesce(mut self, window: std::time::Duration) -> DocChannel {
        self.settings = self.settings.coalesce(window);
        self
    }
}

/// The events of a `doc:` topic.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum DocEvent {
    /// Set the value at `path`.
    Put {
        /// A JSON Pointer.
        path: String,
        /// The value.
        value: Value,
    },
    /// Remove the value at `path`.
    Delete {
        /// A JSON Pointer.
        path: String,
    },
    /// Apply an RFC 6902 patch atomically.
    Patch {
        /// Its ops.
        ops: Vec<PatchOp>,
    },
    /// Add `by` (default 1) to the number at `path`.
    Increment {
        /// A JSON Pointer.
        path: String,
        /// How much.
        #[serde(default = "one")]
        by: i64,
    },
    /// Back to the initial document.
    Reset,
}

fn one() -> i64 {
    1
}

impl Channel for DocChannel {
    type State = Doc;
    type Event = DocEvent;
    /// Read leniently: `{"presence": {"key": ..., "meta": ...}}` when presence is on.
    type Params = Value;

    fn settings(&self) -> Settings {
        self.settings.clone()
    }

    fn permissions(&self, event: &DocEvent) -> Option<Permissions> {
        match event {
            // a patch that removes or moves needs delete too
            DocEvent::Patch { ops } => Some(patch_permissions(ops)),
            _ => None,
        }
    }

    async fn authorize(&self, params: &Value, ctx: &mut JoinContext) -> Result<(), ChannelError> {
        if self.settings.presence {
            if let Some(key) = params["presence"]["key"].as_str() {
                let meta = params["presence"]
                    .get("meta")
                    .cloned()
                    .unwrap_or(Value::Null);
                ctx.track(
                    key,
                    if meta.is_null() {
                        serde_json::json!({})
                    } else {
                        meta
                    },
                );
            }
        }
        Ok(())
    }

    async fn init(&self, _params: &Value, _ctx: &JoinContext) -> Result<Doc, ChannelError> {
        Ok(Doc::new(self.initial.clone()))
    }

    async fn handle_event(
        &self,
        event: DocEvent,
        doc: &mut Doc,
        _ctx: &EventContext,
    ) -> Result<Reply, ChannelError> {
        match event {
            DocEvent::Put { path, value } => doc.set(&path, value)?,
            DocEvent::Delete { path } => doc.remove(&path).map(drop)?,
            DocEvent::Patch { ops } => doc.apply(&ops)?,
            DocEvent::Increment { path, by } => doc.increment(&path, by).map(drop)?,
            DocEvent::Reset => doc.replace_all(self.initial.clone())?,
        }
        Ok(Reply::none())
    }
}
