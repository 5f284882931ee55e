//! [`Doc`]: a JSON document whose explicit operations produce their RFC 6902 patch.
//!
//! A handler changes a `Doc` through operations (`set`, `remove`, `append`, `insert`,
//! `increment`, `replace`, a whole RFC 6902 patch with [`Doc::apply`]). Each operation
//! records the patch op it amounts to, and what would undo it, so:
//! - the patch for a change costs what changed, never the size of the document;
//! - a handler that fails (or panics) midway is rolled back with [`Doc::rollback`];
//! - [`Doc::replace_all`] is the one operation that diffs (with `json-patch`), because
//!   only a structural diff can say what a wholesale replacement changed.
//!
//! Every operation is atomic: when it fails, the document is as it was before it. An
//! operation that changes nothing (setting the value already there) records nothing.
//!
//! A document keeps within its [`StateLimits`] (depth, size as JSON, values held, ops per
//! patch): an operation that would break one is refused with [`OpError::Limit`] before
//! anything is built, and the size is kept up to date as operations go, never by
//! re-encoding.
//!
//! ```
//! use livestate_doc::Doc;
//! use serde_json::json;
//!
//! let mut doc = Doc::new(json!({"count": 0, "items": []}));
//! doc.increment("/count", 1).unwrap();
//! doc.append("/items", json!("milk")).unwrap();
//! assert!(doc.set("/nope/deeper", json!(1)).is_err()); // refused, changes nothing
//! let patch = doc.take_patch();
//! assert_eq!(serde_json::to_value(&patch).unwrap(), json!([
//!     {"op": "replace", "path": "/count", "value": 1},
//!     {"op": "add", "path": "/items/0", "value": "milk"},
//! ]));
//! assert_eq!(doc.value(), &json!({"count": 1, "items": ["milk"]}));
//! assert_eq!(doc.encoded_len(), r#"{"count":1,"items":["milk"]}"#.len());
//! ```

mod error;
mod limits;
mod resolve;
mod undo;

pub use error::{OpError, PatchError};
pub use limits::{LimitError, MAX_DEPTH_CEILING, StateLimits};
pub use resolve::{kind, lookup};

use crate::pointer::{self, Pointer};
use limits::{Cost, Over, Size, measure, string_len};
use livestate_protocol::PatchOp;
use resolve::{abridged, add_number, array_index, array_len, not_container, resolve, resolve_mut};
use serde_json::{Map, Value};
use undo::{Step, Undo};

/// A JSON document with a journal of the operations applied since the last commit.
#[derive(Debug, Clone)]
pub struct Doc {
    /// The current value, including uncommitted changes.
    value: Value,
    /// The patch ops of the changes since the last [`Doc::take_patch`], in order.
    journal: Vec<PatchOp>,
    /// How to undo each change since the last commit, in order.
    undo: Vec<Step>,
    /// How much of `undo` was there at the last [`Doc::take_changes`].
    taken: usize,
    limits: StateLimits,
    /// `value`'s size, kept up to date by every operation.
    size: Size,
    /// What the change in progress wrote (since the last take or settle).
    written: Size,
    /// Set when the value the document was built from already breaks its limits.
    over: Option<LimitError>,
}

/// Where an add landed, so the journal can name it exactly.
enum Added {
    /// A new object member.
    NewMember,
    /// An existing object member was overwritten.
    ReplacedMember,
    /// Inserted into an array at this index.
    Element(usize),
    /// The root was replaced.
    Root,
}

impl Default for Doc {
    fn default() -> Doc {
        Doc::new(Value::Null)
    }
}

impl Doc {
    /// A document holding `value`, with nothing to commit, within the default
    /// [`StateLimits`].
    pub fn new(value: Value) -> Doc {
        Doc::with_limits(value, StateLimits::default())
    }

    /// A document holding `value` within `limits`. A value that already breaks them is
    /// kept, but no change of it can be taken ([`Doc::limit_error`] says why).
    pub fn with_limits(value: Value, limits: StateLimits) -> Doc {
        let mut doc = Doc {
            value,
            journal: Vec::new(),
            undo: Vec::new(),
            taken: 0,
            limits,
            size: Size::default(),
            written: Size::default(),
            over: None,
        };
        doc.remeasure();
        doc
    }

