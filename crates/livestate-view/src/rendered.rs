//! What a template produces when it renders: its [`Statics`] (made by `html!` at compile
//! time) and a function that computes its slots, each only when its inputs changed.
//!
//! The function is not called when the template is built: the encoder calls it, with
//! `track = true` when the client already holds these statics (then a slot whose inputs
//! did not change is `None`: the client keeps what it has), or `false` for everything.

use crate::escape::{Escaped, escape_into};
use std::fmt::{self, Display, Write as _};
use std::hash::{Hash, Hasher};
use std::ops::Deref;

/// A template's literal parts, N+1 strings around N slots, made at compile time.
#[derive(Debug)]
pub struct Statics {
    /// The literal HTML around the slots.
    pub parts: &'static [&'static str],
    /// Differs between templates: the client keeps the statics of a fingerprint it holds.
    pub fingerprint: u64,
    /// Whether the template is one element (LiveView's root flag `r: 1`).
    pub root: bool,
    /// The assigns each slot reads (`@name`), in slot order: what decides, before any
    /// slot is computed, which slots a change renders again.
    pub deps: &'static [&'static [&'static str]],
}

/// Which assigns changed since the last render (`all` for the first).
#[derive(Debug, Clone, Default)]
pub struct Changed {
    all: bool,
    names: Vec<&'static str>,
}

impl Changed {
    /// Everything changed: the first render, or a render from nothing.
    pub fn all() -> Changed {
        Changed {
            all: true,
            names: Vec::new(),
        }
    }

    /// Nothing changed yet.
    pub fn none() -> Changed {
        Changed::default()
    }

    /// These assigns changed.
    pub fn of(names: impl IntoIterator<Item = &'static str>) -> Changed {
        let mut changed = Changed::none();
        for name in names {
            changed.insert(name);
        }
        changed
    }

    /// Mark an assign changed.
    pub fn insert(&mut self, name: &'static str) {
        if !self.names.contains(&name) {
            self.names.push(name);
        }
    }

    /// Add what `other` says changed.
    pub fn merge(&mut self, other: &Changed) {
        self.all |= other.all;
        for name in &other.names {
            self.insert(name);
        }
    }

    /// Whether any of `names` changed.
    pub fn any(&self, names: &[&str]) -> bool {
        self.all || names.iter().any(|n| self.names.contains(n))
    }

    /// Whether only some of `names` changed (at least one, not everything).
    pub(crate) fn within(&self, names: &[&str]) -> bool {
        !self.all && !self.names.is_empty() && self.names.iter().all(|n| names.contains(n))
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        !self.all && self.names.is_empty()
    }
}

/// A template's inputs: the assigns (`@name` in `html!` reads `name` of them) and which of
/// them changed. Copy: every nested part of a template holds one.
pub struct Assigns<'a, T: ?Sized> {
    value: &'a T,
    changed: &'a Changed,
}

impl<T: ?Sized> Clone for Assigns<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T: ?Sized> Copy for Assigns<'_, T> {}

impl<'a, T: ?Sized> Assigns<'a, T> {
    /// `value`, of which `changed` changed since the last render.
    pub fn new(value: &'a T, changed: &'a Changed) -> Assigns<'a, T> {
        Assigns { value, changed }
    }

    /// The assigns, for as long as the render lives (what `@name` reads through).
    pub fn get(this: Assigns<'a, T>) -> &'a T {
        this.value
    }

    /// Which assigns changed.
    pub fn changed(this: Assigns<'a, T>) -> &'a Changed {
        this.changed
    }
}

impl<T: ?Sized> Deref for Assigns<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.value
    }
}

/// The slots of one render: per slot its value, or `None` where nothing changed.
pub type Slots<'a> = Vec<Option<Slot<'a>>>;

/// A template being rendered: its statics, and its slots computed when asked.
pub struct Rendered<'a> {
    statics: &'static Statics,
    dynamics: Box<dyn FnOnce(bool) -> Slots<'a> + 'a>,
}

impl fmt::Debug for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rendered")
            .field("statics", &self.statics)
            .finish_non_exhaustive()
    }
}

impl<'a> Rendered<'a> {
    /// A template with `statics`, whose slots `dynamics` computes (`track`: only those
    /// whose inputs changed). What `html!` builds.
    pub fn new(
        statics: &'static Statics,
        dynamics: impl FnOnce(bool) -> Slots<'a> + 'a,
    ) -> Rendered<'a> {
        Rendered {
            statics,
            dynamics: Box::new(dynamics),
        }
    }

    /// The template's statics.
    pub fn statics(&self) -> &'static Statics {
        self.statics
    }

    /// Compute the slots; `track`: only those whose inputs changed.
    pub fn slots(self, track: bool) -> Slots<'a> {
        (self.dynamics)(track)
    }

    /// The whole HTML, every slot computed.
    pub fn to_html(self) -> String {
        let mut out = String::new();
        self.write_html(&mut out);
        out
    }

    fn write_html(self, out: &mut String) {
        let statics = self.statics;
        write_parts(statics.parts, self.slots(false), out);
    }
}

