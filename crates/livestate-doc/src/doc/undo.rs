//! Undoing a document's changes: each operation records a [`Step`], and rolling back
//! replays them backwards.

use super::Doc;
use super::limits::Size;
use super::resolve::resolve_mut;
use serde_json::Value;

/// One undoable change, with the document's size before it.
#[derive(Debug, Clone)]
pub(super) struct Step {
    pub(super) undo: Undo,
    pub(super) size: Size,
}

#[derive(Debug, Clone)]
pub(super) enum Undo {
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

impl Doc {
    /// Undo the steps after the first `mark`, newest first.
    pub(super) fn undo_to(&mut self, mark: usize) {
        while self.undo.len() > mark {
            let Some(Step { undo, size }) = self.undo.pop() else {
                break;
            };
            self.size = size;
            // Undo walks back through states this document was really in, so every path
            // resolves; a failure here would be a bug in the journal, not bad input.
            let restored = match undo {
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
