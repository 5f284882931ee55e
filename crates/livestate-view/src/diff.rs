//! [`Encoder`]: the diff of a render against what the client holds, in the format the stock
//! `phoenix_live_view` client merges (lines 1.1 and 1.2).
//!
//! The encoder keeps, per view, the shape of what it sent (the fingerprints of the
//! templates at every slot, and each keyed list's keys and item hashes), never the HTML.
//! For each render:
//! - a template whose fingerprint the client holds sends only the slots that changed
//!   (numeric keys); one it does not hold is sent whole, with `s` (the root's statics as
//!   strings, a nested template's as an index into the root's `p` table, which carries each
//!   template once per diff) and `r: 1` when it is one element;
//! - a keyed list (`k`) sends its entry count `kc`, a new entry whole, a changed entry's
//!   changed slots, a moved entry as its old index (`[old, diff]` when it also changed)
//!   with `km: true` (the 1.2 client clones the old entries only then; 1.1 ignores it), and
//!   nothing for an entry that stayed and did not change.
//!
//! The page title (`t`) goes with the first diff after it changed. Components (`c`) and
//! streams (`stream`) are not produced yet.

use crate::rendered::{List, Rendered, Slot, Slots};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::collections::hash_map::{DefaultHasher, Entry as MapEntry};
use std::hash::{Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

/// What the client holds at one slot.
#[derive(Debug, Clone)]
enum Held {
    /// Text, by a hash of it: a slot computed again (its inputs changed) whose text is the
    /// same is not sent. This matters in list entries, whose slots all compute when their
    /// item changed: one changed field of a row sends that field alone.
    Text(u64),
    Nested(Tree),
    List(ListTree),
    /// What many views' clients hold alike after a shared render (see
    /// [`Encoder::share`]), with its hash; a view that renders the slot alone later takes
    /// its own copy.
    Shared(Arc<Held>, u64),
}

impl Held {
    /// This view's own copy.
    fn into_owned(self) -> Held {
        match self {
            Held::Shared(held, _) => Arc::unwrap_or_clone(held).into_owned(),
            held => held,
        }
    }

    /// A hash of what the client holds here: equal for equal content, shared or not (a
    /// shared slot keeps the hash of what it shares).
    fn hash(&self) -> u64 {
        if let Held::Shared(_, hash) = self {
            return *hash;
        }
        let mut h = DefaultHasher::new();
        self.hash_into(&mut h);
        h.finish()
    }

    fn hash_into(&self, h: &mut DefaultHasher) {
        match self {
            Held::Text(text) => (0u8, text).hash(h),
            Held::Nested(tree) => {
                (1u8, tree.fingerprint, tree.slots.len()).hash(h);
                tree.slots.iter().for_each(|slot| slot.hash_into(h));
            }
            Held::List(list) => {
                (2u8, list.fingerprint, list.entries.len()).hash(h);
                for entry in &list.entries {
                    (&entry.key, entry.hash, entry.slots.len()).hash(h);
                    entry.slots.iter().for_each(|slot| slot.hash_into(h));
                }
            }
            Held::Shared(_, hash) => h.write_u64(*hash),
        }
    }
}

/// A template the client holds: its fingerprint and what it holds at each slot.
#[derive(Debug, Clone)]
struct Tree {
    fingerprint: u64,
    slots: Vec<Held>,
}

/// A keyed list the client holds.
#[derive(Debug, Clone)]
struct ListTree {
    fingerprint: u64,
    entries: Vec<HeldEntry>,
}

#[derive(Debug, Clone)]
struct HeldEntry {
    key: String,
    hash: u64,
    slots: Vec<Held>,
}

/// A render failed: some code of the template panicked (a `Display` that panics, say).
/// The view's last good render stays on the client; the encoder sends the next render
/// whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError(pub String);

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the view could not render: {}", self.0)
    }
}

impl std::error::Error for RenderError {}

/// One view's diffs: what its client holds, and the diff of each new render against it.
#[derive(Debug, Default)]
pub struct Encoder {
    root: Option<Tree>,
    /// The page title the client shows, and the one the next diff sets if it differs.
    title_sent: Option<String>,
    title: Option<String>,
}

impl Encoder {
    /// An encoder whose client holds nothing: the first diff is the whole render.
    pub fn new() -> Encoder {
        Encoder::default()
    }

    /// The client lost what it held (it joins again): the next diff is whole.
    pub fn reset(&mut self) {
        self.root = None;
        self.title_sent = None;
    }

    /// The page's title (`t`): the next diff carries it when the client shows another.
    pub fn set_title(&mut self, title: impl Into<String>) {
        self.title = Some(title.into());
    }

