//! [`Text`]: one encoded text frame, shared by every socket it goes to.

use bytes::Bytes;
use std::fmt;

/// An encoded text frame: valid UTF-8, cheap to clone (a reference count).
///
/// A patch is encoded once per change and the same `Text` is queued to every subscriber,
/// so fan-out costs one reference-count increment per socket, not one encoding.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Text(Bytes);

impl Text {
    /// A frame from a string known at compile time.
    pub const fn from_static(s: &'static str) -> Self {
        Text(Bytes::from_static(s.as_bytes()))
    }

    /// The frame's bytes (always valid UTF-8).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The frame's bytes, to hand to a transport.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The frame as a string slice.
    pub fn as_str(&self) -> &str {
        // Every constructor takes a `str` or a `String`, so this cannot fail; the check is
        // here because the crate forbids `unsafe` and it only runs in logs and tests.
        std::str::from_utf8(&self.0).unwrap_or("<invalid utf-8>")
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the frame is empty (never true for a frame this crate encodes).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(Bytes::from(s))
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
