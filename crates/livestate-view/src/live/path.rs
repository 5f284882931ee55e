//! Routes' paths (`/users/{id}`) and the URLs the client sends (`http://host/users/7?tab=a`).

use super::view::Params;
use crate::form;
use serde_json::Value;

/// A route's path: literal segments and `{name}` segments that become params.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathPattern {
    source: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

impl PathPattern {
    /// Parse `path` (`/`, `/users/{id}`).
    ///
    /// # Panics
    /// When `path` does not start with `/` or a `{` segment is not `{name}`: a
    /// misconfiguration found at start-up.
    pub(crate) fn parse(path: &str) -> PathPattern {
        assert!(
            path.starts_with('/'),
            "livestate: the view path {path:?} must start with /"
        );
        let segments = split(path)
            .map(|s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) if !name.is_empty() && !name.contains(['{', '}']) => {
                    Segment::Param(name.to_owned())
                }
                _ if s.contains(['{', '}']) => {
                    panic!("livestate: the view path {path:?} has a segment {s:?} that is not {{name}}")
                }
                _ => Segment::Literal(s.to_owned()),
            })
            .collect();
        PathPattern {
            source: path.to_owned(),
            segments,
        }
    }

    /// The path as written (axum routes it the same way).
    pub(crate) fn as_str(&self) -> &str {
        &self.source
    }

    /// The params of `path` when it matches.
    pub(crate) fn matches(&self, path: &str) -> Option<Params> {
        let mut params = Params::new();
        let mut parts = split(path);
        for segment in &self.segments {
            let part = parts.next()?;
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Literal(_) => return None,
                Segment::Param(name) => {
                    let value = percent_encoding::percent_decode_str(part)
                        .decode_utf8()
                        .ok()?;
                    params.insert(name.clone(), Value::String(value.into_owned()));
                }
            }
        }
        parts.next().is_none().then_some(params)
    }
}

fn split(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

/// A URL as the client sends it (absolute, or a path), split into its path and its query
/// params. `None` when the query does not decode (too deep, too many fields).
pub(crate) fn parse_url(url: &str) -> Option<(String, Params)> {
    let rest = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            &after[after.find('/').unwrap_or(after.len())..]
        }
        None => url,
    };
    let rest = rest.split('#').next().unwrap_or_default();
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let path = if path.is_empty() { "/" } else { path };
    let query = form::decode(query).ok()?;
    Some((path.to_owned(), query))
}

/// `to` (a path, or absolute) made absolute against the page's URL `base`, as the client
/// shows it after a patch.
pub(crate) fn absolute(base: &str, to: &str) -> String {
    if !to.starts_with('/') || to.starts_with("//") {
        return to.to_owned();
    }
    let origin = base.find("://").map(|i| {
        let after = &base[i + 3..];
        &base[..i + 3 + after.find('/').unwrap_or(after.len())]
    });
    format!("{}{to}", origin.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_match_literally_and_bind_params() {
        let p = PathPattern::parse("/users/{id}/edit");
        assert_eq!(
            p.matches("/users/7%20b/edit").map(Value::Object),
            Some(json!({"id": "7 b"}))
        );
        assert_eq!(p.matches("/users/7"), None);
        assert_eq!(p.matches("/users/7/edit/more"), None);
        assert_eq!(PathPattern::parse("/").matches("/"), Some(Params::new()));
        assert_eq!(PathPattern::parse("/").matches("/x"), None);
    }

    #[test]
    #[should_panic(expected = "is not {name}")]
    fn a_broken_param_segment_is_refused_at_start_up() {
        PathPattern::parse("/users/{id");
    }

    #[test]
    fn paths_are_made_absolute_against_the_page() {
        assert_eq!(absolute("http://h:4/a?b=1", "/c?d=2"), "http://h:4/c?d=2");
        assert_eq!(absolute("http://h", "/c"), "http://h/c");
        assert_eq!(absolute("/a", "/c"), "/c");
        assert_eq!(absolute("http://h/a", "https://x/y"), "https://x/y");
    }

    #[test]
    fn urls_split_into_path_and_nested_query() {
        let (path, query) = parse_url("http://localhost:4000/a/b?x=1&f[y]=2#top").unwrap();
        assert_eq!(path, "/a/b");
        assert_eq!(Value::Object(query), json!({"x": "1", "f": {"y": "2"}}));
        assert_eq!(parse_url("http://h").unwrap().0, "/");
        assert_eq!(parse_url("/only?").unwrap().0, "/only");
        let deep = format!("/p?a{}=1", "[b]".repeat(40));
        assert_eq!(parse_url(&deep), None);
    }
}
