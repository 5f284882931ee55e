//! [`Settings`]: how a channel's keys behave, in one value: scope, `max_version`, ACL,
//! TTL, presence, the state limits and the permissions of its events.
//!
//! ```
//! use livestate_core::acl::{Acl, Permission, Permissions};
//! use livestate_core::{Settings, Ttl};
//! use std::time::Duration;
//!
//! let settings = Settings::shared()
//!     .acl(Acl { group: Permissions::ALL, public: Permissions::NONE.with(Permission::Read) })
//!     .ttl(Ttl::After(Duration::from_secs(300)))
//!     .presence(true)
//!     .permission("clear", Permissions::NONE.with(Permission::Reset));
//! assert!(settings.validate().is_ok());
//! // one state per connection has no TTL after its last subscriber: it is the subscriber
//! let wrong = Settings::connection().ttl(Ttl::Never);
//! assert_eq!(
//!     wrong.validate().unwrap_err().to_string(),
//!     "a connection-scoped channel has no TTL (its state goes with its connection): ttl is Never"
//! );
//! ```

use crate::acl::{Acl, Permission, Permissions};
use livestate_doc::StateLimits;
use livestate_doc::doc::MAX_DEPTH_CEILING;
use std::time::Duration;

/// LiveState's default `max_version`: versions count 0..=1000 and wrap to 0.
pub const DEFAULT_MAX_VERSION: u64 = 1000;

/// Whether joiners of a topic share one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Scope {
    /// One state per topic, one authority for it, every joiner sees the same state.
    #[default]
    Shared,
    /// One state per joined channel, as LiveState does.
    Connection,
}

/// How long a key lives after its last subscriber left.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Ttl {
    /// The hub's default ([`Limits::ttl`](crate::Limits::ttl), 60 s).
    #[default]
    Default,
    /// This long.
    After(Duration),
    /// Forever: the key's state is kept while the node lives.
    Never,
}

/// How a channel's keys behave. Build it with [`Settings::shared`] or
/// [`Settings::connection`] and the methods that follow; [`Settings::validate`] (run when
/// the channel is routed) refuses settings that contradict each other.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Settings {
    /// Whether joiners share one state (default [`Scope::Shared`]).
    pub scope: Scope,
    /// Versions wrap to 0 after this (LiveState's `max_version`, default 1000).
    pub max_version: u64,
    /// Who may do what to the channel's keys (default: the group everything, the public
    /// read).
    pub acl: Acl,
    /// How long a shared key lives after its last subscriber left (default: the hub's).
    pub ttl: Ttl,
    /// Whether joiners get `presence_state` and `presence_diff` (default off).
    pub presence: bool,
    /// What the states may become (default: the hub's).
    pub limits: Option<StateLimits>,
    /// The permissions each event needs, by its name (default for any event: write).
    pub permissions: Vec<(String, Permissions)>,
    /// A busy key's coalescing window (default none): the changes within it reach
    /// subscribers as one patch (see [`Settings::coalesce`]).
    pub coalesce: Option<Duration>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            scope: Scope::Shared,
            max_version: DEFAULT_MAX_VERSION,
            acl: Acl::default(),
            ttl: Ttl::Default,
            presence: false,
            limits: None,
            permissions: Vec::new(),
            coalesce: None,
        }
    }
}

impl Settings {
    /// One state per topic, shared by every joiner (the default).
    pub fn shared() -> Settings {
        Settings::default()
    }

    /// One state per joined channel, as LiveState does.
    pub fn connection() -> Settings {
        Settings {
            scope: Scope::Connection,
            ..Settings::default()
        }
    }

    /// With this `max_version`.
    pub fn max_version(mut self, max_version: u64) -> Settings {
        self.max_version = max_version;
        self
    }

    /// With this ACL.
    pub fn acl(mut self, acl: Acl) -> Settings {
        self.acl = acl;
        self
    }

    /// With this TTL.
    pub fn ttl(mut self, ttl: Ttl) -> Settings {
        self.ttl = ttl;
        self
    }

    /// With presence on or off.
    pub fn presence(mut self, on: bool) -> Settings {
        self.presence = on;
        self
    }

    /// With these state limits.
    pub fn limits(mut self, limits: StateLimits) -> Settings {
        self.limits = Some(limits);
        self
    }

    /// Coalesce a busy key's changes: at most one `state:patch` per `window` to each
    /// subscriber (sockets, views, Rust subscriptions), carrying every change since the
    /// last in commit order. A change of a key that sent nothing for a window goes out at
    /// once; a socket's own change goes out at once with what waited, and the window
    /// starts again. Acknowledgements never wait. Shared keys only; the window must be
    /// above zero and shorter than the TTL.
    pub fn coalesce(mut self, window: Duration) -> Settings {
        self.coalesce = Some(window);
        self
    }

    /// The event `event` needs `needs` (instead of write).
    pub fn permission(mut self, event: &str, needs: Permissions) -> Settings {
        self.permissions.retain(|(name, _)| name != event);
        self.permissions.push((event.to_owned(), needs));
        self
    }

    /// What the event `event` needs.
    pub fn permissions_for(&self, event: &str) -> Permissions {
        self.permissions
            .iter()
            .find(|(name, _)| name == event)
            .map_or(Permissions::NONE.with(Permission::Write), |(_, p)| *p)
    }

    /// Whether the settings hold together.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let contradiction = |reason: String| Err(SettingsError(reason));
        if self.scope == Scope::Connection {
            if self.ttl != Ttl::Default {
                return contradiction(format!(
                    "a connection-scoped channel has no TTL (its state goes with its connection): ttl is {:?}",
                    self.ttl
                ));
            }
            if self.presence {
                return contradiction(
                    "a connection-scoped channel has no presence (each state has one subscriber): presence is on"
                        .to_owned(),
                );
            }
        }
        if let Some(window) = self.coalesce {
            if window.is_zero() {
                return contradiction(
                    "coalesce is 0: a window must be longer than that".to_owned(),
                );
            }
            if let Ttl::After(ttl) = self.ttl {
                if window >= ttl {
                    return contradiction(format!(
                        "coalesce ({window:?}) is not shorter than the ttl ({ttl:?})"
                    ));
                }
            }
            if self.scope == Scope::Connection {
                return contradiction(
                    "a connection-scoped channel does not coalesce (its one subscriber sends every change): coalesce is set"
                        .to_owned(),
                );
            }
        }
        if self.max_version == 0 {
            return contradiction("max_version is 0: every version would be 0".to_owned());
        }
        if let Some(limits) = &self.limits {
            if limits.max_depth == 0 || limits.max_depth > MAX_DEPTH_CEILING {
                return contradiction(format!(
                    "limits.max_depth is {}: it must be 1 to {MAX_DEPTH_CEILING}",
                    limits.max_depth
                ));
            }
            if limits.max_bytes == 0 || limits.max_values == 0 || limits.max_patch_ops == 0 {
                return contradiction(format!(
                    "a state limit is 0 ({limits:?}): no state would fit"
                ));
            }
        }
        Ok(())
    }
}

/// Settings that contradict each other, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(String);
