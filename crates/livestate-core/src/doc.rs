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
//! Every operation is atomic: when it fails, the document is as it was before it.
//!
//! ```
//! use livestate_core::Doc;
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
//! ```

use crate::pointer::{self, Pointer, PointerError};
use livestate_protocol::PatchOp;
use serde_json::{Map, Number, Value};

/// A JSON document with a journal of the operations applied since the last commit.
#[derive(Debug, Clone, Default)]
pub struct Doc {
    /// The current value, including uncommitted changes.
    value: Value,
    /// The patch ops of the changes since the last [`Doc::take_patch`], in order.
    journal: Vec<PatchOp>,
    /// How to undo each change since the last commit, in order.
    undo: Vec<Undo>,
    /// How much of `undo` was there at the last [`Doc::take_changes`].
    taken: usize,
}

/// Why an operation was refused. The document is unchanged when one is returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpError {
    /// The path is not a JSON Pointer.
    #[error(transparent)]
    Pointer(#[from] PointerError),
    /// Nothing at the path (or at one of its parents).
    #[error("no value at {0}")]
    NotFound(String),
    /// A path goes through a value that has no children.
    #[error("{path} is {kind}, which has no member {token:?}")]
    NotContainer {
        /// The value the path goes through.
        path: String,
        /// What that value is ("a number", ...).
        kind: &'static str,
        /// The token that could not be looked up.
        token: String,
    },
    /// An array was addressed with something that is not an index.
    #[error("{path} is an array, and {token:?} is not an index of it")]
    BadIndex {
        /// The array.
        path: String,
        /// The offending token.
        token: String,
    },
    /// An array index past the end.
    #[error("index {index} is past the end of the array at {path} ({len} elements)")]
    OutOfBounds {
        /// The array.
        path: String,
        /// The index asked for.
        index: usize,
        /// The array's length.
        len: usize,
    },
    /// An array operation on something that is not an array.
    #[error("{path} is {kind}, not an array")]
    NotArray {
        /// The value.
        path: String,
        /// What it is.
        kind: &'static str,
    },
    /// A numeric operation on something that is not a number.
    #[error("{path} is {kind}, not a number")]
    NotNumber {
        /// The value.
        path: String,
        /// What it is.
        kind: &'static str,
    },
    /// An increment that leaves the 64-bit integer range.
    #[error("incrementing {path} overflows a 64-bit integer")]
    Overflow {
        /// The value.
        path: String,
    },
    /// A `test` op found another value.
    #[error("test failed at {path}: expected {expected}, found {found}")]
    TestFailed {
        /// The tested path.
        path: String,
        /// The expected value (abridged).
        expected: String,
        /// The value found (abridged).
        found: String,
    },
    /// A `move` whose target is inside its source.
    #[error("cannot move {from} into its own child {path}")]
    MoveIntoChild {
        /// The source.
        from: String,
        /// The target.
        path: String,
    },
    /// The root cannot be removed.
    #[error("cannot remove the root of the document")]
    RemoveRoot,
}

impl OpError {
    /// Whether the error means "nothing there" (HTTP 404) rather than a bad request.
    pub fn is_not_found(&self) -> bool {
        matches!(self, OpError::NotFound(_))
    }
}

/// An RFC 6902 patch that failed: which op, and why. Nothing of the patch was applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("op {index} ({op} {path}): {error}")]
pub struct PatchError {
    /// The position of the failing op in the patch (from 0).
    pub index: usize,
    /// The failing op's name.
    pub op: &'static str,
    /// The failing op's path.
    pub path: String,
    /// Why it failed.
    pub error: OpError,
}