    /// The title set last.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// A hash of what the client holds at the root's `slots`, when it holds the root
    /// template `fingerprint` and no title waits to be sent: views whose hashes are equal
    /// get the same diff from the same render of those slots.
    pub(crate) fn held_hash(&self, fingerprint: u64, slots: &[usize]) -> Option<u64> {
        let root = self
            .root
            .as_ref()
            .filter(|r| r.fingerprint == fingerprint)?;
        if self.title.is_some() && self.title != self.title_sent {
            return None;
        }
        let mut h = DefaultHasher::new();
        fingerprint.hash(&mut h);
        for &i in slots {
            i.hash(&mut h);
            root.slots.get(i)?.hash().hash(&mut h);
        }
        Some(h.finish())
    }

    /// After a diff: what the client holds at the root's `slots`, made shareable (for
    /// [`Encoder::adopt`] by views that send the same diff).
    pub(crate) fn share(&mut self, slots: &[usize]) -> SharedSlots {
        let mut shared = Vec::with_capacity(slots.len());
        if let Some(root) = self.root.as_mut() {
            for &i in slots {
                let Some(slot) = root.slots.get_mut(i) else {
                    continue;
                };
                let held = std::mem::replace(slot, Held::Text(0));
                let hash = held.hash();
                let held = match held {
                    Held::Shared(arc, _) => arc,
                    owned => Arc::new(owned),
                };
                *slot = Held::Shared(held.clone(), hash);
                shared.push((i, Held::Shared(held, hash)));
            }
        }
        SharedSlots(shared)
    }

    /// The client got a diff another view's encoder made (with [`Encoder::share`]) from
    /// the same held slots: it holds what that encoder holds there now.
    pub(crate) fn adopt(&mut self, shared: &SharedSlots) {
        if let Some(root) = self.root.as_mut() {
            for (i, held) in &shared.0 {
                if let Some(slot) = root.slots.get_mut(*i) {
                    *slot = held.clone();
                }
            }
        }
    }

    /// The diff of `rendered` against what the client holds (the whole render when it
    /// holds nothing); an empty map when nothing changed.
    pub fn diff(&mut self, rendered: Rendered<'_>) -> Result<Map<String, Value>, RenderError> {
        let held = self.root.take();
        let encoded = catch_unwind(AssertUnwindSafe(|| {
            let mut templates = Templates::default();
            let (mut out, tree) = encode_rendered(rendered, held, &mut templates, true);
            if !templates.parts.is_empty() {
                out.insert("p".to_owned(), templates.into_json());
            }
            (out, tree)
        }));
        match encoded {
            Ok((mut out, tree)) => {
                self.root = Some(tree);
                if self.title.is_some() && self.title != self.title_sent {
                    self.title_sent.clone_from(&self.title);
                    out.insert("t".to_owned(), Value::from(self.title.clone()));
                }
                Ok(out)
            }
            Err(panic) => Err(RenderError(crate::panic_message(panic.as_ref()))),
        }
    }
}

/// What the clients of a shared render hold at the root's slots it rendered.
#[derive(Debug, Clone)]
pub(crate) struct SharedSlots(Vec<(usize, Held)>);

/// The statics sent in one diff, each once: the root's `p` table.
#[derive(Default)]
struct Templates {
    index: HashMap<u64, usize>,
    parts: Vec<&'static [&'static str]>,
}

impl Templates {
    fn index_of(&mut self, fingerprint: u64, parts: &'static [&'static str]) -> Value {
        let next = self.parts.len();
        let i = *self.index.entry(fingerprint).or_insert(next);
        if i == next {
            self.parts.push(parts);
        }
        Value::from(i)
    }

    fn into_json(self) -> Value {
        let table = self
            .parts
            .into_iter()
            .enumerate()
            .map(|(i, parts)| (i.to_string(), strings(parts)))
            .collect();
        Value::Object(table)
    }
}

fn strings(parts: &[&str]) -> Value {
    Value::Array(parts.iter().map(|p| Value::from(*p)).collect())
}

/// A template's diff against what the client holds there (`held`), and what it holds
/// after it. `root`: the view's own template (statics inline, never `r`, which is the
/// reply at the top level).
fn encode_rendered(
    rendered: Rendered<'_>,
    held: Option<Tree>,
    templates: &mut Templates,
    root: bool,
) -> (Map<String, Value>, Tree) {
    let statics = rendered.statics();
    let held = held.filter(|h| h.fingerprint == statics.fingerprint);
    let track = held.is_some();
    let slots = rendered.slots(track);
    let mut out = Map::new();
    if !track {
        let s = match root {
            true => strings(statics.parts),
            false => templates.index_of(statics.fingerprint, statics.parts),
        };
        out.insert("s".to_owned(), s);
        if statics.root && !root {
            out.insert("r".to_owned(), Value::from(1));
        }
    }
    let held_slots = held.map(|h| h.slots).unwrap_or_default();
    let slots = encode_slots(slots, held_slots, templates, &mut out);
    let tree = Tree {
        fingerprint: statics.fingerprint,
        slots,
    };
    (out, tree)
}

