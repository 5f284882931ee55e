//! What a state may become ([`StateLimits`]), and measuring a value against them.
//!
//! A value's cost is its [`Size`] (its compact JSON encoding's length in bytes, what
//! `serde_json::to_vec` gives, and how many JSON values it holds, containers included) and
//! its nesting depth (`{}` and `[]` are 1, a scalar 0). Bytes bound what a state costs to
//! send; values bound what it costs to hold, since a value takes 32 bytes or more in
//! memory however short its JSON (`0,` is two bytes). [`measure`] walks a value without
//! recursion and stops as soon as it is over a budget, so a refused change costs at most
//! its budget to look at and allocates nothing.

use serde_json::Value;
use std::fmt::Write as _;

/// The deepest a state may be configured to nest: comfortably inside what serde_json reads
/// back (127 levels), since states are stored and sent as JSON.
pub const MAX_DEPTH_CEILING: usize = 100;

/// Bounds on one key's state, checked before a change is built. A change that would break
/// one is refused with an [`LimitError`] naming it, and the state stays as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct StateLimits {
    /// The deepest nesting of objects and arrays (default 64; at most
    /// [`MAX_DEPTH_CEILING`]).
    pub max_depth: usize,
    /// The largest the state may be as compact JSON, in bytes (default 16 MiB). One change
    /// may also write at most this much (a `copy` chain cannot cost more than one state).
    pub max_bytes: usize,
    /// The most JSON values the state may hold, containers included (default 250,000:
    /// tens of MiB in memory at most). One change may also write at most this many.
    pub max_values: usize,
    /// The most ops one RFC 6902 patch from a client or the API may have (default 1,000).
    pub max_patch_ops: usize,
}

impl Default for StateLimits {
    fn default() -> StateLimits {
        StateLimits {
            max_depth: 64,
            max_bytes: 16 << 20,
            max_values: 250_000,
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
        max_values: usize::MAX,
        max_patch_ops: usize::MAX,
    };

    /// Whether a whole state keeps within these limits (its size and depth; the op count
    /// is for patches). Looks at no more of it than the limits allow.
    pub fn check(&self, state: &Value) -> Result<(), LimitError> {
        measure(state, self.max_depth, self.max_size())
            .map(drop)
            .map_err(|over| self.error(over, ""))
    }

    /// The largest size a state may have.
    pub(crate) fn max_size(&self) -> Size {
        Size {
            bytes: self.max_bytes,
            values: self.max_values,
        }
    }

    /// The refusal for a state (`path` for depth) over one budget.
    pub(crate) fn error(&self, over: Over, path: &str) -> LimitError {
        match over {
            Over::Depth => LimitError::TooDeep {
                path: path.to_owned(),
                max: self.max_depth,
            },
            Over::Bytes => LimitError::TooLarge {
                max: self.max_bytes,
            },
            Over::Values => LimitError::TooManyValues {
                max: self.max_values,
            },
        }
    }

    /// The refusal for one change writing more than a state may hold.
    pub(crate) fn change_error(&self, over: Over, path: &str) -> LimitError {
        match over {
            Over::Bytes => LimitError::ChangeTooLarge {
                max: self.max_bytes,
            },
            Over::Values => LimitError::ChangeTooManyValues {
                max: self.max_values,
            },
            Over::Depth => self.error(over, path),
        }
    }
}

/// A change that would break a [`StateLimits`] bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
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
    /// A state holding more than `max_values` values.
    #[error("the state would hold more than {max} values (limit max_state_values = {max})")]
    TooManyValues {
        /// The limit.
        max: usize,
    },
    /// One change writing more than `max_values` values.
    #[error("the change writes more than {max} values (limit max_state_values = {max})")]
    ChangeTooManyValues {
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

/// How large a value is: what it costs to send (bytes of JSON) and to hold (values).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Size {
    /// Its compact JSON length.
    pub(crate) bytes: usize,
    /// The JSON values in it, containers included.
    pub(crate) values: usize,
}

impl Size {
    /// The sizes together.
    pub(crate) fn plus(self, other: Size) -> Size {
        Size {
            bytes: self.bytes.saturating_add(other.bytes),
            values: self.values.saturating_add(other.values),
        }
    }

    /// This size less `other` (a part of it).
    pub(crate) fn minus(self, other: Size) -> Size {
        Size {
            bytes: self.bytes.saturating_sub(other.bytes),
            values: self.values.saturating_sub(other.values),
        }
    }

