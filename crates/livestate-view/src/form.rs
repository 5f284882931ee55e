//! Form values as the stock client sends them (`phx-change`, `phx-submit`: the form as one
//! URL-encoded string), decoded into nested maps as Plug decodes a query string:
//!
//! ```text
//! user[email]=a%40b.c&user[tags][]=x&user[tags][]=y&user[_unused_name]=&save=
//! → {"user": {"email": "a@b.c", "tags": ["x", "y"], "_unused_name": ""}, "save": ""}
//! ```
//!
//! - `a[b][c]` nests maps; `a[]` appends to a list; `a[][b]` builds a list of maps, starting
//!   a new map when the last one already has `b`.
//! - A later value replaces an earlier one of the same key (or of another shape).
//! - A key whose brackets do not close (`a[b`) or that starts with `[` is taken literally.
//! - `+` is a space; `%XX` escapes are decoded (invalid UTF-8 becomes U+FFFD).
//! - Bounded: at most [`FormLimits::max_depth`] key parts and [`FormLimits::max_fields`]
//!   fields; past either, [`FormError`] names the key. Nothing recurses deeper than that.

use serde_json::{Map, Value};
use std::fmt;

/// How much one form may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FormLimits {
    /// Parts of one key (`a[b][c]` has 3). Default 32.
    pub max_depth: usize,
    /// Fields (`name=value` pairs). Default 10,000.
    pub max_fields: usize,
}

impl Default for FormLimits {
    fn default() -> FormLimits {
        FormLimits {
            max_depth: 32,
            max_fields: 10_000,
        }
    }
}

/// A form that could not be decoded within its limits.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormError {
    /// A key with more parts than [`FormLimits::max_depth`].
    TooDeep {
        /// The key, as sent.
        key: String,
        /// The limit.
        max_depth: usize,
    },
    /// More fields than [`FormLimits::max_fields`].
    TooManyFields {
        /// The limit.
        max_fields: usize,
    },
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormError::TooDeep { key, max_depth } => {
                write!(f, "form field {key:?} nests more than {max_depth} levels")
            }
            FormError::TooManyFields { max_fields } => {
                write!(f, "the form has more than {max_fields} fields")
            }
        }
    }
}

impl std::error::Error for FormError {}

/// Decode a URL-encoded form within the default [`FormLimits`].
///
/// ```
/// use livestate_view::form;
/// use serde_json::json;
///
/// let params = form::decode("user%5Bemail%5D=a%40b.c&user[roles][]=admin&q=two+words")?;
/// assert_eq!(
///     serde_json::Value::Object(params),
///     json!({"user": {"email": "a@b.c", "roles": ["admin"]}, "q": "two words"})
/// );
/// # Ok::<(), livestate_view::form::FormError>(())
/// ```
pub fn decode(encoded: &str) -> Result<Map<String, Value>, FormError> {
    decode_with(encoded, FormLimits::default())
}

/// Decode a URL-encoded form within `limits`.
pub fn decode_with(encoded: &str, limits: FormLimits) -> Result<Map<String, Value>, FormError> {
    let mut out = Map::new();
    let mut fields = 0;
    for (key, value) in form_urlencoded::parse(encoded.as_bytes()) {
        if key.is_empty() {
            continue;
        }
        fields += 1;
        if fields > limits.max_fields {
            return Err(FormError::TooManyFields {
                max_fields: limits.max_fields,
            });
        }
        let parts = key_path(&key);
        if parts.len() > limits.max_depth {
            return Err(FormError::TooDeep {
                key: key.into_owned(),
                max_depth: limits.max_depth,
            });
        }
        let (root, rest) = parts.split_first().expect("a key has a first part");
        insert(&mut out, root, rest, Value::String(value.into_owned()));
    }
    Ok(out)
}

/// The parts of a field's name: `user[email]` is `["user", "email"]`, `tags[]` is
/// `["tags", ""]` (an empty part appends to a list). What a `phx-change` event's `_target`
/// (the changed input's name) names in the decoded form.
///
/// ```
/// assert_eq!(livestate_view::form::key_path("user[address][city]"), ["user", "address", "city"]);
/// assert_eq!(livestate_view::form::key_path("a[b"), ["a[b"]);
/// ```
pub fn key_path(name: &str) -> Vec<String> {
    let literal = || vec![name.to_owned()];
    let Some(open) = name.find('[') else {
        return literal();
    };
    if open == 0 {
        return literal();
    }
    let mut parts = vec![name[..open].to_owned()];
    let mut rest = &name[open..];
    while !rest.is_empty() {
        let Some(inner) = rest.strip_prefix('[') else {
            return literal();
        };
        let Some(close) = inner.find(']') else {
            return literal();
        };
        parts.push(inner[..close].to_owned());
        rest = &inner[close + 1..];
    }
    parts
}

