//! [`Config`]: the loaded configuration of a logged-in client.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use neuro_http::{AuthProvider, BoxFuture, Transport};
use neuro_types::config::{AuthConfig, Cluster, Presets};
use neuro_types::endpoints::Base;
use neuro_types::image::ImageContext;
use neuro_types::uri::UriContext;
use url::Url;

use crate::plugins::ConfigBuilder;
use crate::token::AuthToken;
use crate::user_config::{load_user_config, UserConfig};
use crate::ConfigError;

/// The configuration of a logged-in client: who the user is, which clusters and
/// presets they have, the service URLs, and the transport that carries their
/// token.
///
/// `Config` is a cheap handle (an `Arc` inside); clones share the token. The
/// cluster and org are fixed for a value: [`Config::switch_cluster`] and
/// [`Config::switch_org`] store the choice and return a new `Config`.
///
/// A project's `.neuro.toml` may set `job.cluster-name` and `job.org-name`; they
/// win over the stored choice (and then cannot be switched), as in the Python SDK.
#[derive(Clone)]
pub struct Config {
    inner: Arc<Inner>,
}

struct Inner {
    parts: ConfigParts,
    /// The cluster in use: the project's `job.cluster-name`, else the stored one.
    cluster_name: String,
    /// The entry of `clusters` named `cluster_name`.
    current: Cluster,
    /// The org in use: the project's `job.org-name`, else the stored one.
    org_name: Option<String>,
    cluster_from_project: bool,
    org_from_project: bool,
    username: String,
    image_context: ImageContext,
    shared: Arc<Shared>,
}

/// What every `Config` made from one login shares: the token (and its refresh),
/// the transport, the user-config schema.
pub(crate) struct Shared {
    pub(crate) session: Arc<Session>,
    /// The transport with this user's `Authorization` header.
    pub(crate) transport: Transport,
    pub(crate) schema: Arc<ConfigBuilder>,
    /// Where the project `.neuro.toml` is looked for (upwards).
    pub(crate) project_dir: Option<PathBuf>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("path", &self.inner.parts.path)
            .field("api_url", &self.inner.parts.api_url.as_str())
            .field("username", &self.inner.username)
            .field("cluster_name", &self.inner.cluster_name)
            .field("org_name", &self.inner.org_name)
            .finish_non_exhaustive()
    }
}

/// Everything [`Config::new`] needs; built by the config factory from the stored
/// config.
#[derive(Clone)]
pub(crate) struct ConfigParts {
    pub path: PathBuf,
    pub api_url: Url,
    pub admin_url: Option<Url>,
    pub auth: AuthConfig,
    pub clusters: Vec<Cluster>,
    /// The stored current cluster.
    pub cluster_name: Option<String>,
    /// The stored current org.
    pub org_name: Option<String>,
}

impl Config {
    pub(crate) fn new(parts: ConfigParts, shared: Arc<Shared>) -> Result<Self, ConfigError> {
        let username = shared.session.current().username()?;
        if parts.clusters.is_empty() {
            return Err(ConfigError::NoClusters);
        }
        let user_config =
            load_user_config(&parts.path, shared.project_dir.as_deref(), &shared.schema)?;
        let cluster_from_project = user_config.cluster_name().is_some();
        let cluster_name = match user_config.cluster_name() {
            Some(name) => name.to_owned(),
            None => parts.cluster_name.clone().ok_or(ConfigError::NoClusters)?,
        };
        let current = find_cluster(&parts.clusters, &cluster_name)?.clone();
        let org_from_project = user_config.org_name().is_some();
        let org_name = match user_config.org_name() {
            Some(org) => org.map(str::to_owned),
            None => parts.org_name.clone(),
        };
        let uri_context = UriContext::new(username.clone(), cluster_name.clone(), org_name.clone());
        let image_context = ImageContext::from_clusters(uri_context, &parts.clusters)
            .map_err(|e| ConfigError::malformed(&parts.path, e.to_string()))?;
        Ok(Self {
            inner: Arc::new(Inner {
                parts,
                cluster_name,
                current,
                org_name,
                cluster_from_project,
                org_from_project,
                username,
                image_context,
                shared,
            }),
        })
    }

