//! One render for many views: what the views of one [`Views`](super::Views) share when
//! they are attached to the same keys.
//!
//! - **A patch, applied once.** Every view attached to a key receives the same
//!   `state:patch` frame (the key's authority encodes it once). The first view to read it
//!   decodes it and applies it to its copy of the state; the views after it take the
//!   result (one `Arc`), found by the frame's address. Every view in step held the state
//!   at the version before (the authority sends patches only to subscribers in step), so
//!   the result is theirs too.
//! - **A render, computed and encoded once.** When a change re-renders only root slots
//!   that read `@shared` (and assigns the view names in [`LiveView::render_group`]), the
//!   diff depends on the view's type, those inputs and what its client holds at those
//!   slots. Views equal in all of them share one render: the first computes and encodes
//!   the diff, the others adopt what its client holds after it and send the same payload
//!   with their own frame prefix. A view whose changed slots read its own assigns renders
//!   alone, as before.
//!
//! [`LiveView::render_group`]: super::LiveView::render_group

use crate::diff::SharedSlots;
use livestate_core::Doc;
use livestate_protocol::{PatchOp, Text};
use serde_json::Value;
use std::any::TypeId;
use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// How many recent patches and renders are kept for the views that have not read them yet.
/// A view further behind computes its own: slower, never wrong.
const RECENT: usize = 1024;

/// Assigns besides `@shared` that a view's shared slots read, with their values: views
/// whose values are equal share renders (see [`LiveView::render_group`]).
///
/// [`LiveView::render_group`]: super::LiveView::render_group
#[derive(Debug)]
pub struct RenderGroup {
    names: Vec<&'static str>,
    hasher: DefaultHasher,
}

impl RenderGroup {
    pub(crate) fn new() -> RenderGroup {
        RenderGroup {
            names: vec!["shared"],
            hasher: DefaultHasher::new(),
        }
    }

    /// Slots that read the assign `name` may be shared by views whose `value` is equal
    /// (a view field such as the room it shows).
    pub fn assign(&mut self, name: &'static str, value: &impl Hash) {
        self.names.push(name);
        name.hash(&mut self.hasher);
        value.hash(&mut self.hasher);
    }

    /// The assigns the shared slots may read.
    pub(crate) fn names(&self) -> &[&'static str] {
        &self.names
    }

    pub(crate) fn finish(&self) -> u64 {
        self.hasher.finish()
    }
}

/// How many renders were shared, for tests and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RenderStats {
    /// Shared renders computed (once each, by the first view of a group).
    pub computed: u64,
    /// Views that sent a shared render another view computed.
    pub reused: u64,
}

/// The views' shared patches and renders.
#[derive(Debug)]
pub(crate) struct Groups {
    /// Whether views share renders (patches are shared regardless).
    pub(crate) renders_on: bool,
    patches: Mutex<Recent<usize, Arc<PatchEntry>>>,
    renders: Mutex<Recent<RenderKey, Arc<RenderEntry>>>,
    computed: AtomicU64,
    reused: AtomicU64,
}

/// A `state:patch` frame, decoded once.
#[derive(Debug)]
pub(crate) struct PatchEntry {
    /// Keeps the frame (and so its address, the entry's key) alive.
    _frame: Option<Text>,
    pub(crate) topic: String,
    pub(crate) ops: Vec<PatchOp>,
    pub(crate) version: u64,
    pub(crate) reset: bool,
    /// The state after it, once a view computed it.
    after: Mutex<Option<Arc<Value>>>,
}

impl PatchEntry {
    /// A decoded patch; `frame`: the frame it came in, when it is shared.
    pub(crate) fn new(
        frame: Option<Text>,
        topic: String,
        ops: Vec<PatchOp>,
        version: u64,
        reset: bool,
    ) -> PatchEntry {
        PatchEntry {
            _frame: frame,
            topic,
            ops,
            version,
            reset,
            after: Mutex::new(None),
        }
    }

    /// The state after the patch, from `before` (the state at the version before it):
    /// computed by the first view that asks, shared by the others. `None` when it does
    /// not apply (the view's copy went wrong: it asks for the whole state).
    pub(crate) fn after(&self, before: &Value) -> Option<Arc<Value>> {
        let mut after = lock(&self.after);
        if let Some(state) = after.as_ref() {
            return Some(state.clone());
        }
        let mut doc = Doc::new(before.clone());
        doc.apply(&self.ops).ok()?;
        doc.settle();
        let state = Arc::new(doc.value().clone());
        *after = Some(state.clone());
        Some(state)
    }
}

