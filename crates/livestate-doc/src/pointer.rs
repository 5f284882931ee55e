//! RFC 6901 JSON Pointers: parsing, encoding, and the errors of a bad one.

use std::fmt::Write as _;

/// A parsed JSON Pointer: its reference tokens, unescaped. The root is the empty list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pointer {
    tokens: Vec<String>,
}

/// Why a string is not a JSON Pointer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PointerError {
    /// A non-empty pointer must start with `/`.
    #[error("{0:?} is not a JSON Pointer: it must be empty or start with '/'")]
    NoLeadingSlash(String),
    /// `~` must be followed by `0` or `1`.
    #[error("{0:?} is not a JSON Pointer: '~' must be followed by '0' or '1'")]
    BadEscape(String),
}

impl Pointer {
    /// The root pointer (`""`).
    pub fn root() -> Pointer {
        Pointer::default()
    }

    /// Parse an encoded pointer such as `/a/b~1c/0`.
    ///
    /// ```
    /// use livestate_doc::pointer::Pointer;
    /// let p = Pointer::parse("/a/b~1c/~0d").unwrap();
    /// assert_eq!(p.tokens(), ["a", "b/c", "~d"]);
    /// assert!(Pointer::parse("a/b").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Pointer, PointerError> {
        if s.is_empty() {
            return Ok(Pointer::root());
        }
        let Some(rest) = s.strip_prefix('/') else {
            return Err(PointerError::NoLeadingSlash(s.to_owned()));
        };
        let tokens = rest
            .split('/')
            .map(|t| unescape(t).ok_or_else(|| PointerError::BadEscape(s.to_owned())))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Pointer { tokens })
    }

    /// A pointer from unescaped tokens.
    pub fn from_tokens<I, S>(tokens: I) -> Pointer
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Pointer {
            tokens: tokens.into_iter().map(Into::into).collect(),
        }
    }

    /// The unescaped reference tokens.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// Whether this is the root pointer.
    pub fn is_root(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The parent pointer and the last token, or `None` for the root.
    pub fn split_last(&self) -> Option<(&[String], &str)> {
        self.tokens
            .split_last()
            .map(|(last, parent)| (parent, last.as_str()))
    }

    /// Whether `self` is a proper prefix of `other` (a move into one's own child).
    pub fn is_proper_prefix_of(&self, other: &Pointer) -> bool {
        self.tokens.len() < other.tokens.len() && other.tokens.starts_with(&self.tokens)
    }

    /// A pointer one level deeper.
    pub fn child(&self, token: impl Into<String>) -> Pointer {
        let mut tokens = self.tokens.clone();
        tokens.push(token.into());
        Pointer { tokens }
    }
}

impl std::fmt::Display for Pointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&encode(&self.tokens))
    }
}

impl std::str::FromStr for Pointer {
    type Err = PointerError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Pointer::parse(s)
    }
}

fn unescape(token: &str) -> Option<String> {
    if !token.contains('~') {
        return Some(token.to_owned());
    }
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// Encode unescaped tokens as a pointer string.
pub fn encode<S: AsRef<str>>(tokens: &[S]) -> String {
    let mut out = String::new();
    for t in tokens {
        out.push('/');
        push_escaped(&mut out, t.as_ref());
    }
    out
}

/// Encode `parent` tokens plus one more token.
pub(crate) fn encode_child<S: AsRef<str>>(parent: &[S], last: &str) -> String {
    let mut out = encode(parent);
    out.push('/');
    push_escaped(&mut out, last);
    out
}

/// Encode `parent` tokens plus an array index.
pub(crate) fn encode_index<S: AsRef<str>>(parent: &[S], index: usize) -> String {
    let mut out = encode(parent);
    let _ = write!(out, "/{index}");
    out
}

pub(crate) fn push_escaped(out: &mut String, token: &str) {
    for c in token.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
}

/// Parse an array index token: digits without a leading zero (`"0"` is fine).
pub(crate) fn parse_index(token: &str) -> Option<usize> {
    if token.is_empty() || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    if !token.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    token.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc6901_examples() {
        assert!(Pointer::parse("").unwrap().is_root());
        assert_eq!(Pointer::parse("/").unwrap().tokens(), [""]);
        assert_eq!(Pointer::parse("/a~1b").unwrap().tokens(), ["a/b"]);
        assert_eq!(Pointer::parse("/m~0n").unwrap().tokens(), ["m~n"]);
        assert_eq!(Pointer::parse("/ ").unwrap().tokens(), [" "]);
        assert_eq!(Pointer::parse("//x").unwrap().tokens(), ["", "x"]);
    }

    #[test]
    fn rejects_bad_pointers() {
        assert_eq!(
            Pointer::parse("a").unwrap_err(),
            PointerError::NoLeadingSlash("a".into())
        );
        assert_eq!(
            Pointer::parse("/a~2").unwrap_err(),
            PointerError::BadEscape("/a~2".into())
        );
        assert!(Pointer::parse("/a~").is_err());
    }

    #[test]
    fn encodes_back() {
        for s in ["", "/", "/a~1b/m~0n/0", "/x/-"] {
            assert_eq!(Pointer::parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn array_indexes() {
        assert_eq!(parse_index("0"), Some(0));
        assert_eq!(parse_index("12"), Some(12));
        assert_eq!(parse_index("01"), None);
        assert_eq!(parse_index("-"), None);
        assert_eq!(parse_index("1e3"), None);
        assert_eq!(parse_index(""), None);
        assert_eq!(parse_index("+1"), None);
    }
}
