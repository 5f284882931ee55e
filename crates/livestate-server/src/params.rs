//! Connect params from the WebSocket URL's query string.
//!
//! phoenix.js sends the socket's `params` option as query parameters, nesting objects as
//! `k[sub]=v` (arrays as `k[0]=a&k[1]=b`). Values arrive as strings.

use serde_json::{Map, Value};

/// Build the params object from decoded `(key, value)` pairs, leaving out `vsn`.
///
/// `user[name]=ann&user[tags][0]=a&x=1` gives `{"user": {"name": "ann", "tags": {"0": "a"}}, "x": "1"}`.
/// Where a key is both a value and an object (`a=1&a[b]=2`), the later pair wins. A key
/// nested more than 16 levels is a plain name.
pub(crate) fn nest(pairs: &[(String, String)]) -> Map<String, Value> {
    let mut root = Map::new();
    for (key, value) in pairs {
        if key == "vsn" {
            continue;
        }
        let path = split_key(key);
        insert(&mut root, &path, Value::String(value.clone()));
    }
    root
}

/// The deepest a key may nest (`a[b][c]...`); a deeper key is taken as a plain name, so a
/// hostile query string cannot build a value deep enough to hurt.
const MAX_NESTING: usize = 16;

fn split_key(key: &str) -> Vec<&str> {
    let Some(open) = key.find('[') else {
        return vec![key];
    };
    let mut path = vec![&key[..open]];
    let mut rest = &key[open..];
    while let Some(inner) = rest.strip_prefix('[') {
        match inner.find(']') {
            Some(close) if path.len() < MAX_NESTING => {
                path.push(&inner[..close]);
                rest = &inner[close + 1..];
            }
            Some(_) => return vec![key],
            // an unclosed bracket: the whole key is a plain name
            None => return vec![key],
        }
    }
    if !rest.is_empty() {
        return vec![key];
    }
    path
}

fn insert(map: &mut Map<String, Value>, path: &[&str], value: Value) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        map.insert((*first).to_owned(), value);
        return;
    }
    let slot = map
        .entry((*first).to_owned())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    if let Value::Object(inner) = slot {
        insert(inner, rest, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(s: &[(&str, &str)]) -> Vec<(String, String)> {
        s.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn nests_bracketed_keys() {
        let got = nest(&pairs(&[
            ("vsn", "2.0.0"),
            ("token", "abc"),
            ("user[name]", "ann"),
            ("user[tags][0]", "a"),
            ("user[tags][1]", "b"),
        ]));
        assert_eq!(
            Value::Object(got),
            json!({"token": "abc", "user": {"name": "ann", "tags": {"0": "a", "1": "b"}}})
        );
    }

    #[test]
    fn odd_keys_stay_plain() {
        let got = nest(&pairs(&[
            ("a[b", "1"),
            ("c]d", "2"),
            ("e[f]g", "3"),
            ("x", "1"),
            ("x[y]", "2"),
        ]));
        assert_eq!(
            Value::Object(got),
            json!({"a[b": "1", "c]d": "2", "e[f]g": "3", "x": {"y": "2"}})
        );
    }

    #[test]
    fn deep_keys_stay_plain() {
        let deep = format!("a{}", "[x]".repeat(100_000));
        let fine = format!("b{}", "[x]".repeat(15));
        let got = nest(&pairs(&[(&deep, "1"), (&fine, "2")]));
        assert_eq!(got[&deep], json!("1"));
        let mut v = &got["b"];
        for _ in 0..15 {
            v = &v["x"];
        }
        assert_eq!(v, &json!("2"));
    }
}
