//! Property tests of the V2 frame codec.
//!
//! - [`Message::decode`] never panics, on random bytes (as lossy UTF-8) and on near-valid
//!   frames: arrays of 0-7 elements of mixed JSON, arrays nested up to 200 levels, huge
//!   numbers, strings with escapes (good and bad), trailing garbage.
//! - It agrees with an independent oracle (serde_json's `Value` parser plus the shape rule):
//!   `Ok` exactly for a JSON array of five elements whose first two are strings or null
//!   and next two strings, with those fields; valid JSON of another shape is a `Shape` error.
//! - Every frame built by `frame::push`, `reply` and `broadcast` decodes back to the
//!   fields it was built from (as far as serde_json can read the payload back at all).
//!
//! `LIVESTATE_FUZZ_CASES` raises the number of cases (default 256).

use livestate_protocol::frame::{self, Status};
use livestate_protocol::{DecodeError, Message};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::{Map, Value, json};

fn cases() -> u32 {
    std::env::var("LIVESTATE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(cases())
    }
}

/// What `Message::decode` must return, worked out with serde_json's own `Value` parser.
/// `Err(true)`: the text is valid JSON of the wrong shape; `Err(false)`: not JSON.
fn oracle(text: &str) -> Result<Message, bool> {
    let value: Value = serde_json::from_str(text).map_err(|_| false)?;
    let Value::Array(items) = value else {
        return Err(true);
    };
    let Ok([join_ref, r#ref, topic, event, payload]) = <[Value; 5]>::try_from(items) else {
        return Err(true);
    };
    let string_or_null = |v: Value| match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s)),
        _ => Err(true),
    };
    let string = |v: Value| match v {
        Value::String(s) => Ok(s),
        _ => Err(true),
    };
    Ok(Message {
        join_ref: string_or_null(join_ref)?,
        r#ref: string_or_null(r#ref)?,
        topic: string(topic)?,
        event: string(event)?,
        payload,
    })
}

fn check_decode(text: &str) -> Result<(), TestCaseError> {
    let decoded = Message::decode(text);
    match (oracle(text), decoded) {
        (Ok(want), Ok(got)) => prop_assert_eq!(got, want, "{:?}", text),
        (Ok(want), Err(e)) => {
            prop_assert!(false, "{:?} is {:?} but decode said {}", text, want, e)
        }
        (Err(_), Ok(got)) => prop_assert!(false, "{:?} decoded to {:?}", text, got),
        (Err(valid_json), Err(e)) => {
            if valid_json {
                prop_assert!(matches!(e, DecodeError::Shape(_)), "{:?}: {:?}", text, e);
            }
            // the reason is a one-line message, whatever the frame
            prop_assert!(!e.to_string().is_empty());
        }
    }
    Ok(())
}

/// A JSON string literal: a well-escaped arbitrary string, or hand-made escapes (some bad:
/// lone surrogates, unknown escapes, raw control characters, a missing quote).
fn string_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
        "[a-z:_]{0,8}".prop_map(|s| format!("\"{s}\"")),
        proptest::collection::vec(
            prop_oneof![
                Just(r"\n".to_owned()),
                Just(r#"\""#.to_owned()),
                Just(r"\\".to_owned()),
                Just(r"\/".to_owned()),
                Just(r"\u0000".to_owned()),
                Just(r"\ud83d\ude00".to_owned()),
                Just(r"\ud800".to_owned()),
                Just(r"\udc00x".to_owned()),
                Just(r"\x".to_owned()),
                Just(r"\u12".to_owned()),
                Just("\u{1}".to_owned()),
                Just("é😀".to_owned()),
                "[a-z ]{1,3}",
            ],
            0..6,
        )
        .prop_map(|parts| format!("\"{}\"", parts.concat())),
        "\"[a-z]{0,4}", // unterminated
    ]
}

/// A JSON number literal, including ones too large for any Rust number and malformed ones.
fn number_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<f64>().prop_map(|f| f.to_string()),
        "-?(0|[1-9][0-9]{0,40})(\\.[0-9]{1,8})?([eE][+-]?[0-9]{1,4})?",
        Just("1e400".to_owned()),
        Just("-1e400".to_owned()),
        Just("123456789012345678901234567890".to_owned()),
        Just("-0".to_owned()),
        Just("01".to_owned()),
        Just("1.".to_owned()),
        Just("+1".to_owned()),
        Just("NaN".to_owned()),
    ]
}

/// One element of a near-valid frame, as JSON text (not always valid).
fn element() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("false".to_owned()),
        Just("{}".to_owned()),
        Just("[]".to_owned()),
        number_literal(),
        string_literal(),
        "[a-z]{1,5}", // a bare word
    ];
    prop_oneof![
        4 => leaf.clone(),
        // nested arrays, balanced or not, up to 200 levels
        1 => (0usize..=200, leaf.clone(), 0usize..=2).prop_map(|(n, inner, unbalance)| {
            format!("{}{inner}{}", "[".repeat(n), "]".repeat(n.saturating_sub(unbalance % 2)))
        }),
        1 => (proptest::collection::vec((string_literal(), leaf.clone()), 0..4)).prop_map(|kv| {
            let members: Vec<String> = kv.into_iter().map(|(k, v)| format!("{k}:{v}")).collect();
            format!("{{{}}}", members.join(","))
        }),
        1 => (0usize..=200).prop_map(|n| format!("{}0{}", "{\"a\":".repeat(n), "}".repeat(n))),
    ]
}