    /// The limits this document keeps within.
    pub fn limits(&self) -> StateLimits {
        self.limits
    }

    /// Keep within `limits` from now on; an error when the value already breaks them.
    pub fn set_limits(&mut self, limits: StateLimits) -> Result<(), LimitError> {
        self.limits = limits;
        self.remeasure();
        self.over.clone().map_or(Ok(()), Err)
    }

    /// Why the value breaks the limits, when it does (it was built that way).
    pub fn limit_error(&self) -> Option<&LimitError> {
        self.over.as_ref()
    }

    /// The length of the value as compact JSON (`serde_json::to_vec`), kept up to date by
    /// every operation.
    pub fn encoded_len(&self) -> usize {
        self.size.bytes
    }

    /// How many JSON values the value holds (containers included), kept up to date by
    /// every operation.
    pub fn value_count(&self) -> usize {
        self.size.values
    }

    fn remeasure(&mut self) {
        let limits = self.limits;
        match measure(&self.value, limits.max_depth, limits.max_size()) {
            Ok(cost) => {
                self.size = cost.size;
                self.over = None;
            }
            Err(over) => {
                self.size = size_of(&self.value);
                self.over = Some(limits.error(over, ""));
            }
        }
    }

    /// The current value, uncommitted changes included.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The document's value, dropping the journal.
    pub fn into_value(self) -> Value {
        self.value
    }

    /// The value at `path`.
    pub fn get(&self, path: &str) -> Result<&Value, OpError> {
        lookup(&self.value, path)
    }

    /// Whether anything changed since the last commit.
    pub fn has_changes(&self) -> bool {
        !self.journal.is_empty()
    }

    /// The patch of every change since the last call, and make the current value the
    /// committed one. Costs what changed.
    pub fn take_patch(&mut self) -> Vec<PatchOp> {
        self.settle();
        std::mem::take(&mut self.journal)
    }

    /// The patch of the changes since the last call, leaving them undoable by
    /// [`Doc::rollback`] until [`Doc::settle`].
    pub fn take_changes(&mut self) -> Vec<PatchOp> {
        self.taken = self.undo.len();
        self.written = Size::default();
        std::mem::take(&mut self.journal)
    }

    /// Make the current value the committed one: changes can no longer be rolled back.
    pub fn settle(&mut self) {
        self.undo.clear();
        self.taken = 0;
        self.written = Size::default();
    }

    /// Undo every change since the last [`Doc::take_patch`] or [`Doc::settle`].
    pub fn rollback(&mut self) {
        self.undo_to(0);
        self.journal.clear();
        self.taken = 0;
        self.written = Size::default();
    }

    /// Undo the changes since the last [`Doc::take_changes`], keeping those it took (still
    /// undoable by [`Doc::rollback`]).
    pub fn rollback_untaken(&mut self) {
        self.undo_to(self.taken);
        self.journal.clear();
        self.written = Size::default();
    }

    /// Set the value at `path`: add or replace an object member, replace an array element,
    /// or append when the index is `-` or the array's length. The parent must exist.
    /// Setting the root replaces the whole document (see [`Doc::replace_all`]).
    pub fn set(&mut self, path: &str, value: impl Into<Value>) -> Result<(), OpError> {
        let value = value.into();
        let ptr = Pointer::parse(path)?;
        let Some((parent, last)) = ptr.split_last() else {
            return self.replace_all(value);
        };
        let target = resolve(&self.value, parent)?;
        if let Value::Array(items) = target {
            let len = items.len();
            let index = array_index(parent, last, len, true)?;
            if index < len {
                return self.atomic(|doc| doc.replace_at(&ptr, value));
            }
        }
        self.atomic(|doc| doc.add_at(&ptr, value))
    }

    /// RFC 6902 `add`: add an object member (replacing one of the same name), insert into
    /// an array at an index (`-` appends), or replace the root.
    pub fn add(&mut self, path: &str, value: impl Into<Value>) -> Result<(), OpError> {
        let ptr = Pointer::parse(path)?;
        let value = value.into();
        self.atomic(|doc| doc.add_at(&ptr, value))
    }

