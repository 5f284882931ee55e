//! Property tests of the `doc:` channel ([`DocChannel`]) driven through a socket
//! ([`TestChannel`]) with random events under small state limits and an open ACL.
//!
//! Events are `put`, `delete`, `patch`, `increment` and `reset` with well-formed payloads
//! (paths often real, often not; values sometimes too deep or too large), the same events
//! with broken payloads (a field missing, of the wrong type, an unknown field), payloads
//! that are not objects, and unknown event names. For each event:
//! - nothing panics (a handler panic would come back as `phx_error`, a failed test);
//! - the event is accepted exactly when the same operation on a [`Doc`] with the same
//!   limits succeeds (broken payloads, non-objects and unknown names are always refused);
//! - a refused event leaves the state unchanged, as the server has it (`lvs_refresh`);
//! - an accepted one leaves the state the model predicts, within the limits, and its
//!   `state:patch` takes the old state to the new one when applied with `json_patch`.
//!
//! Each case runs on a current-thread runtime with paused time, so nothing depends on the
//! wall clock. `LIVESTATE_FUZZ_CASES` raises the number of cases (default 256).

mod fuzz;

use fuzz::config;
use livestate_core::acl::{Acl, Permissions};
use livestate_core::pointer;
use livestate_core::testing::{TestChannel, TestError};
use livestate_core::{Doc, DocChannel, Hub, StateLimits};
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

/// A path: `picks` walk down the current state (child `pick % len` of each container),
/// then an optional extra token; or any string.
#[derive(Debug, Clone)]
enum PathSel {
    Walk(Vec<u16>, Option<String>),
    /// The `n % count`th number in the state (`/n` when there is none).
    Number(u16),
    Garbage(String),
}

#[derive(Debug, Clone)]
enum Shape {
    Good,
    Missing,
    WrongType,
    Extra,
}

#[derive(Debug, Clone)]
enum EventSel {
    Put(PathSel, Value, Shape),
    Delete(PathSel, Shape),
    Patch(Vec<(u8, PathSel, PathSel, Value)>, Shape),
    Increment(PathSel, Option<i64>, Shape),
    Reset(Map<String, Value>),
    NotObject(&'static str, Value),
    Unknown(String, Value),
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![4 => "[a-c]", 1 => Just(String::new()), 1 => "[~/\"é]{1,2}"]
}

/// Values that survive JSON text exactly: floats are dyadic with few digits (serde_json,
/// built without `float_roundtrip`, may read a long float back one ulp off).
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..3).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i32>().prop_map(|n| Value::from(f64::from(n) / 64.0)),
        "[a-z\"\\\\\n\u{1}é]{0,6}".prop_map(Value::String),
    ];
    let tree = leaf.prop_recursive(5, 32, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec((key(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    });
    prop_oneof![
        8 => tree,
        1 => (1usize..=100, any::<bool>()).prop_map(|(levels, object)| {
            let mut v = json!(0);
            for _ in 0..levels {
                v = if object { json!({ "d": v }) } else { json!([v]) };
            }
            v
        }),
        1 => (0usize..5000).prop_map(|n| Value::String("x".repeat(n))),
    ]
}

fn path_sel() -> impl Strategy<Value = PathSel> {
    let tail = prop_oneof![
        3 => key(),
        1 => Just("-".to_owned()),
        1 => (0u16..6).prop_map(|i| i.to_string()),
        1 => Just("01".to_owned()),
    ];
    let picks = proptest::collection::vec(any::<u16>(), 0..5);
    prop_oneof![
        8 => (picks, proptest::option::of(tail)).prop_map(|(p, t)| PathSel::Walk(p, t)),
        2 => any::<u16>().prop_map(PathSel::Number),
        1 => "[/~0-9a-z-]{0,6}".prop_map(PathSel::Garbage),
    ]
}

fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        6 => Just(Shape::Good),
        1 => Just(Shape::Missing),
        1 => Just(Shape::WrongType),
        1 => Just(Shape::Extra),
    ]
}

fn not_object() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(json!(1)),
        Just(json!("put")),
        Just(json!([{"path": "/a", "value": 1}])),
    ]
}