/// A frame-like array of 0-7 elements, often with the right types where they matter,
/// with random whitespace and sometimes trailing garbage.
fn near_frame() -> impl Strategy<Value = String> {
    let good_string = || any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap());
    let ref_like = prop_oneof![
        3 => Just("null".to_owned()),
        3 => good_string(),
        1 => string_literal(),
        1 => element(),
    ];
    let name_like = prop_oneof![4 => good_string(), 1 => string_literal(), 1 => element()];
    let payload_like = prop_oneof![2 => json_value().prop_map(|v| v.to_string()), 1 => element()];
    (
        (
            ref_like.clone(),
            ref_like,
            name_like.clone(),
            name_like,
            payload_like,
        ),
        proptest::collection::vec(element(), 0..3),
        prop_oneof![3 => Just(5usize), 2 => 0usize..=7],
        prop_oneof![Just(""), Just(" "), Just("\n\t"), Just(",")],
        prop_oneof![
            6 => Just(""),
            1 => Just(" "),
            1 => Just("]"),
            1 => Just(" x"),
            1 => Just("[]"),
        ],
    )
        .prop_map(|((a, b, c, d, e), rest, len, ws, trailer)| {
            let mut items = vec![a, b, c, d, e];
            items.extend(rest);
            items.truncate(len);
            format!("{ws}[{ws}{}{ws}]{trailer}", items.join(","))
        })
}

/// Any JSON value with finite numbers, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::vec((any::<String>(), inner), 0..5)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A payload: a random value, or one nested `levels` deep (built without recursion).
fn payload() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => json_value(),
        1 => (1usize..=200, any::<bool>()).prop_map(|(levels, object)| {
            let mut v = json!("bottom");
            for _ in 0..levels {
                v = if object { json!({ "k": v }) } else { json!([v]) };
            }
            v
        }),
    ]
}

/// A frame we built must decode back to its fields, unless serde_json cannot read the
/// payload back at all (too deep), and then decoding fails like serde_json does.
///
/// The payload is compared with what serde_json itself reads back from its own encoding:
/// without serde_json's `float_roundtrip` feature its float parser may be one ulp off
/// (`-1.8847883205872158e167` reads back as a neighbour), and that is not the frame's doing.
fn check_round_trip(text: &str, mut want: Message) -> Result<(), TestCaseError> {
    let readable = serde_json::from_str::<Value>(text).is_ok();
    match Message::decode(text) {
        Ok(got) => {
            prop_assert!(
                readable,
                "decoded a frame serde_json cannot read: {:?}",
                got
            );
            want.payload = serde_json::from_str(&want.payload.to_string()).unwrap();
            prop_assert_eq!(got, want);
        }
        Err(e) => prop_assert!(!readable, "{}: {:?}", e, text),
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        check_decode(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn random_text_never_panics(text in "[\\[\\]{}\",:0-9a-z\\\\ nul-]{0,64}") {
        check_decode(&text)?;
    }

    #[test]
    fn near_valid_frames_decode_as_the_oracle_says(text in near_frame()) {
        check_decode(&text)?;
    }

    #[test]
    fn pushes_decode_back(
        join_ref in proptest::option::of(any::<String>()),
        topic in any::<String>(),
        event in any::<String>(),
        payload in payload(),
    ) {
        let text = frame::push(join_ref.as_deref(), &topic, &event, &payload);
        check_round_trip(text.as_str(), Message { join_ref, r#ref: None, topic, event, payload })?;
    }

    #[test]
    fn broadcasts_decode_back(
        topic in any::<String>(),
        event in any::<String>(),
        payload in payload(),
    ) {
        let text = frame::broadcast(&topic, &event, &payload);
        check_round_trip(
            text.as_str(),
            Message { join_ref: None, r#ref: None, topic, event, payload },
        )?;
    }

    #[test]
    fn replies_decode_back(
        join_ref in proptest::option::of(any::<String>()),
        r#ref in proptest::option::of(any::<String>()),
        topic in any::<String>(),
        ok in any::<bool>(),
        response in payload(),
    ) {
        let status = if ok { Status::Ok } else { Status::Error };
        let text = frame::reply(join_ref.as_deref(), r#ref.as_deref(), &topic, status, &response);
        let payload = json!({"status": if ok { "ok" } else { "error" }, "response": response});
        check_round_trip(
            text.as_str(),
            Message { join_ref, r#ref, topic, event: "phx_reply".to_owned(), payload },
        )?;
    }
}
