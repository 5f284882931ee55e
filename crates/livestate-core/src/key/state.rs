//! [`KeyState`]: a key's state and its versions. The key keeps one internal version that
//! never wraps (consecutive, what the backplane commits); clients see it modulo
//! `max_version + 1` (LiveState's wrapping wire version), so every joiner of a key sees
//! the same versions and one encoded frame serves all.

use crate::subscriber::Whole;
use livestate_doc::{LiveState, Tracked};
use livestate_protocol::Text;
use serde_json::Value;
use std::sync::OnceLock;

pub(super) struct KeyState<S: LiveState> {
    /// `None` until an `init` succeeds (or a snapshot was restored).
    pub(super) tracked: Option<Tracked<S>>,
    /// Why the last `init` failed, for events that arrive while there is no state.
    pub(super) init_error: Option<String>,
    /// The internal version.
    version: u64,
    max_version: u64,
    /// For a coalescing key (see `coalesce`): how many messages of changes went out, the
    /// version its clients see; and whether changes wait for the next.
    shown: Option<u64>,
    waiting: bool,
    /// `state:change` of the settled state at `version`, encoded on first use.
    frame: OnceLock<Text>,
}

impl<S: LiveState> KeyState<S> {
    pub(super) fn new(max_version: u64, coalescing: bool) -> KeyState<S> {
        KeyState {
            tracked: None,
            init_error: None,
            version: 0,
            max_version,
            shown: coalescing.then_some(0),
            waiting: false,
            frame: OnceLock::new(),
        }
    }

    /// The internal version.
    pub(super) fn version(&self) -> u64 {
        self.version
    }

    /// The next version was committed.
    pub(super) fn bump(&mut self) {
        self.set_version(self.version + 1);
    }

    /// The state is at `version` now (a snapshot, a replayed change).
    pub(super) fn set_version(&mut self, version: u64) {
        self.version = version;
        self.frame = OnceLock::new();
    }

    /// A coalescing key's changes wait for the next message.
    pub(super) fn wait(&mut self) {
        self.waiting = true;
    }

    /// A coalescing key sends a message of what waited: its wire version.
    pub(super) fn show(&mut self) -> u64 {
        if let Some(shown) = self.shown.as_mut() {
            *shown += 1;
            self.waiting = false;
            self.frame = OnceLock::new();
        }
        self.wire_version()
    }

    /// A state was built or restored (at the current version).
    pub(super) fn set(&mut self, tracked: Tracked<S>) {
        self.tracked = Some(tracked);
        self.init_error = None;
        self.frame = OnceLock::new();
    }

    pub(super) fn has_state(&self) -> bool {
        self.tracked.is_some()
    }

    /// The wire version of the current version (of a coalescing key: of the message
    /// that carries it, the next one while changes wait).
    pub(super) fn wire_version(&self) -> u64 {
        self.wire(self.version)
    }

    /// The wire version of an internal version: it wraps after `max_version`. A coalescing
    /// key's clients count messages instead: every version up to now is in the last one
    /// sent, or in the next while changes wait.
    pub(super) fn wire(&self, version: u64) -> u64 {
        let version = match self.shown {
            Some(shown) => shown + u64::from(self.waiting),
            None => version,
        };
        match self.max_version.checked_add(1) {
            Some(modulus) => version % modulus,
            None => version,
        }
    }

    /// Run `f` with the whole state at the current version, if there is one.
    pub(super) fn with_whole<R>(&self, topic: &str, f: impl FnOnce(&Whole<'_>) -> R) -> Option<R> {
        let tracked = self.tracked.as_ref()?;
        let state = tracked.json();
        let whole = Whole {
            topic,
            state: &state,
            version: self.wire_version(),
            frame: &self.frame,
        };
        Some(f(&whole))
    }

    /// The state as JSON, if there is one.
    pub(super) fn json(&self) -> Option<Value> {
        self.tracked.as_ref().map(|t| t.json().into_owned())
    }

    /// Why there is no state, for a change that needs one.
    pub(super) fn missing(&self, topic: &str) -> String {
        match &self.init_error {
            Some(e) => format!("{topic} has no state: init failed: {e}"),
            None => format!("{topic} has no state"),
        }
    }
}
