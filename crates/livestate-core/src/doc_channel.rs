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

use crate::channel::{Channel, ChannelError, EventContext, JoinContext, Reply, decode_payload};
use crate::doc::{Doc, empty_object};
use livestate_protocol::PatchOp;
use serde::Deserialize;
use serde_json::Value;

/// The `doc:` channel: shared JSON documents edited with JSON Pointers and RFC 6902.
#[derive(Debug, Clone)]
pub struct DocChannel {
    initial: Value,
}

impl Default for DocChannel {
    fn default() -> DocChannel {
        DocChannel::new(empty_object())
    }
}

impl DocChannel {
    /// Documents that start as `initial` (and go back to it on `reset`).
    pub fn new(initial: Value) -> DocChannel {
        DocChannel { initial }
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
            "reset" => doc.replace_all(self.initial.clone()),
            other => return Err(ChannelError::unknown_event(other)),
        }
        Ok(Reply::none())
    }
}
