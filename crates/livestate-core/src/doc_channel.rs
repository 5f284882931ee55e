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

use crate::acl::{Acl, Permission, Permissions};
use crate::channel::{
    Channel, ChannelError, EventContext, JoinContext, Reply, Ttl, decode_payload,
};
use crate::doc::{Doc, StateLimits, empty_object};
use livestate_protocol::PatchOp;
use serde::Deserialize;
use serde_json::Value;

/// The `doc:` channel: shared JSON documents edited with JSON Pointers and RFC 6902.
#[derive(Debug, Clone)]
pub struct DocChannel {
    initial: Value,
    acl: Acl,
    ttl: Ttl,
    max_version: u64,
    presence: bool,
    limits: Option<StateLimits>,
}

impl Default for DocChannel {
    fn default() -> DocChannel {
        DocChannel::new(empty_object())
    }
}

impl DocChannel {
    /// Documents that start as `initial` (and go back to it on `reset`).
    pub fn new(initial: Value) -> DocChannel {
        DocChannel {
            initial,
            acl: Acl::default(),
            ttl: Ttl::Default,
            max_version: crate::channel::DEFAULT_MAX_VERSION,
            presence: false,
            limits: None,
        }
    }

    /// With this ACL (default: group all, public read).
    pub fn acl(mut self, acl: Acl) -> DocChannel {
        self.acl = acl;
        self
    }

    /// With this TTL (default: the hub's).
    pub fn ttl(mut self, ttl: Ttl) -> DocChannel {
        self.ttl = ttl;
        self
    }

    /// With this `max_version` (default 1000).
    pub fn max_version(mut self, max_version: u64) -> DocChannel {
        self.max_version = max_version;
        self
    }

    /// With presence on or off (default off).
    pub fn presence(mut self, on: bool) -> DocChannel {
        self.presence = on;
        self
    }

    /// With these state limits (default: the hub's).
    pub fn limits(mut self, limits: StateLimits) -> DocChannel {
        self.limits = Some(limits);
        self
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Put {
    path: String,
    value: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Path {
    path: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Patch {
    ops: Vec<PatchOp>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Increment {
    path: String,
    #[serde(default = "one")]
    by: i64,
}

fn one() -> i64 {
    1
}

impl Channel for DocChannel {
    type State = Doc;

    fn max_version(&self) -> u64 {
        self.max_version
    }

    fn acl(&self) -> Acl {
        self.acl
    }

    fn ttl(&self) -> Ttl {
        self.ttl
    }

    fn presence(&self) -> bool {
        self.presence
    }

    fn state_limits(&self) -> Option<StateLimits> {
        self.limits
    }

    fn permissions_for(&self, event: &str, payload: &Value) -> Permissions {
        let only = |p| Permissions::NONE.with(p);
        match event {
            "delete" => only(Permission::Delete),
            "reset" => only(Permission::Reset),
            "patch" => match serde_json::from_value::<Vec<PatchOp>>(payload["ops"].clone()) {
                Ok(ops) => crate::acl::patch_permissions(&ops),
                // a patch that does not decode is refused by the handler with the reason
                Err(_) => only(Permission::Write),
            },
            _ => only(Permission::Write),
        }
    }

    async fn authorize(
        &self,
        _topic: &str,
        params: &Value,
        ctx: &mut JoinContext,
    ) -> Result<(), ChannelError> {
        if self.presence {
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

    async fn init(
        &self,
        _topic: &str,
        _params: &Value,
        _ctx: &JoinContext,
    ) -> Result<Doc, ChannelError> {
        Ok(Doc::new(self.initial.clone()))
    }

    async fn handle_event(
        &self,
        event: &str,
        payload: Value,
        doc: &mut Doc,
        _ctx: &EventContext,
    ) -> Result<Reply, ChannelError> {
        match event {
            "put" => {
                let Put { path, value } = decode_payload(event, payload)?;
                doc.set(&path, value)?;
            }
            "delete" => {
                let Path { path } = decode_payload(event, payload)?;
                doc.remove(&path)?;
            }
            "patch" => {
                let Patch { ops } = decode_payload(event, payload)?;
                doc.apply(&ops)?;
            }
            "increment" => {
                let Increment { path, by } = decode_payload(event, payload)?;
                doc.increment(&path, by)?;
            }
            "reset" => doc.replace_all(self.initial.clone())?,
            other => return Err(ChannelError::unknown_event(other)),
        }
        Ok(Reply::none())
    }
}
