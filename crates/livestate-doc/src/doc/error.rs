//! Why a document operation was refused: [`OpError`], and [`PatchError`] for one op of a
//! patch. The document is unchanged when either is returned.

use super::limits::LimitError;
use crate::pointer::PointerError;

/// Why an operation was refused. The document is unchanged when one is returned.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
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
    /// The change would break one of the state's limits ([`StateLimits`](super::StateLimits)).
    #[error(transparent)]
    Limit(#[from] LimitError),
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