    /// RFC 6902 `remove`: remove the value at `path`, which must exist. Returns it.
    pub fn remove(&mut self, path: &str) -> Result<Value, OpError> {
        let ptr = Pointer::parse(path)?;
        self.atomic(|doc| {
            let old = doc.prim_remove(&ptr)?;
            doc.journal.push(PatchOp::Remove {
                path: ptr.to_string(),
            });
            Ok(old)
        })
    }

    /// RFC 6902 `replace`: replace the value at `path`, which must exist.
    pub fn replace(&mut self, path: &str, value: impl Into<Value>) -> Result<(), OpError> {
        let ptr = Pointer::parse(path)?;
        let value = value.into();
        self.atomic(|doc| doc.replace_at(&ptr, value))
    }

    /// Append to the array at `path`.
    pub fn append(&mut self, path: &str, value: impl Into<Value>) -> Result<(), OpError> {
        let ptr = Pointer::parse(path)?;
        let len = array_len(&self.value, &ptr)?;
        let value = value.into();
        self.atomic(|doc| doc.add_at(&ptr.child(len.to_string()), value))
    }

    /// Insert into the array at `path` before `index` (`index` may be its length).
    pub fn insert(
        &mut self,
        path: &str,
        index: usize,
        value: impl Into<Value>,
    ) -> Result<(), OpError> {
        let ptr = Pointer::parse(path)?;
        let len = array_len(&self.value, &ptr)?;
        if index > len {
            return Err(OpError::OutOfBounds {
                path: ptr.to_string(),
                index,
                len,
            });
        }
        let value = value.into();
        self.atomic(|doc| doc.add_at(&ptr.child(index.to_string()), value))
    }

    /// Add `by` to the integer at `path` and return the new value. The patch is a
    /// `replace` of that one number (none when `by` is 0). A float is incremented as a
    /// float.
    pub fn increment(&mut self, path: &str, by: i64) -> Result<Value, OpError> {
        let ptr = Pointer::parse(path)?;
        let current = resolve(&self.value, ptr.tokens())?;
        let next = match current {
            Value::Number(n) => add_number(n, by).ok_or_else(|| OpError::Overflow {
                path: ptr.to_string(),
            })?,
            other => {
                return Err(OpError::NotNumber {
                    path: ptr.to_string(),
                    kind: kind(other),
                });
            }
        };
        let next = Value::Number(next);
        self.atomic(|doc| doc.replace_at(&ptr, next.clone()))?;
        Ok(next)
    }

    /// RFC 6902 `move`.
    pub fn move_value(&mut self, from: &str, path: &str) -> Result<(), OpError> {
        let from_ptr = Pointer::parse(from)?;
        let to_ptr = Pointer::parse(path)?;
        if from_ptr.is_proper_prefix_of(&to_ptr) {
            return Err(OpError::MoveIntoChild {
                from: from.to_owned(),
                path: path.to_owned(),
            });
        }
        self.atomic(|doc| {
            if from_ptr == to_ptr {
                resolve(&doc.value, from_ptr.tokens())?;
                return Ok(());
            }
            // it lands at another depth and counts as written: measured before it moves
            let cost = doc.cost_of(&to_ptr, resolve(&doc.value, from_ptr.tokens())?)?;
            doc.written = doc.written.plus(cost.size);
            let value = doc.prim_remove(&from_ptr)?;
            let added = doc.prim_add(&to_ptr, value, cost)?;
            doc.journal.push(PatchOp::Move {
                from: from_ptr.to_string(),
                path: added_path(&to_ptr, &added),
            });
            Ok(())
        })
    }

    /// RFC 6902 `copy`. The copy is measured against the limits before it is made.
    pub fn copy_value(&mut self, from: &str, path: &str) -> Result<(), OpError> {
        let from_ptr = Pointer::parse(from)?;
        let to_ptr = Pointer::parse(path)?;
        let source = resolve(&self.value, from_ptr.tokens())?;
        if existing_member(&self.value, &to_ptr).is_some_and(|there| there == source) {
            return Ok(());
        }
        self.atomic(|doc| {
            let source = resolve(&doc.value, from_ptr.tokens())?;
            let cost = doc.cost_of(&to_ptr, source)?;
            let value = source.clone();
            doc.written = doc.written.plus(cost.size);
            let added = doc.prim_add(&to_ptr, value, cost)?;
            doc.journal.push(PatchOp::Copy {
                from: from_ptr.to_string(),
                path: added_path(&to_ptr, &added),
            });
            Ok(())
        })
    }

