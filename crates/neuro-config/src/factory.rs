//! [`ConfigFactory`]: logging in, loading and logging out.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use neuro_http::{Transport, TransportOptions};
use neuro_types::config::{AuthConfig, Cluster, ServerConfig};
use neuro_types::uri::url_to_wire;
use neuro_types::wire::oauth::{PassedConfig, PASSED_CONFIG_ENV};
use neuro_types::wire::stored_config::{StoredAuthConfig, StoredCluster, SDK_VERSION};
use neuro_types::wire::ServerConfigPayload;
use url::Url;

use crate::config::{run_blocking, BearerFromSession, Config, ConfigParts, Session, Shared};
use crate::login::{CallbackError, DEFAULT_AUTH_CODE_TIMEOUT};
use crate::plugins::{ConfigBuilder, Plugin};
use crate::server::{fetch_server_config_payload, server_config_from_payload};
use crate::store::{self, StoredRow};
use crate::token::AuthToken;
use crate::user_config::{load_user_config, UserConfig};
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
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let example = neuro_local::examples::start().await?;
/// use neuro_config::ConfigFactory;
///
/// let factory = ConfigFactory::new();
/// if !factory.is_config_present() {
///     let url = url::Url::parse("http://127.0.0.1:8080/api/v1").expect("valid URL");
///     factory.login_with_token("<token>", &url).await?;
/// }
/// let config = factory.load().await?;
/// println!("{} on {}", config.username(), config.cluster_name());
/// # drop(config); example.shutdown().await; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ConfigFactory {
    path: PathBuf,
    options: TransportOptions,
    schema: Arc<ConfigBuilder>,
    project_dir: Option<PathBuf>,
    auth_code_timeout: Duration,
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
            schema: Arc::new(ConfigBuilder::with_cli_schema()),
            project_dir: None,
            auth_code_timeout: DEFAULT_AUTH_CODE_TIMEOUT,
        }
    }

    /// Registers a plugin: it extends the accepted user-config schema (which
    /// starts as the `neuro` CLI's). Fails when the plugin defines a parameter
    /// twice or touches `alias`.
    pub fn with_plugin(mut self, plugin: &dyn Plugin) -> Result<Self, ConfigError> {
        plugin.register(Arc::make_mut(&mut self.schema))?;
        Ok(self)
    }

    /// The accepted user-config schema.
    pub fn config_schema(&self) -> &ConfigBuilder {
        &self.schema
    }

    /// Looks for the project `.neuro.toml` from `dir` upwards instead of from the
    /// current directory.
    pub fn project_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.project_dir = Some(dir.into());
        self
    }

    /// How long [`login`](Self::login) and [`login_headless`](Self::login_headless)
    /// wait for the authorization code (default 60 s, as the Python SDK).
    pub fn auth_code_timeout(mut self, timeout: Duration) -> Self {
        self.auth_code_timeout = timeout;
        self
    }

    /// The merged user configuration (`user.toml` of the config directory and
    /// the project's `.neuro.toml`), without logging in.
    pub fn load_user_config(&self) -> Result<UserConfig, ConfigError> {
        load_user_config(
            &self.path,
            self.effective_project_dir().as_deref(),
            &self.schema,
        )
    }

    fn effective_project_dir(&self) -> Option<PathBuf> {
        self.project_dir
            .clone()
            .or_else(|| std::env::current_dir().ok())
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
        self.refuse_existing()?;
        let auth = AuthToken::non_expiring(token);
        // Check the token's shape before talking to the server.
        auth.username()?;
        let transport = self.transport()?;
        self.finish_login(&transport, url, auth).await
    }

    /// Browser login (OAuth2 authorization code with PKCE): serves the callback
    /// on the first free loopback port of the server's `callback_urls`, calls
    /// `show_browser_cb` with the authorize URL (open it in a browser), waits
    /// for the code, exchanges it for tokens and stores the config.
    ///
    /// ```no_run
    /// # // no_run: the OAuth flow waits for a user to log in through a browser
    /// # async fn demo() -> Result<(), neuro_config::ConfigError> {
    /// let factory = neuro_config::ConfigFactory::new();
    /// let url = url::Url::parse("http://127.0.0.1:8080/api/v1").expect("valid URL");
    /// factory
    ///     .login(|auth_url| async move { println!("Open {auth_url} in a browser") }, &url)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn login<F, Fut>(&self, show_browser_cb: F, url: &Url) -> Result<(), ConfigError>
    where
        F: FnOnce(Url) -> Fut,
        Fut: Future<Output = ()>,
    {
        self.refuse_existing()?;
        let transport = self.transport()?;
        let unauthorized = fetch_server_config(&transport, url).await?;
        let token = crate::login::browser_login(
            &transport,
            &unauthorized.auth,
            show_browser_cb,
            self.auth_code_timeout,
        )
        .await?;
        self.finish_login(&transport, url, token).await
    }

    /// Headless login: `get_auth_code_cb` receives the authorize URL (the user
    /// opens it anywhere; the platform then shows a code) and returns the code.
    ///
    /// ```no_run
    /// # // no_run: waits for a user to paste the code a browser login shows
    /// # async fn demo() -> Result<(), neuro_config::ConfigError> {
    /// let factory = neuro_config::ConfigFactory::new();
    /// let url = url::Url::parse("http://127.0.0.1:8080/api/v1").expect("valid URL");
    /// factory
    ///     .login_headless(
    ///         |auth_url| async move {
    ///             println!("Open {auth_url} and paste the code:");
    ///             let mut code = String::new();
    ///             std::io::stdin().read_line(&mut code).map(|_| code)
    ///         },
    ///         &url,
    ///     )
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn login_headless<F, Fut, E>(
        &self,
        get_auth_code_cb: F,
        url: &Url,
    ) -> Result<(), ConfigError>
    where
        F: FnOnce(Url) -> Fut,
        Fut: Future<Output = Result<String, E>>,
        E: Into<CallbackError>,
    {
        self.refuse_existing()?;
        let transport = self.transport()?;
        let unauthorized = fetch_server_config(&transport, url).await?;
        let token = crate::login::headless_login(
            &transport,
            &unauthorized.auth,
            get_auth_code_cb,
            self.auth_code_timeout,
        )
        .await?;
        self.finish_login(&transport, url, token).await
    }

    /// Logs in with the config a platform job receives in `NEURO_PASSED_CONFIG`
    /// (`data`, or the variable when `None`): a token, an API URL and the job's
    /// cluster, which becomes the current one.
    ///
    /// ```no_run
    /// # // no_run: reads the login a job started with `pass_config` finds in its environment
    /// # async fn demo() -> Result<(), neuro_config::ConfigError> {
    /// // Inside a job started with `pass_config`:
    /// let factory = neuro_config::ConfigFactory::with_path("/tmp/job-config");
    /// factory.login_with_passed_config(None).await?;
    /// let config = factory.load().await?;
    /// println!("running as {}", config.username());
    /// # Ok(()) }
    /// ```
    pub async fn login_with_passed_config(&self, data: Option<&str>) -> Result<(), ConfigError> {
        let data = match data {
            Some(data) => data.to_owned(),
            None => std::env::var(PASSED_CONFIG_ENV).map_err(|_| ConfigError::PassedConfig {
                reason: format!("Config env variable {PASSED_CONFIG_ENV} is not present"),
            })?,
        };
        let passed = PassedConfig::decode(&data).map_err(|e| ConfigError::PassedConfig {
            reason: format!("Data in passed config is malformed: {e}"),
        })?;
        let url = Url::parse(&passed.url).map_err(|e| ConfigError::PassedConfig {
            reason: format!("Data in passed config is malformed: url: {e}"),
        })?;
        self.login_with_token(&passed.token, &url).await?;
        let config = self.load_stored().await?;
        if config.cluster_name() != passed.cluster {
            config.switch_cluster(&passed.cluster).await?;
        }
        Ok(())
    }

    /// Reads the stored config and returns a ready [`Config`]. Makes no network
    /// request (a token that is due is refreshed on first use).
    ///
    /// With no stored config and `NEURO_PASSED_CONFIG` set (inside a job), logs
    /// in with the passed config first, as the Python SDK does.
    pub async fn load(&self) -> Result<Config, ConfigError> {
        if !self.is_config_present() && std::env::var_os(PASSED_CONFIG_ENV).is_some() {
            self.login_with_passed_config(None).await?;
        }
        self.load_stored().await
    }

    async fn load_stored(&self) -> Result<Config, ConfigError> {
        let row = run_blocking(&self.path, store::load).await?;
        let token = row.token.clone();
        let parts = parts_from_row(&self.path, row)?;
        let plain = self.transport()?;
        let session = Arc::new(Session::new(
            self.path.clone(),
            parts.auth.clone(),
            token,
            plain.clone(),
        ));
        let transport = plain.with_auth(Arc::new(BearerFromSession(Arc::clone(&session))));
        let shared = Arc::new(Shared {
            session,
            transport,
            schema: Arc::clone(&self.schema),
            project_dir: self.effective_project_dir(),
        });
        Config::new(parts, shared)
    }

    /// Removes the stored config (the `db` file and its WAL files, then the
    /// directory if nothing else is left in it).
    pub async fn logout(&self) -> Result<(), ConfigError> {
        store::remove(&self.path)
    }

    /// Logs out in the browser too: calls `show_browser_cb` with the platform's
    /// logout URL (skipped when the stored config is unreadable), then removes
    /// the stored config.
    pub async fn logout_with_browser<F, Fut>(&self, show_browser_cb: F) -> Result<(), ConfigError>
    where
        F: FnOnce(Url) -> Fut,
        Fut: Future<Output = ()>,
    {
        if let Ok(row) = run_blocking(&self.path, store::load).await {
            if let Ok(parts) = parts_from_row(&self.path, row) {
                show_browser_cb(crate::login::logout_url(&parts.auth)).await;
            }
        }
        self.logout().await
    }

    fn refuse_existing(&self) -> Result<(), ConfigError> {
        if self.is_config_present() {
            return Err(ConfigError::AlreadyExists {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    /// Fetches `/config` with the new token and stores the login.
    async fn finish_login(
        &self,
        transport: &Transport,
        url: &Url,
        token: AuthToken,
    ) -> Result<(), ConfigError> {
        let payload = fetch_server_config_payload(transport, url, Some(&token.token)).await?;
        let server = server_config_from_payload(&payload)?;
        let row = stored_row(&self.path, url, &server, &payload, token)?;
        let path = self.path.clone();
        run_blocking(&path, move |path| store::save(path, &row)).await
    }

    fn transport(&self) -> Result<Transport, ConfigError> {
        Ok(Transport::new(self.options.clone())?)
    }
}

/// The row the Python CLI stores for this login (`Factory._gen_config`, `_save`).
///
/// JSON is written as `json.dumps` writes it, and URLs as `str(URL(...))` does:
/// the text the server sent (a parsed [`Url`] no longer knows whether `https://h`
/// came with a trailing slash). So the database is the same whichever client
/// logged in.
pub(crate) fn stored_row(
    path: &Path,
    url: &Url,
    server: &ServerConfig,
    payload: &ServerConfigPayload,
    token: AuthToken,
) -> Result<StoredRow, ConfigError> {
    let json = |e: serde_json::Error| ConfigError::malformed(path, e.to_string());
    // The first cluster and its first org become current, as in the Python SDK.
    let (cluster_name, org_name) = match server.clusters.first() {
        Some(c) => (Some(c.name.clone()), c.orgs.first().cloned().flatten()),
        None => (None, None),
    };
    let clusters: Vec<StoredCluster> = server
        .clusters
        .iter()
        .map(|cluster| {
            let mut stored = cluster.to_stored();
            // A repeated name: the last one wins, as in the SDK's dict.
            if let Some(raw) = payload
                .clusters
                .iter()
                .rev()
                .find(|p| p.name == cluster.name)
            {
                stored.registry_url = as_received(&raw.registry_url, &cluster.registry_url);
                stored.storage_url = as_received(&raw.storage_url, &cluster.storage_url);
                stored.users_url = as_received(&raw.users_url, &cluster.users_url);
                stored.monitoring_url = as_received(&raw.monitoring_url, &cluster.monitoring_url);
                stored.secrets_url = as_received(&raw.secrets_url, &cluster.secrets_url);
                stored.disks_url = as_received(&raw.disks_url, &cluster.disks_url);
                stored.buckets_url = as_received(&raw.buckets_url, &cluster.buckets_url);
            }
            stored
        })
        .collect();
    let model = &server.auth;
    let mut auth = model.to_stored();
    auth.auth_url = as_received(&payload.auth_url, &model.auth_url);
    auth.token_url = as_received(&payload.token_url, &model.token_url);
    auth.logout_url = as_received(&payload.logout_url, &model.logout_url);
    auth.headless_callback_url =
        as_received(&payload.headless_callback_url, &model.headless_callback_url);
    if let (Some(raw), Some(parsed)) = (&payload.success_redirect_url, &model.success_redirect_url)
    {
        auth.success_redirect_url = Some(as_received(raw, parsed));
    }
    if let Some(raw) = payload.callback_urls.as_ref() {
        if raw.len() == model.callback_urls.len() {
            auth.callback_urls = raw
                .iter()
                .zip(&model.callback_urls)
                .map(|(raw, parsed)| as_received(raw, parsed))
                .collect();
        }
    }
    let admin_url = server
        .admin_url
        .as_ref()
        .map(|parsed| match &payload.admin_url {
            Some(raw) => as_received(raw, parsed),
            None => url_to_wire(parsed),
        });
    Ok(StoredRow {
        auth_config: auth.to_json().map_err(json)?,
        token,
        url: url_to_wire(url),
        admin_url,
        version: SDK_VERSION.to_owned(),
        cluster_name,
        org_name,
        clusters: StoredCluster::list_to_json(&clusters).map_err(json)?,
    })
}

/// `str(URL(raw))`: the text as received when it is the URL the model holds,
/// else the model's URL written the yarl way.
fn as_received(raw: &str, parsed: &Url) -> String {
    match Url::parse(raw) {
        Ok(url) if &url == parsed => raw.to_owned(),
        _ => url_to_wire(parsed),
    }
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
    })
}

/// `GET /config` without a token: the OAuth settings.
async fn fetch_server_config(
    transport: &Transport,
    url: &Url,
) -> Result<ServerConfig, ConfigError> {
    let payload = fetch_server_config_payload(transport, url, None).await?;
    server_config_from_payload(&payload)
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use neuro_types::wire::ServerConfigPayload;

    /// A `/config` answer with two clusters, orgs, every preset shape and a
    /// non-ASCII string.
    const SERVER_CONFIG: &str = r#"{"authorized": true,
     "auth_url": "https://auth.example/authorize", "token_url": "https://auth.example/oauth/token",
     "logout_url": "https://auth.example/v2/logout", "client_id": "CID", "audience": "https://platform.example/Ünï",
     "headless_callback_url": "https://platform.example/oauth/show-code",
     "callback_urls": ["http://127.0.0.1:54540", "http://127.0.0.1:54541"],
     "admin_url": "https://admin.example",
     "clusters": [
      {"name": "first", "orgs": ["myorg", null],
       "registry_url": "https://registry.first.example/", "storage_url": "http://host/storage",
       "users_url": "https://first.example/users", "monitoring_url": "https://first.example/jobs",
       "secrets_url": "https://first.example/secrets", "disks_url": "https://first.example/disk",
       "buckets_url": "https://first.example/buckets",
       "resource_presets": [
         {"name": "cpu-small", "credits_per_hour": "1.5", "cpu": 0.5, "memory": 2147483648},
         {"name": "gpu-k80", "credits_per_hour": "10", "cpu": 4.0, "memory": 17179869184, "gpu": 1,
          "gpu_model": "nvidia-tesla-k80", "scheduler_enabled": true, "preemptible_node": true},
         {"name": "tpu", "cpu": 0.0001, "memory": 1048576, "tpu": {"type": "v2-8", "software_version": "1.14"}}]},
      {"name": "second", "registry_url": "https://registry.second.example", "storage_url": "http://host/storage2",
       "users_url": "https://second.example/users", "monitoring_url": "https://second.example/jobs",
       "secrets_url": "https://second.example/secrets", "disks_url": "https://second.example/disk",
       "buckets_url": "https://second.example/buckets", "resource_presets": []}]}"#;

    #[test]
    fn login_row_is_what_the_python_cli_stores() {
        let payload: ServerConfigPayload = serde_json::from_str(SERVER_CONFIG).unwrap();
        let server = ServerConfig::from_payload(&payload).unwrap();
        let url = Url::parse("http://host:1234").unwrap();
        let row = stored_row(
            Path::new("/cfg"),
            &url,
            &server,
            &payload,
            AuthToken::non_expiring("t"),
        )
        .unwrap();
        // Expected values: neuro-sdk 22.7.1 `_serialize_auth_config`,
        // `_serialize_clusters` and `str(URL)` on the same answer.
        assert_eq!(
            row.auth_config,
            r#"{"auth_url": "https://auth.example/authorize", "token_url": "https://auth.example/oauth/token", "logout_url": "https://auth.example/v2/logout", "client_id": "CID", "audience": "https://platform.example/\u00dcn\u00ef", "headless_callback_url": "https://platform.example/oauth/show-code", "success_redirect_url": null, "callback_urls": ["http://127.0.0.1:54540", "http://127.0.0.1:54541"]}"#
        );
        assert_eq!(
            row.clusters,
            r#"[{"name": "first", "orgs": ["myorg", null], "registry_url": "https://registry.first.example/", "storage_url": "http://host/storage", "users_url": "https://first.example/users", "monitoring_url": "https://first.example/jobs", "secrets_url": "https://first.example/secrets", "disks_url": "https://first.example/disk", "buckets_url": "https://first.example/buckets", "presets": [{"name": "cpu-small", "credits_per_hour": "1.5", "cpu": 0.5, "memory": 2147483648, "gpu": null, "gpu_model": null, "tpu_type": null, "tpu_software_version": null, "scheduler_enabled": false, "preemptible_node": false}, {"name": "gpu-k80", "credits_per_hour": "10", "cpu": 4.0, "memory": 17179869184, "gpu": 1, "gpu_model": "nvidia-tesla-k80", "tpu_type": null, "tpu_software_version": null, "scheduler_enabled": true, "preemptible_node": true}, {"name": "tpu", "credits_per_hour": "0", "cpu": 0.0001, "memory": 1048576, "gpu": null, "gpu_model": null, "tpu_type": "v2-8", "tpu_software_version": "1.14", "scheduler_enabled": false, "preemptible_node": false}]}, {"name": "second", "orgs": [null], "registry_url": "https://registry.second.example", "storage_url": "http://host/storage2", "users_url": "https://second.example/users", "monitoring_url": "https://second.example/jobs", "secrets_url": "https://second.example/secrets", "disks_url": "https://second.example/disk", "buckets_url": "https://second.example/buckets", "presets": []}]"#
        );
        assert_eq!(row.url, "http://host:1234");
        assert_eq!(row.admin_url.as_deref(), Some("https://admin.example"));
        assert_eq!(row.version, "22.7.1");
        // The first cluster and its first org become current.
        assert_eq!(row.cluster_name.as_deref(), Some("first"));
        assert_eq!(row.org_name.as_deref(), Some("myorg"));
        assert_eq!(row.token.refresh_token, "");
        let expected = crate::token::unix_now() + 94_608_000.0 * 0.75;
        assert!((row.token.expiration_time - expected).abs() < 60.0);

        // The row reads back into the same clusters.
        let parts = parts_from_row(Path::new("/cfg"), row).unwrap();
        assert_eq!(parts.clusters, server.clusters);
        assert_eq!(parts.auth, server.auth);
    }
}
