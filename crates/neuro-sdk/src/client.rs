//! [`Client`] and [`Factory`]: the entry points of the SDK.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use neuro_blob::Buckets;
use neuro_config::login::CallbackError;
use neuro_config::plugins::{ConfigBuilder, Plugin};
use neuro_config::user_config::UserConfig;
use neuro_config::{Config, ConfigFactory};
use neuro_disks::Disks;
use neuro_http::TransportOptions;
use neuro_images::Images;
use neuro_jobs::Jobs;
use neuro_secrets::Secrets;
use neuro_storage::Storage;
use neuro_users::{ServiceAccounts, Users};
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
    secrets: Secrets,
    disks: Disks,
    users: Users,
    service_accounts: ServiceAccounts,
    images: Images,
    buckets: Buckets,
}

impl Client {
    /// A client for a loaded configuration.
    pub fn new(config: Config) -> Self {
        Self {
            jobs: Jobs::new(config.clone()),
            storage: Storage::new(config.clone()),
            secrets: Secrets::new(config.clone()),
            disks: Disks::new(config.clone()),
            users: Users::new(config.clone()),
            service_accounts: ServiceAccounts::new(config.clone()),
            images: Images::new(config.clone()),
            buckets: Buckets::new(config.clone()),
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

    /// Switches to cluster `name` (stored for later clients too); every API of
    /// this client then works on it. See [`Config::switch_cluster`].
    pub async fn switch_cluster(&mut self, name: &str) -> Result<(), Error> {
        let config = self.config.switch_cluster(name).await?;
        *self = Client::new(config);
        Ok(())
    }

    /// Acts for org `name` (`None`: no org) from now on (stored). See
    /// [`Config::switch_org`].
    pub async fn switch_org(&mut self, name: Option<&str>) -> Result<(), Error> {
        let config = self.config.switch_org(name).await?;
        *self = Client::new(config);
        Ok(())
    }

    /// Fetches the server configuration again and stores it. See
    /// [`Config::fetch`].
    pub async fn fetch_config(&mut self) -> Result<(), Error> {
        let config = self.config.fetch().await?;
        *self = Client::new(config);
        Ok(())
    }

    /// The Secrets API.
    pub fn secrets(&self) -> &Secrets {
        &self.secrets
    }

    /// The Disks API.
    pub fn disks(&self) -> &Disks {
        &self.disks
    }

    /// The Buckets API, with blob operations and transfers.
    pub fn buckets(&self) -> &Buckets {
        &self.buckets
    }

    /// The Users API: permissions, shares and roles.
    pub fn users(&self) -> &Users {
        &self.users
    }

    /// The ServiceAccounts API.
    pub fn service_accounts(&self) -> &ServiceAccounts {
        &self.service_accounts
    }

    /// The Images API: the registry, and push/pull through a Docker engine.
    pub fn images(&self) -> &Images {
        &self.images
    }
}

/// Logs in and out, and makes [`Client`]s from the stored configuration.
///
/// The configuration directory is `~/.neuro` unless `$NEUROMATION_CONFIG` or
/// [`Factory::with_path`] says otherwise. It is shared with the Python CLI: after
/// `neuro login`, [`Factory::get`] works at once.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let example = neuro_local::examples::start().await?;
/// use neuro_sdk::Factory;
///
/// let client = Factory::new().get().await?;
/// println!("logged in as {} on {}", client.username(), client.cluster_name());
/// # drop(client); example.shutdown().await; Ok(()) }
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

    /// Registers a plugin that extends the accepted user-config schema
    /// (see [`neuro_config::plugins`]). This replaces the Python SDK's entry-point
    /// discovery: register every plugin explicitly before [`Factory::get`].
    ///
    /// ```
    /// use neuro_sdk::config::plugins::{ConfigBuilder, ConfigScope};
    /// use neuro_sdk::{ConfigError, Factory};
    ///
    /// fn my_plugin(config: &mut ConfigBuilder) -> Result<(), ConfigError> {
    ///     config.define_str("my-tool", "profile", ConfigScope::All)?;
    ///     config.define_int_list("my-tool", "ports", ConfigScope::Global)
    /// }
    ///
    /// let factory = Factory::with_path("/tmp/neuro-doc-config").with_plugin(&my_plugin).unwrap();
    /// assert!(factory.config_schema().param("my-tool", "ports").is_some());
    /// ```
    pub fn with_plugin(self, plugin: &dyn Plugin) -> Result<Self, Error> {
        Ok(Self {
            inner: self.inner.with_plugin(plugin)?,
        })
    }

    /// The accepted user-config schema (the CLI's plus the plugins').
    pub fn config_schema(&self) -> &ConfigBuilder {
        self.inner.config_schema()
    }

    /// Looks for the project `.neuro.toml` from `dir` upwards (default: the
    /// current directory).
    pub fn project_dir(self, dir: impl Into<PathBuf>) -> Self {
        Self {
            inner: self.inner.project_dir(dir),
        }
    }

    /// How long the OAuth logins wait for the authorization code (default 60 s).
    pub fn auth_code_timeout(self, timeout: Duration) -> Self {
        Self {
            inner: self.inner.auth_code_timeout(timeout),
        }
    }

    /// The merged user configuration, without logging in.
    pub fn load_user_config(&self) -> Result<UserConfig, Error> {
        Ok(self.inner.load_user_config()?)
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

    /// Browser login (OAuth2 with PKCE): `show_browser_cb` gets the URL to open.
    /// See [`ConfigFactory::login`].
    pub async fn login<F, Fut>(&self, show_browser_cb: F, url: &Url) -> Result<(), Error>
    where
        F: FnOnce(Url) -> Fut,
        Fut: Future<Output = ()>,
    {
        Ok(self.inner.login(show_browser_cb, url).await?)
    }

    /// Headless login: `get_auth_code_cb` gets the URL to open and returns the
    /// code the platform shows. See [`ConfigFactory::login_headless`].
    pub async fn login_headless<F, Fut, E>(
        &self,
        get_auth_code_cb: F,
        url: &Url,
    ) -> Result<(), Error>
    where
        F: FnOnce(Url) -> Fut,
        Fut: Future<Output = Result<String, E>>,
        E: Into<CallbackError>,
    {
        Ok(self.inner.login_headless(get_auth_code_cb, url).await?)
    }

    /// Logs in with a job's passed config (`data`, or `NEURO_PASSED_CONFIG`).
    pub async fn login_with_passed_config(&self, data: Option<&str>) -> Result<(), Error> {
        Ok(self.inner.login_with_passed_config(data).await?)
    }

    /// Logs out in the browser (`show_browser_cb` gets the logout URL) and
    /// removes the stored configuration.
    pub async fn logout_with_browser<F, Fut>(&self, show_browser_cb: F) -> Result<(), Error>
    where
        F: FnOnce(Url) -> Fut,
        Fut: Future<Output = ()>,
    {
        Ok(self.inner.logout_with_browser(show_browser_cb).await?)
    }

    /// A client from the stored configuration. Makes no network request (an
    /// expired token is refreshed on first use); inside a job with
    /// `NEURO_PASSED_CONFIG` and no stored config, logs in with it first.
    pub async fn get(&self) -> Result<Client, Error> {
        Ok(Client::new(self.inner.load().await?))
    }

    /// Removes the stored configuration.
    pub async fn logout(&self) -> Result<(), Error> {
        Ok(self.inner.logout().await?)
    }
}