/// Put `value` at `key` + `rest` under `map` (`rest` is at most the depth limit long).
fn insert(map: &mut Map<String, Value>, key: &str, rest: &[String], value: Value) {
    let Some((next, after)) = rest.split_first() else {
        map.insert(key.to_owned(), value);
        return;
    };
    let slot = map.entry(key.to_owned()).or_insert(Value::Null);
    if next.is_empty() {
        // `key[]...`: a list
        if !slot.is_array() {
            *slot = Value::Array(Vec::new());
        }
        let list = slot.as_array_mut().expect("made a list");
        match after.split_first() {
            None => list.push(value),
            Some((field, _)) => {
                // `key[][field]...`: into the last map unless it has `field` already
                let reuse = matches!(list.last(), Some(Value::Object(m)) if !m.contains_key(field));
                if !reuse {
                    list.push(Value::Object(Map::new()));
                }
                let Some(Value::Object(last)) = list.last_mut() else {
                    unreachable!("the last entry is a map")
                };
                insert(last, field, &after[1..], value);
            }
        }
        return;
    }
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    let inner = slot.as_object_mut().expect("made a map");
    insert(inner, next, after, value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decoded(s: &str) -> Value {
        Value::Object(decode(s).unwrap())
    }

    #[test]
    fn flat_nested_and_escaped_fields() {
        assert_eq!(decoded(""), json!({}));
        assert_eq!(decoded("a=1&b=2"), json!({"a": "1", "b": "2"}));
        assert_eq!(
            decoded("q=two+words&e=a%40b%26c"),
            json!({"q": "two words", "e": "a@b&c"})
        );
        assert_eq!(
            decoded("user[name]=ada&user[address][city]=London"),
            json!({"user": {"name": "ada", "address": {"city": "London"}}})
        );
        assert_eq!(
            decoded("user%5Bname%5D=ada"),
            json!({"user": {"name": "ada"}})
        );
        // what phx-change sends for an untouched field, and a submit button
        assert_eq!(
            decoded("user[_unused_email]=&user[email]=&save="),
            json!({"user": {"_unused_email": "", "email": ""}, "save": ""})
        );
        // no `=`, empty pairs, a bare `&`
        assert_eq!(decoded("flag&&x=1&"), json!({"flag": "", "x": "1"}));
    }

    #[test]
    fn lists_and_lists_of_maps() {
        assert_eq!(decoded("t[]=a&t[]=b"), json!({"t": ["a", "b"]}));
        assert_eq!(
            decoded("u[][name]=a&u[][age]=1&u[][name]=b"),
            json!({"u": [{"name": "a", "age": "1"}, {"name": "b"}]})
        );
        assert_eq!(
            decoded("m[t][]=x&m[t][]=y"),
            json!({"m": {"t": ["x", "y"]}})
        );
    }

    #[test]
    fn later_values_win_whatever_their_shape() {
        assert_eq!(decoded("a=1&a=2"), json!({"a": "2"}));
        assert_eq!(decoded("a=1&a[b]=2"), json!({"a": {"b": "2"}}));
        assert_eq!(decoded("a[b]=2&a=1"), json!({"a": "1"}));
        assert_eq!(decoded("a[]=1&a[b]=2"), json!({"a": {"b": "2"}}));
    }

    #[test]
    fn malformed_keys_are_literal_and_bad_escapes_are_kept() {
        assert_eq!(decoded("a[b=1"), json!({"a[b": "1"}));
        assert_eq!(decoded("[a]=1"), json!({"[a]": "1"}));
        assert_eq!(decoded("a[b]c=1"), json!({"a[b]c": "1"}));
        assert_eq!(
            decoded("a=%ZZ%&b=%FF"),
            json!({"a": "%ZZ%", "b": "\u{FFFD}"})
        );
    }

    #[test]
    fn depth_and_field_count_are_bounded() {
        let deep = format!("a{}=1", "[x]".repeat(40));
        let e = decode(&deep).unwrap_err();
        assert!(matches!(e, FormError::TooDeep { max_depth: 32, .. }), "{e}");
        assert!(e.to_string().contains("nests more than 32 levels"), "{e}");
        let just = format!("a{}=1", "[x]".repeat(31));
        assert!(decode(&just).is_ok());

        let many = "x=1&".repeat(10_001);
        assert_eq!(
            decode(&many).unwrap_err(),
            FormError::TooManyFields { max_fields: 10_000 }
        );
        let limits = FormLimits {
            max_depth: 2,
            max_fields: 2,
        };
        assert!(decode_with("a[b]=1&c=2", limits).is_ok());
        assert!(decode_with("a[b][c]=1", limits).is_err());
        assert!(decode_with("a=1&b=2&c=3", limits).is_err());
    }

    #[test]
    fn a_target_names_its_path() {
        assert_eq!(key_path("email"), ["email"]);
        assert_eq!(key_path("user[email]"), ["user", "email"]);
        assert_eq!(key_path("tags[]"), ["tags", ""]);
        assert_eq!(key_path("a]b"), ["a]b"]);
    }
}
