//! [`Client`] and [`Factory`]: the entry points of the SDK.

use std::path::Path;

use neuro_config::{Config, ConfigFactory};
use neuro_http::TransportOptions;
use neuro_jobs::Jobs;
use neuro_storage::Storage;
use url::Url;

use crate::Error;

/// A logged-in client: the configuration and one handle per API.
///
/// Cheap to clone; clones share the connection pool and the token.
#[derive(Debug, Clone)]
pub struct Client {
    config: Config,
    jobs: Jobs,
    storage: Storage,
}

impl Client {
    /// A client for a loaded configuration.
    pub fn new(config: Config) -> Self {
        Self {
            jobs: Jobs::new(config.clone()),
            storage: Storage::new(config.clone()),
            config,
        }
    }

    /// The configuration: user, clusters, presets, URLs.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The user name.
    pub fn username(&self) -> &str {
        self.config.username()
    }

    /// The current cluster.
    pub fn cluster_name(&self) -> &str {
        self.config.cluster_name()
    }

    /// The Jobs API.
    pub fn jobs(&self) -> &Jobs {
        &self.jobs
    }

    /// The Storage API.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }
}

/// Logs in and out, and makes [`Client`]s from the stored configuration.
///
/// The configuration directory is `~/.neuro` unless `$NEUROMATION_CONFIG` or
/// [`Factory::with_path`] says otherwise. It is shared with the Python CLI: after
/// `neuro login`, [`Factory::get`] works at once.
///
/// ```no_run
/// # async fn demo() -> Result<(), neuro_sdk::Error> {
/// use neuro_sdk::Factory;
///
/// let client = Factory::new().get().await?;
/// println!("logged in as {} on {}", client.username(), client.cluster_name());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Factory {
    inner: ConfigFactory,
}

impl Factory {
    /// A factory for the default config directory.
    pub fn new() -> Self {
        Self {
            inner: ConfigFactory::new(),
        }
    }

    /// A factory for the config directory `path` (`~` is expanded).
    pub fn with_path(path: impl AsRef<Path>) -> Self {
        Self {
            inner: ConfigFactory::with_path(path),
        }
    }

    /// Uses these transport settings (timeouts, user agent, TLS) for the clients
    /// this factory makes. The defaults match the Python SDK: 60 s to connect and
    /// 60 s of silence on a read.
    pub fn transport_options(self, options: TransportOptions) -> Self {
        Self {
            inner: self.inner.transport_options(options),
        }
    }

    /// The config directory.
    pub fn path(&self) -> &Path {
        self.inner.path()
    }

    /// Whether a stored configuration exists.
    pub fn is_config_present(&self) -> bool {
        self.inner.is_config_present()
    }

    /// Logs in with an existing token at the API URL `url`
    /// (e.g. `https://host/api/v1`), and stores the configuration.
    pub async fn login_with_token(&self, token: &str, url: &Url) -> Result<(), Error> {
        Ok(self.inner.login_with_token(token, url).await?)
    }

    /// A client from the stored configuration. Makes no network request.
    pub async fn get(&self) -> Result<Client, Error> {
        Ok(Client::new(self.inner.load().await?))
    }

    /// Removes the stored configuration.
    pub async fn logout(&self) -> Result<(), Error> {
        Ok(self.inner.logout().await?)
    }
}
