//! The structural diff: the RFC 6902 patch between two JSON values.
//!
//! It is the fallback for changes that are not made through [`crate::Doc`]'s explicit
//! operations (a serde state's change, a whole replacement): it costs as much as both
//! values. Objects are compared member by member, arrays index by index (what is past the
//! end of the shorter one is added or removed); below [`MAX_DIFF_DEPTH`] levels a changed
//! value is replaced whole rather than compared further, so the diff never recurses deeper
//! than that, whatever it is given.

use crate::pointer::push_escaped;
use livestate_protocol::PatchOp;
use serde_json::{Map, Value};
use std::fmt::Write as _;

/// How deep the diff compares before it replaces a changed value whole.
pub const MAX_DIFF_DEPTH: usize = 64;

/// The RFC 6902 patch from `before` to `after`: applied to `before` in order, it gives
/// `after`.
///
/// ```
/// use livestate_doc::diff;
/// use serde_json::json;
/// let patch = diff(&json!({"a": 1, "b": [1, 2]}), &json!({"a": 2, "b": [1], "c/d": true}));
/// assert_eq!(
///     serde_json::to_value(&patch).unwrap(),
///     json!([
///         {"op": "replace", "path": "/a", "value": 2},
///         {"op": "remove", "path": "/b/1"},
///         {"op": "add", "path": "/c~1d", "value": true},
///     ])
/// );
/// ```
pub fn diff(before: &Value, after: &Value) -> Vec<PatchOp> {
    let mut patch = Vec::new();
    diff_at(before, after, &mut String::new(), 0, &mut patch);
    patch
}

fn diff_at(before: &Value, after: &Value, path: &mut String, depth: usize, out: &mut Vec<PatchOp>) {
    match (before, after) {
        (Value::Object(before), Value::Object(after)) if depth < MAX_DIFF_DEPTH => {
            diff_objects(before, after, path, depth, out);
        }
        (Value::Array(before), Value::Array(after)) if depth < MAX_DIFF_DEPTH => {
            diff_arrays(before, after, path, depth, out);
        }
        _ if before == after => {}
        _ => out.push(PatchOp::Replace {
            path: path.clone(),
            value: after.clone(),
        }),
    }
}

fn diff_objects(
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    path: &mut String,
    depth: usize,
    out: &mut Vec<PatchOp>,
) {
    let len = path.len();
    for (key, now) in after {
        path.push('/');
        push_escaped(path, key);
        match before.get(key) {
            Some(was) => diff_at(was, now, path, depth + 1, out),
            None => out.push(PatchOp::Add {
                path: path.clone(),
                value: now.clone(),
            }),
        }
        path.truncate(len);
    }
    for key in before.keys().filter(|key| !after.contains_key(*key)) {
        path.push('/');
        push_escaped(path, key);
        out.push(PatchOp::Remove { path: path.clone() });
        path.truncate(len);
    }
}

fn diff_arrays(
    before: &[Value],
    after: &[Value],
    path: &mut String,
    depth: usize,
    out: &mut Vec<PatchOp>,
) {
    let len = path.len();
    let common = before.len().min(after.len());
    for (i, (was, now)) in before.iter().zip(after).enumerate() {
        let _ = write!(path, "/{i}");
        diff_at(was, now, path, depth + 1, out);
        path.truncate(len);
    }
    // what the shorter `after` lacks: removed at the same index, one after another
    for _ in common..before.len() {
        let _ = write!(path, "/{common}");
        out.push(PatchOp::Remove { path: path.clone() });
        path.truncate(len);
    }
    for (i, now) in after.iter().enumerate().skip(common) {
        let _ = write!(path, "/{i}");
        out.push(PatchOp::Add {
            path: path.clone(),
            value: now.clone(),
        });
        path.truncate(len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::Doc;
    use serde_json::json;

    fn applied(before: &Value, patch: &[PatchOp]) -> Value {
        let mut doc = Doc::new(before.clone());
        doc.replay(patch).expect("the diff applies");
        doc.into_value()
    }

    #[test]
    fn equal_values_give_an_empty_patch() {
        let v = json!({"a": [1, {"b": null}], "c": "x"});
        assert!(diff(&v, &v.clone()).is_empty());
    }

    #[test]
    fn arrays_shrink_and_grow_at_the_end() {
        let before = json!({"l": [1, 2, 3, 4]});
        let after = json!({"l": [1, 9]});
        let patch = diff(&before, &after);
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            json!([
                {"op": "replace", "path": "/l/1", "value": 9},
                {"op": "remove", "path": "/l/2"},
                {"op": "remove", "path": "/l/2"},
            ])
        );
        assert_eq!(applied(&before, &patch), after);
        let patch = diff(&after, &before);
        assert_eq!(applied(&after, &patch), before);
    }

    #[test]
    fn keys_are_escaped_and_types_replaced() {
        let before = json!({"a~b": {"c/d": 1}, "n": [1], "gone": {}});
        let after = json!({"a~b": {"c/d": 2}, "n": {"0": 1}, "new": []});
        let patch = diff(&before, &after);
        assert_eq!(
            serde_json::to_value(&patch).unwrap(),
            json!([
                {"op": "replace", "path": "/a~0b/c~1d", "value": 2},
                {"op": "replace", "path": "/n", "value": {"0": 1}},
                {"op": "add", "path": "/new", "value": []},
                {"op": "remove", "path": "/gone"},
            ])
        );
        assert_eq!(applied(&before, &patch), after);
        assert_eq!(
            serde_json::to_value(diff(&json!(1), &json!([1]))).unwrap(),
            json!([{"op": "replace", "path": "", "value": [1]}])
        );
    }

    /// Past [`MAX_DIFF_DEPTH`] levels a change replaces the deepest compared value whole:
    /// the patch is still right, and the diff went no deeper.
    #[test]
    fn deep_values_are_replaced_below_the_depth_bound() {
        let nest = |leaf: Value| (0..MAX_DIFF_DEPTH + 10).fold(leaf, |v, _| json!([v]));
        let (before, after) = (nest(json!(1)), nest(json!(2)));
        let patch = diff(&before, &after);
        assert_eq!(patch.len(), 1);
        let expected_path = "/0".repeat(MAX_DIFF_DEPTH);
        assert_eq!(patch[0].path(), expected_path);
        let mut doc = Doc::with_limits(before, crate::StateLimits::TRUSTED);
        doc.replay(&patch).unwrap();
        assert_eq!(doc.value(), &after);
    }
}
