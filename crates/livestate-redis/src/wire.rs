//! What travels on a key's change channel (`P:{T}:chg`): committed changes and presence
//! diffs, as JSON.

use livestate_backplane::{Change, PresenceEntry};
use serde::{Deserialize, Serialize};

/// One message on a key's change channel.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum WireMsg {
    Change(Change),
    Presence {
        joins: Vec<PresenceEntry>,
        leaves: Vec<PresenceEntry>,
    },
}
