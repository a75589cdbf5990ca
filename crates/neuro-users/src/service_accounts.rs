//! [`ServiceAccounts`]: create, list, get and remove service accounts.

use futures::{Stream, StreamExt, TryStreamExt};
use neuro_config::Config;
use neuro_types::endpoints::{self, paths};
use neuro_types::wire::{
    CreateServiceAccountRequest, CreatedServiceAccountPayload, ServiceAccountPayload,
};
use neuro_types::ServiceAccount;

use crate::request::request;
use crate::UsersError;

/// The token of a new service account. Shown once; `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceAccountToken(pub String);

impl std::fmt::Debug for ServiceAccountToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ServiceAccountToken(<redacted>)")
    }
}

/// The ServiceAccounts API of one logged-in client. Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let example = neuro_local::examples::start().await?;
/// # let config = neuro_config::ConfigFactory::new().load().await?;
/// use neuro_users::ServiceAccounts;
///
/// let accounts = ServiceAccounts::new(config);
/// let (account, token) = accounts.create(Some("ci"), None).await?;
/// println!("{} acts as role {}", account.id, account.role);
/// # let _ = token;
/// accounts.rm("ci").await?;
/// # drop(accounts); example.shutdown().await; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ServiceAccounts {
    config: Config,
}

impl ServiceAccounts {
    /// The ServiceAccounts API for `config`'s user.
    pub fn new(config: Config) -> Self {
        Self { config }
    }

    /// `id_or_name`, if it can be one path segment.
    fn check(id_or_name: &str) -> Result<&str, UsersError> {
        if id_or_name.is_empty() || id_or_name.contains('/') {
            return Err(UsersError::InvalidArgument(format!(
                "invalid service account {id_or_name:?}"
            )));
        }
        Ok(id_or_name)
    }

    /// The user's service accounts. Nothing is sent until the stream is polled.
    pub fn list(&self) -> impl Stream<Item = Result<ServiceAccount, UsersError>> + Send + 'static {
        let this = self.clone();
        futures::stream::once(async move {
            let payloads: Vec<ServiceAccountPayload> = request(
                &this.config,
                &endpoints::SERVICE_ACCOUNTS_LIST,
                endpoints::SERVICE_ACCOUNTS_LIST.path,
            )?
            .send()
            .await?
            .json()
            .await?;
            let items = payloads
                .into_iter()
                .map(|p| ServiceAccount::from_payload(p).map_err(UsersError::from));
            Ok::<_, UsersError>(futures::stream::iter(items))
        })
        .try_flatten()
        .boxed()
    }

    /// Creates a service account for `default_cluster` (default: the current
    /// cluster). Returns the account and its token, which is never shown again.
    pub async fn create(
        &self,
        name: Option<&str>,
        default_cluster: Option<&str>,
    ) -> Result<(ServiceAccount, ServiceAccountToken), UsersError> {
        let body = CreateServiceAccountRequest {
            name: name.map(str::to_owned),
            default_cluster: default_cluster
                .unwrap_or(self.config.cluster_name())
                .to_owned(),
        };
        let payload: CreatedServiceAccountPayload = request(
            &self.config,
            &endpoints::SERVICE_ACCOUNTS_CREATE,
            endpoints::SERVICE_ACCOUNTS_CREATE.path,
        )?
        .json(&body)
        .send()
        .await?
        .json()
        .await?;
        Ok((
            ServiceAccount::from_payload(payload.account)?,
            ServiceAccountToken(payload.token),
        ))
    }

    /// The account with this id or name.
    pub async fn get(&self, id_or_name: &str) -> Result<ServiceAccount, UsersError> {
        let payload: ServiceAccountPayload = request(
            &self.config,
            &endpoints::SERVICE_ACCOUNTS_GET,
            &paths::service_accounts_get(Self::check(id_or_name)?),
        )?
        .send()
        .await?
        .json()
        .await?;
        Ok(ServiceAccount::from_payload(payload)?)
    }

    /// Removes the account; its token stops working at once.
    pub async fn rm(&self, id_or_name: &str) -> Result<(), UsersError> {
        request(
            &self.config,
            &endpoints::SERVICE_ACCOUNTS_RM,
            &paths::service_accounts_rm(Self::check(id_or_name)?),
        )?
        .send()
        .await?;
        Ok(())
    }
}