/// The changed slots into `out` (by index); what the client holds at each slot after.
fn encode_slots(
    slots: Slots<'_>,
    held: Vec<Held>,
    templates: &mut Templates,
    out: &mut Map<String, Value>,
) -> Vec<Held> {
    let mut held = held.into_iter();
    let mut now = Vec::with_capacity(slots.len());
    for (i, slot) in slots.into_iter().enumerate() {
        let before = held.next();
        let Some(slot) = slot else {
            // unchanged: the client keeps it (a shared slot stays shared)
            now.push(before.unwrap_or(Held::Text(0)));
            continue;
        };
        let before = before.map(Held::into_owned);
        match slot {
            Slot::Text(text) => {
                let hash = crate::rendered::hash(&text);
                if !matches!(before, Some(Held::Text(held)) if held == hash) {
                    out.insert(i.to_string(), Value::String(text));
                }
                now.push(Held::Text(hash));
            }
            Slot::Nested(rendered) => {
                let before = match before {
                    Some(Held::Nested(tree)) => Some(tree),
                    _ => None,
                };
                let (diff, tree) = encode_rendered(rendered, before, templates, false);
                if !diff.is_empty() {
                    out.insert(i.to_string(), Value::Object(diff));
                }
                now.push(Held::Nested(tree));
            }
            Slot::List(list) => {
                let before = match before {
                    Some(Held::List(tree)) => Some(tree),
                    _ => None,
                };
                let (diff, tree) = encode_list(list, before, templates);
                if let Some(diff) = diff {
                    out.insert(i.to_string(), Value::Object(diff));
                }
                now.push(Held::List(tree));
            }
        }
    }
    now
}

/// Where each key was (the first of a repeated key).
fn index_of_keys(keys: &[String]) -> HashMap<&str, usize> {
    let mut index = HashMap::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        if let MapEntry::Vacant(v) = index.entry(key.as_str()) {
            v.insert(i);
        }
    }
    index
}

/// A keyed list's diff (`None`: nothing changed), and what the client holds after it.
fn encode_list(
    list: List<'_>,
    held: Option<ListTree>,
    templates: &mut Templates,
) -> (Option<Map<String, Value>>, ListTree) {
    let statics = list.statics;
    let held = held.filter(|h| h.fingerprint == statics.fingerprint);
    let whole = held.is_none();
    let mut old: Vec<Option<HeldEntry>> = held
        .map(|h| h.entries.into_iter().map(Some).collect())
        .unwrap_or_default();
    let old_count = old.len();
    // the old entries by key (the first of a repeated key)
    let old_keys: Vec<String> = old
        .iter_mut()
        .flatten()
        .map(|e| std::mem::take(&mut e.key))
        .collect();
    // built at the first entry not found where it was: a list that kept its order needs none
    let mut index: Option<HashMap<&str, usize>> = None;
    let mut keyed = Map::new();
    let mut moved = false;
    let mut entries = Vec::with_capacity(list.entries.len());
    for (i, entry) in list.entries.into_iter().enumerate() {
        let in_place = old_keys.get(i).is_some_and(|k| *k == entry.key) && old[i].is_some();
        let j = match in_place {
            true => Some(i),
            false => index
                .get_or_insert_with(|| index_of_keys(&old_keys))
                .get(entry.key.as_str())
                .copied(),
        };
        let found = j.and_then(|j| old[j].take().map(|h| (j, h)));
        let Some((j, before)) = found else {
            // new here: sent whole
            let mut diff = Map::new();
            let slots = encode_slots(
                (entry.dynamics)(false, true),
                Vec::new(),
                templates,
                &mut diff,
            );
            keyed.insert(i.to_string(), Value::Object(diff));
            entries.push(HeldEntry {
                key: entry.key,
                hash: entry.hash,
                slots,
            });
            continue;
        };
        let item_changed = before.hash != entry.hash;
        let mut diff = Map::new();
        let slots = if item_changed || list.assigns_changed {
            let slots = (entry.dynamics)(true, item_changed);
            encode_slots(slots, before.slots, templates, &mut diff)
        } else {
            before.slots
        };
        if j != i {
            moved = true;
            let at = match diff.is_empty() {
                true => Value::from(j),
                false => Value::Array(vec![Value::from(j), Value::Object(diff)]),
            };
            keyed.insert(i.to_string(), at);
        } else if !diff.is_empty() {
            keyed.insert(i.to_string(), Value::Object(diff));
        }
        entries.push(HeldEntry {
            key: entry.key,
            hash: entry.hash,
            slots,
        });
    }
    let tree = ListTree {
        fingerprint: statics.fingerprint,
        entries,
    };
    if !whole && keyed.is_empty() && tree.entries.len() == old_count {
        return (None, tree);
    }
    keyed.insert("kc".to_owned(), Value::from(tree.entries.len()));
    if moved {
        keyed.insert("km".to_owned(), Value::Bool(true));
    }
    let mut out = Map::new();
    if whole {
        out.insert(
            "s".to_owned(),
            templates.index_of(statics.fingerprint, statics.parts),
        );
    }
    out.insert("k".to_owned(), Value::Object(keyed));
    (Some(out), tree)
}