    /// RFC 6902 `test`: fail unless the value at `path` equals `expected`.
    pub fn test(&self, path: &str, expected: &Value) -> Result<(), OpError> {
        let found = self.get(path)?;
        if found == expected {
            Ok(())
        } else {
            Err(OpError::TestFailed {
                path: path.to_owned(),
                expected: abridged(expected),
                found: abridged(found),
            })
        }
    }

    /// Apply an RFC 6902 patch atomically: all of it, or (on the first failing op) none.
    /// A patch of more than `max_patch_ops` ops is refused before any of it applies.
    pub fn apply(&mut self, ops: &[PatchOp]) -> Result<(), PatchError> {
        let max = self.limits.max_patch_ops;
        if let Some(op) = ops.get(max) {
            return Err(PatchError {
                index: max,
                op: op.name(),
                path: op.path().to_owned(),
                error: OpError::Limit(LimitError::TooManyOps {
                    ops: ops.len(),
                    max,
                }),
            });
        }
        self.replay(ops)
    }

    /// [`Doc::apply`] without the bound on the number of ops, for patches this server
    /// made itself (a change log, a leader's published change). Depth and size are still
    /// bounded.
    pub fn replay(&mut self, ops: &[PatchOp]) -> Result<(), PatchError> {
        let undo_mark = self.undo.len();
        let journal_mark = self.journal.len();
        let written = self.written;
        for (index, op) in ops.iter().enumerate() {
            let result = match op {
                PatchOp::Add { path, value } => self.add(path, value.clone()),
                PatchOp::Remove { path } => self.remove(path).map(drop),
                PatchOp::Replace { path, value } => self.replace(path, value.clone()),
                PatchOp::Move { from, path } => self.move_value(from, path),
                PatchOp::Copy { from, path } => self.copy_value(from, path),
                PatchOp::Test { path, value } => self.test(path, value),
            };
            if let Err(error) = result {
                self.undo_to(undo_mark);
                self.journal.truncate(journal_mark);
                self.written = written;
                return Err(PatchError {
                    index,
                    op: op.name(),
                    path: op.path().to_owned(),
                    error,
                });
            }
        }
        Ok(())
    }

    /// Replace the whole document. The patch is a structural diff of the old and new
    /// values (json-patch's `diff`), which costs as much as both documents: prefer the
    /// explicit operations for large states. Refused (changing nothing) when the new
    /// value breaks the limits.
    pub fn replace_all(&mut self, value: Value) -> Result<(), OpError> {
        if self.value == value {
            return Ok(());
        }
        let cost = self.admit(&Pointer::root(), &value)?;
        // both values are within the depth limit, so the diff's recursion is bounded
        let ops = crate::diff::diff(&self.value, &value);
        let old = std::mem::replace(&mut self.value, value);
        self.push_undo(Undo::RestoreRoot(old));
        self.size = cost.size;
        self.journal.extend(ops);
        Ok(())
    }

    /// Measure `value`, about to be written at `ptr`, against the depth limit, the size
    /// limit and what this change may still write.
    fn cost_of(&self, ptr: &Pointer, value: &Value) -> Result<Cost, OpError> {
        let limits = self.limits;
        let too_deep = || LimitError::TooDeep {
            path: ptr.to_string(),
            max: limits.max_depth,
        };
        let depth = limits
            .max_depth
            .checked_sub(ptr.tokens().len())
            .ok_or_else(too_deep)?;
        let room = limits.max_size().minus(self.written);
        let cost = measure(value, depth, room).map_err(|over| match over {
            Over::Depth => too_deep(),
            _ if self.written == Size::default() => limits.error(over, ""),
            _ => limits.change_error(over, ""),
        })?;
        Ok(cost)
    }

