//! Access levels and permissions (wire-protocol-data §7.2, `neuro_sdk._users`).

use std::fmt;
use std::str::FromStr;

use url::Url;

use crate::error::{parse_url, ModelError, ParseEnumError};
use crate::wire::{PermissionPayload, SharePayload};

/// An access level; each one includes the ones below it (`Read < Write < Manage`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Read.
    Read,
    /// Read and write.
    Write,
    /// Read, write and share.
    Manage,
}

impl Action {
    /// The wire string: `read`, `write` or `manage`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Write => "write",
            Action::Manage => "manage",
        }
    }

    /// Whether this level allows what `needed` allows.
    ///
    /// ```
    /// use neuro_types::permission::Action;
    ///
    /// assert!(Action::Manage.allows(Action::Write));
    /// assert!(!Action::Read.allows(Action::Write));
    /// ```
    pub fn allows(self, needed: Action) -> bool {
        self >= needed
    }
}

impl FromStr for Action {
    type Err = ParseEnumError;

    /// The exact lower-case wire strings; anything else is an error (the SDK
    /// raises `ValueError`, which fails a whole listing).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(Action::Read),
            "write" => Ok(Action::Write),
            "manage" => Ok(Action::Manage),
            _ => Err(ParseEnumError::new("permission", s)),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A permission on a resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Permission {
    /// Full resource URI (`storage://cluster/owner/path`, `role://...`).
    pub uri: Url,
    /// Access level.
    pub action: Action,
}

impl Permission {
    /// Decodes `{"uri", "action"}`.
    pub fn from_payload(payload: &PermissionPayload) -> Result<Self, ModelError> {
        Ok(Self {
            uri: parse_url("uri", &payload.uri)?,
            action: payload.action.parse()?,
        })
    }

    /// Encodes `{"uri", "action"}`.
    pub fn to_payload(&self) -> PermissionPayload {
        PermissionPayload {
            uri: self.uri.to_string(),
            action: self.action.as_str().to_owned(),
        }
    }
}

/// A permission granted to a user.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Share {
    /// The user.
    pub user: String,
    /// The permission.
    pub permission: Permission,
}

impl Share {
    /// Decodes `{"user", "uri", "action"}`.
    pub fn from_payload(payload: &SharePayload) -> Result<Self, ModelError> {
        Ok(Self {
            user: payload.user.clone(),
            permission: Permission {
                uri: parse_url("uri", &payload.uri)?,
                action: payload.action.parse()?,
            },
        })
    }

    /// Encodes `{"user", "uri", "action"}`.
    pub fn to_payload(&self) -> SharePayload {
        SharePayload {
            user: self.user.clone(),
            uri: self.permission.uri.to_string(),
            action: self.permission.action.as_str().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn actions_are_ordered_and_strict() {
        assert!(Action::Read < Action::Write && Action::Write < Action::Manage);
        for a in [Action::Read, Action::Write, Action::Manage] {
            assert_eq!(a.as_str().parse::<Action>().unwrap(), a);
        }
        for bad in ["READ", "admin", "", " read"] {
            let err = bad.parse::<Action>().unwrap_err();
            assert_eq!(err.value, bad);
        }
    }

    #[test]
    fn permission_round_trip() {
        let payload = PermissionPayload {
            uri: "storage://default/alice/x".into(),
            action: "write".into(),
        };
        let perm = Permission::from_payload(&payload).unwrap();
        assert_eq!(perm.action, Action::Write);
        assert_eq!(perm.to_payload(), payload);
        let share = SharePayload {
            user: "bob".into(),
            uri: "role://bob/roles/x".into(),
            action: "nope".into(),
        };
        assert!(matches!(
            Share::from_payload(&share),
            Err(ModelError::InvalidValue(_))
        ));
    }
}
