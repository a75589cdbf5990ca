//! [`Secrets`]: list, add and remove secrets.

use base64::Engine as _;
use futures::{Stream, StreamExt, TryStreamExt};
use neuro_config::Config;
use neuro_http::RequestBuilder;
use neuro_types::endpoints::{self, paths, query, Endpoint};
use neuro_types::jobs::OrgSelection;
use neuro_types::uri::join_path;
use neuro_types::wire::{AddSecretRequest, SecretPayload};
use neuro_types::Secret;

use crate::SecretsError;

/// Where a secret lives (or, for [`Secrets::list`], which secrets to list):
/// the cluster (default: the current one) and the org (default: the current
/// one).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecretOptions {
    /// The cluster; `None` is the current cluster.
    pub cluster_name: Option<String>,
    /// The org.
    pub org: OrgSelection,
}

impl SecretOptions {
    /// Options for the cluster `name`.
    pub fn cluster(name: impl Into<String>) -> Self {
        Self {
            cluster_name: Some(name.into()),
            ..Self::default()
        }
    }
}

/// The Secrets API of one logged-in client. Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let example = neuro_local::examples::start().await?;
/// # let config = neuro_config::ConfigFactory::new().load().await?;
/// use futures::TryStreamExt as _;
/// use neuro_secrets::{SecretOptions, Secrets};
///
/// let secrets = Secrets::new(config);
/// secrets.add("db-password", b"hunter2", &SecretOptions::default()).await?;
/// let all: Vec<_> = secrets.list(&SecretOptions::default()).try_collect().await?;
/// println!("{} secrets, e.g. {}", all.len(), all[0].uri()?);
/// secrets.rm("db-password", &SecretOptions::default()).await?;
/// # drop(secrets); example.shutdown().await; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Secrets {
    config: Config,
}

impl Secrets {
    /// The Secrets API for `config`'s user.
    pub fn new(config: Config) -> Self {
        Self { config }
    }

    /// A request for `endpoint` on `cluster_name`, its path filled in as `path`.
    fn request(
        &self,
        endpoint: &Endpoint,
        cluster_name: Option<&str>,
        path: &str,
    ) -> Result<RequestBuilder, SecretsError> {
        let base = self.config.base_url_on(endpoint.base, cluster_name)?;
        let url = join_path(base, path).map_err(|e| SecretsError::Model(e.into()))?;
        Ok(self
            .config
            .transport()
            .request(endpoint.method.clone(), url))
    }

    /// The secrets the user may read on `options.cluster_name` (default: the
    /// current cluster), without their values; only those of `options.org`
    /// when it names an org (sent as `org_name`; the default is the current
    /// org, and [`OrgSelection::NoOrg`] lists every org's). Nothing is sent
    /// until the stream is polled.
    pub fn list(
        &self,
        options: &SecretOptions,
    ) -> impl Stream<Item = Result<Secret, SecretsError>> + Send + 'static {
        let this = self.clone();
        let cluster = options.cluster_name.clone();
        let org = options.org.resolve(&self.config.uri_context());
        futures::stream::once(async move {
            let cluster = cluster.unwrap_or_else(|| this.config.cluster_name().to_owned());
            let mut request = this.request(
                &endpoints::SECRETS_LIST,
                Some(&cluster),
                endpoints::SECRETS_LIST.path,
            )?;
            if let Some(org) = org {
                request = request.query(query::ORG_NAME, org);
            }
            let payloads: Vec<SecretPayload> = request.send().await?.json().await?;
            let items = payloads
                .into_iter()
                .map(move |p| Ok(Secret::from_payload(p, &cluster)));
            Ok::<_, SecretsError>(futures::stream::iter(items))
        })
        .try_flatten()
        .boxed()
    }

    /// Creates the secret `key` with `value`, or replaces its value.
    pub async fn add(
        &self,
        key: &str,
        value: &[u8],
        options: &SecretOptions,
    ) -> Result<(), SecretsError> {
        if key.is_empty() {
            return Err(SecretsError::InvalidArgument("empty secret key".into()));
        }
        let body = AddSecretRequest {
            key: key.to_owned(),
            value: base64::engine::general_purpose::STANDARD.encode(value),
            org_name: options.org.resolve(&self.config.uri_context()),
        };
        self.request(
            &endpoints::SECRETS_ADD,
            options.cluster_name.as_deref(),
            endpoints::SECRETS_ADD.path,
        )?
        .json(&body)
        .send()
        .await?;
        Ok(())
    }

    /// Removes the secret `key`.
    pub async fn rm(&self, key: &str, options: &SecretOptions) -> Result<(), SecretsError> {
        if key.is_empty() || key.contains('/') {
            return Err(SecretsError::InvalidArgument(format!(
                "invalid secret key {key:?}"
            )));
        }
        let mut request = self.request(
            &endpoints::SECRETS_RM,
            options.cluster_name.as_deref(),
            &paths::secrets_rm(key),
        )?;
        if let Some(org) = options.org.resolve(&self.config.uri_context()) {
            request = request.query(query::ORG_NAME, org);
        }
        request.send().await?;
        Ok(())
    }
}
