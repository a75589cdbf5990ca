//! Service accounts API payloads (wire-protocol-data §8).

use serde::{Deserialize, Serialize};

/// A service account as listed and read (`GET service_accounts[/<id>]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccountPayload {
    /// Account id.
    pub id: String,
    /// The name; the key is always present, the value may be `null`.
    pub name: Option<String>,
    /// The user who created it.
    pub owner: String,
    /// Cluster its token is meant for.
    pub default_cluster: String,
    /// The role its token authenticates as.
    pub role: String,
    /// ISO 8601 creation time.
    pub created_at: String,
    /// Whether the account's role is gone (`false` when absent, as in 22.7.1's
    /// answers).
    #[serde(default)]
    pub role_deleted: bool,
}

/// The answer of `POST service_accounts`: the account plus its token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedServiceAccountPayload {
    /// The account.
    #[serde(flatten)]
    pub account: ServiceAccountPayload,
    /// The bearer token of the account, shown only once.
    pub token: String,
}

impl std::fmt::Debug for CreatedServiceAccountPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedServiceAccountPayload")
            .field("account", &self.account)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// `POST service_accounts`: `{"name": str|null, "default_cluster": str}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateServiceAccountRequest {
    /// Optional name.
    pub name: Option<String>,
    /// Cluster for the account.
    pub default_cluster: String,
}