    /// Makes a new `Config` after the stored selection or clusters changed.
    fn with_parts(&self, parts: ConfigParts) -> Result<Self, ConfigError> {
        Config::new(parts, Arc::clone(&self.inner.shared))
    }

    /// Uses cluster `name` from now on (stored, so later clients use it too)
    /// and returns the configuration for it.
    ///
    /// The org is kept when the new cluster has it; otherwise "no org" if the
    /// cluster allows it, else its alphabetically first org. Refused when the
    /// project's `.neuro.toml` sets the cluster.
    ///
    /// ```no_run
    /// # // no_run: needs a login with a second cluster `other` and an org `my-org`
    /// # async fn demo() -> Result<(), neuro_config::ConfigError> {
    /// let config = neuro_config::ConfigFactory::new().load().await?;
    /// let config = config.switch_cluster("other").await?;
    /// let config = config.switch_org(Some("my-org")).await?;
    /// assert_eq!((config.cluster_name(), config.org_name()), ("other", Some("my-org")));
    /// # Ok(()) }
    /// ```
    pub async fn switch_cluster(&self, name: &str) -> Result<Config, ConfigError> {
        if self.inner.cluster_from_project {
            return Err(ConfigError::ProjectOverride { what: "cluster" });
        }
        let cluster = find_cluster(&self.inner.parts.clusters, name)?;
        let mut org = self.inner.org_name.clone();
        if !cluster.orgs.contains(&org) {
            org = if cluster.orgs.contains(&None) {
                None
            } else {
                let mut orgs = cluster.orgs.clone();
                orgs.sort_by(|a, b| a.as_deref().unwrap_or("").cmp(b.as_deref().unwrap_or("")));
                orgs.into_iter().next().flatten()
            };
        }
        self.store_selection(name.to_owned(), org).await
    }

    /// Acts for org `name` (`None`: no org) on the current cluster from now on
    /// (stored) and returns the configuration for it. Refused when the project's
    /// `.neuro.toml` sets the org, or the cluster has no such org.
    pub async fn switch_org(&self, name: Option<&str>) -> Result<Config, ConfigError> {
        if self.inner.org_from_project {
            return Err(ConfigError::ProjectOverride { what: "org" });
        }
        let orgs = &self.inner.current.orgs;
        let name = name.map(str::to_owned);
        if !orgs.contains(&name) {
            return Err(ConfigError::UnknownOrg {
                name,
                cluster: self.inner.cluster_name.clone(),
                available: orgs
                    .iter()
                    .map(|o| {
                        o.clone()
                            .unwrap_or_else(|| crate::user_config::NO_ORG.to_owned())
                    })
                    .collect(),
            });
        }
        let cluster = self
            .inner
            .parts
            .cluster_name
            .clone()
            .unwrap_or_else(|| self.inner.cluster_name.clone());
        self.store_selection(cluster, name).await
    }

    async fn store_selection(
        &self,
        cluster: String,
        org: Option<String>,
    ) -> Result<Config, ConfigError> {
        let path = self.inner.parts.path.clone();
        let (c, o) = (cluster.clone(), org.clone());
        run_blocking(&path, move |path| {
            crate::store::save_selection(path, &c, o.as_deref())
        })
        .await?;
        let mut parts = self.inner.parts.clone();
        parts.cluster_name = Some(cluster);
        parts.org_name = org;
        self.with_parts(parts)
    }

