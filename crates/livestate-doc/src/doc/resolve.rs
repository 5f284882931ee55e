//! Finding values by JSON Pointer, and the errors and descriptions that go with it.

use super::error::OpError;
use crate::pointer::{self, Pointer};
use serde_json::{Number, Value};

/// The value at the JSON Pointer `path` in `value`, with the error a `Doc` would give.
pub fn lookup<'a>(value: &'a Value, path: &str) -> Result<&'a Value, OpError> {
    let ptr = Pointer::parse(path)?;
    resolve(value, ptr.tokens())
}

pub(super) fn resolve<'a>(root: &'a Value, tokens: &[String]) -> Result<&'a Value, OpError> {
    let mut cur = root;
    for (i, token) in tokens.iter().enumerate() {
        cur = match cur {
            Value::Object(map) => map
                .get(token)
                .ok_or_else(|| OpError::NotFound(pointer::encode(&tokens[..=i])))?,
            Value::Array(items) => {
                let index =
                    array_index(&tokens[..i], token, items.len(), false).map_err(|e| match e {
                        OpError::OutOfBounds { .. } => {
                            OpError::NotFound(pointer::encode(&tokens[..=i]))
                        }
                        e => e,
                    })?;
                &items[index]
            }
            other => return Err(not_container(&tokens[..i], other, token)),
        };
    }
    Ok(cur)
}

pub(super) fn resolve_mut<'a>(
    root: &'a mut Value,
    tokens: &[String],
) -> Result<&'a mut Value, OpError> {
    // Walk once immutably for the precise error, then mutably along a path known to exist.
    resolve(root, tokens)?;
    let mut cur = root;
    for token in tokens {
        let next = match cur {
            Value::Object(map) => map.get_mut(token),
            Value::Array(items) => pointer::parse_index(token).and_then(|i| items.get_mut(i)),
            _ => None,
        };
        cur = next.ok_or_else(|| OpError::NotFound(pointer::encode(tokens)))?;
    }
    Ok(cur)
}

/// The index `token` names in an array of `len` elements. With `insert`, `-` and `len`
/// itself are allowed (a position to insert at); without, only existing elements.
pub(super) fn array_index(
    parent: &[String],
    token: &str,
    len: usize,
    insert: bool,
) -> Result<usize, OpError> {
    if insert && token == "-" {
        return Ok(len);
    }
    let index = pointer::parse_index(token).ok_or_else(|| OpError::BadIndex {
        path: pointer::encode(parent),
        token: token.to_owned(),
    })?;
    let limit = if insert { len + 1 } else { len };
    if index < limit {
        Ok(index)
    } else if insert {
        Err(OpError::OutOfBounds {
            path: pointer::encode(parent),
            index,
            len,
        })
    } else {
        Err(OpError::NotFound(pointer::encode_child(parent, token)))
    }
}

pub(super) fn array_len(root: &Value, ptr: &Pointer) -> Result<usize, OpError> {
    match resolve(root, ptr.tokens())? {
        Value::Array(items) => Ok(items.len()),
        other => Err(OpError::NotArray {
            path: ptr.to_string(),
            kind: kind(other),
        }),
    }
}

pub(super) fn not_container(parent: &[String], value: &Value, token: &str) -> OpError {
    OpError::NotContainer {
        path: display_path(&pointer::encode(parent)),
        kind: kind(value),
        token: token.to_owned(),
    }
}

fn display_path(p: &str) -> String {
    if p.is_empty() {
        "the root".to_owned()
    } else {
        p.to_owned()
    }
}

pub(super) fn add_number(n: &Number, by: i64) -> Option<Number> {
    if let Some(i) = n.as_i64() {
        return i.checked_add(by).map(Number::from);
    }
    if let Some(u) = n.as_u64() {
        let sum = i128::from(u) + i128::from(by);
        return u64::try_from(sum)
            .map(Number::from)
            .ok()
            .or_else(|| i64::try_from(sum).ok().map(Number::from));
    }
    n.as_f64().and_then(|f| Number::from_f64(f + by as f64))
}

/// What a value is, for messages: "an object", "a number", ...
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

pub(super) fn abridged(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 80 {
        let mut cut = 77;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}
