use super::*;
use proptest::prelude::*;
use serde_json::json;

fn patch_json(doc: &mut Doc) -> Value {
    serde_json::to_value(doc.take_patch()).unwrap()
}

#[test]
fn set_adds_or_replaces_members_and_elements() {
    let mut doc = Doc::new(json!({"a": 1, "list": [1, 2]}));
    doc.set("/a", 2).unwrap();
    doc.set("/b", "new").unwrap();
    doc.set("/list/0", 10).unwrap();
    doc.set("/list/2", 30).unwrap();
    doc.set("/list/-", 40).unwrap();
    assert_eq!(
        patch_json(&mut doc),
        json!([
            {"op": "replace", "path": "/a", "value": 2},
            {"op": "add", "path": "/b", "value": "new"},
            {"op": "replace", "path": "/list/0", "value": 10},
            {"op": "add", "path": "/list/2", "value": 30},
            {"op": "add", "path": "/list/3", "value": 40},
        ])
    );
    assert_eq!(
        doc.value(),
        &json!({"a": 2, "b": "new", "list": [10, 2, 30, 40]})
    );
}

#[test]
fn refused_operations_change_nothing_and_say_why() {
    let start = json!({"a": {"b": 1}, "list": [1], "n": "x"});
    let mut doc = Doc::new(start.clone());
    let cases: Vec<(Result<(), OpError>, &str)> = vec![
        (doc.set("/missing/x", 1), "no value at /missing"),
        (doc.set("a", 1).map(drop), "must be empty or start with '/'"),
        (
            doc.set("/a/b/c", 1),
            "/a/b is a number, which has no member \"c\"",
        ),
        (
            doc.set("/list/5", 1),
            "index 5 is past the end of the array at /list (1 elements)",
        ),
        (
            doc.set("/list/x", 1),
            "/list is an array, and \"x\" is not an index of it",
        ),
        (doc.set("/list/01", 1), "not an index"),
        (doc.remove("/nope").map(drop), "no value at /nope"),
        (doc.remove("/list/1").map(drop), "no value at /list/1"),
        (doc.remove("").map(drop), "cannot remove the root"),
        (doc.replace("/zzz", 1), "no value at /zzz"),
        (doc.append("/a", 1), "/a is an object, not an array"),
        (doc.insert("/list", 3, 1), "index 3 is past the end"),
        (
            doc.increment("/n", 1).map(drop),
            "/n is a string, not a number",
        ),
        (
            doc.move_value("/a", "/a/b/c"),
            "cannot move /a into its own child /a/b/c",
        ),
        (
            doc.test("/a/b", &json!(2)),
            "test failed at /a/b: expected 2, found 1",
        ),
    ];
    for (result, needle) in cases {
        let err = result.unwrap_err().to_string();
        assert!(err.contains(needle), "{err:?} should contain {needle:?}");
    }
    assert!(!doc.has_changes());
    assert_eq!(doc.value(), &start);
}

#[test]
fn increment_handles_integers_floats_and_overflow() {
    let mut doc = Doc::new(json!({"i": 1, "f": 1.5, "big": i64::MAX, "u": u64::MAX}));
    assert_eq!(doc.increment("/i", 2).unwrap(), json!(3));
    assert_eq!(doc.increment("/f", 1).unwrap(), json!(2.5));
    assert_eq!(doc.increment("/u", -1).unwrap(), json!(u64::MAX - 1));
    assert!(matches!(
        doc.increment("/big", 1),
        Err(OpError::Overflow { .. })
    ));
    assert_eq!(doc.value()["big"], json!(i64::MAX));
}

#[test]
fn apply_is_atomic() {
    let mut doc = Doc::new(json!({"a": 1}));
    let ops: Vec<PatchOp> = serde_json::from_value(json!([
        {"op": "add", "path": "/b", "value": 2},
        {"op": "remove", "path": "/a"},
        {"op": "replace", "path": "/missing", "value": 3},
    ]))
    .unwrap();
    let err = doc.apply(&ops).unwrap_err();
    assert_eq!(err.index, 2);
    assert_eq!(
        err.to_string(),
        "op 2 (replace /missing): no value at /missing"
    );
    assert_eq!(doc.value(), &json!({"a": 1}));
    assert!(!doc.has_changes());
}

