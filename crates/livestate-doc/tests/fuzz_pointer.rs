//! Property tests of RFC 6901 JSON Pointers ([`livestate_doc::pointer`]).
//!
//! - `Pointer::parse` never panics on any string, accepts exactly the strings RFC 6901
//!   allows (empty, or `/`-led with every `~` followed by `0` or `1`), names the right
//!   error otherwise, and re-encodes an accepted string to itself (`Display`).
//! - `parse(encode(tokens)) == tokens` for any token list (with `~`, `/`, empty tokens,
//!   escapes-lookalikes and unicode), and `from_tokens(..).to_string()` is that encoding.
//! - `child`, `split_last` and `is_proper_prefix_of` agree with the token lists.
//!
//! `LIVESTATE_FUZZ_CASES` raises the number of cases (default 256).

mod fuzz;

use fuzz::config;
use livestate_doc::pointer::{self, Pointer, PointerError};
use proptest::prelude::*;

/// Whether RFC 6901 allows `s`, decided without the code under test.
fn is_valid(s: &str) -> bool {
    if s.is_empty() {
        return true;
    }
    if !s.starts_with('/') {
        return false;
    }
    let bytes = s.as_bytes();
    bytes
        .iter()
        .enumerate()
        .all(|(i, &b)| b != b'~' || matches!(bytes.get(i + 1), Some(b'0' | b'1')))
}

/// The tokens of a valid pointer, decided without the code under test: split on `/`, then
/// `~1` to `/` before `~0` to `~` (the order RFC 6901 prescribes).
fn tokens_of(s: &str) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    s[1..]
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect()
}

/// Strings that look like pointers more often than random ones do.
fn pointer_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[/~01a-z]{0,12}",
        "(/([a-z~]|~0|~1|~2|~)*){0,5}",
        "/[\\PC~/]{0,10}",
    ]
}

fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("~".to_owned()),
        Just("/".to_owned()),
        Just("~0".to_owned()),
        Just("~1".to_owned()),
        Just("~01".to_owned()),
        Just("-".to_owned()),
        Just("0".to_owned()),
        Just("01".to_owned()),
        "[~/a-z0-9é😀 ]{0,6}",
        any::<String>(),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn parse_accepts_exactly_rfc6901(s in pointer_like()) {
        let parsed = Pointer::parse(&s);
        prop_assert_eq!(parsed.is_ok(), is_valid(&s), "{:?}: {:?}", s, parsed);
        match parsed {
            Ok(p) => {
                let want = tokens_of(&s);
                prop_assert_eq!(p.tokens(), want.as_slice());
                prop_assert_eq!(p.to_string(), s.clone());
                prop_assert_eq!(p.is_root(), s.is_empty());
                prop_assert_eq!(s.parse::<Pointer>(), Ok(p));
            }
            Err(PointerError::NoLeadingSlash(got)) => {
                prop_assert!(!s.is_empty() && !s.starts_with('/'));
                prop_assert_eq!(got, s);
            }
            Err(PointerError::BadEscape(got)) => {
                prop_assert!(s.starts_with('/'));
                prop_assert_eq!(got, s);
            }
        }
    }

    #[test]
    fn encoded_tokens_parse_back(tokens in proptest::collection::vec(token(), 0..8)) {
        let encoded = pointer::encode(&tokens);
        prop_assert!(is_valid(&encoded), "{:?} encodes to {:?}", tokens, encoded);
        prop_assert_eq!(encoded.matches('/').count(), tokens.len());
        let parsed = Pointer::parse(&encoded).unwrap();
        prop_assert_eq!(parsed.tokens(), tokens.as_slice());
        let built = Pointer::from_tokens(tokens.iter().cloned());
        prop_assert_eq!(built.to_string(), encoded.clone());
        prop_assert_eq!(Pointer::parse(&built.to_string()), Ok(built.clone()));
        prop_assert_eq!(built, parsed);
    }

    #[test]
    fn children_and_prefixes(
        tokens in proptest::collection::vec(token(), 0..6),
        last in token(),
        other in proptest::collection::vec(token(), 0..6),
    ) {
        let parent = Pointer::from_tokens(tokens.iter().cloned());
        let child = parent.child(last.clone());
        let (head, tail) = child.split_last().unwrap();
        prop_assert_eq!(head, tokens.as_slice());
        prop_assert_eq!(tail, last.as_str());
        prop_assert_eq!(parent.split_last().is_none(), tokens.is_empty());
        prop_assert!(parent.is_proper_prefix_of(&child));
        prop_assert!(!child.is_proper_prefix_of(&parent));
        prop_assert!(!parent.is_proper_prefix_of(&parent));
        // the child's encoding extends the parent's by one escaped token
        let encoded = child.to_string();
        prop_assert!(encoded.starts_with(&parent.to_string()));
        prop_assert_eq!(Pointer::parse(&encoded), Ok(child));
        let other = Pointer::from_tokens(other.iter().cloned());
        let want = tokens.len() < other.tokens().len() && other.tokens().starts_with(&tokens);
        prop_assert_eq!(parent.is_proper_prefix_of(&other), want);
    }
}
