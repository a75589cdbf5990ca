//! [`ConfigFactory`]: logging in, loading and logging out.

use std::path::{Path, PathBuf};

use neuro_http::{Transport, TransportOptions};
use neuro_types::config::{AuthConfig, Cluster, ServerConfig};
use neuro_types::wire::stored_config::{StoredAuthConfig, StoredCluster, SDK_VERSION};
use url::Url;

use crate::config::{Config, ConfigParts};
use crate::server::fetch_server_config;
use crate::store::{self, StoredRow};
use crate::token::AuthToken;
use crate::ConfigError;

/// Environment variable that overrides the config directory.
pub const CONFIG_ENV_NAME: &str = "NEUROMATION_CONFIG";

/// The config directory used when neither a path nor [`CONFIG_ENV_NAME`] is given.
pub const DEFAULT_CONFIG_DIR: &str = "~/.neuro";

/// The API URL logged in to when none is given, as in the Python SDK.
pub const DEFAULT_API_URL: &str = "https://staging.neu.ro/api/v1";

/// Logs in, loads the stored configuration, and logs out.
///
/// The config directory holds a SQLite `db` in the layout of the Python CLI, so a
/// login made with `neuro login` serves this SDK and the other way round.
///
/// ```no_run
/// # async fn demo() -> Result<(), neuro_config::ConfigError> {
/// use neuro_config::ConfigFactory;
///
/// let factory = ConfigFactory::new();
/// if !factory.is_config_present() {
///     let url = url::Url::parse("http://127.0.0.1:8080/api/v1").expect("valid URL");
///     factory.login_with_token("<token>", &url).await?;
/// }
/// let config = factory.load().await?;
/// println!("{} on {}", config.username(), config.cluster_name());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ConfigFactory {
    path: PathBuf,
    options: TransportOptions,
}

impl Default for ConfigFactory {
    fn default() -> Self {
        Self::new()
    }
}

impl ConfigFactory {
    /// A factory for the default config directory: `$NEUROMATION_CONFIG` if set,
    /// else `~/.neuro`.
    pub fn new() -> Self {
        Self::with_path(default_config_path())
    }

    /// A factory for the given config directory (`~` is expanded).
    pub fn with_path(path: impl AsRef<Path>) -> Self {
        Self {
            path: expand_home(path.as_ref()),
            options: TransportOptions::default(),
        }
    }

    /// Uses these transport settings (timeouts, user agent, TLS) for every client
    /// this factory makes.
    pub fn transport_options(mut self, options: TransportOptions) -> Self {
        self.options = options;
        self
    }

    /// The config directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether a stored config exists in the directory.
    pub fn is_config_present(&self) -> bool {
        store::is_present(&self.path)
    }

    /// Logs in with an existing token: `GET {url}/config` with the token must
    /// answer `authorized: true`; the token is then stored as non-expiring, with
    /// the first cluster (and its first org) as the current one.
    ///
    /// Fails with [`ConfigError::AlreadyExists`] when a config is present: log out
    /// first.
    pub async fn login_with_token(&self, token: &str, url: &Url) -> Result<(), ConfigError> {
        if self.is_config_present() {
            return Err(ConfigError::AlreadyExists {
                path: self.path.clone(),
            });
        }
        let auth = AuthToken::non_expiring(token);
        // Check the token's shape before talking to the server.
        auth.username()?;
        let transport = self.transport()?;
        let server = fetch_server_config(&transport, url, Some(token)).await?;
        let row = stored_row(&self.path, url, &server, auth)?;
        store::save(&self.path, &row)
    }

    /// Reads the stored config and returns a ready [`Config`]. Makes no network
    /// request.
    pub async fn load(&self) -> Result<Config, ConfigError> {
        let path = self.path.clone();
        let row = tokio::task::spawn_blocking(move || store::load(&path))
            .await
            .map_err(|e| ConfigError::malformed(&self.path, format!("loader failed: {e}")))??;
        let parts = parts_from_row(&self.path, row)?;
        Config::new(parts, self.transport()?)
    }

    /// Removes the stored config (the `db` file and its WAL files, then the
    /// directory if nothing else is left in it).
    pub async fn logout(&self) -> Result<(), ConfigError> {
        store::remove(&self.path)
    }

    fn transport(&self) -> Result<Transport, ConfigError> {
        Ok(Transport::new(self.options.clone())?)
    }
}

fn stored_row(
    path: &Path,
    url: &Url,
    server: &ServerConfig,
    token: AuthToken,
) -> Result<StoredRow, ConfigError> {
    let json = |e: serde_json::Error| ConfigError::malformed(path, e.to_string());
    // The first cluster and its first org become current, as in the Python SDK.
    let (cluster_name, org_name) = match server.clusters.first() {
        Some(c) => (Some(c.name.clone()), c.orgs.first().cloned().flatten()),
        None => (None, None),
    };
    let clusters: Vec<StoredCluster> = server.clusters.iter().map(Cluster::to_stored).collect();
    Ok(StoredRow {
        auth_config: serde_json::to_string(&server.auth.to_stored()).map_err(json)?,
        token,
        url: url.as_str().to_owned(),
        admin_url: server.admin_url.as_ref().map(|u| u.as_str().to_owned()),
        version: SDK_VERSION.to_owned(),
        cluster_name,
        org_name,
        clusters: StoredCluster::list_to_json(&clusters).map_err(json)?,
    })
}

fn parts_from_row(path: &Path, row: StoredRow) -> Result<ConfigParts, ConfigError> {
    let malformed = |what: &str, e: &dyn std::fmt::Display| {
        ConfigError::malformed(path, format!("{what}: {e}"))
    };
    let auth: StoredAuthConfig =
        serde_json::from_str(&row.auth_config).map_err(|e| malformed("auth_config", &e))?;
    let auth = AuthConfig::from_stored(&auth).map_err(|e| malformed("auth_config", &e))?;
    let clusters = StoredCluster::list_from_json(&row.clusters)
        .map_err(|e| malformed("clusters", &e))?
        .iter()
        .map(Cluster::from_stored)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| malformed("clusters", &e))?;
    let api_url = Url::parse(&row.url).map_err(|e| malformed("url", &e))?;
    let admin_url = match row.admin_url.as_deref() {
        Some(u) if !u.is_empty() => Some(Url::parse(u).map_err(|e| malformed("admin_url", &e))?),
        _ => None,
    };
    Ok(ConfigParts {
        path: path.to_path_buf(),
        api_url,
        admin_url,
        auth,
        clusters,
        cluster_name: row.cluster_name,
        org_name: row.org_name,
        token: row.token,
    })
}

/// The config directory named by `$NEUROMATION_CONFIG`, else `~/.neuro`.
pub fn default_config_path() -> PathBuf {
    match std::env::var_os(CONFIG_ENV_NAME) {
        Some(path) if !path.is_empty() => expand_home(Path::new(&path)),
        _ => expand_home(Path::new(DEFAULT_CONFIG_DIR)),
    }
}

fn expand_home(path: &Path) -> PathBuf {
    let Ok(rest) = path.strip_prefix("~") else {
        return path.to_path_buf();
    };
    match std::env::var_os("HOME") {
        Some(home) if !home.is_empty() => PathBuf::from(home).join(rest),
        _ => path.to_path_buf(),
    }
}