    /// [`Doc::cost_of`], counting the value as written by this change.
    fn admit(&mut self, ptr: &Pointer, value: &Value) -> Result<Cost, OpError> {
        let cost = self.cost_of(ptr, value)?;
        self.written = self.written.plus(cost.size);
        Ok(cost)
    }

    /// Run `f`; if it fails, undo whatever it did.
    fn atomic<T>(&mut self, f: impl FnOnce(&mut Doc) -> Result<T, OpError>) -> Result<T, OpError> {
        let undo_mark = self.undo.len();
        let journal_mark = self.journal.len();
        let (size, written) = (self.size, self.written);
        let result = f(self);
        if result.is_err() {
            self.undo_to(undo_mark);
            self.journal.truncate(journal_mark);
            self.size = size;
            self.written = written;
        }
        result
    }

    fn push_undo(&mut self, undo: Undo) {
        self.undo.push(Step {
            undo,
            size: self.size,
        });
    }

    fn add_at(&mut self, ptr: &Pointer, value: Value) -> Result<(), OpError> {
        if ptr.is_root() {
            return self.replace_all(value);
        }
        if existing_member(&self.value, ptr).is_some_and(|there| *there == value) {
            return Ok(());
        }
        let cost = self.admit(ptr, &value)?;
        let journal_value = value.clone();
        let added = self.prim_add(ptr, value, cost)?;
        let path = added_path(ptr, &added);
        self.journal.push(match added {
            Added::ReplacedMember => PatchOp::Replace {
                path,
                value: journal_value,
            },
            _ => PatchOp::Add {
                path,
                value: journal_value,
            },
        });
        Ok(())
    }

    fn replace_at(&mut self, ptr: &Pointer, value: Value) -> Result<(), OpError> {
        let Some((parent, last)) = ptr.split_last() else {
            return self.replace_all(value);
        };
        let old = match resolve(&self.value, parent)? {
            Value::Object(map) => map
                .get(last)
                .ok_or_else(|| OpError::NotFound(ptr.to_string()))?,
            Value::Array(items) => &items[array_index(parent, last, items.len(), false)?],
            other => return Err(not_container(parent, other, last)),
        };
        if *old == value {
            return Ok(());
        }
        let old_size = size_of(old);
        let cost = self.admit(ptr, &value)?;
        let size = self.sized(self.size.minus(old_size).plus(cost.size))?;
        let journal_value = value.clone();
        let before = self.size;
        let undo = match resolve_mut(&mut self.value, parent)? {
            Value::Object(map) => {
                let slot = map
                    .get_mut(last)
                    .ok_or_else(|| OpError::NotFound(ptr.to_string()))?;
                Undo::RestoreMember {
                    parent: parent.to_vec(),
                    key: last.to_owned(),
                    old: std::mem::replace(slot, value),
                }
            }
            Value::Array(items) => {
                let index = array_index(parent, last, items.len(), false)?;
                Undo::RestoreElement {
                    parent: parent.to_vec(),
                    index,
                    old: std::mem::replace(&mut items[index], value),
                }
            }
            other => return Err(not_container(parent, other, last)),
        };
        self.undo.push(Step { undo, size: before });
        self.size = size;
        self.journal.push(PatchOp::Replace {
            path: ptr.to_string(),
            value: journal_value,
        });
        Ok(())
    }

    /// `size`, if the document may be that large.
    fn sized(&self, size: Size) -> Result<Size, OpError> {
        match size.over(self.limits.max_size()) {
            Some(over) => Err(OpError::Limit(self.limits.error(over, ""))),
            None => Ok(size),
        }
    }