#[derive(Debug, Clone)]
enum Undo {
    /// A member was added to the object at `parent`: remove it.
    RemoveMember { parent: Vec<String>, key: String },
    /// A member of the object at `parent` was replaced or removed: put `old` back.
    RestoreMember {
        parent: Vec<String>,
        key: String,
        old: Value,
    },
    /// An element was inserted into the array at `parent`: remove it.
    RemoveElement { parent: Vec<String>, index: usize },
    /// An element was removed from the array at `parent`: insert `old` back.
    InsertElement {
        parent: Vec<String>,
        index: usize,
        old: Value,
    },
    /// An element of the array at `parent` was replaced: put `old` back.
    RestoreElement {
        parent: Vec<String>,
        index: usize,
        old: Value,
    },
    /// The whole document was replaced.
    RestoreRoot(Value),
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

impl Doc {
    /// A document holding `value`, with nothing to commit.
    pub fn new(value: Value) -> Doc {
        Doc {
            value,
            journal: Vec::new(),
            undo: Vec::new(),
            taken: 0,
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
        std::mem::take(&mut self.journal)
    }

    /// Make the current value the committed one: changes can no longer be rolled back.
    pub fn settle(&mut self) {
        self.undo.clear();
        self.taken = 0;
    }

    /// Undo every change since the last [`Doc::take_patch`] or [`Doc::settle`].
    pub fn rollback(&mut self) {
        self.undo_to(0);
        self.journal.clear();
        self.taken = 0;
    }

    /// Undo the changes since the last [`Doc::take_changes`], keeping those it took (still
    /// undoable by [`Doc::rollback`]).
    pub fn rollback_untaken(&mut self) {
        self.undo_to(self.taken);
        self.journal.clear();
    }

    /// Set the value at `path`: add or replace an object member, replace an array element,
    /// or append when the index is `-` or the array's length. The parent must exist.
    /// Setting the root replaces the whole document (see [`Doc::replace_all`]).
    pub fn set(&mut self, path: &str, value: impl Into<Value>) -> Result<(), OpError> {
        let value = value.into();
        let ptr = Pointer::parse(path)?;
        let Some((parent, last)) = ptr.split_last() else {
            self.replace_all(value);
            return Ok(());
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
    /// `replace` of that one number. A float is incremented as a float.
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
            let value = doc.prim_remove(&from_ptr)?;
            let added = doc.prim_add(&to_ptr, value)?;
            doc.journal.push(PatchOp::Move {
                from: from_ptr.to_string(),
                path: added_path(&to_ptr, &added),
            });
            Ok(())
        })
    }

