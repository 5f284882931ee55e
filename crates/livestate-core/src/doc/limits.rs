//! What a state may become ([`StateLimits`]), and measuring a value against them.
//!
//! A value's cost is its compact JSON encoding's length in bytes (what `serde_json::to_vec`
//! gives) and its nesting depth (`{}` and `[]` are 1, a scalar 0). [`measure`] walks a
//! value without recursion and stops as soon as it is over a budget, so a refused change
//! costs at most its budget to look at and allocates nothing.

use serde_json::Value;
use std::fmt::Write as _;

/// The deepest a state may be configured to nest: comfortably inside what serde_json reads
/// back (127 levels), since states are stored and sent as JSON.
pub const MAX_DEPTH_CEILING: usize = 100;

/// Bounds on one key's state, checked before a change is built. A change that would break
/// one is refused with an [`LimitError`] naming it, and the state stays as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateLimits {
    /// The deepest nesting of objects and arrays (default 64; at most
    /// [`MAX_DEPTH_CEILING`]).
    pub max_depth: usize,
    /// The largest the state may be as compact JSON, in bytes (default 16 MiB). One change
    /// may also write at most this much (a `copy` chain cannot cost more than one state).
    pub max_bytes: usize,
    /// The most ops one RFC 6902 patch from a client or the API may have (default 1,000).
    pub max_patch_ops: usize,
}

impl Default for StateLimits {
    fn default() -> StateLimits {
        StateLimits {
            max_depth: 64,
            max_bytes: 16 << 20,
            max_patch_ops: 1000,
        }
    }
}

impl StateLimits {
    /// For states this server wrote itself (a change log read back, a client applying the
    /// server's patches): no bound on size or ops, only the depth ceiling, so that nothing
    /// recurses without a bound.
    pub const TRUSTED: StateLimits = StateLimits {
        max_depth: MAX_DEPTH_CEILING,
        max_bytes: usize::MAX,
        max_patch_ops: usize::MAX,
    };

    /// Whether a whole state keeps within these limits (its size and depth; the op count
    /// is for patches). Looks at no more of it than the limits allow.
    pub fn check(&self, state: &Value) -> Result<(), LimitError> {
        measure(state, self.max_depth, self.max_bytes)
            .map(drop)
            .map_err(|over| self.error(over, ""))
    }

    pub(crate) fn error(&self, over: Over, path: &str) -> LimitError {
        match over {
            Over::Depth => LimitError::TooDeep {
                path: path.to_owned(),
                max: self.max_depth,
            },
            Over::Bytes => LimitError::TooLarge {
                max: self.max_bytes,
            },
        }
    }
}

/// A change that would break a [`StateLimits`] bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitError {
    /// Nesting deeper than `max_depth`.
    #[error(
        "{} would nest more than {max} levels deep (limit max_depth = {max})",
        at(path)
    )]
    TooDeep {
        /// Where the value would go (`""` for the root).
        path: String,
        /// The limit.
        max: usize,
    },
    /// A state larger than `max_bytes`.
    #[error("the state would be more than {max} bytes as JSON (limit max_state_bytes = {max})")]
    TooLarge {
        /// The limit.
        max: usize,
    },
    /// One change writing more than `max_bytes`.
    #[error("the change writes more than {max} bytes (limit max_state_bytes = {max})")]
    ChangeTooLarge {
        /// The limit.
        max: usize,
    },
    /// A patch with more than `max_patch_ops` ops.
    #[error("the patch has {ops} ops (limit max_patch_ops = {max})")]
    TooManyOps {
        /// The patch's ops.
        ops: usize,
        /// The limit.
        max: usize,
    },
}

fn at(path: &str) -> String {
    if path.is_empty() {
        "the state".to_owned()
    } else {
        format!("the value at {path}")
    }
}

/// What a value costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cost {
    /// Its compact JSON length.
    pub(crate) bytes: usize,
    /// Its nesting depth.
    pub(crate) depth: usize,
}

/// Which budget a value is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Over {
    Depth,
    Bytes,
}

