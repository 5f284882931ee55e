//! Property tests of [`Doc::apply`] with random RFC 6902 patches under small limits.
//!
//! Documents are random (within the limits); patches are up to 24 random ops whose paths
//! are often real (picked from the document as the patch would leave it) and often not
//! (new members, `-`, past-the-end and leading-zero indexes, garbage), whose values include
//! deep ones (up to 150 levels, built without recursion) and large ones, with copies from
//! the root that double the document. For each patch:
//! - `apply` never panics;
//! - on `Err` the value, its encoded length and `has_changes()` are as before, and a patch
//!   over `max_patch_ops` is refused at op `max_patch_ops`;
//! - on `Ok` the value is within the limits, `encoded_len()` is its `serde_json::to_vec`
//!   length, `rollback` would restore the old value and length, the independent
//!   `json_patch` crate applying the same ops to the old value gives the new one, and
//!   applying `take_patch()` with `json_patch` to the old value gives the new one too.
//!
//! And for two random documents, [`livestate_doc::diff`] gives the patch that turns one into
//! the other, the same one as the `json_patch` crate's diff.
//!
//! `LIVESTATE_FUZZ_CASES` raises the number of cases (default 256).

mod fuzz;

use fuzz::config;
use livestate_doc::doc::{LimitError, OpError};
use livestate_doc::pointer;
use livestate_doc::{Doc, StateLimits};
use livestate_protocol::PatchOp;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn limits() -> StateLimits {
    let mut l = StateLimits::default();
    l.max_depth = 8;
    l.max_bytes = 4096;
    l.max_values = 256;
    l.max_patch_ops = 16;
    l
}

/// How a path is chosen, resolved against the document when the patch is built.
#[derive(Debug, Clone)]
enum PathSel {
    Root,
    /// Walk down from the root, taking child `pick % len` at each container.
    Existing(Vec<u16>),
    /// An existing value's path plus one more token (which may or may not exist).
    Child(Vec<u16>, Tail),
    /// Any string, valid pointer or not.
    Garbage(String),
}

#[derive(Debug, Clone)]
enum Tail {
    Key(String),
    Dash,
    Len,
    Index(u16),
    LeadingZero(u8),
}

#[derive(Debug, Clone)]
enum ValueSel {
    Plain(Value),
    /// Nested `.0` levels deep in objects (`.1`) or arrays.
    Deep(usize, bool),
    /// A string of this many bytes.
    Big(usize),
    /// Whatever is at that path now (so that `test` sometimes passes).
    At(PathSel),
}

#[derive(Debug, Clone)]
enum OpSel {
    Add(PathSel, ValueSel),
    Remove(PathSel),
    Replace(PathSel, ValueSel),
    Move(PathSel, PathSel),
    Copy(PathSel, PathSel),
    Test(PathSel, ValueSel),
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[a-c]", 1 => Just(String::new()), 1 => "[~/\"\\\\é😀\u{1}]{1,3}"]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..3).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-z\"\\\\\n\u{1}é]{0,6}".prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(6, 40, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A document within the limits (most random values are).
fn doc() -> impl Strategy<Value = Value> {
    prop_oneof![1 => Just(json!({})), 6 => value()]
        .prop_filter("within the limits", |v| limits().check(v).is_ok())
}

fn picks() -> impl Strategy<Value = Vec<u16>> {
    proptest::collection::vec(any::<u16>(), 0..6)
}

fn path_sel() -> impl Strategy<Value = PathSel> {
    let tail = prop_oneof![
        3 => key().prop_map(Tail::Key),
        1 => Just(Tail::Dash),
        2 => Just(Tail::Len),
        1 => (0u16..12).prop_map(Tail::Index),
        1 => any::<u8>().prop_map(Tail::LeadingZero),
    ];
    prop_oneof![
        1 => Just(PathSel::Root),
        4 => picks().prop_map(PathSel::Existing),
        4 => (picks(), tail).prop_map(|(p, t)| PathSel::Child(p, t)),
        1 => "[/~0-9a-z-]{0,8}".prop_map(PathSel::Garbage),
    ]
}

fn value_sel() -> impl Strategy<Value = ValueSel> {
    prop_oneof![
        6 => value().prop_map(ValueSel::Plain),
        1 => (1usize..=150, any::<bool>())
            .prop_map(|(levels, object)| ValueSel::Deep(levels, object)),
        1 => (0usize..5000).prop_map(ValueSel::Big),
        2 => path_sel().prop_map(ValueSel::At),
    ]
}

fn op_sel() -> impl Strategy<Value = OpSel> {
    // copies and moves from the root are the interesting kind: weigh the root up
    let from = prop_oneof![1 => Just(PathSel::Root), 3 => path_sel()];
    prop_oneof![
        4 => (path_sel(), value_sel()).prop_map(|(p, v)| OpSel::Add(p, v)),
        2 => path_sel().prop_map(OpSel::Remove),
        3 => (path_sel(), value_sel()).prop_map(|(p, v)| OpSel::Replace(p, v)),
        2 => (from.clone(), path_sel()).prop_map(|(f, p)| OpSel::Move(f, p)),
        3 => (from, path_sel()).prop_map(|(f, p)| OpSel::Copy(f, p)),
        2 => (path_sel(), value_sel()).prop_map(|(p, v)| OpSel::Test(p, v)),
    ]
}

/// The tokens of the value `picks` leads to, and that value.
fn walk<'a>(mut at: &'a Value, picks: &[u16]) -> (Vec<String>, &'a Value) {
    let mut tokens = Vec::new();
    for &pick in picks {
        let pick = usize::from(pick);
        match at {
            Value::Array(items) if !items.is_empty() => {
                let i = pick % items.len();
                tokens.push(i.to_string());
                at = &items[i];
            }
            Value::Object(map) if !map.is_empty() => {
                let (k, v) = map.iter().nth(pick % map.len()).unwrap();
                tokens.push(k.clone());
                at = v;
            }
            _ => break,
        }
    }
    (tokens, at)
}

