//! RFC 6902 JSON Patch operations, as they travel in `state:patch` and in `patch` events.
//!
//! Paths are RFC 6901 JSON Pointers kept as their encoded strings (`/a/b~1c/0`); the
//! server parses them where it applies an operation.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One RFC 6902 operation.
///
/// ```
/// use livestate_protocol::PatchOp;
/// let op: PatchOp = serde_json::from_str(r#"{"op":"replace","path":"/count","value":1}"#).unwrap();
/// assert_eq!(op, PatchOp::Replace { path: "/count".into(), value: 1.into() });
/// assert_eq!(serde_json::to_string(&op).unwrap(), r#"{"op":"replace","path":"/count","value":1}"#);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum PatchOp {
    /// Add a member to an object, insert into an array (`-` appends), or replace the root.
    Add {
        /// Where to add.
        path: String,
        /// What to add.
        value: Value,
    },
    /// Remove the value at `path`, which must exist.
    Remove {
        /// What to remove.
        path: String,
    },
    /// Replace the value at `path`, which must exist.
    Replace {
        /// What to replace.
        path: String,
        /// The new value.
        value: Value,
    },
    /// Remove the value at `from` and add it at `path`.
    Move {
        /// Where the value is now.
        from: String,
        /// Where it goes.
        path: String,
    },
    /// Copy the value at `from` to `path`.
    Copy {
        /// Where the value is.
        from: String,
        /// Where the copy goes.
        path: String,
    },
    /// Fail the whole patch unless the value at `path` equals `value`.
    Test {
        /// What to compare.
        path: String,
        /// The expected value.
        value: Value,
    },
}

impl PatchOp {
    /// The operation's name as it appears in `"op"`.
    pub fn name(&self) -> &'static str {
        match self {
            PatchOp::Add { .. } => "add",
            PatchOp::Remove { .. } => "remove",
            PatchOp::Replace { .. } => "replace",
            PatchOp::Move { .. } => "move",
            PatchOp::Copy { .. } => "copy",
            PatchOp::Test { .. } => "test",
        }
    }

    /// The operation's target path.
    pub fn path(&self) -> &str {
        match self {
            PatchOp::Add { path, .. }
            | PatchOp::Remove { path }
            | PatchOp::Replace { path, .. }
            | PatchOp::Move { path, .. }
            | PatchOp::Copy { path, .. }
            | PatchOp::Test { path, .. } => path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_every_op() {
        let ops = json!([
            {"op": "add", "path": "/a", "value": {"b": [1]}},
            {"op": "remove", "path": "/a/b/0"},
            {"op": "replace", "path": "", "value": null},
            {"op": "move", "from": "/x", "path": "/y"},
            {"op": "copy", "from": "/y", "path": "/z"},
            {"op": "test", "path": "/z", "value": 3}
        ]);
        let parsed: Vec<PatchOp> = serde_json::from_value(ops.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), ops);
        assert_eq!(
            parsed[2],
            PatchOp::Replace {
                path: "".into(),
                value: Value::Null
            }
        );
    }

    #[test]
    fn rejects_bad_ops_with_a_reason() {
        let e = serde_json::from_value::<PatchOp>(json!({"op": "frob", "path": "/a"})).unwrap_err();
        assert!(e.to_string().contains("unknown variant `frob`"), "{e}");
        let e = serde_json::from_value::<PatchOp>(json!({"op": "add", "path": "/a"})).unwrap_err();
        assert!(e.to_string().contains("missing field `value`"), "{e}");
        let e = serde_json::from_value::<PatchOp>(json!({"path": "/a"})).unwrap_err();
        assert!(e.to_string().contains("missing field `op`"), "{e}");
    }
}