    /// RFC 6902 `copy`.
    pub fn copy_value(&mut self, from: &str, path: &str) -> Result<(), OpError> {
        let from_ptr = Pointer::parse(from)?;
        let to_ptr = Pointer::parse(path)?;
        let value = resolve(&self.value, from_ptr.tokens())?.clone();
        self.atomic(|doc| {
            let added = doc.prim_add(&to_ptr, value)?;
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
    pub fn apply(&mut self, ops: &[PatchOp]) -> Result<(), PatchError> {
        let undo_mark = self.undo.len();
        let journal_mark = self.journal.len();
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
    /// explicit operations for large states.
    pub fn replace_all(&mut self, value: Value) {
        let ops = crate::state::diff(&self.value, &value);
        let old = std::mem::replace(&mut self.value, value);
        self.undo.push(Undo::RestoreRoot(old));
        self.journal.extend(ops);
    }

    /// Run `f`; if it fails, undo whatever it did.
    fn atomic<T>(&mut self, f: impl FnOnce(&mut Doc) -> Result<T, OpError>) -> Result<T, OpError> {
        let undo_mark = self.undo.len();
        let journal_mark = self.journal.len();
        let result = f(self);
        if result.is_err() {
            self.undo_to(undo_mark);
            self.journal.truncate(journal_mark);
        }
        result
    }

    fn add_at(&mut self, ptr: &Pointer, value: Value) -> Result<(), OpError> {
        if ptr.is_root() {
            self.replace_all(value);
            return Ok(());
        }
        let journal_value = value.clone();
        let added = self.prim_add(ptr, value)?;
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
            self.replace_all(value);
            return Ok(());
        };
        let journal_value = value.clone();
        let container = resolve_mut(&mut self.value, parent)?;
        match container {
            Value::Object(map) => {
                let slot = map
                    .get_mut(last)
                    .ok_or_else(|| OpError::NotFound(ptr.to_string()))?;
                let old = std::mem::replace(slot, value);
                self.undo.push(Undo::RestoreMember {
                    parent: parent.to_vec(),
                    key: last.to_owned(),
                    old,
                });
            }
            Value::Array(items) => {
                let index = array_index(parent, last, items.len(), false)?;
                let old = std::mem::replace(&mut items[index], value);
                self.undo.push(Undo::RestoreElement {
                    parent: parent.to_vec(),
                    index,
                    old,
                });
            }
            other => return Err(not_container(parent, other, last)),
        }
        self.journal.push(PatchOp::Replace {
            path: ptr.to_string(),
            value: journal_value,
        });
        Ok(())
    }

    /// RFC 6902 add without journaling; records the undo.
    fn prim_add(&mut self, ptr: &Pointer, value: Value) -> Result<Added, OpError> {
        let Some((parent, last)) = ptr.split_last() else {
            let old = std::mem::replace(&mut self.value, value);
            self.undo.push(Undo::RestoreRoot(old));
            return Ok(Added::Root);
        };
        match resolve_mut(&mut self.value, parent)? {
            Value::Object(map) => {
                let old = map.insert(last.to_owned(), value);
                let replaced = old.is_some();
                self.undo.push(match old {
                    Some(old) => Undo::RestoreMember {
                        parent: parent.to_vec(),
                        key: last.to_owned(),
                        old,
                    },
                    None => Undo::RemoveMember {
                        parent: parent.to_vec(),
                        key: last.to_owned(),
                    },
                });
                Ok(if replaced {
                    Added::ReplacedMember
                } else {
                    Added::NewMember
                })
            }
            Value::Array(items) => {
                let index = array_index(parent, last, items.len(), true)?;
                items.insert(index, value);
                self.undo.push(Undo::RemoveElement {
                    parent: parent.to_vec(),
                    index,
                });
                Ok(Added::Element(index))
            }
            other => Err(not_container(parent, other, last)),
        }
    }

    /// RFC 6902 remove without journaling; records the undo.
    fn prim_remove(&mut self, ptr: &Pointer) -> Result<Value, OpError> {
        let Some((parent, last)) = ptr.split_last() else {
            return Err(OpError::RemoveRoot);
        };
        match resolve_mut(&mut self.value, parent)? {
            Value::Object(map) => {
                let old = map
                    .remove(last)
                    .ok_or_else(|| OpError::NotFound(ptr.to_string()))?;
                self.undo.push(Undo::RestoreMember {
                    parent: parent.to_vec(),
                    key: last.to_owned(),
                    old: old.clone(),
                });
                Ok(old)
            }
            Value::Array(items) => {
                let index = array_index(parent, last, items.len(), false)?;
                let old = items.remove(index);
                self.undo.push(Undo::InsertElement {
                    parent: parent.to_vec(),
                    index,
                    old: old.clone(),
                });
                Ok(old)
            }
            other => Err(not_container(parent, other, last)),
        }
    }

    fn undo_to(&mut self, mark: usize) {
        while self.undo.len() > mark {
            let Some(step) = self.undo.pop() else { break };
            // Undo walks back through states this document was really in, so every path
            // resolves; a failure here would be a bug in the journal, not bad input.
            let restored = match step {
                Undo::RestoreRoot(old) => {
                    self.value = old;
                    true
                }
                Undo::RemoveMember { parent, key } => match resolve_mut(&mut self.value, &parent) {
                    Ok(Value::Object(map)) => map.remove(&key).is_some(),
                    _ => false,
                },
                Undo::RestoreMember { parent, key, old } => {
                    match resolve_mut(&mut self.value, &parent) {
                        Ok(Value::Object(map)) => {
                            map.insert(key, old);
                            true
                        }
                        _ => false,
                    }
                }
                Undo::RemoveElement { parent, index } => {
                    match resolve_mut(&mut self.value, &parent) {
                        Ok(Value::Array(items)) if index < items.len() => {
                            items.remove(index);
                            true
                        }
                        _ => false,
                    }
                }
                Undo::InsertElement { parent, index, old } => {
                    match resolve_mut(&mut self.value, &parent) {
                        Ok(Value::Array(items)) if index <= items.len() => {
                            items.insert(index, old);
                            true
                        }
                        _ => false,
                    }
                }
                Undo::RestoreElement { parent, index, old } => {
                    match resolve_mut(&mut self.value, &parent) {
                        Ok(Value::Array(items)) if index < items.len() => {
                            items[index] = old;
                            true
                        }
                        _ => false,
                    }
                }
            };
            debug_assert!(restored, "undo journal out of step with the document");
        }
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

/// The value at the JSON Pointer `path` in `value`, with the error a `Doc` would give.
pub fn lookup<'a>(value: &'a Value, path: &str) -> Result<&'a Value, OpError> {
    let ptr = Pointer::parse(path)?;
    resolve(value, ptr.tokens())
}

fn resolve<'a>(root: &'a Value, tokens: &[String]) -> Result<&'a Value, OpError> {
    let mut cur = root;
    for (i, token) in tokens.iter().enumerate() {
        cur = match cur {
            Value::Object(map) => map
                .get(token)
                .ok_or_else(|| OpError::NotFound(pointer::encode(&tokens[..=i])))?,
            Value::Array(items) => {
                let index =
                    array_index(&tokens[..i], token, items.len(), false).map_err(|e| match e {
                        OpError::OutOfBounds { .. } => {
                            OpError::NotFound(pointer::encode(&tokens[..=i]))
                        }
                        e => e,
                    })?;
                &items[index]
            }
            other => return Err(not_container(&tokens[..i], other, token)),
        };
    }
    Ok(cur)
}

fn resolve_mut<'a>(root: &'a mut Value, tokens: &[String]) -> Result<&'a mut Value, OpError> {
    // Walk once immutably for the precise error, then mutably along a path known to exist.
    resolve(root, tokens)?;
    let mut cur = root;
    for token in tokens {
        let next = match cur {
            Value::Object(map) => map.get_mut(token),
            Value::Array(items) => pointer::parse_index(token).and_then(|i| items.get_mut(i)),
            _ => None,
        };
        cur = next.ok_or_else(|| OpError::NotFound(pointer::encode(tokens)))?;
    }
    Ok(cur)
}