/// What decides that two views' renders of a change are the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct RenderKey {
    pub(crate) view: TypeId,
    /// The root template, the slots rendered and what the client holds there.
    pub(crate) held: u64,
    /// The [`RenderGroup`]'s assigns.
    pub(crate) inputs: u64,
    /// The attached keys as the view holds them (see [`shared_id`]).
    pub(crate) shared: u64,
}

/// A render shared by views.
#[derive(Debug)]
pub(crate) struct SharedRender {
    /// The diff, encoded as JSON (`None`: nothing to send).
    pub(crate) payload: Option<Arc<str>>,
    /// What the clients hold after it.
    pub(crate) slots: SharedSlots,
}

#[derive(Debug)]
struct RenderEntry {
    /// The states the key's `shared` hash was made of: kept alive, so no other state
    /// takes their addresses while the entry lives.
    _pins: Vec<Arc<Value>>,
    done: Mutex<Option<Arc<SharedRender>>>,
}

impl Groups {
    pub(crate) fn new(renders_on: bool) -> Groups {
        Groups {
            renders_on,
            patches: Mutex::new(Recent::default()),
            renders: Mutex::new(Recent::default()),
            computed: AtomicU64::new(0),
            reused: AtomicU64::new(0),
        }
    }

    /// The patch a frame carries: decoded by `decode` for the first view that reads it
    /// (the others wait meanwhile: one decoding, one entry), kept for the others.
    /// `None` when the frame is no patch.
    pub(crate) fn patch(
        &self,
        frame: &Text,
        decode: impl FnOnce() -> Option<PatchEntry>,
    ) -> Option<Arc<PatchEntry>> {
        let mut patches = lock(&self.patches);
        if let Some(entry) = patches.get(&address(frame)) {
            return Some(entry.clone());
        }
        let entry = Arc::new(decode()?);
        patches.insert(address(frame), entry.clone());
        Some(entry)
    }

    /// The render of `key`: computed by `compute` for the first view, taken by the others
    /// (the second of the pair says whether this view computed it). A render that fails
    /// is not kept: that view fails alone, the next computes it again.
    pub(crate) fn render<E>(
        &self,
        key: RenderKey,
        pins: Vec<Arc<Value>>,
        compute: impl FnOnce() -> Result<SharedRender, E>,
    ) -> Result<(Arc<SharedRender>, bool), E> {
        let entry = {
            let mut renders = lock(&self.renders);
            match renders.get(&key) {
                Some(entry) => entry.clone(),
                None => {
                    let entry = Arc::new(RenderEntry {
                        _pins: pins,
                        done: Mutex::new(None),
                    });
                    renders.insert(key, entry.clone());
                    entry
                }
            }
        };
        // the views of a group wait here while the first computes: one render, not many
        let mut done = lock(&entry.done);
        if let Some(render) = done.as_ref() {
            self.reused.fetch_add(1, Ordering::Relaxed);
            return Ok((render.clone(), false));
        }
        let render = Arc::new(compute()?);
        *done = Some(render.clone());
        self.computed.fetch_add(1, Ordering::Relaxed);
        Ok((render, true))
    }

    pub(crate) fn stats(&self) -> RenderStats {
        RenderStats {
            computed: self.computed.load(Ordering::Relaxed),
            reused: self.reused.load(Ordering::Relaxed),
        }
    }
}

/// A hash of the attached keys as a view holds them (each state's address, version,
/// staleness and presence), and the states it names.
pub(crate) fn shared_id<'a>(
    keys: impl Iterator<Item = (&'a str, &'a Arc<Value>, u64, bool, u64)>,
) -> (u64, Vec<Arc<Value>>) {
    let mut h = DefaultHasher::new();
    let mut pins = Vec::new();
    for (key, state, version, stale, presence) in keys {
        (key, Arc::as_ptr(state) as usize, version, stale, presence).hash(&mut h);
        pins.push(state.clone());
    }
    (h.finish(), pins)
}

/// A frame's address, while it is alive.
fn address(frame: &Text) -> usize {
    frame.as_str().as_ptr() as usize
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A map of the last [`RECENT`] entries inserted.
#[derive(Debug)]
struct Recent<K, V> {
    map: HashMap<K, V>,
    order: VecDeque<K>,
}

impl<K, V> Default for Recent<K, V> {
    fn default() -> Self {
        Recent {
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }
}

impl<K: Hash + Eq + Clone, V> Recent<K, V> {
    fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key)
    }

    fn insert(&mut self, key: K, value: V) {
        if self.map.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
        }
        while self.order.len() > RECENT {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}