fn event_sel() -> impl Strategy<Value = EventSel> {
    let op = || (0u8..6, path_sel(), path_sel(), value());
    let ops = prop_oneof![
        3 => proptest::collection::vec(op(), 0..4),
        1 => proptest::collection::vec(op(), 0..20),
    ];
    let by = prop_oneof![3 => -3i64..3, 1 => any::<i64>()];
    // numbers often, so that increments find some
    let put_value = prop_oneof![2 => value(), 1 => (-3i64..3).prop_map(Value::from)];
    let known = prop_oneof![
        Just("put"),
        Just("delete"),
        Just("patch"),
        Just("increment"),
        Just("reset")
    ];
    let unknown = prop_oneof!["[a-z_:]{0,10}", any::<String>()].prop_filter("unknown", |n| {
        !["put", "delete", "patch", "increment", "reset"].contains(&n.as_str())
    });
    prop_oneof![
        6 => (path_sel(), put_value, shape()).prop_map(|(p, v, s)| EventSel::Put(p, v, s)),
        2 => (path_sel(), shape()).prop_map(|(p, s)| EventSel::Delete(p, s)),
        4 => (ops, shape()).prop_map(|(o, s)| EventSel::Patch(o, s)),
        3 => (path_sel(), proptest::option::of(by), shape())
            .prop_map(|(p, b, s)| EventSel::Increment(p, b, s)),
        1 => proptest::collection::btree_map(key(), value(), 0..2)
            .prop_map(|m| EventSel::Reset(m.into_iter().collect())),
        1 => (known, not_object()).prop_map(|(n, p)| EventSel::NotObject(n, p)),
        1 => (unknown, value())
            .prop_map(|(n, v)| EventSel::Unknown(n, json!({ "path": "", "value": v }))),
    ]
}

fn path(state: &Value, sel: &PathSel) -> String {
    let (picks, tail) = match sel {
        PathSel::Garbage(s) => return s.clone(),
        PathSel::Number(n) => return number_path(state, usize::from(*n)),
        PathSel::Walk(picks, tail) => (picks, tail),
    };
    let mut at = state;
    let mut tokens = Vec::new();
    for &pick in picks {
        let pick = usize::from(pick);
        let (token, next) = match at {
            Value::Array(items) if !items.is_empty() => {
                ((pick % items.len()).to_string(), &items[pick % items.len()])
            }
            Value::Object(map) if !map.is_empty() => {
                let (k, v) = map.iter().nth(pick % map.len()).unwrap();
                (k.clone(), v)
            }
            _ => break,
        };
        // with a token to add, stay in containers (mostly: a scalar is a good refusal too)
        if tail.is_some() && !(next.is_object() || next.is_array()) && pick % 8 != 0 {
            break;
        }
        tokens.push(token);
        at = next;
    }
    tokens.extend(tail.clone());
    pointer::encode(&tokens)
}

fn number_path(state: &Value, n: usize) -> String {
    let child = |path: &str, token: &str| format!("{path}{}", pointer::encode(&[token]));
    let (mut numbers, mut todo) = (Vec::new(), vec![(String::new(), state)]);
    while let Some((path, v)) = todo.pop() {
        match v {
            Value::Number(_) => numbers.push(path),
            Value::Array(items) => todo
                .extend((items.iter().enumerate()).map(|(i, v)| (child(&path, &i.to_string()), v))),
            Value::Object(map) => todo.extend(map.iter().map(|(k, v)| (child(&path, k), v))),
            _ => {}
        }
    }
    match numbers.len() {
        0 => "/n".to_owned(),
        len => numbers.swap_remove(n % len),
    }
}

/// What a well-formed event does, for the model.
enum Model {
    Set(String, Value),
    Remove(String),
    Apply(Vec<PatchOp>),
    Increment(String, i64),
    Reset,
}

impl Model {
    fn run(&self, doc: &mut Doc) -> bool {
        match self {
            Model::Set(p, v) => doc.set(p, v.clone()).is_ok(),
            Model::Remove(p) => doc.remove(p).is_ok(),
            Model::Apply(ops) => doc.apply(ops).is_ok(),
            Model::Increment(p, by) => doc.increment(p, *by).is_ok(),
            Model::Reset => doc.replace_all(json!({})).is_ok(),
        }
    }
}

/// A well-formed payload `good`, or `good` broken as `shape` says (`field` missing, of
/// the wrong type, or an unknown field added): then no model, the event must be refused.
fn shaped(mut good: Value, field: &str, wrong: Value, shape: &Shape) -> Value {
    let map = good.as_object_mut().unwrap();
    match shape {
        Shape::Good => {}
        Shape::Missing => drop(map.remove(field)),
        Shape::WrongType => drop(map.insert(field.to_owned(), wrong)),
        Shape::Extra => drop(map.insert("extra".to_owned(), json!(1))),
    }
    good
}