/// The statics interleaved with the slots' HTML.
fn write_parts(parts: &[&str], slots: Slots<'_>, out: &mut String) {
    let mut slots = slots.into_iter();
    for (i, part) in parts.iter().enumerate() {
        out.push_str(part);
        if i + 1 < parts.len() {
            if let Some(slot) = slots.next().flatten() {
                slot.write_html(out);
            }
        }
    }
}

/// One slot's value.
#[derive(Debug)]
pub enum Slot<'a> {
    /// HTML, escaped where it had to be.
    Text(String),
    /// A nested template (a branch of `@if`, a component).
    Nested(Rendered<'a>),
    /// A keyed list (`@for`).
    List(List<'a>),
}

impl Slot<'_> {
    fn write_html(self, out: &mut String) {
        match self {
            Slot::Text(text) => out.push_str(&text),
            Slot::Nested(rendered) => rendered.write_html(out),
            Slot::List(list) => {
                for entry in list.entries {
                    write_parts(list.statics.parts, (entry.dynamics)(false, true), out);
                }
            }
        }
    }
}

/// A keyed list: one template for every entry, and the entries.
pub struct List<'a> {
    pub(crate) statics: &'static Statics,
    /// Whether an assign that the entries read changed (then every entry renders again,
    /// for the slots reading it).
    pub(crate) assigns_changed: bool,
    pub(crate) entries: Vec<Entry<'a>>,
}

impl fmt::Debug for List<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("List")
            .field("statics", &self.statics)
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl<'a> List<'a> {
    /// A list of `entries` of the template `statics`; `assigns_changed`: whether an assign
    /// the entries read changed.
    pub fn new(
        statics: &'static Statics,
        assigns_changed: bool,
        entries: impl IntoIterator<Item = Entry<'a>>,
    ) -> List<'a> {
        List {
            statics,
            assigns_changed,
            entries: entries.into_iter().collect(),
        }
    }
}

/// The slots of an entry: given `track` (the client holds this entry) and `item_changed`
/// (its item differs from the last render's).
type EntryFn<'a> = Box<dyn FnOnce(bool, bool) -> Slots<'a> + 'a>;

/// One entry of a keyed list: its key, a hash of its item, and its slots when asked.
pub struct Entry<'a> {
    pub(crate) key: String,
    pub(crate) hash: u64,
    pub(crate) dynamics: EntryFn<'a>,
}

impl<'a> Entry<'a> {
    /// The entry of `key` whose item hashes to `hash`; `dynamics(track, item_changed)`
    /// computes its slots.
    pub fn new(
        key: String,
        hash: u64,
        dynamics: impl FnOnce(bool, bool) -> Slots<'a> + 'a,
    ) -> Entry<'a> {
        Entry {
            key,
            hash,
            dynamics: Box::new(dynamics),
        }
    }
}

/// A list entry's key, as text.
pub fn key(key: &impl Display) -> String {
    key.to_string()
}

/// A list item's hash: an entry whose item hashes the same as at the last render does not
/// render again (unless an assign it reads changed).
pub fn hash(item: &impl Hash) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    item.hash(&mut hasher);
    hasher.finish()
}

/// HTML that is shown as it is, not escaped: `(Raw(html))` in a template.
#[derive(Debug, Clone, Copy)]
pub struct Raw<T>(pub T);

/// What a slot's expression may be: anything `Display` (shown escaped), [`Raw`], or a
/// [`Rendered`] (a nested template: a component, or a template passed in as a slot).
pub trait IntoSlot<'a> {
    /// The slot's value.
    fn into_slot(self) -> Slot<'a>;
}

impl<'a, T: Display + ?Sized> IntoSlot<'a> for &T {
    fn into_slot(self) -> Slot<'a> {
        let mut out = String::new();
        // a Display that fails leaves what it wrote
        let _ = write!(Escaped(&mut out), "{self}");
        Slot::Text(out)
    }
}

impl<'a, T: Display> IntoSlot<'a> for Raw<T> {
    fn into_slot(self) -> Slot<'a> {
        Slot::Text(self.0.to_string())
    }
}

impl<'a> IntoSlot<'a> for Rendered<'a> {
    fn into_slot(self) -> Slot<'a> {
        Slot::Nested(self)
    }
}

/// The text of a slot from a string known at compile time (already escaped).
pub fn text<'a>(html: &str) -> Slot<'a> {
    Slot::Text(html.to_owned())
}

/// Escape `value` for HTML text or a quoted attribute value.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    escape_into(&mut out, value);
    out
}
