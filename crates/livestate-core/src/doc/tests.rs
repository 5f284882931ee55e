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
    doc.replace_all(json!([1]));
    doc.set("/0", 5).unwrap();
    doc.rollback();
    assert_eq!(doc.value(), &start);
    assert!(doc.take_patch().is_empty());
}

#[test]
fn replace_all_emits_a_structural_diff() {
    let mut doc = Doc::new(json!({"a": 1, "b": [1, 2]}));
    doc.replace_all(json!({"a": 1, "b": [1, 3], "c": true}));
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
        Step::ReplaceAll(v) => {
            doc.replace_all(v.clone());
            Ok(())
        }
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
    }

    #[test]
    fn rollback_undoes_any_sequence(start in arb_value(), steps in prop::collection::vec(arb_step(), 1..12)) {
        let mut doc = Doc::new(start.clone());
        for step in &steps {
            run_step(&mut doc, step);
        }
        doc.rollback();
        prop_assert_eq!(doc.value(), &start);
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
