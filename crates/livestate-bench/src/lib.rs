//! livestate's micro-benchmarks (criterion), and the inputs they share.
//!
//! Run them with `cargo bench -p livestate-bench` (`scripts/bench` runs them and puts
//! the results in `BENCHMARKS.md`). The benchmarks, in `benches/`:
//! - `protocol`: decoding a typical `lvs_evt` frame; encoding a `phx_reply` and a
//!   `state:patch` broadcast.
//! - `doc`: an explicit operation and its patch (`Doc::set`, `Doc::increment`, then
//!   `Doc::take_patch`) on states of 10, 1,000 and 100,000 entries; the structural-diff
//!   fallback (`Doc::replace_all` with one entry changed, then `take_patch`) on the same.
//! - `fanout`: encode one patch frame and queue it to 10, 1,000 and 10,000 outboxes.
//! - `view`: a live view's render+diff (`html!` and the `Encoder`) of a board of 10 to
//!   10,000 rows, when a slot outside the list changes and when one row changes; the
//!   diffs' sizes go to `target/criterion/view_bytes.json`.
//!
//! This library holds the inputs, so the benchmarks measure the same things the tests
//! below check.

pub mod view;

use livestate_protocol::PatchOp;
use livestate_protocol::livestate::StatePatch;
use serde_json::{Map, Value, json};

/// A typical client event frame: `lvs_evt:put` of a small object, as the load generator
/// sends it.
pub const EVENT_FRAME: &str = r#"["1","7","doc:bench","lvs_evt:put",{"path":"/m","value":{"s":3,"n":42,"t":1700000000123456789}}]"#;

/// The topic of the benchmarks' frames.
pub const TOPIC: &str = "doc:bench";

/// A state of `entries` members `{"k0": 0, "k1": 1, ...}`.
pub fn state(entries: usize) -> Value {
    let map: Map<String, Value> = (0..entries).map(|i| (format!("k{i}"), json!(i))).collect();
    Value::Object(map)
}

/// `state(entries)` with member `k5` (or the only one, for tiny states) changed.
pub fn state_with_one_change(entries: usize) -> Value {
    let mut v = state(entries);
    if let Some(map) = v.as_object_mut() {
        map.insert("k5".to_owned(), json!("changed"));
    }
    v
}

/// The payload of a typical `state:patch`: one `replace` of a small object.
pub fn patch_payload() -> StatePatch<Vec<PatchOp>> {
    StatePatch {
        patch: vec![PatchOp::Replace {
            path: "/m".to_owned(),
            value: json!({"s": 3, "n": 42, "t": 1_700_000_000_123_456_789_u64}),
        }],
        version: 42,
        reset: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use livestate_core::Doc;
    use livestate_protocol::{Message, frame};

    #[test]
    fn the_inputs_are_what_the_benchmarks_claim() {
        let m = Message::decode(EVENT_FRAME).unwrap();
        assert_eq!(m.event, "lvs_evt:put");
        assert_eq!(state(1000).as_object().unwrap().len(), 1000);
        let patch = frame::broadcast(TOPIC, "state:patch", &patch_payload());
        assert!(
            patch
                .as_str()
                .starts_with(r#"[null,null,"doc:bench","state:patch",{"patch":[{"op":"replace""#)
        );

        let mut doc = Doc::new(state(10));
        doc.set("/k5", json!(1)).unwrap();
        assert_eq!(doc.take_patch().len(), 1);
        let mut doc = Doc::new(state(10));
        doc.replace_all(state_with_one_change(10)).unwrap();
        let patch = doc.take_patch();
        assert_eq!(patch.len(), 1, "{patch:?}");
        assert_eq!(patch[0].path(), "/k5");
    }
}