    /// Fetches `/config` again and stores the clusters it lists (presets, URLs,
    /// orgs may have changed); the current cluster must still be among them.
    pub async fn fetch(&self) -> Result<Config, ConfigError> {
        let token = self.token().await?;
        let parts = &self.inner.parts;
        let payload = crate::server::fetch_server_config_payload(
            &self.inner.shared.session.plain,
            &parts.api_url,
            Some(&token),
        )
        .await?;
        let server = crate::server::server_config_from_payload(&payload)?;
        if server.cluster(&self.inner.cluster_name).is_none() {
            return Err(ConfigError::UnknownCluster {
                name: self.inner.cluster_name.clone(),
                available: server.clusters.iter().map(|c| c.name.clone()).collect(),
            });
        }
        let mut row = crate::factory::stored_row(
            &parts.path,
            &parts.api_url,
            &server,
            &payload,
            self.inner.shared.session.current(),
        )?;
        row.cluster_name = parts.cluster_name.clone();
        row.org_name = parts.org_name.clone();
        let path = parts.path.clone();
        run_blocking(&path, move |path| crate::store::save(path, &row)).await?;
        let mut parts = parts.clone();
        parts.clusters = server.clusters;
        parts.admin_url = server.admin_url;
        self.with_parts(parts)
    }

    /// The merged user configuration (`user.toml` and the project's
    /// `.neuro.toml`), read now.
    pub fn get_user_config(&self) -> Result<UserConfig, ConfigError> {
        load_user_config(
            &self.inner.parts.path,
            self.inner.shared.project_dir.as_deref(),
            &self.inner.shared.schema,
        )
    }

    /// The config directory this configuration was loaded from.
    pub fn path(&self) -> &Path {
        &self.inner.parts.path
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
        &self.inner.parts.clusters
    }

    /// The cluster called `name`, or the current one when `name` is `None`.
    pub fn cluster(&self, name: Option<&str>) -> Result<&Cluster, ConfigError> {
        let name = name.unwrap_or(&self.inner.cluster_name);
        self.inner
            .parts
            .clusters
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| ConfigError::UnknownCluster {
                name: name.to_owned(),
                available: self
                    .inner
                    .parts
                    .clusters
                    .iter()
                    .map(|c| c.name.clone())
                    .collect(),
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
        &self.inner.parts.api_url
    }

    /// The admin API URL, if the platform has one.
    pub fn admin_url(&self) -> Option<&Url> {
        self.inner.parts.admin_url.as_ref()
    }

    /// The OAuth2 settings of the platform.
    pub fn auth_config(&self) -> &AuthConfig {
        &self.inner.parts.auth
    }

    /// Storage API URL of the current cluster.
    pub fn storage_url(&self) -> &Url {
        &self.current_cluster().storage_url
    }

    /// Monitoring API URL of the current cluster.
    pub fn monitoring_url(&self) -> &Url {
        &self.current_cluster().monitoring_url
    }

    /// Where the endpoints of `neuro_types::endpoints` on `base` live: that URL
    /// of the current cluster, of the OAuth settings, or the API URL.
    pub fn base_url(&self, base: Base) -> &Url {
        base.of_cluster(self.current_cluster())
            .or_else(|| base.of_auth(self.auth_config()))
            .unwrap_or_else(|| self.api_url())
    }

    /// [`Config::base_url`] on the cluster `cluster_name` (default: the current
    /// one); fails for a cluster the configuration does not know.
    pub fn base_url_on(&self, base: Base, cluster_name: Option<&str>) -> Result<&Url, ConfigError> {
        let cluster = self.cluster(cluster_name)?;
        Ok(base
            .of_cluster(cluster)
            .or_else(|| base.of_auth(self.auth_config()))
            .unwrap_or_else(|| self.api_url()))
    }

    /// Registry URL of the current cluster.
    pub fn registry_url(&self) -> &Url {
        &self.current_cluster().registry_url
    }

    /// The access token, for headers the transport does not add by itself;
    /// refreshed first (and the new one stored) when it has expired.
    pub async fn token(&self) -> Result<String, ConfigError> {
        self.inner.shared.session.token().await
    }

    /// The transport, already carrying this user's `Authorization` header.
    pub fn transport(&self) -> &Transport {
        &self.inner.shared.transport
    }

    /// The context that completes short URIs (`storage:data`) for this user.
    pub fn uri_context(&self) -> UriContext {
        UriContext::new(
            self.inner.username.clone(),
            self.inner.cluster_name.clone(),
            self.inner.org_name.clone(),
        )
    }

    /// A [`Parser`](neuro_types::parser::Parser) for this user, cluster and org:
    /// volumes, images, environment variables and URIs as users type them.
    pub fn parser(&self) -> neuro_types::parser::Parser {
        neuro_types::parser::Parser::new(self.inner.image_context.clone())
    }

    /// The context that parses image references, with every cluster's registry.
    pub fn image_context(&self) -> &ImageContext {
        &self.inner.image_context
    }
}

fn find_cluster<'a>(clusters: &'a [Cluster], name: &str) -> Result<&'a Cluster, ConfigError> {
    clusters
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| ConfigError::UnknownCluster {
            name: name.to_owned(),
            available: clusters.iter().map(|c| c.name.clone()).collect(),
        })
}