    /// RFC 6902 add without journaling; records the undo. `cost` is `value`'s, from
    /// [`Doc::admit`].
    fn prim_add(&mut self, ptr: &Pointer, value: Value, cost: Cost) -> Result<Added, OpError> {
        let Some((parent, last)) = ptr.split_last() else {
            let old = std::mem::replace(&mut self.value, value);
            self.push_undo(Undo::RestoreRoot(old));
            self.size = cost.size;
            return Ok(Added::Root);
        };
        // the size it will have, checked before anything changes
        let grown = match resolve(&self.value, parent)? {
            Value::Object(map) => match map.get(last) {
                Some(old) => self.size.minus(size_of(old)).plus(cost.size),
                None => {
                    let overhead = usize::from(!map.is_empty()) + string_len(last) + 1;
                    self.size.plus(cost.size).plus_bytes(overhead)
                }
            },
            Value::Array(items) => {
                array_index(parent, last, items.len(), true)?;
                let overhead = usize::from(!items.is_empty());
                self.size.plus(cost.size).plus_bytes(overhead)
            }
            other => return Err(not_container(parent, other, last)),
        };
        let grown = self.sized(grown)?;
        let before = self.size;
        let (undo, added) = match resolve_mut(&mut self.value, parent)? {
            Value::Object(map) => match map.insert(last.to_owned(), value) {
                Some(old) => (
                    Undo::RestoreMember {
                        parent: parent.to_vec(),
                        key: last.to_owned(),
                        old,
                    },
                    Added::ReplacedMember,
                ),
                None => (
                    Undo::RemoveMember {
                        parent: parent.to_vec(),
                        key: last.to_owned(),
                    },
                    Added::NewMember,
                ),
            },
            Value::Array(items) => {
                let index = array_index(parent, last, items.len(), true)?;
                items.insert(index, value);
                (
                    Undo::RemoveElement {
                        parent: parent.to_vec(),
                        index,
                    },
                    Added::Element(index),
                )
            }
            other => return Err(not_container(parent, other, last)),
        };
        self.undo.push(Step { undo, size: before });
        self.size = grown;
        Ok(added)
    }

    /// RFC 6902 remove without journaling; records the undo.
    fn prim_remove(&mut self, ptr: &Pointer) -> Result<Value, OpError> {
        let Some((parent, last)) = ptr.split_last() else {
            return Err(OpError::RemoveRoot);
        };
        let before = self.size;
        let (undo, old, overhead) = match resolve_mut(&mut self.value, parent)? {
            Value::Object(map) => {
                let old = map
                    .remove(last)
                    .ok_or_else(|| OpError::NotFound(ptr.to_string()))?;
                let overhead = usize::from(!map.is_empty()) + string_len(last) + 1;
                let undo = Undo::RestoreMember {
                    parent: parent.to_vec(),
                    key: last.to_owned(),
                    old: old.clone(),
                };
                (undo, old, overhead)
            }
            Value::Array(items) => {
                let index = array_index(parent, last, items.len(), false)?;
                let old = items.remove(index);
                let undo = Undo::InsertElement {
                    parent: parent.to_vec(),
                    index,
                    old: old.clone(),
                };
                (undo, old, usize::from(!items.is_empty()))
            }
            other => return Err(not_container(parent, other, last)),
        };
        self.undo.push(Step { undo, size: before });
        self.size = self.size.minus(size_of(&old).plus_bytes(overhead));
        Ok(old)
    }
}

impl From<Value> for Doc {
    fn from(value: Value) -> Doc {
        Doc::new(value)
    }
}

impl PartialEq for Doc {
    fn eq(&self, other: &Doc) -> bool {
        self.value == other.value
    }
}

fn added_path(ptr: &Pointer, added: &Added) -> String {
    match (added, ptr.split_last()) {
        (Added::Element(index), Some((parent, _))) => pointer::encode_index(parent, *index),
        _ => ptr.to_string(),
    }
}

/// The object member `ptr` names, if its parent is an object that has it (an add there
/// replaces it; an add into an array always inserts).
fn existing_member<'a>(root: &'a Value, ptr: &Pointer) -> Option<&'a Value> {
    let (parent, last) = ptr.split_last()?;
    match resolve(root, parent).ok()? {
        Value::Object(map) => map.get(last),
        _ => None,
    }
}

/// The size of a value already in a document (within its limits).
fn size_of(value: &Value) -> Size {
    let unbounded = Size {
        bytes: usize::MAX,
        values: usize::MAX,
    };
    measure(value, usize::MAX, unbounded).map_or(Size::default(), |c| c.size)
}

/// An empty JSON object, the usual initial state.
pub fn empty_object() -> Value {
    Value::Object(Map::new())
}

#[cfg(test)]
mod tests;
