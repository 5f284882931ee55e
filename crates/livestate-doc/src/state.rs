//! What a channel's state can be: [`LiveState`].
//!
//! Two kinds of state are supported, and a channel picks one with its `State` type:
//!
//! - [`Doc`]: a JSON document changed through explicit operations (`set`, `remove`,
//!   `append`, `increment`, ...). Each operation records its patch op, so a change costs
//!   what changed, whatever the size of the state. Use it for large or hot states.
//! - Any type with `Serialize` and `Deserialize` (your own struct, or `serde_json::Value`):
//!   the handler changes it as it likes; afterwards it is serialized and diffed against the
//!   last committed JSON (json-patch's `diff`), which costs as much as the state. Use it when
//!   states are small and plain Rust is worth more than the cost.
//!
//! ```
//! use livestate_doc::state::{LiveState, Tracked};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize)]
//! struct Todos { items: Vec<String> }
//!
//! let mut tracked = Tracked::new(Todos { items: vec![] }).unwrap();
//! tracked.state.items.push("milk".into());
//! let patch = tracked.take_changes().unwrap();
//! assert_eq!(serde_json::to_value(&patch).unwrap(),
//!            serde_json::json!([{"op": "add", "path": "/items/0", "value": "milk"}]));
//! tracked.settle();
//! ```

use crate::diff::diff;
use crate::doc::{Doc, LimitError, StateLimits};
use livestate_protocol::PatchOp;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::borrow::Cow;

/// A state that cannot be turned into JSON or back, or that would break its limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct StateError {
    message: String,
    limit: Option<LimitError>,
}

impl StateError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> StateError {
        StateError {
            message: message.into(),
            limit: None,
        }
    }

    /// The state limit the change would break, when that is what went wrong.
    pub fn limit(&self) -> Option<&LimitError> {
        self.limit.as_ref()
    }
}

/// What a key authority needs of a channel's state.
///
/// A change goes: the handler mutates the state; [`take_changes`](LiveState::take_changes)
/// gives its patch; the authority commits it to the backplane; then
/// [`settle`](LiveState::settle) (committed) or [`rollback`](LiveState::rollback) (refused,
/// failed, or not committed) ends it. The authority keeps a [`Shadow`](LiveState::Shadow)
/// beside the state for whatever computing the patch needs.
pub trait LiveState: Send + Sized + 'static {
    /// What is kept beside the state to compute patches.
    type Shadow: Send + 'static;

    /// Start tracking a state that was just built (by `init` or from a snapshot), keeping
    /// it within `limits` from now on; an error when it already breaks them.
    fn track(&mut self, limits: StateLimits) -> Result<Self::Shadow, StateError>;

    /// The state as JSON, changes taken by `take_changes` included.
    fn json<'a>(&'a self, shadow: &'a Self::Shadow) -> Cow<'a, Value>;

    /// The patch from the last taken or settled state to now. The changes stay undoable
    /// until `settle` or `rollback`. An error (a state that breaks its limits, one that is
    /// not JSON) leaves the changes to be rolled back.
    fn take_changes(&mut self, shadow: &mut Self::Shadow) -> Result<Vec<PatchOp>, StateError>;

    /// Make the current state the settled one.
    fn settle(&mut self, shadow: &mut Self::Shadow);

    /// Go back to the last settled state.
    fn rollback(&mut self, shadow: &mut Self::Shadow);

    /// Undo the changes since the last `take_changes` (or `settle`), keeping those taken:
    /// a refused event among several committed together leaves the others' changes.
    fn rollback_untaken(&mut self, shadow: &mut Self::Shadow);

    /// Rebuild a state from JSON (a snapshot kept by the backplane).
    fn restore(value: Value) -> Result<Self, StateError>;

    /// Change the state through a [`Doc`] (the server API's put, delete, patch and update).
    /// A `Doc` state is edited in place, so its patch costs what changed; another state is
    /// edited as JSON and decoded back, and must still fit its type (else a
    /// [`StateError`], converted to the caller's error type).
    fn edit<E: From<StateError>>(
        &mut self,
        shadow: &mut Self::Shadow,
        f: impl FnOnce(&mut Doc) -> Result<(), E>,
    ) -> Result<(), E>;

    /// Replace the whole state (a reset), as a change like any other.
    fn replace(&mut self, shadow: &mut Self::Shadow, new: Self) -> Result<(), StateError>;
}