#[test]
fn apply_supports_move_copy_and_test() {
    let mut doc = Doc::new(json!({"a": [1, 2], "b": {}}));
    let ops: Vec<PatchOp> = serde_json::from_value(json!([
        {"op": "test", "path": "/a/1", "value": 2},
        {"op": "move", "from": "/a/0", "path": "/b/first"},
        {"op": "copy", "from": "/b/first", "path": "/a/-"},
    ]))
    .unwrap();
    doc.apply(&ops).unwrap();
    assert_eq!(doc.value(), &json!({"a": [2, 1], "b": {"first": 1}}));
    assert_eq!(
        patch_json(&mut doc),
        json!([
            {"op": "move", "from": "/a/0", "path": "/b/first"},
            {"op": "copy", "from": "/b/first", "path": "/a/1"},
        ])
    );
}

#[test]
fn rollback_restores_the_committed_value() {
    let start = json!({"a": {"b": [1, 2, 3]}, "c": "x"});
    let mut doc = Doc::new(start.clone());
    doc.set("/a/b/1", 20).unwrap();
    doc.remove("/c").unwrap();
    doc.insert("/a/b", 0, 0).unwrap();
    doc.replace_all(json!([1])).unwrap();
    doc.set("/0", 5).unwrap();
    doc.rollback();
    assert_eq!(doc.value(), &start);
    assert!(doc.take_patch().is_empty());
}

#[test]
fn replace_all_emits_a_structural_diff() {
    let mut doc = Doc::new(json!({"a": 1, "b": [1, 2]}));
    doc.replace_all(json!({"a": 1, "b": [1, 3], "c": true}))
        .unwrap();
    let patch = doc.take_patch();
    let mut old = json!({"a": 1, "b": [1, 2]});
    let ops: json_patch::Patch =
        serde_json::from_value(serde_json::to_value(&patch).unwrap()).unwrap();
    json_patch::patch(&mut old, &ops).unwrap();
    assert_eq!(&old, doc.value());
    assert!(
        patch.len() <= 2,
        "a diff, not a whole replacement: {patch:?}"
    );
}

#[test]
fn escaped_keys_round_trip_through_patches() {
    let mut doc = Doc::new(json!({}));
    doc.set("/a~1b", 1).unwrap();
    doc.set("/m~0n", 2).unwrap();
    assert_eq!(doc.value(), &json!({"a/b": 1, "m~n": 2}));
    assert_eq!(
        patch_json(&mut doc),
        json!([
            {"op": "add", "path": "/a~1b", "value": 1},
            {"op": "add", "path": "/m~0n", "value": 2},
        ])
    );
}

// ---- property test: every emitted patch takes the old state to the new one ----

fn arb_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-1000i64..1000).prop_map(Value::from),
        "[a-z/~]{0,4}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map("[a-c~/]{1,2}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every path in `v`, encoded.
