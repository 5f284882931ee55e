//! Access control: who may read, write, delete or reset a key.
//!
//! There are two kinds of caller. The *group* of a key are the callers attached to it:
//! sockets that joined its topic and Rust code that subscribed to it. Everyone else is
//! *public*: HTTP callers, and Rust code calling the server API without attaching. An
//! [`Acl`] gives each kind a set of [`Permission`]s; the default is everything for the
//! group and read for the public.
//!
//! Every way a change can enter checks it: a join needs group `read`; a client event needs
//! the permission its channel's settings give it (`Settings::permissions_for`, `write` by
//! default, and `Channel::permissions` for a decoded event); the server API and HTTP need `read`, `write`, `delete` or `reset`.
//! A refusal changes nothing and names the missing permission.
//!
//! ```
//! use livestate_core::acl::{Acl, Caller, Permission, Permissions};
//! let acl = Acl { group: Permissions::ALL, public: Permissions::parse(&["read", "write"]).unwrap() };
//! assert!(acl.check(Caller::Public, Permission::Write).is_ok());
//! assert_eq!(
//!     acl.check(Caller::Public, Permission::Reset).unwrap_err().to_string(),
//!     "permission denied: public callers may not reset"
//! );
//! ```

use livestate_protocol::PatchOp;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Something a caller may do to a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Join, get, subscribe.
    Read,
    /// Change values (set, add, replace, increment, most client events).
    Write,
    /// Remove values.
    Delete,
    /// Go back to the initial state (re-run `init`).
    Reset,
}

impl Permission {
    /// Every permission, in order.
    pub const EVERY: [Permission; 4] = [
        Permission::Read,
        Permission::Write,
        Permission::Delete,
        Permission::Reset,
    ];

    fn bit(self) -> u8 {
        match self {
            Permission::Read => 1,
            Permission::Write => 2,
            Permission::Delete => 4,
            Permission::Reset => 8,
        }
    }

    /// Its name: `read`, `write`, `delete`, `reset`.
    pub fn name(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::Delete => "delete",
            Permission::Reset => "reset",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of permissions. In configuration: a list of `read`, `write`, `delete`, `reset`, or
/// `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Permissions(u8);

impl Permissions {
    /// No permission.
    pub const NONE: Permissions = Permissions(0);
    /// Read only.
    pub const READ: Permissions = Permissions(1);
    /// Every permission.
    pub const ALL: Permissions = Permissions(15);

    /// Whether `p` is in the set.
    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    /// The set with `p` added.
    pub fn with(self, p: Permission) -> Permissions {
        Permissions(self.0 | p.bit())
    }

    /// Parse a list of names (`all` means every permission).
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Permissions, String> {
        names
            .iter()
            .try_fold(Permissions::NONE, |set, name| match name.as_ref() {
                "all" => Ok(Permissions::ALL),
                "read" => Ok(set.with(Permission::Read)),
                "write" => Ok(set.with(Permission::Write)),
                "delete" => Ok(set.with(Permission::Delete)),
                "reset" => Ok(set.with(Permission::Reset)),
                other => Err(format!(
                    "unknown permission {other:?}: expected read, write, delete, reset or all"
                )),
            })
    }

    /// The names in the set.
    pub fn names(self) -> Vec<&'static str> {
        Permission::EVERY
            .into_iter()
            .filter(|p| self.contains(*p))
            .map(Permission::name)
            .collect()
    }
}

impl Serialize for Permissions {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.names().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Permissions {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Permissions, D::Error> {
        let names = Vec::<String>::deserialize(d)?;
        Permissions::parse(&names).map_err(serde::de::Error::custom)
    }
}

/// Who is asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Caller {
    /// Attached to the key (a joined socket, a Rust subscriber).
    Group,
    /// Anyone else (HTTP, the Rust server API without attaching).
    Public,
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Caller::Group => "group",
            Caller::Public => "public",
        })
    }
}

/// The permissions of a key's group and of the public.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Acl {
    /// Callers attached to the key.
    pub group: Permissions,
    /// Everyone else.
    pub public: Permissions,
}

impl Default for Acl {
    /// Everything for the group, read for the public.
    fn default() -> Acl {
        Acl {
            group: Permissions::ALL,
            public: Permissions::READ,
        }
    }
}

/// A refused call: the caller lacks a permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("permission denied: {caller} callers may not {permission}")]
pub struct Denied {
    /// Who asked.
    pub caller: Caller,
    /// What was missing.
    pub permission: Permission,
}

impl Acl {
    /// `Ok` when `caller` has every permission in `needs` (else the first one missing).
    pub fn check_all(&self, caller: Caller, needs: Permissions) -> Result<(), Denied> {
        Permission::EVERY
            .into_iter()
            .filter(|p| needs.contains(*p))
            .try_for_each(|p| self.check(caller, p))
    }

    /// `Ok` when `caller` has `permission`.
    pub fn check(&self, caller: Caller, permission: Permission) -> Result<(), Denied> {
        let set = match caller {
            Caller::Group => self.group,
            Caller::Public => self.public,
        };
        if set.contains(permission) {
            Ok(())
        } else {
            Err(Denied { caller, permission })
        }
    }
}

/// The permissions an RFC 6902 patch needs: write, and delete when it removes or moves.
pub fn patch_permissions(ops: &[PatchOp]) -> Permissions {
    let removes = ops
        .iter()
        .any(|op| matches!(op, PatchOp::Remove { .. } | PatchOp::Move { .. }));
    let write = Permissions::NONE.with(Permission::Write);
    if removes {
        write.with(Permission::Delete)
    } else {
        write
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_all() {
        assert_eq!(Permissions::parse(&["all"]).unwrap(), Permissions::ALL);
        let rw = Permissions::parse(&["read", "write"]).unwrap();
        assert!(rw.contains(Permission::Write) && !rw.contains(Permission::Delete));
        assert_eq!(rw.names(), ["read", "write"]);
        assert_eq!(Permissions::parse::<&str>(&[]).unwrap(), Permissions::NONE);
        assert!(
            Permissions::parse(&["admin"])
                .unwrap_err()
                .contains("unknown permission \"admin\"")
        );
    }

    #[test]
    fn acl_deserializes_with_defaults_and_rejects_unknown_fields() {
        let acl: Acl = serde_json::from_str(r#"{"public": ["read", "write"]}"#).unwrap();
        assert_eq!(acl.group, Permissions::ALL);
        assert!(acl.public.contains(Permission::Write));
        assert!(serde_json::from_str::<Acl>(r#"{"everyone": ["all"]}"#).is_err());
        assert!(serde_json::from_str::<Acl>(r#"{"group": ["fly"]}"#).is_err());
    }

    #[test]
    fn the_default_is_group_all_public_read() {
        let acl = Acl::default();
        for p in Permission::EVERY {
            assert!(acl.check(Caller::Group, p).is_ok());
        }
        assert!(acl.check(Caller::Public, Permission::Read).is_ok());
        assert_eq!(
            acl.check(Caller::Public, Permission::Write),
            Err(Denied {
                caller: Caller::Public,
                permission: Permission::Write
            })
        );
    }
}