    /// `bytes` more bytes.
    pub(crate) fn plus_bytes(self, bytes: usize) -> Size {
        Size {
            bytes: self.bytes.saturating_add(bytes),
            values: self.values,
        }
    }

    /// Which of `max`'s budgets this size breaks, if any.
    pub(crate) fn over(self, max: Size) -> Option<Over> {
        if self.bytes > max.bytes {
            Some(Over::Bytes)
        } else if self.values > max.values {
            Some(Over::Values)
        } else {
            None
        }
    }
}

/// What a value costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cost {
    /// Its size.
    pub(crate) size: Size,
    /// Its nesting depth.
    pub(crate) depth: usize,
}

/// Which budget a value is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Over {
    Depth,
    Bytes,
    Values,
}

/// The cost of `value`, or which budget it breaks: deeper than `max_depth`, or larger than
/// `max` in bytes or values. Iterative; looks at no more of the value than the budget
/// allows.
pub(crate) fn measure(value: &Value, max_depth: usize, max: Size) -> Result<Cost, Over> {
    enum Open<'a> {
        Array(std::slice::Iter<'a, Value>),
        Object(serde_json::map::Iter<'a>),
    }
    let mut size = Size::default();
    let mut depth = 0usize;
    let mut stack: Vec<Open<'_>> = Vec::new();
    let mut next = Some(value);
    loop {
        if let Some(v) = next.take() {
            size.values += 1;
            match v {
                Value::Array(items) => {
                    size.bytes += 2 + items.len().saturating_sub(1);
                    stack.push(Open::Array(items.iter()));
                }
                Value::Object(map) => {
                    size.bytes += 2 + map.len().saturating_sub(1);
                    stack.push(Open::Object(map.iter()));
                }
                scalar => size.bytes += scalar_len(scalar),
            }
            depth = depth.max(stack.len());
            if depth > max_depth {
                return Err(Over::Depth);
            }
            if let Some(over) = size.over(max) {
                return Err(over);
            }
        }
        let Some(top) = stack.last_mut() else {
            return Ok(Cost { size, depth });
        };
        next = match top {
            Open::Array(items) => items.next(),
            Open::Object(members) => members.next().map(|(k, v)| {
                size.bytes += string_len(k) + 1;
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

    const NO_LIMIT: Size = Size {
        bytes: usize::MAX,
        values: usize::MAX,
    };

    fn cost(v: &Value) -> Cost {
        measure(v, usize::MAX, NO_LIMIT).unwrap()
    }

    fn bytes(max: usize) -> Size {
        Size {
            bytes: max,
            values: usize::MAX,
        }
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
            assert_eq!(
                cost(&v).size.bytes,
                serde_json::to_vec(&v).unwrap().len(),
                "{v}"
            );
        }
    }

    #[test]
    fn values_count_every_value() {
        assert_eq!(cost(&json!(1)).size.values, 1);
        assert_eq!(cost(&json!({})).size.values, 1);
        assert_eq!(
            cost(&json!({"a": [1, {"b": []}], "c": null})).size.values,
            6
        );
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
        assert_eq!(measure(&v, 4, bytes(100)), Err(Over::Depth));
        assert_eq!(measure(&v, 5, bytes(100)).unwrap().depth, 5);
        assert_eq!(measure(&v, 5, bytes(5)), Err(Over::Bytes));
        // a value much larger than the budget is refused after looking at little of it
        let big = Value::Array(vec![json!("x".repeat(100)); 100_000]);
        assert_eq!(measure(&big, 64, bytes(1000)), Err(Over::Bytes));
        let values = Size {
            bytes: usize::MAX,
            values: 6,
        };
        assert_eq!(measure(&v, 64, values).unwrap().size.values, 6);
        let zeros = Value::Array(vec![json!(0); 1_000_000]);
        assert_eq!(measure(&zeros, 64, values), Err(Over::Values));
    }

    #[test]
    fn deep_values_do_not_recurse() {
        let mut v = json!(0);
        for _ in 0..100_000 {
            v = Value::Array(vec![v]);
        }
        assert_eq!(measure(&v, 64, NO_LIMIT), Err(Over::Depth));
        assert_eq!(cost(&v).depth, 100_000);
        // dropping it would recurse: take it apart level by level
        while let Value::Array(mut items) = v {
            v = items.pop().unwrap_or(Value::Null);
        }
    }
}