/// The event's name and payload, and what it does when it must be accepted.
fn build(state: &Value, sel: &EventSel) -> (String, Value, Option<Model>) {
    let good = |shape: &Shape| matches!(shape, Shape::Good);
    match sel {
        EventSel::Put(p, v, s) => {
            let path = path(state, p);
            let payload = shaped(json!({"path": path, "value": v}), "path", json!(5), s);
            let model = good(s).then(|| Model::Set(path, v.clone()));
            ("put".into(), payload, model)
        }
        EventSel::Delete(p, s) => {
            let path = path(state, p);
            let payload = shaped(json!({ "path": path }), "path", json!(null), s);
            let model = good(s).then_some(Model::Remove(path));
            ("delete".into(), payload, model)
        }
        EventSel::Patch(sels, s) => {
            let ops: Vec<PatchOp> = sels
                .iter()
                .map(|(kind, p, f, v)| {
                    let (path, from, value) = (path(state, p), path(state, f), v.clone());
                    match kind {
                        0 => PatchOp::Add { path, value },
                        1 => PatchOp::Remove { path },
                        2 => PatchOp::Replace { path, value },
                        3 => PatchOp::Move { from, path },
                        4 => PatchOp::Copy { from, path },
                        _ => PatchOp::Test { path, value },
                    }
                })
                .collect();
            let wrong = json!([{"op": "frob", "path": ""}]);
            let payload = shaped(json!({ "ops": ops }), "ops", wrong, s);
            let model = good(s).then_some(Model::Apply(ops));
            ("patch".into(), payload, model)
        }
        EventSel::Increment(p, by, s) => {
            let path = path(state, p);
            let mut payload = json!({ "path": path });
            if let Some(by) = by {
                payload["by"] = json!(by);
            }
            let payload = shaped(payload, "path", json!(["/a"]), s);
            let model = good(s).then(|| Model::Increment(path, by.unwrap_or(1)));
            ("increment".into(), payload, model)
        }
        EventSel::Reset(p) => ("reset".into(), Value::Object(p.clone()), Some(Model::Reset)),
        EventSel::NotObject(name, payload) => ((*name).into(), payload.clone(), None),
        EventSel::Unknown(name, payload) => (name.clone(), payload.clone(), None),
    }
}

fn json_patched(value: &Value, patch: &Value) -> Result<Value, String> {
    let patch: json_patch::Patch =
        serde_json::from_value(patch.clone()).map_err(|e| e.to_string())?;
    let mut value = value.clone();
    json_patch::patch(&mut value, &patch).map_err(|e| e.to_string())?;
    Ok(value)
}

fn broken(e: TestError) -> TestCaseError {
    TestCaseError::fail(format!("the channel broke: {e}"))
}

/// `value` as a serde_json client reads it from the wire (maybe a float one ulp off).
fn as_read(value: &Value) -> Value {
    serde_json::from_str(&value.to_string()).unwrap()
}

async fn run(events: &[EventSel]) -> Result<(), TestCaseError> {
    let (group, public) = (Permissions::ALL, Permissions::ALL);
    let channel = DocChannel::default()
        .limits(limits())
        .acl(Acl { group, public });
    let hub = Hub::builder().channel("doc:*", channel).build();
    let mut chan = TestChannel::join(&hub, "doc:fuzz", json!({}))
        .await
        .map_err(broken)?;
    // the model keeps the exact values the server computes (increments make long floats)
    let mut model = Doc::with_limits(json!({}), limits());
    for sel in events {
        let before = chan.state().clone();
        prop_assert_eq!(&before, &as_read(model.value()));
        let (name, payload, op) = build(model.value(), sel);
        let exact = model.value().clone();
        let expected = op.is_some_and(|op| op.run(&mut model));
        if !expected {
            model = Doc::with_limits(exact, limits());
        }
        model.take_patch();
        let what = format!("{name} {payload}");
        match chan.push(&name, payload).await {
            Ok(pushed) => {
                prop_assert!(expected, "accepted, the model refuses: {}", what);
                prop_assert_eq!(chan.state(), &as_read(model.value()), "{}", what);
                prop_assert_eq!(limits().check(chan.state()), Ok(()));
                let replayed = json_patched(&before, &pushed.patch);
                prop_assert_eq!(replayed.as_ref(), Ok(chan.state()), "{}", pushed.patch);
                if chan.state() != &before {
                    prop_assert_ne!(&pushed.patch, &json!([]));
                }
                prop_assert!(pushed.events.is_empty());
            }
            Err(TestError::Refused(reason)) => {
                prop_assert!(
                    !expected,
                    "refused ({}), the model accepts: {}",
                    reason,
                    what
                );
                prop_assert_eq!(chan.state(), &before, "refused ({}) but changed", reason);
                prop_assert!(!reason.is_empty());
            }
            Err(e) => return Err(broken(e)),
        }
        // the server's own state is what the client has
        let server = chan.refresh().await.map_err(broken)?.clone();
        prop_assert_eq!(&server, &as_read(model.value()), "{}", what);
    }
    chan.leave().await;
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn doc_events_are_atomic_and_patched(events in proptest::collection::vec(event_sel(), 1..12)) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(run(&events))?;
    }
}
