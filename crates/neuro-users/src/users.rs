//! [`Users`]: permissions, shares and roles.

use neuro_config::Config;
use neuro_http::RequestBuilder;
use neuro_types::endpoints::{self, paths, query, Endpoint};
use neuro_types::wire::{AddRoleRequest, PermissionPayload, SharePayload, SubrolesPayload};
use neuro_types::{Permission, Share};
use serde::de::DeserializeOwned;
use url::Url;

use crate::request::request;
use crate::UsersError;

/// Narrows [`Users::get_acl`] and [`Users::get_shares`] to one scheme or one
/// URI and what lies below it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AclFilter {
    /// Everything.
    #[default]
    All,
    /// One scheme, e.g. `storage` (sent as `uri=storage:`).
    Scheme(String),
    /// One URI, sent as given.
    Uri(Url),
}

impl AclFilter {
    fn query(&self) -> Option<String> {
        match self {
            AclFilter::All => None,
            AclFilter::Scheme(scheme) if scheme.is_empty() => None,
            AclFilter::Scheme(scheme) => Some(format!("{scheme}:")),
            AclFilter::Uri(uri) => Some(uri.to_string()),
        }
    }
}

/// The Users API of one logged-in client. Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let example = neuro_local::examples::start().await?;
/// # let config = neuro_config::ConfigFactory::new().load().await?;
/// use neuro_types::{Action, Permission};
/// use neuro_users::{AclFilter, Users};
///
/// let users = Users::new(config);
/// let uri = url::Url::parse("storage://default/alice/shared").unwrap();
/// let granted = users.share("bob", &Permission { uri: uri.clone(), action: Action::Read }).await?;
/// println!("bob has {} on {}", granted.action, granted.uri);
/// for share in users.get_shares("alice", &AclFilter::Scheme("storage".into())).await? {
///     println!("{}: {} {}", share.user, share.permission.action, share.permission.uri);
/// }
/// users.revoke("bob", &uri).await?;
/// # drop(users); example.shutdown().await; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Users {
    config: Config,
}

impl Users {
    /// The Users API for `config`'s user.
    pub fn new(config: Config) -> Self {
        Self { config }
    }

    /// A request for `endpoint` on the user or role `name` (its path made by
    /// `path` from the name with `/` written as `:`); a name with `:` is refused.
    fn on_user(
        &self,
        endpoint: &Endpoint,
        path: fn(&str) -> String,
        name: &str,
    ) -> Result<RequestBuilder, UsersError> {
        if name.is_empty() || name.contains(':') {
            return Err(UsersError::InvalidArgument(format!(
                "Invalid name: {name:?}"
            )));
        }
        request(&self.config, endpoint, &path(&name.replace('/', ":")))
    }

    /// `GET` of `endpoint` on `user`, `?uri=<filter>`: a JSON array.
    async fn filtered<P: DeserializeOwned>(
        &self,
        endpoint: &Endpoint,
        path: fn(&str) -> String,
        user: &str,
        filter: &AclFilter,
    ) -> Result<Vec<P>, UsersError> {
        let mut request = self.on_user(endpoint, path, user)?;
        if let Some(uri) = filter.query() {
            request = request.query(query::URI, uri);
        }
        Ok(request.send().await?.json().await?)
    }

    /// The permissions of `user` (a user or role name), optionally filtered.
    pub async fn get_acl(
        &self,
        user: &str,
        filter: &AclFilter,
    ) -> Result<Vec<Permission>, UsersError> {
        let payloads: Vec<PermissionPayload> = self
            .filtered(
                &endpoints::USERS_GET_ACL,
                paths::users_get_acl,
                user,
                filter,
            )
            .await?;
        payloads
            .iter()
            .map(|p| Permission::from_payload(p).map_err(UsersError::from))
            .collect()
    }

    /// What others were given on resources `user` manages, optionally filtered.
    pub async fn get_shares(
        &self,
        user: &str,
        filter: &AclFilter,
    ) -> Result<Vec<Share>, UsersError> {
        let payloads: Vec<SharePayload> = self
            .filtered(
                &endpoints::USERS_GET_SHARES,
                paths::users_get_shares,
                user,
                filter,
            )
            .await?;
        payloads
            .iter()
            .map(|p| Share::from_payload(p).map_err(UsersError::from))
            .collect()
    }

    /// The roles `user` is a member of (full names with `/`).
    pub async fn get_subroles(&self, user: &str) -> Result<Vec<String>, UsersError> {
        let payload: SubrolesPayload = self
            .on_user(
                &endpoints::USERS_GET_SUBROLES,
                paths::users_get_subroles,
                user,
            )?
            .send()
            .await?
            .json()
            .await?;
        Ok(payload.subroles)
    }

    /// Shares `permission` with `user` (a user or role). Returns the permission
    /// `user` now has, which is stronger than asked if they had more already.
    pub async fn share(
        &self,
        user: &str,
        permission: &Permission,
    ) -> Result<Permission, UsersError> {
        let response = self
            .on_user(&endpoints::USERS_SHARE, paths::users_share, user)?
            .json(&[permission.to_payload()])
            .send()
            .await?;
        if response.status().as_u16() != 201 {
            return Err(UsersError::UnexpectedStatus(response.status().as_u16()));
        }
        let payloads: Vec<PermissionPayload> = response.json().await?;
        let first = payloads.first().ok_or(UsersError::UnexpectedStatus(201))?;
        Ok(Permission::from_payload(first)?)
    }

    /// Takes back what `user` was given on exactly `uri`.
    pub async fn revoke(&self, user: &str, uri: &Url) -> Result<(), UsersError> {
        let response = self
            .on_user(&endpoints::USERS_REVOKE, paths::users_revoke, user)?
            .query(query::URI, uri.to_string())
            .send()
            .await?;
        expect_status(response.status().as_u16(), 204)
    }

    /// Creates the role `role_name` (e.g. `alice/team`).
    pub async fn add(&self, role_name: &str) -> Result<(), UsersError> {
        let response = request(
            &self.config,
            &endpoints::USERS_ADD_ROLE,
            endpoints::USERS_ADD_ROLE.path,
        )?
        .json(&AddRoleRequest {
            name: role_name.to_owned(),
        })
        .send()
        .await?;
        expect_status(response.status().as_u16(), 201)
    }

    /// Removes the role `role_name`.
    pub async fn remove(&self, role_name: &str) -> Result<(), UsersError> {
        let response = self
            .on_user(
                &endpoints::USERS_REMOVE_ROLE,
                paths::users_remove_role,
                role_name,
            )?
            .send()
            .await?;
        expect_status(response.status().as_u16(), 204)
    }
}

fn expect_status(got: u16, want: u16) -> Result<(), UsersError> {
    if got == want {
        Ok(())
    } else {
        Err(UsersError::UnexpectedStatus(got))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        assert_eq!(AclFilter::All.query(), None);
        assert_eq!(
            AclFilter::Scheme("storage".into()).query().as_deref(),
            Some("storage:")
        );
        let uri = Url::parse("image://default/alice").unwrap_or_else(|_| unreachable!());
        assert_eq!(
            AclFilter::Uri(uri).query().as_deref(),
            Some("image://default/alice")
        );
    }
}
