//! Users API payloads: permissions, shares and roles (wire-protocol-data §7).

use serde::{Deserialize, Serialize};

/// `{"uri": "storage://cluster/user/x", "action": "read"}`: one permission, as
/// listed by `GET users/<user>/permissions` and sent (in a one-element array) by
/// `POST users/<user>/permissions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PermissionPayload {
    /// Full resource URI.
    pub uri: String,
    /// `read`, `write` or `manage`.
    pub action: String,
}

/// One element of `GET users/<user>/permissions/shared`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharePayload {
    /// The user the resource is shared with.
    pub user: String,
    /// Full resource URI.
    pub uri: String,
    /// `read`, `write` or `manage`.
    pub action: String,
}

/// `GET users/<user>/subroles`: `{"subroles": ["role/name", ...]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubrolesPayload {
    /// Full role names, with `/`.
    pub subroles: Vec<String>,
}

/// `POST users`: `{"name": "mycompany/team/role"}` (slashes kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddRoleRequest {
    /// The role name.
    pub name: String,
}