impl LiveState for Doc {
    type Shadow = ();

    fn track(&mut self, limits: StateLimits) -> Result<(), StateError> {
        self.set_limits(limits).map_err(StateError::from)
    }
    fn json<'a>(&'a self, _: &'a ()) -> Cow<'a, Value> {
        Cow::Borrowed(self.value())
    }
    fn take_changes(&mut self, _: &mut ()) -> Result<Vec<PatchOp>, StateError> {
        // a handler may have put a whole new Doc in place of the state
        if let Some(e) = self.limit_error() {
            return Err(StateError::from(e.clone()));
        }
        Ok(Doc::take_changes(self))
    }
    fn settle(&mut self, _: &mut ()) {
        Doc::settle(self)
    }
    fn rollback(&mut self, _: &mut ()) {
        Doc::rollback(self)
    }
    fn rollback_untaken(&mut self, _: &mut ()) {
        Doc::rollback_untaken(self)
    }
    fn restore(value: Value) -> Result<Doc, StateError> {
        Ok(Doc::new(value))
    }
    fn edit<E: From<StateError>>(
        &mut self,
        _: &mut (),
        f: impl FnOnce(&mut Doc) -> Result<(), E>,
    ) -> Result<(), E> {
        f(self)
    }
    fn replace(&mut self, _: &mut (), new: Doc) -> Result<(), StateError> {
        self.replace_all(new.into_value())
            .map_err(|e| StateError::new(e.to_string()))
    }
}

/// The shadow of a serde state: its JSON as last settled, and as last taken.
#[derive(Debug)]
pub struct JsonShadow {
    settled: Value,
    taken: Option<Value>,
    limits: StateLimits,
}

impl<T: Serialize + DeserializeOwned + Send + 'static> LiveState for T {
    type Shadow = JsonShadow;

    fn track(&mut self, limits: StateLimits) -> Result<JsonShadow, StateError> {
        let settled = encode(self)?;
        within(&settled, limits)?;
        Ok(JsonShadow {
            settled,
            taken: None,
            limits,
        })
    }

    fn json<'a>(&'a self, shadow: &'a JsonShadow) -> Cow<'a, Value> {
        Cow::Borrowed(shadow.taken.as_ref().unwrap_or(&shadow.settled))
    }

    fn take_changes(&mut self, shadow: &mut JsonShadow) -> Result<Vec<PatchOp>, StateError> {
        let now = encode(self)?;
        within(&now, shadow.limits)?;
        let before = shadow.taken.as_ref().unwrap_or(&shadow.settled);
        let patch = diff(before, &now);
        shadow.taken = Some(now);
        Ok(patch)
    }

    fn settle(&mut self, shadow: &mut JsonShadow) {
        if let Some(taken) = shadow.taken.take() {
            shadow.settled = taken;
        }
    }

    fn rollback(&mut self, shadow: &mut JsonShadow) {
        shadow.taken = None;
        // The settled JSON came from this very type, so it decodes; if a hand-written
        // Deserialize disagrees with its Serialize, keep the state rather than panic.
        if let Ok(restored) = serde_json::from_value(shadow.settled.clone()) {
            *self = restored;
        }
    }

    fn rollback_untaken(&mut self, shadow: &mut JsonShadow) {
        let back = shadow.taken.as_ref().unwrap_or(&shadow.settled);
        if let Ok(restored) = serde_json::from_value(back.clone()) {
            *self = restored;
        }
    }

    fn restore(value: Value) -> Result<T, StateError> {
        serde_json::from_value(value)
            .map_err(|e| StateError::new(format!("the kept state does not decode: {e}")))
    }

    fn edit<E: From<StateError>>(
        &mut self,
        shadow: &mut JsonShadow,
        f: impl FnOnce(&mut Doc) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut doc = Doc::with_limits(encode(self)?, shadow.limits);
        f(&mut doc)?;
        *self = serde_json::from_value(doc.into_value())
            .map_err(|e| StateError::new(format!("the result does not fit the state: {e}")))?;
        Ok(())
    }

    fn replace(&mut self, _: &mut JsonShadow, new: T) -> Result<(), StateError> {
        *self = new;
        Ok(())
    }
}