fn path(doc: &Value, sel: &PathSel) -> String {
    match sel {
        PathSel::Root => String::new(),
        PathSel::Existing(picks) => pointer::encode(&walk(doc, picks).0),
        PathSel::Child(picks, tail) => {
            let (mut tokens, at) = walk(doc, picks);
            let len = match at {
                Value::Array(items) => items.len(),
                Value::Object(map) => map.len(),
                _ => 0,
            };
            tokens.push(match tail {
                Tail::Key(k) => k.clone(),
                Tail::Dash => "-".to_owned(),
                Tail::Len => len.to_string(),
                Tail::Index(i) => i.to_string(),
                Tail::LeadingZero(i) => format!("0{i}"),
            });
            pointer::encode(&tokens)
        }
        PathSel::Garbage(s) => s.clone(),
    }
}

fn value_of(doc: &Value, sel: &ValueSel) -> Value {
    match sel {
        ValueSel::Plain(v) => v.clone(),
        ValueSel::Deep(levels, object) => {
            let mut v = json!(0);
            for _ in 0..*levels {
                v = if *object {
                    json!({ "d": v })
                } else {
                    json!([v])
                };
            }
            v
        }
        ValueSel::Big(n) => Value::String("x".repeat(*n)),
        ValueSel::At(sel) => doc.pointer(&path(doc, sel)).cloned().unwrap_or(Value::Null),
    }
}

/// The ops as `json_patch` reads them; `None` when it refuses one (a path that is not a
/// JSON Pointer).
fn to_json_patch(ops: &[PatchOp]) -> Option<json_patch::Patch> {
    serde_json::from_value(serde_json::to_value(ops).unwrap()).ok()
}

/// Apply `ops` to a copy of `value` with `json_patch`.
fn json_patched(value: &Value, ops: &[PatchOp]) -> Result<Value, String> {
    let patch = to_json_patch(ops).ok_or("json_patch cannot read the ops")?;
    let mut value = value.clone();
    json_patch::patch(&mut value, &patch).map_err(|e| e.to_string())?;
    Ok(value)
}

/// The ops `sels` stand for, each path resolved against the document as the ops before it
/// would leave it (applied with `json_patch`, kept small so that copy chains stay cheap).
/// With `only_valid`, the ops `json_patch` refuses there are left out, so that long patches
/// get through (or are refused for Doc's own reasons: its limits).
fn build(start: &Value, sels: &[OpSel], only_valid: bool) -> Vec<PatchOp> {
    let mut shadow = start.clone();
    let mut ops = Vec::new();
    for sel in sels {
        let s = &shadow;
        let op = match sel {
            OpSel::Add(p, v) => PatchOp::Add {
                path: path(s, p),
                value: value_of(s, v),
            },
            OpSel::Remove(p) => PatchOp::Remove { path: path(s, p) },
            OpSel::Replace(p, v) => PatchOp::Replace {
                path: path(s, p),
                value: value_of(s, v),
            },
            OpSel::Move(f, p) => PatchOp::Move {
                from: path(s, f),
                path: path(s, p),
            },
            OpSel::Copy(f, p) => PatchOp::Copy {
                from: path(s, f),
                path: path(s, p),
            },
            OpSel::Test(p, v) => PatchOp::Test {
                path: path(s, p),
                value: value_of(s, v),
            },
        };
        match json_patched(&shadow, std::slice::from_ref(&op)) {
            Ok(next) => {
                if serde_json::to_vec(&next).unwrap().len() <= 2 * limits().max_bytes {
                    shadow = next;
                }
            }
            Err(_) if only_valid => continue,
            Err(_) => {}
        }
        ops.push(op);
    }
    ops
}

