//! [`Config`]: the loaded configuration of a logged-in client.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use neuro_http::{AuthProvider, BoxFuture, Transport};
use neuro_types::config::{AuthConfig, Cluster, Presets};
use neuro_types::image::ImageContext;
use neuro_types::uri::UriContext;
use url::Url;

use crate::token::AuthToken;
use crate::ConfigError;

/// The configuration of a logged-in client: who the user is, which clusters and
/// presets they have, the service URLs, and the transport that carries their
/// token.
///
/// `Config` is a cheap handle (an `Arc` inside); clones share the token.
#[derive(Clone)]
pub struct Config {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    api_url: Url,
    admin_url: Option<Url>,
    auth: AuthConfig,
    clusters: Vec<Cluster>,
    cluster_name: String,
    /// The entry of `clusters` named `cluster_name`.
    current: Cluster,
    org_name: Option<String>,
    username: String,
    image_context: ImageContext,
    token: Arc<RwLock<AuthToken>>,
    transport: Transport,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("path", &self.inner.path)
            .field("api_url", &self.inner.api_url.as_str())
            .field("username", &self.inner.username)
            .field("cluster_name", &self.inner.cluster_name)
            .field("org_name", &self.inner.org_name)
            .finish_non_exhaustive()
    }
}

/// Everything [`Config::new`] needs; built by the config factory from the stored
/// config.
pub(crate) struct ConfigParts {
    pub path: PathBuf,
    pub api_url: Url,
    pub admin_url: Option<Url>,
    pub auth: AuthConfig,
    pub clusters: Vec<Cluster>,
    pub cluster_name: Option<String>,
    pub org_name: Option<String>,
    pub token: AuthToken,
}

impl Config {
    pub(crate) fn new(parts: ConfigParts, transport: Transport) -> Result<Self, ConfigError> {
        let username = parts.token.username()?;
        if parts.clusters.is_empty() {
            return Err(ConfigError::NoClusters);
        }
        let (cluster_name, current) = match parts.cluster_name {
            Some(name) => match parts.clusters.iter().find(|c| c.name == name) {
                Some(current) => (name.clone(), current.clone()),
                None => {
                    return Err(ConfigError::UnknownCluster {
                        name,
                        available: parts.clusters.iter().map(|c| c.name.clone()).collect(),
                    })
                }
            },
            None => return Err(ConfigError::NoClusters),
        };
        let uri_context = UriContext::new(
            username.clone(),
            cluster_name.clone(),
            parts.org_name.clone(),
        );
        let image_context = ImageContext::from_clusters(uri_context, &parts.clusters)
            .map_err(|e| ConfigError::malformed(&parts.path, e.to_string()))?;
        let token = Arc::new(RwLock::new(parts.token));
        let transport = transport.with_auth(Arc::new(BearerFromConfig {
            token: Arc::clone(&token),
        }));
        Ok(Self {
            inner: Arc::new(Inner {
                path: parts.path,
                api_url: parts.api_url,
                admin_url: parts.admin_url,
                auth: parts.auth,
                clusters: parts.clusters,
                cluster_name,
                current,
                org_name: parts.org_name,
                username,
                image_context,
                token,
                transport,
            }),
        })
    }

    /// The config directory this configuration was loaded from.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The user name, read from the token.
    pub fn username(&self) -> &str {
        &self.inner.username
    }

    /// The current cluster.
    pub fn cluster_name(&self) -> &str {
        &self.inner.cluster_name
    }

    /// The current org; `None` means the cluster is used directly.
    pub fn org_name(&self) -> Option<&str> {
        self.inner.org_name.as_deref()
    }

    /// All clusters available to the user, in the server's order.
    pub fn clusters(&self) -> &[Cluster] {
        &self.inner.clusters
    }

    /// The cluster called `name`, or the current one when `name` is `None`.
    pub fn cluster(&self, name: Option<&str>) -> Result<&Cluster, ConfigError> {
        let name = name.unwrap_or(&self.inner.cluster_name);
        self.inner
            .clusters
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| ConfigError::UnknownCluster {
                name: name.to_owned(),
                available: self.inner.clusters.iter().map(|c| c.name.clone()).collect(),
            })
    }

    /// The current cluster.
    pub fn current_cluster(&self) -> &Cluster {
        &self.inner.current
    }

    /// Resource presets of the current cluster.
    pub fn presets(&self) -> &Presets {
        &self.current_cluster().presets
    }

    /// The platform API URL logged in to (e.g. `https://host/api/v1`).
    pub fn api_url(&self) -> &Url {
        &self.inner.api_url
    }

    /// The admin API URL, if the platform has one.
    pub fn admin_url(&self) -> Option<&Url> {
        self.inner.admin_url.as_ref()
    }

    /// The OAuth2 settings of the platform.
    pub fn auth_config(&self) -> &AuthConfig {
        &self.inner.auth
    }

    /// Storage API URL of the current cluster.
    pub fn storage_url(&self) -> &Url {
        &self.current_cluster().storage_url
    }

    /// Monitoring API URL of the current cluster.
    pub fn monitoring_url(&self) -> &Url {
        &self.current_cluster().monitoring_url
    }

    /// Registry URL of the current cluster.
    pub fn registry_url(&self) -> &Url {
        &self.current_cluster().registry_url
    }

    /// The access token, for headers the transport does not add by itself.
    pub async fn token(&self) -> Result<String, ConfigError> {
        Ok(current_token(&self.inner.token).token)
    }

    /// The transport, already carrying this user's `Authorization` header.
    pub fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// The context that completes short URIs (`storage:data`) for this user.
    pub fn uri_context(&self) -> UriContext {
        UriContext::new(
            self.inner.username.clone(),
            self.inner.cluster_name.clone(),
            self.inner.org_name.clone(),
        )
    }

    /// The context that parses image references, with every cluster's registry.
    pub fn image_context(&self) -> &ImageContext {
        &self.inner.image_context
    }
}

fn current_token(token: &RwLock<AuthToken>) -> AuthToken {
    match token.read() {
        Ok(guard) => guard.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// Supplies `Authorization: Bearer <token>` from the config's token.
struct BearerFromConfig {
    token: Arc<RwLock<AuthToken>>,
}

impl AuthProvider for BearerFromConfig {
    fn authorization(&self) -> BoxFuture<'_, Result<Option<String>, neuro_http::Error>> {
        let token = current_token(&self.token);
        Box::pin(async move { Ok(Some(format!("Bearer {}", token.token))) })
    }
}