/// The cost of `value`, or which budget it breaks: deeper than `max_depth` or longer than
/// `max_bytes`. Iterative; looks at no more of the value than the budget allows.
pub(crate) fn measure(value: &Value, max_depth: usize, max_bytes: usize) -> Result<Cost, Over> {
    enum Open<'a> {
        Array(std::slice::Iter<'a, Value>),
        Object(serde_json::map::Iter<'a>),
    }
    let mut bytes = 0usize;
    let mut depth = 0usize;
    let mut stack: Vec<Open<'_>> = Vec::new();
    let mut next = Some(value);
    loop {
        if let Some(v) = next.take() {
            match v {
                Value::Array(items) => {
                    bytes += 2 + items.len().saturating_sub(1);
                    stack.push(Open::Array(items.iter()));
                }
                Value::Object(map) => {
                    bytes += 2 + map.len().saturating_sub(1);
                    stack.push(Open::Object(map.iter()));
                }
                scalar => bytes += scalar_len(scalar),
            }
            depth = depth.max(stack.len());
            if depth > max_depth {
                return Err(Over::Depth);
            }
            if bytes > max_bytes {
                return Err(Over::Bytes);
            }
        }
        let Some(top) = stack.last_mut() else {
            return Ok(Cost { bytes, depth });
        };
        next = match top {
            Open::Array(items) => items.next(),
            Open::Object(members) => members.next().map(|(k, v)| {
                bytes += string_len(k) + 1;
                v
            }),
        };
        if next.is_none() {
            stack.pop();
        }
    }
}

/// The encoded length of a scalar (for a container, its brackets only).
fn scalar_len(v: &Value) -> usize {
    match v {
        Value::Null => 4,
        Value::Bool(true) => 4,
        Value::Bool(false) => 5,
        Value::Number(n) => {
            let mut counter = Counter(0);
            let _ = write!(counter, "{n}");
            counter.0
        }
        Value::String(s) => string_len(s),
        Value::Array(_) | Value::Object(_) => 2,
    }
}

/// The encoded length of a JSON string, quotes and escapes included (as serde_json writes
/// it: `"` `\` and control characters escaped, everything else as UTF-8).
pub(crate) fn string_len(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|b| match b {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// Counts what is written to it.
struct Counter(usize);

impl std::fmt::Write for Counter {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cost(v: &Value) -> Cost {
        measure(v, usize::MAX, usize::MAX).unwrap()
    }

    #[test]
    fn bytes_are_the_compact_encoding() {
        for v in [
            json!(null),
            json!(true),
            json!(false),
            json!(0),
            json!(-12345678901234i64),
            json!(u64::MAX),
            json!(1.5),
            json!(1e300),
            json!(-0.000001),
            json!("a\"b\\c\n\u{1}\u{7f}é😀"),
            json!([]),
            json!({}),
            json!([1, [2, [3, {}]], {"k": "v", "": null}]),
            json!({"a~/\"": {"b": [true, false, "x"]}}),
        ] {
            assert_eq!(cost(&v).bytes, serde_json::to_vec(&v).unwrap().len(), "{v}");
        }
    }

    #[test]
    fn depth_counts_containers() {
        assert_eq!(cost(&json!(1)).depth, 0);
        assert_eq!(cost(&json!({})).depth, 1);
        assert_eq!(cost(&json!({"a": [1, {"b": []}]})).depth, 4);
        assert_eq!(cost(&json!([[], [[]], []])).depth, 3);
    }

    #[test]
    fn stops_at_the_budget() {
        let v = json!({"a": [[[[1]]]]});
        assert_eq!(measure(&v, 4, 100), Err(Over::Depth));
        assert_eq!(measure(&v, 5, 100).unwrap().depth, 5);
        assert_eq!(measure(&v, 5, 5), Err(Over::Bytes));
        // a value much larger than the budget is refused after looking at little of it
        let big = Value::Array(vec![json!("x".repeat(100)); 100_000]);
        assert_eq!(measure(&big, 64, 1000), Err(Over::Bytes));
    }

    #[test]
    fn deep_values_do_not_recurse() {
        let mut v = json!(0);
        for _ in 0..100_000 {
            v = Value::Array(vec![v]);
        }
        assert_eq!(measure(&v, 64, usize::MAX), Err(Over::Depth));
        assert_eq!(cost(&v).depth, 100_000);
        // dropping it would recurse: take it apart level by level
        while let Value::Array(mut items) = v {
            v = items.pop().unwrap_or(Value::Null);
        }
    }
}