/// Runs a config-database call on a blocking thread.
pub(crate) async fn run_blocking<R: Send + 'static>(
    path: &Path,
    f: impl FnOnce(&Path) -> Result<R, ConfigError> + Send + 'static,
) -> Result<R, ConfigError> {
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || f(&owned))
        .await
        .map_err(|e| ConfigError::malformed(path, format!("config task failed: {e}")))?
}

/// The token of a login, refreshed before it expires and stored again.
pub(crate) struct Session {
    path: PathBuf,
    auth: AuthConfig,
    token: RwLock<AuthToken>,
    /// One refresh at a time in this process.
    refresh: tokio::sync::Mutex<()>,
    /// The transport without credentials (for `/config` and the token endpoint).
    pub(crate) plain: Transport,
}

impl Session {
    pub(crate) fn new(path: PathBuf, auth: AuthConfig, token: AuthToken, plain: Transport) -> Self {
        Self {
            path,
            auth,
            token: RwLock::new(token),
            refresh: tokio::sync::Mutex::new(()),
            plain,
        }
    }

    /// The token as it is now (maybe expired).
    pub(crate) fn current(&self) -> AuthToken {
        match self.token.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set(&self, token: AuthToken) {
        match self.token.write() {
            Ok(mut guard) => *guard = token,
            Err(poisoned) => *poisoned.into_inner() = token,
        }
    }

    /// A valid token: the current one, one another client stored after
    /// refreshing, or a freshly refreshed one (then stored).
    pub(crate) async fn token(&self) -> Result<String, ConfigError> {
        let token = self.current();
        if !token.is_expired() {
            return Ok(token.token);
        }
        let _one_at_a_time = self.refresh.lock().await;
        let token = self.current();
        if !token.is_expired() {
            return Ok(token.token);
        }
        // Another process sharing the config may have refreshed already.
        if let Ok(stored) = run_blocking(&self.path, crate::store::load_token).await {
            if !stored.is_expired() && stored.username().ok() == token.username().ok() {
                self.set(stored.clone());
                return Ok(stored.token);
            }
        }
        let fresh = crate::login::refresh_token(&self.plain, &self.auth, &token).await?;
        let stored = fresh.clone();
        if let Err(err) = run_blocking(&self.path, move |path| {
            crate::store::save_token(path, &stored)
        })
        .await
        {
            // As in the Python SDK, a config that cannot be written (removed by a
            // logout meanwhile) does not fail the request.
            tracing::warn!(error = %err, "cannot store the refreshed token");
        }
        self.set(fresh.clone());
        Ok(fresh.token)
    }
}

/// Supplies `Authorization: Bearer <token>`, refreshing the token when due.
pub(crate) struct BearerFromSession(pub(crate) Arc<Session>);

impl AuthProvider for BearerFromSession {
    fn authorization(&self) -> BoxFuture<'_, Result<Option<String>, neuro_http::Error>> {
        Box::pin(async move {
            match self.0.token().await {
                Ok(token) => Ok(Some(format!("Bearer {token}"))),
                Err(err) => Err(neuro_http::Error::Auth {
                    message: err.to_string(),
                    source: Some(Box::new(err)),
                }),
            }
        })
    }
}