fn root_to_root(op: &PatchOp) -> bool {
    matches!(op, PatchOp::Move { from, path } if from.is_empty() && path.is_empty())
}

fn check_apply(doc: &mut Doc, ops: &[PatchOp]) -> Result<bool, TestCaseError> {
    let before = doc.value().clone();
    let before_len = doc.encoded_len();
    prop_assert_eq!(before_len, serde_json::to_vec(&before).unwrap().len());
    match doc.apply(ops) {
        Err(e) => {
            prop_assert_eq!(doc.value(), &before, "refused ({}) but changed", e);
            prop_assert!(!doc.has_changes(), "refused ({}) but has changes", e);
            prop_assert_eq!(doc.encoded_len(), before_len);
            if ops.len() > limits().max_patch_ops {
                prop_assert_eq!(e.index, limits().max_patch_ops);
                let too_many = matches!(e.error, OpError::Limit(LimitError::TooManyOps { .. }));
                prop_assert!(too_many, "{}", e);
            } else {
                prop_assert!(e.index < ops.len());
                prop_assert_eq!(e.op, ops[e.index].name());
                prop_assert_eq!(e.path.as_str(), ops[e.index].path());
            }
            Ok(false)
        }
        Ok(()) => {
            prop_assert!(ops.len() <= limits().max_patch_ops);
            let after = doc.value().clone();
            prop_assert_eq!(limits().check(&after), Ok(()));
            prop_assert_eq!(doc.encoded_len(), serde_json::to_vec(&after).unwrap().len());

            let mut undone = doc.clone();
            undone.rollback();
            prop_assert_eq!(undone.value(), &before, "rollback did not restore");
            prop_assert_eq!(undone.encoded_len(), before_len);
            prop_assert!(!undone.has_changes());

            // json_patch refuses to move the root onto itself (it removes the root first);
            // Doc takes it as the no-op it is: leave it out of the reference
            let ops: Vec<PatchOp> = ops.iter().filter(|op| !root_to_root(op)).cloned().collect();
            let reference = json_patched(&before, &ops);
            prop_assert_eq!(
                reference,
                Ok(after.clone()),
                "json_patch disagrees: {:?}",
                ops
            );

            let patch = doc.take_patch();
            prop_assert!(!doc.has_changes());
            if after != before {
                prop_assert!(!patch.is_empty(), "changed, with an empty patch");
            }
            let replayed = json_patched(&before, &patch);
            prop_assert_eq!(replayed, Ok(after), "the journal {:?}", patch);
            Ok(true)
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_patches_keep_the_invariants(
        initial in doc(),
        patches in proptest::collection::vec(
            (any::<bool>(), proptest::collection::vec(op_sel(), 0..24)),
            1..4,
        ),
    ) {
        let mut doc = Doc::with_limits(initial, limits());
        prop_assert!(doc.limit_error().is_none());
        for (only_valid, sels) in &patches {
            let ops = build(doc.value(), sels, *only_valid);
            check_apply(&mut doc, &ops)?;
        }
    }

    #[test]
    fn single_ops_keep_the_invariants(
        initial in doc(),
        sels in proptest::collection::vec(op_sel(), 1..24),
    ) {
        // one op at a time, so that most get past the first failure of a long patch
        let mut doc = Doc::with_limits(initial, limits());
        for sel in &sels {
            let ops = build(doc.value(), std::slice::from_ref(sel), false);
            check_apply(&mut doc, &ops)?;
        }
    }

    #[test]
    fn copies_from_the_root_stay_within_the_limits(
        initial in doc(),
        targets in proptest::collection::vec(path_sel(), 1..16),
    ) {
        let mut doc = Doc::with_limits(initial, limits());
        let sels: Vec<OpSel> =
            targets.into_iter().map(|t| OpSel::Copy(PathSel::Root, t)).collect();
        let ops = build(doc.value(), &sels, false);
        check_apply(&mut doc, &ops)?;
        for op in &ops {
            check_apply(&mut doc, std::slice::from_ref(op))?;
        }
    }

    #[test]
    fn the_diff_turns_one_document_into_the_other(before in doc(), after in doc()) {
        let patch = livestate_doc::diff(&before, &after);
        let mut doc = Doc::with_limits(before.clone(), StateLimits::TRUSTED);
        doc.replay(&patch).map_err(|e| TestCaseError::fail(format!("{e}: {patch:?}")))?;
        prop_assert_eq!(doc.value(), &after);
        let theirs = serde_json::to_value(json_patch::diff(&before, &after)).unwrap();
        prop_assert_eq!(serde_json::to_value(&patch).unwrap(), theirs);
    }
}