fn paths(v: &Value) -> Vec<String> {
    fn walk(v: &Value, prefix: &mut Vec<String>, out: &mut Vec<String>) {
        out.push(pointer::encode(prefix));
        match v {
            Value::Object(m) => {
                for (k, child) in m {
                    prefix.push(k.clone());
                    walk(child, prefix, out);
                    prefix.pop();
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    prefix.push(i.to_string());
                    walk(child, prefix, out);
                    prefix.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), &mut out);
    out
}

#[derive(Debug, Clone)]
enum Step {
    Set(usize, String, Value),
    Remove(usize),
    Replace(usize, Value),
    Append(usize, Value),
    Insert(usize, usize, Value),
    Increment(usize, i64),
    Move(usize, usize, String),
    Copy(usize, usize, String),
    ReplaceAll(Value),
    Patch(usize, Value),
}

fn arb_step() -> impl Strategy<Value = Step> {
    let pick = 0usize..64;
    prop_oneof![
        (pick.clone(), "[a-c-0-2]{1,2}", arb_value()).prop_map(|(p, k, v)| Step::Set(p, k, v)),
        pick.clone().prop_map(Step::Remove),
        (pick.clone(), arb_value()).prop_map(|(p, v)| Step::Replace(p, v)),
        (pick.clone(), arb_value()).prop_map(|(p, v)| Step::Append(p, v)),
        (pick.clone(), 0usize..4, arb_value()).prop_map(|(p, i, v)| Step::Insert(p, i, v)),
        (pick.clone(), -5i64..5).prop_map(|(p, b)| Step::Increment(p, b)),
        (pick.clone(), pick.clone(), "[a-c0-2-]{1,2}").prop_map(|(a, b, k)| Step::Move(a, b, k)),
        (pick.clone(), pick.clone(), "[a-c0-2-]{1,2}").prop_map(|(a, b, k)| Step::Copy(a, b, k)),
        arb_value().prop_map(Step::ReplaceAll),
        (pick, arb_value()).prop_map(|(p, v)| Step::Patch(p, v)),
    ]
}

fn run_step(doc: &mut Doc, step: &Step) {
    let all = paths(doc.value());
    let at = |i: usize| all[i % all.len()].clone();
    let _ = match step {
        Step::Set(p, k, v) => doc.set(&format!("{}/{k}", at(*p)), v.clone()),
        Step::Remove(p) => doc.remove(&at(*p)).map(drop),
        Step::Replace(p, v) => doc.replace(&at(*p), v.clone()),
        Step::Append(p, v) => doc.append(&at(*p), v.clone()),
        Step::Insert(p, i, v) => doc.insert(&at(*p), *i, v.clone()),
        Step::Increment(p, by) => doc.increment(&at(*p), *by).map(drop),
        Step::Move(a, b, k) => doc.move_value(&at(*a), &format!("{}/{k}", at(*b))),
        Step::Copy(a, b, k) => doc.copy_value(&at(*a), &format!("{}/{k}", at(*b))),
        Step::ReplaceAll(v) => doc.replace_all(v.clone()),
        Step::Patch(p, v) => {
            // a small patch whose second op may fail, to exercise atomic rollback
            let ops = vec![
                PatchOp::Add {
                    path: format!("{}/z", at(*p)),
                    value: v.clone(),
                },
                PatchOp::Test {
                    path: at(p + 1),
                    value: v.clone(),
                },
            ];
            doc.apply(&ops).map_err(|e| e.error)
        }
    };
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn emitted_patches_take_old_to_new(start in arb_value(), steps in prop::collection::vec(arb_step(), 1..12)) {
        let mut doc = Doc::new(start.clone());
        for step in &steps {
            run_step(&mut doc, step);
        }
        let patch = doc.take_patch();
        // apply with an independent implementation: json-patch
        let ops: json_patch::Patch = serde_json::from_value(serde_json::to_value(&patch).unwrap()).unwrap();
        let mut old = start;
        json_patch::patch(&mut old, &ops).unwrap();
        prop_assert_eq!(&old, doc.value());
        prop_assert_eq!(doc.encoded_len(), serde_json::to_vec(doc.value()).unwrap().len());
    }

    /// Under tight limits no sequence of operations takes the document past them, the size
    /// kept as operations go is exact, and the patch still takes the old state to the new.
    #[test]
    fn limits_hold_whatever_the_operations(start in arb_value(), steps in prop::collection::vec(arb_step(), 1..16)) {
        let limits = StateLimits { max_depth: 3, max_bytes: 80, max_values: 20, max_patch_ops: 4 };
        let mut doc = Doc::with_limits(start.clone(), limits);
        prop_assume!(doc.limit_error().is_none());
        for step in &steps {
            run_step(&mut doc, step);
            prop_assert!(limits.check(doc.value()).is_ok(), "{} broke the limits", doc.value());
            prop_assert_eq!(doc.encoded_len(), serde_json::to_vec(doc.value()).unwrap().len());
            prop_assert_eq!(doc.value_count(), values_in(doc.value()));
        }
        let patch = doc.take_patch();
        let ops: json_patch::Patch = serde_json::from_value(serde_json::to_value(&patch).unwrap()).unwrap();
        let mut old = start;
        json_patch::patch(&mut old, &ops).unwrap();
        prop_assert_eq!(&old, doc.value());
    }

    #[test]
    fn rollback_undoes_any_sequence(start in arb_value(), steps in prop::collection::vec(arb_step(), 1..12)) {
        let mut doc = Doc::new(start.clone());
        for step in &steps {
            run_step(&mut doc, step);
        }
        doc.rollback();
        prop_assert_eq!(doc.value(), &start);
        prop_assert_eq!(doc.encoded_len(), serde_json::to_vec(&start).unwrap().len());
    }

    #[test]
    fn failed_ops_leave_the_document_alone(start in arb_value(), step in arb_step()) {
        let mut doc = Doc::new(start.clone());
        let before = doc.value().clone();
        run_step(&mut doc, &step);
        if !doc.has_changes() {
            prop_assert_eq!(doc.value(), &before);
        }
    }
}

// ---- limits: what a hostile patch would make of a document is refused before it is built ----

fn copy(from: &str, path: &str) -> PatchOp {
    PatchOp::Copy {
        from: from.into(),
        path: path.into(),
    }
}

/// Copying the root into its deepest leaf, again and again, doubles the depth each time: the
/// patch is refused at the op that would pass the depth limit, and nothing of it applies.
#[test]
fn copy_chains_into_the_deepest_leaf_stop_at_the_depth_limit() {
    let mut doc = Doc::new(json!({"a": {}}));
    let mut ops = Vec::new();
    let mut leaf = "/a".to_owned();
    for _ in 0..13 {
        ops.push(copy("", &format!("{leaf}/a")));
        leaf = format!("{leaf}/a/a");
    }
    let err = doc.apply(&ops).unwrap_err();
    assert!(
        matches!(
            err.error,
            OpError::Limit(LimitError::TooDeep { max: 64, .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("max_depth = 64"), "{err}");
    assert_eq!(doc.value(), &json!({"a": {}}));
    assert!(!doc.has_changes());
    assert_eq!(doc.encoded_len(), 8);
}

/// A hundred puts, each of a value 60 levels deep under the last: the first that would pass
/// 64 levels is refused, naming where it would have gone.
#[test]
fn deep_puts_are_refused_at_the_limit() {
    let mut doc = Doc::new(json!({}));
    let mut deep = json!(1);
    for _ in 0..60 {
        deep = json!({ "d": deep });
    }
    doc.set("/x", deep.clone()).unwrap();
    let inner = format!("/x{}", "/d".repeat(10));
    let err = doc.set(&format!("{inner}/more"), deep).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "the value at {inner}/more would nest more than 64 levels deep (limit max_depth = 64)"
        )
    );
}

/// `copy` of the root into a new member doubles the document: the copy that would pass the
/// size limit is refused after measuring at most the limit, and the patch changes nothing.
#[test]
fn doubling_copies_stop_at_the_size_limit() {
    let limits = StateLimits {
        max_bytes: 1 << 20,
        ..StateLimits::default()
    };
    let mut doc = Doc::with_limits(json!({"x": "0123456789"}), limits);
    let ops: Vec<PatchOp> = (0..22).map(|i| copy("", &format!("/c{i}"))).collect();
    let err = doc.apply(&ops).unwrap_err();
    assert!(
        matches!(err.error, OpError::Limit(LimitError::ChangeTooLarge { .. })),
        "{err}"
    );
    assert!(err.index > 10 && err.index < 22, "{err}");
    assert_eq!(doc.value(), &json!({"x": "0123456789"}));
    // one change may not write more than a whole state, even when it removes as it goes
    let mut doc = Doc::with_limits(json!({"big": "x".repeat(400_000)}), limits);
    doc.take_patch();
    let churn: Vec<PatchOp> = (0..6)
        .flat_map(|_| {
            [
                copy("/big", "/copy"),
                PatchOp::Remove {
                    path: "/copy".into(),
                },
            ]
        })
        .collect();
    let err = doc.apply(&churn).unwrap_err();
    assert!(
        matches!(err.error, OpError::Limit(LimitError::ChangeTooLarge { .. })),
        "{err}"
    );
    assert!(!doc.has_changes());
    // a state over the limit in one go is `too large`
    let mut doc = Doc::with_limits(json!({}), limits);
    let err = doc.set("/big", "x".repeat(2 << 20)).unwrap_err();
    assert!(
        err.to_string()
            .contains("more than 1048576 bytes as JSON (limit max_state_bytes = 1048576)"),
        "{err}"
    );
}

#[test]
fn patches_are_bounded_in_ops() {
    let mut doc = Doc::new(json!({"n": 0}));
    let ops: Vec<PatchOp> = (0..1001)
        .map(|i| PatchOp::Replace {
            path: "/n".into(),
            value: json!(i),
        })
        .collect();
    let err = doc.apply(&ops).unwrap_err();
    assert_eq!(
        err.to_string(),
        "op 1000 (replace /n): the patch has 1001 ops (limit max_patch_ops = 1000)"
    );
    assert_eq!(doc.value(), &json!({"n": 0}));
    doc.apply(&ops[..1000]).unwrap();
    assert_eq!(doc.value(), &json!({"n": 999}));
    // a patch this server made itself replays whatever its length
    let mut replica = Doc::new(json!({"n": 0}));
    replica.replay(&ops).unwrap();
    assert_eq!(replica.value(), &json!({"n": 1000}));
}

/// The JSON values in `v`, containers included (recursive: test values are shallow).
fn values_in(v: &Value) -> usize {
    1 + match v {
        Value::Array(items) => items.iter().map(values_in).sum(),
        Value::Object(map) => map.values().map(values_in).sum(),
        _ => 0,
    }
}

/// Short JSON can hold many values (`0,` is two bytes of JSON and 32 in memory): doubling
/// an array of zeros stops at the values limit long before the bytes limit, and a state of
/// too many values in one go is refused as such.
#[test]
fn doubling_copies_stop_at_the_values_limit() {
    let limits = StateLimits {
        max_values: 10_000,
        ..StateLimits::default()
    };
    let start = json!({"z": vec![0; 500]});
    let mut doc = Doc::with_limits(start.clone(), limits);
    assert_eq!(doc.value_count(), 502);
    let ops: Vec<PatchOp> = (0..22).map(|i| copy("", &format!("/c{i}"))).collect();
    let err = doc.apply(&ops).unwrap_err();
    assert!(
        matches!(
            err.error,
            OpError::Limit(LimitError::ChangeTooManyValues { max: 10_000 })
        ),
        "{err}"
    );
    assert!(
        err.to_string().contains("limit max_state_values = 10000"),
        "{err}"
    );
    assert_eq!(err.index, 4, "{err}");
    assert_eq!(doc.value(), &start);
    assert_eq!(doc.value_count(), 502);
    let err = doc.set("/many", vec![0; 10_000]).unwrap_err();
    assert!(
        matches!(
            err,
            OpError::Limit(LimitError::TooManyValues { max: 10_000 })
        ),
        "{err}"
    );
    // removing values makes room for as many
    doc.remove("/z").unwrap();
    doc.set("/many", vec![0; 9_000]).unwrap();
    assert_eq!(doc.value_count(), 9_002);
}

/// A document built from a value that breaks the limits says so, and `set_limits` checks.
#[test]
fn a_document_over_its_limits_says_so() {
    let mut deep = json!(0);
    for _ in 0..70 {
        deep = json!([deep]);
    }
    let doc = Doc::new(deep.clone());
    assert!(matches!(
        doc.limit_error(),
        Some(LimitError::TooDeep { max: 64, .. })
    ));
    let mut doc = Doc::new(json!({"a": 1}));
    assert!(doc.limit_error().is_none());
    let tiny = StateLimits {
        max_bytes: 4,
        ..StateLimits::default()
    };
    assert_eq!(doc.set_limits(tiny), Err(LimitError::TooLarge { max: 4 }));
    assert!(doc.replace_all(deep).is_err());
}

/// Operations that leave the value as it was record nothing: the event's patch is `[]`, as
/// LiveState's is.
#[test]
fn operations_that_change_nothing_record_nothing() {
    let mut doc = Doc::new(json!({"a": {"b": [1, 2]}, "n": 5, "c": {"b": [1, 2]}}));
    doc.set("/n", 5).unwrap();
    doc.increment("/n", 0).unwrap();
    doc.replace("/a/b/0", 1).unwrap();
    doc.add("/a", json!({"b": [1, 2]})).unwrap();
    doc.copy_value("/a", "/c").unwrap();
    doc.move_value("/a", "/a").unwrap();
    doc.replace_all(doc.value().clone()).unwrap();
    doc.apply(&[PatchOp::Replace {
        path: "/n".into(),
        value: json!(5),
    }])
    .unwrap();
    assert!(!doc.has_changes());
    assert!(doc.take_patch().is_empty());
    // while an add into an array always inserts
    doc.add("/a/b/0", 1).unwrap();
    assert_eq!(doc.take_patch().len(), 1);
}