/// Whether the JSON of a serde state keeps within `limits` (its changes are checked once
/// they are made: the handler's own code built them).
fn within(json: &Value, limits: StateLimits) -> Result<(), StateError> {
    limits.check(json).map_err(StateError::from)
}

impl From<LimitError> for StateError {
    fn from(e: LimitError) -> StateError {
        StateError {
            message: e.to_string(),
            limit: Some(e),
        }
    }
}

fn encode<T: Serialize>(state: &T) -> Result<Value, StateError> {
    serde_json::to_value(state)
        .map_err(|e| StateError::new(format!("the state cannot be encoded as JSON: {e}")))
}

/// A state with its shadow: what a key authority holds.
#[derive(Debug)]
pub struct Tracked<S: LiveState> {
    /// The state; handlers get `&mut` to it.
    pub state: S,
    shadow: S::Shadow,
}

impl<S: LiveState> Tracked<S> {
    /// Start tracking `state`, within the default [`StateLimits`].
    pub fn new(state: S) -> Result<Tracked<S>, StateError> {
        Tracked::with_limits(state, StateLimits::default())
    }

    /// Start tracking `state` within `limits`; an error when it already breaks them.
    pub fn with_limits(mut state: S, limits: StateLimits) -> Result<Tracked<S>, StateError> {
        let shadow = state.track(limits)?;
        Ok(Tracked { state, shadow })
    }