/// The index `token` names in an array of `len` elements. With `insert`, `-` and `len`
/// itself are allowed (a position to insert at); without, only existing elements.
fn array_index(parent: &[String], token: &str, len: usize, insert: bool) -> Result<usize, OpError> {
    if insert && token == "-" {
        return Ok(len);
    }
    let index = pointer::parse_index(token).ok_or_else(|| OpError::BadIndex {
        path: pointer::encode(parent),
        token: token.to_owned(),
    })?;
    let limit = if insert { len + 1 } else { len };
    if index < limit {
        Ok(index)
    } else if insert {
        Err(OpError::OutOfBounds {
            path: pointer::encode(parent),
            index,
            len,
        })
    } else {
        Err(OpError::NotFound(pointer::encode_child(parent, token)))
    }
}

fn array_len(root: &Value, ptr: &Pointer) -> Result<usize, OpError> {
    match resolve(root, ptr.tokens())? {
        Value::Array(items) => Ok(items.len()),
        other => Err(OpError::NotArray {
            path: ptr.to_string(),
            kind: kind(other),
        }),
    }
}

fn not_container(parent: &[String], value: &Value, token: &str) -> OpError {
    OpError::NotContainer {
        path: display_path(&pointer::encode(parent)),
        kind: kind(value),
        token: token.to_owned(),
    }
}

fn display_path(p: &str) -> String {
    if p.is_empty() {
        "the root".to_owned()
    } else {
        p.to_owned()
    }
}

fn add_number(n: &Number, by: i64) -> Option<Number> {
    if let Some(i) = n.as_i64() {
        return i.checked_add(by).map(Number::from);
    }
    if let Some(u) = n.as_u64() {
        let sum = i128::from(u) + i128::from(by);
        return u64::try_from(sum)
            .map(Number::from)
            .ok()
            .or_else(|| i64::try_from(sum).ok().map(Number::from));
    }
    n.as_f64().and_then(|f| Number::from_f64(f + by as f64))
}

/// What a value is, for messages: "an object", "a number", ...
pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn abridged(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 80 {
        let mut cut = 77;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}

/// An empty JSON object, the usual initial state.
pub fn empty_object() -> Value {
    Value::Object(Map::new())
}

#[cfg(test)]
mod tests;
