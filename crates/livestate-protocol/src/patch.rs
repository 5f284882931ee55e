//! RFC 6902 JSON Patch operations, as they travel in `state:patch` and in `patch` events.
//!
//! Paths are RFC 6901 JSON Pointers kept as their encoded strings (`/a/b~1c/0`); the
//! server parses them where it applies an operation.

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Unexpected, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// One RFC 6902 operation.
///
/// ```
/// use livestate_protocol::PatchOp;
/// let op: PatchOp = serde_json::from_str(r#"{"op":"replace","path":"/count","value":1}"#).unwrap();
/// assert_eq!(op, PatchOp::Replace { path: "/count".into(), value: 1.into() });
/// assert_eq!(serde_json::to_string(&op).unwrap(), r#"{"op":"replace","path":"/count","value":1}"#);
/// ```
///
/// Members an operation does not use are ignored, as RFC 6902 says; `op` may come anywhere
/// in the object.
#[derive(Debug, Clone, PartialEq, Serialize)]
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

// Decoded by hand rather than derived: serde's internally tagged enums buffer every
// operation into an intermediate tree before choosing the variant, which costs time on
// every `patch` event and a large instantiation in every crate that decodes one.
impl<'de> Deserialize<'de> for PatchOp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<PatchOp, D::Error> {
        deserializer.deserialize_map(OpVisitor)
    }
}

const OPS: &[&str] = &["add", "remove", "replace", "move", "copy", "test"];

#[derive(Clone, Copy)]
enum Name {
    Add,
    Remove,
    Replace,
    Move,
    Copy,
    Test,
}

enum Member {
    Op,
    Path,
    From,
    Value,
    Other,
}

/// Decodes an operation's name, or a member's, from a string without allocating.
struct NameVisitor<T>(fn(&str) -> Option<T>, &'static str);

impl<T> Visitor<'_> for NameVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.1)
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
        (self.0)(s).ok_or_else(|| E::unknown_variant(s, OPS))
    }
}

impl<'de> Deserialize<'de> for Name {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Name, D::Error> {
        let name = |s: &str| match s {
            "add" => Some(Name::Add),
            "remove" => Some(Name::Remove),
            "replace" => Some(Name::Replace),
            "move" => Some(Name::Move),
            "copy" => Some(Name::Copy),
            "test" => Some(Name::Test),
            _ => None,
        };
        d.deserialize_str(NameVisitor(name, "an operation name"))
    }
}

impl<'de> Deserialize<'de> for Member {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Member, D::Error> {
        let member = |s: &str| {
            Some(match s {
                "op" => Member::Op,
                "path" => Member::Path,
                "from" => Member::From,
                "value" => Member::Value,
                _ => Member::Other,
            })
        };
        d.deserialize_identifier(NameVisitor(member, "a member name"))
    }
}

struct OpVisitor;

impl<'de> Visitor<'de> for OpVisitor {
    type Value = PatchOp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON Patch operation (an object with \"op\" and \"path\")")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PatchOp, A::Error> {
        let mut op: Option<Name> = None;
        let mut path: Option<String> = None;
        // `from` and `value` are kept as they came until `op` says whether they matter
        let mut from: Option<Value> = None;
        let mut value: Option<Value> = None;
        while let Some(member) = map.next_key::<Member>()? {
            match member {
                Member::Op => set(&mut op, "op", map.next_value()?)?,
                Member::Path => set(&mut path, "path", map.next_value()?)?,
                Member::From => set(&mut from, "from", map.next_value()?)?,
                Member::Value => set(&mut value, "value", map.next_value()?)?,
                Member::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let op = op.ok_or_else(|| de::Error::missing_field("op"))?;
        let path = path.ok_or_else(|| de::Error::missing_field("path"))?;
        let value = || value.ok_or_else(|| de::Error::missing_field("value"));
        let from = || match from {
            Some(Value::String(from)) => Ok(from),
            Some(other) => Err(de::Error::invalid_type(unexpected(&other), &"a string")),
            None => Err(de::Error::missing_field("from")),
        };
        Ok(match op {
            Name::Add => PatchOp::Add {
                path,
                value: value()?,
            },
            Name::Remove => PatchOp::Remove { path },
            Name::Replace => PatchOp::Replace {
                path,
                value: value()?,
            },
            Name::Move => PatchOp::Move {
                from: from()?,
                path,
            },
            Name::Copy => PatchOp::Copy {
                from: from()?,
                path,
            },
            Name::Test => PatchOp::Test {
                path,
                value: value()?,
            },
        })
    }
}

fn set<T, E: de::Error>(slot: &mut Option<T>, name: &'static str, value: T) -> Result<(), E> {
    match slot {
        Some(_) => Err(E::duplicate_field(name)),
        None => {
            *slot = Some(value);
            Ok(())
        }
    }
}

fn unexpected(v: &Value) -> Unexpected<'_> {
    match v {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => Unexpected::Unsigned(u),
            (_, Some(i), _) => Unexpected::Signed(i),
            (_, _, Some(f)) => Unexpected::Float(f),
            _ => Unexpected::Other("number"),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
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
        let e = serde_json::from_value::<PatchOp>(json!({"op": "move", "path": "/a"})).unwrap_err();
        assert!(e.to_string().contains("missing field `from`"), "{e}");
        let e = serde_json::from_value::<PatchOp>(json!({"op": "remove"})).unwrap_err();
        assert!(e.to_string().contains("missing field `path`"), "{e}");
        let e = serde_json::from_str::<PatchOp>(r#"{"op": "add", "op": "remove", "path": ""}"#)
            .unwrap_err();
        assert!(e.to_string().contains("duplicate field `op`"), "{e}");
        let e = serde_json::from_value::<PatchOp>(json!({"op": "copy", "from": 3, "path": "/a"}))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("invalid type: integer `3`, expected a string"),
            "{e}"
        );
        let e = serde_json::from_value::<PatchOp>(json!({"op": "add", "path": 3, "value": 1}))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("invalid type: integer `3`, expected a string"),
            "{e}"
        );
        for not_an_op in [json!("add"), json!([]), json!(null)] {
            let e = serde_json::from_value::<PatchOp>(not_an_op).unwrap_err();
            assert!(e.to_string().contains("a JSON Patch operation"), "{e}");
        }
    }

    /// RFC 6902: members an operation does not use are ignored, whatever they hold, and
    /// `op` need not come first.
    #[test]
    fn unused_members_are_ignored_and_op_may_come_last() {
        let op: PatchOp = serde_json::from_value(
            json!({"path": "/a", "value": {"deep": [1]}, "from": 7, "colour": "red", "op": "remove"}),
        )
        .unwrap();
        assert_eq!(op, PatchOp::Remove { path: "/a".into() });
        let op: PatchOp =
            serde_json::from_str(r#"{"from":"/x","value":null,"path":"/y","op":"copy"}"#).unwrap();
        assert_eq!(
            op,
            PatchOp::Copy {
                from: "/x".into(),
                path: "/y".into()
            }
        );
        // an explicit null is a value
        let op: PatchOp = serde_json::from_str(r#"{"op":"add","path":"/n","value":null}"#).unwrap();
        assert_eq!(
            op,
            PatchOp::Add {
                path: "/n".into(),
                value: Value::Null
            }
        );
    }
}