    /// See [`LiveState::json`].
    pub fn json(&self) -> Cow<'_, Value> {
        self.state.json(&self.shadow)
    }

    /// See [`LiveState::take_changes`].
    pub fn take_changes(&mut self) -> Result<Vec<PatchOp>, StateError> {
        self.state.take_changes(&mut self.shadow)
    }

    /// See [`LiveState::settle`].
    pub fn settle(&mut self) {
        self.state.settle(&mut self.shadow)
    }

    /// See [`LiveState::rollback`].
    pub fn rollback(&mut self) {
        self.state.rollback(&mut self.shadow)
    }

    /// See [`LiveState::rollback_untaken`].
    pub fn rollback_untaken(&mut self) {
        self.state.rollback_untaken(&mut self.shadow)
    }

    /// See [`LiveState::edit`].
    pub fn edit<E: From<StateError>>(
        &mut self,
        f: impl FnOnce(&mut Doc) -> Result<(), E>,
    ) -> Result<(), E> {
        self.state.edit(&mut self.shadow, f)
    }

    /// See [`LiveState::replace`].
    pub fn replace(&mut self, new: S) -> Result<(), StateError> {
        self.state.replace(&mut self.shadow, new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Counter {
        count: i64,
        names: Vec<String>,
    }

    /// Several changes taken one after another (events committed together): undoing the
    /// last, untaken one keeps those taken; a full rollback undoes them all.
    #[test]
    fn rollback_untaken_keeps_what_was_taken() {
        let mut t = Tracked::new(Counter {
            count: 0,
            names: vec![],
        })
        .unwrap();
        t.state.count = 1;
        t.take_changes().unwrap();
        t.state.names.push("ann".into());
        t.take_changes().unwrap();
        t.state.count = 99;
        t.state.names.clear();
        t.rollback_untaken();
        assert_eq!(
            t.state,
            Counter {
                count: 1,
                names: vec!["ann".into()]
            }
        );
        assert_eq!(t.json().into_owned(), json!({"count": 1, "names": ["ann"]}));
        t.rollback();
        assert_eq!(
            t.state,
            Counter {
                count: 0,
                names: vec![]
            }
        );

        let mut d = Tracked::new(Doc::new(json!({"n": 0, "list": []}))).unwrap();
        d.state.increment("/n", 1).unwrap();
        let first = d.take_changes().unwrap();
        d.state.append("/list", json!("a")).unwrap();
        d.take_changes().unwrap();
        d.state.increment("/n", 10).unwrap();
        d.state.remove("/list").unwrap();
        d.rollback_untaken();
        assert_eq!(d.json().into_owned(), json!({"n": 1, "list": ["a"]}));
        // a new change after the undo is taken on its own
        d.state.set("/x", true).unwrap();
        assert_eq!(
            serde_json::to_value(d.take_changes().unwrap()).unwrap(),
            json!([{"op": "add", "path": "/x", "value": true}])
        );
        assert_eq!(
            serde_json::to_value(&first).unwrap(),
            json!([{"op": "replace", "path": "/n", "value": 1}])
        );
        d.rollback();
        assert_eq!(d.json().into_owned(), json!({"n": 0, "list": []}));
        // with nothing taken, undoing the untaken is a full rollback
        d.state.set("/y", 1).unwrap();
        d.rollback_untaken();
        assert_eq!(d.json().into_owned(), json!({"n": 0, "list": []}));
    }

    #[test]
    fn typed_states_diff_against_the_last_taken_json() {
        let mut t = Tracked::new(Counter {
            count: 0,
            names: vec![],
        })
        .unwrap();
        t.state.count = 2;
        let first = t.take_changes().unwrap();
        t.state.names.push("ann".into());
        let second = t.take_changes().unwrap();
        assert_eq!(
            serde_json::to_value(&first).unwrap(),
            json!([{"op": "replace", "path": "/count", "value": 2}])
        );
        assert_eq!(
            serde_json::to_value(&second).unwrap(),
            json!([{"op": "add", "path": "/names/0", "value": "ann"}])
        );
        assert_eq!(t.json().into_owned(), json!({"count": 2, "names": ["ann"]}));
    }

    #[test]
    fn typed_rollback_restores_the_settled_state() {
        let mut t = Tracked::new(Counter {
            count: 1,
            names: vec!["a".into()],
        })
        .unwrap();
        t.state.count = 5;
        t.state.names.clear();
        t.take_changes().unwrap();
        t.rollback();
        assert_eq!(
            t.state,
            Counter {
                count: 1,
                names: vec!["a".into()]
            }
        );
        assert_eq!(t.json().into_owned(), json!({"count": 1, "names": ["a"]}));
    }

    #[test]
    fn plain_json_is_a_state_too() {
        let mut t = Tracked::new(json!({"a": 1})).unwrap();
        t.state["b"] = json!(2);
        let patch = t.take_changes().unwrap();
        assert_eq!(
            patch,
            vec![PatchOp::Add {
                path: "/b".into(),
                value: json!(2)
            }]
        );
        t.settle();
        assert_eq!(t.json().into_owned(), json!({"a": 1, "b": 2}));
    }

    #[test]
    fn a_state_that_is_not_json_is_an_error_not_a_panic() {
        use std::collections::HashMap;
        let mut map = HashMap::new();
        map.insert((1, 2), "tuple keys are not JSON".to_owned());
        let err = Tracked::new(map).unwrap_err();
        assert!(
            err.to_string().contains("cannot be encoded as JSON"),
            "{err}"
        );
    }

    #[test]
    fn restore_names_what_does_not_fit() {
        let err = Counter::restore(json!({"count": "x"})).unwrap_err();
        assert!(err.to_string().contains("invalid type"), "{err}");
    }
}
