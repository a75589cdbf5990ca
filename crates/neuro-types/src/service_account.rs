//! Service accounts (`neuro_sdk.ServiceAccount`, wire-protocol-data §8).

use time::OffsetDateTime;

use crate::error::{parse_time, ModelError};
use crate::wire::serde_util::iso8601;
use crate::wire::ServiceAccountPayload;

/// A service account: a role with its own bearer token, owned by a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAccount {
    /// Account id.
    pub id: String,
    /// Optional name, unique per owner.
    pub name: Option<String>,
    /// The user who created it.
    pub owner: String,
    /// Cluster its token is meant for.
    pub default_cluster: String,
    /// The role its token authenticates as.
    pub role: String,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// Whether its role was deleted (through the roles API) while the account
    /// stayed: its token no longer works. `false` when the server does not say.
    pub role_deleted: bool,
}

impl ServiceAccount {
    /// Decodes an account.
    ///
    /// ```
    /// use neuro_types::ServiceAccount;
    /// use neuro_types::wire::ServiceAccountPayload;
    ///
    /// let payload: ServiceAccountPayload = serde_json::from_str(r#"{"id": "sa-1", "name": null,
    ///     "owner": "alice", "default_cluster": "default", "role": "alice/service-accounts/sa-1",
    ///     "created_at": "2022-07-26T10:00:00+00:00"}"#).unwrap();
    /// let account = ServiceAccount::from_payload(payload).unwrap();
    /// assert_eq!(account.role, "alice/service-accounts/sa-1");
    /// ```
    pub fn from_payload(payload: ServiceAccountPayload) -> Result<Self, ModelError> {
        Ok(Self {
            created_at: parse_time("created_at", &payload.created_at)?,
            id: payload.id,
            name: payload.name,
            owner: payload.owner,
            default_cluster: payload.default_cluster,
            role: payload.role,
            role_deleted: payload.role_deleted,
        })
    }

    /// Encodes the account as the server answers it.
    pub fn to_payload(&self) -> ServiceAccountPayload {
        ServiceAccountPayload {
            id: self.id.clone(),
            name: self.name.clone(),
            owner: self.owner.clone(),
            default_cluster: self.default_cluster.clone(),
            role: self.role.clone(),
            created_at: iso8601::format(self.created_at),
            role_deleted: self.role_deleted,
        }
    }
}
