//! The structural diff: the RFC 6902 patch between two JSON values.
//!
//! It is the fallback for changes that are not made through [`crate::Doc`]'s explicit
//! operations (a serde state's change, a whole replacement): it costs as much as both
//! values, and recurses as deep as they nest (both are within a state's depth limit).

use livestate_protocol::PatchOp;
use serde_json::Value;

/// The RFC 6902 patch from `before` to `after` (json-patch's structural diff).
pub fn diff(before: &Value, after: &Value) -> Vec<PatchOp> {
    let patch = json_patch::diff(before, after);
    // json-patch's ops and ours are the same RFC 6902 JSON; converting through it cannot
    // fail, but if it ever did, replacing the root is a correct patch too.
    serde_json::to_value(&patch)
        .and_then(serde_json::from_value)
        .unwrap_or_else(|_| {
            vec![PatchOp::Replace {
                path: String::new(),
                value: after.clone(),
            }]
        })
}
