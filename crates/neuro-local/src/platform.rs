//! Starting and stopping a platform in-process: the entry point of tests, the
//! demo and the `neuro-local` binary.
//!
//! ```no_run
//! # async fn demo() -> Result<(), neuro_local::PlatformError> {
//! let platform = neuro_local::LocalPlatform::builder().start().await?;
//! println!("{} {}", platform.api_url(), platform.admin_user());
//! platform.shutdown().await;
//! # Ok(()) }
//! ```

use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::auth::{self, TokenIssuer, UserError};
use crate::client_config::{write_client_config, ClientConfigError};
use crate::db::Db;
use crate::jobs::JobService;
use crate::settings::{ClusterSpec, Settings, DEFAULT_ACCESS_TOKEN_TTL};
use crate::state::AppState;

/// Name of the file holding the admin user's token in the data directory.
pub const ADMIN_TOKEN_FILE: &str = "admin.token";

/// How long [`RunningPlatform::shutdown`] waits for open connections.
const GRACEFUL_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the platform could not start or a platform call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PlatformError {
    /// The data directory could not be prepared.
    #[error("cannot prepare data directory {path}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The state database or the signing key could not be opened.
    #[error("cannot open platform state")]
    State(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A user operation failed.
    #[error("user operation failed")]
    User(#[from] UserError),
    /// A token could not be issued or revoked.
    #[error("token operation failed")]
    Token(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The jobs service could not start.
    #[error("cannot start the jobs service")]
    Jobs(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The client configuration could not be written.
    #[error("cannot write the client configuration")]
    ClientConfig(#[from] ClientConfigError),
}

/// Entry point: `LocalPlatform::builder()...start().await`.
#[derive(Debug)]
pub struct LocalPlatform;

impl LocalPlatform {
    /// A builder with the defaults: a fresh temporary data directory,
    /// `127.0.0.1:0`, admin user `admin`, no client config.
    pub fn builder() -> LocalPlatformBuilder {
        LocalPlatformBuilder::default()
    }
}

/// Options of a platform to start.
#[derive(Debug, Clone)]
pub struct LocalPlatformBuilder {
    data_dir: Option<PathBuf>,
    listen: SocketAddr,
    admin_user: String,
    client_config_dir: Option<PathBuf>,
    public_url: Option<Url>,
    oauth_user: Option<String>,
    access_token_ttl: Duration,
    bucket_credentials_ttl: Duration,
    orgs: Vec<Option<String>>,
    extra_clusters: Vec<ClusterSpec>,
    external_registry: Option<Url>,
}

impl Default for LocalPlatformBuilder {
    fn default() -> Self {
        LocalPlatformBuilder {
            data_dir: None,
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            admin_user: "admin".to_owned(),
            client_config_dir: None,
            public_url: None,
            oauth_user: None,
            access_token_ttl: DEFAULT_ACCESS_TOKEN_TTL,
            bucket_credentials_ttl: crate::buckets::keys::TMP_CREDENTIALS_TTL,
            orgs: vec![None],
            extra_clusters: Vec::new(),
            external_registry: None,
        }
    }
}

impl LocalPlatformBuilder {
    /// Where state is kept. `None` (the default) uses a fresh temporary
    /// directory that is deleted when the platform is dropped.
    pub fn data_dir(mut self, dir: impl Into<Option<PathBuf>>) -> Self {
        self.data_dir = dir.into();
        self
    }

    /// The address to listen on; port 0 picks a free port.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Name of the admin user created on the first start of a data directory.
    pub fn admin_user(mut self, name: impl Into<String>) -> Self {
        self.admin_user = name.into();
        self
    }

    /// A client configuration directory (like `~/.neuro`) to fill with a
    /// ready-to-use login as the admin user, if it has no `db` yet.
    pub fn client_config_dir(mut self, dir: impl Into<Option<PathBuf>>) -> Self {
        self.client_config_dir = dir.into();
        self
    }

    /// The URL clients reach this server at, when it differs from the listen
    /// address (behind a reverse proxy, or a fault-injecting proxy in tests). The
    /// service URLs of `/config` are built from it. Default: `http://<listen addr>`.
    pub fn public_url(mut self, url: impl Into<Option<Url>>) -> Self {
        self.public_url = url.into();
        self
    }

    /// The user the OAuth authorize page approves (browser and headless login).
    /// Default: the admin user. Created on start if missing.
    pub fn oauth_user(mut self, name: impl Into<String>) -> Self {
        self.oauth_user = Some(name.into());
        self
    }

    /// `expires_in` of the access tokens the OAuth endpoints issue (default one
    /// day). The SDKs refresh after three quarters of it.
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_token_ttl = ttl;
        self
    }

    /// Lifetime of the temporary bucket credentials (default one hour);
    /// tests of credential refresh make it short.
    pub fn bucket_credentials_ttl(mut self, ttl: Duration) -> Self {
        self.bucket_credentials_ttl = ttl;
        self
    }

    /// Orgs of the default cluster (`None` = "no org"); default `[None]`. The
    /// first one is the one a login picks.
    pub fn orgs(mut self, orgs: Vec<Option<String>>) -> Self {
        self.orgs = orgs;
        self
    }

    /// Lists one more cluster in `/config`, sharing this platform's services, so
    /// that clients can switch clusters. None by default.
    pub fn extra_cluster(mut self, name: impl Into<String>, orgs: Vec<Option<String>>) -> Self {
        self.extra_clusters.push(ClusterSpec {
            name: name.into(),
            orgs,
        });
        self
    }

    /// Advertises `url` as the cluster's `registry_url` in `/config` instead of
    /// the built-in registry (e.g. a Docker registry run beside it). Jobs still
    /// run in their image's root file system only for images of the built-in one.
    pub fn external_registry(mut self, url: impl Into<Option<Url>>) -> Self {
        self.external_registry = url.into();
        self
    }

    /// Prepares the data directory, opens the state, binds the address and
    /// starts serving.
    pub async fn start(self) -> Result<RunningPlatform, PlatformError> {
        let (data_dir, temp_dir) = prepare_data_dir(self.data_dir)?;
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|source| PlatformError::Bind {
                addr: self.listen,
                source,
            })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| PlatformError::Bind {
                addr: self.listen,
                source,
            })?;
        let public_url = match self.public_url {
            Some(url) => url,
            None => base_url(local_addr)?,
        };
        let oauth_user = self
            .oauth_user
            .clone()
            .unwrap_or_else(|| self.admin_user.clone());
        let mut settings = Settings::new(data_dir.clone(), public_url);
        settings.oauth_user = Some(oauth_user.clone());
        settings.access_token_ttl = self.access_token_ttl;
        settings.bucket_credentials_ttl = self.bucket_credentials_ttl;
        if !self.orgs.is_empty() {
            settings.orgs = self.orgs.clone();
        }
        settings.extra_clusters = self.extra_clusters.clone();
        settings.external_registry = self.external_registry.clone();
        let settings = Arc::new(settings);
        let storage_dir = settings.storage_dir();
        std::fs::create_dir_all(&storage_dir).map_err(|source| PlatformError::DataDir {
            path: storage_dir.clone(),
            source,
        })?;

        let db = Db::open(&settings.db_path()).map_err(|e| PlatformError::State(e.into()))?;
        let tokens = Arc::new(
            TokenIssuer::open(&data_dir, db.clone()).map_err(|e| PlatformError::State(e.into()))?,
        );
        let admin_token = ensure_admin(&data_dir, &db, &tokens, &self.admin_user)?;
        auth::ensure_user(&db, &oauth_user)?;
        // Disks first: a job the jobs service takes over may mount them.
        if let Err(err) = crate::disks::restore(&db, &settings).await {
            tracing::warn!(error = %err, "cannot mount the disks");
        }
        let jobs = JobService::new(settings.clone(), db.clone())
            .map_err(|e| PlatformError::Jobs(e.into()))?;
        let storage_root = storage_dir
            .canonicalize()
            .map_err(|source| PlatformError::DataDir {
                path: storage_dir.clone(),
                source,
            })?;
        let state = AppState {
            settings: settings.clone(),
            storage_root: Arc::from(storage_root),
            db,
            tokens,
            jobs,
        };

        if let Some(dir) = &self.client_config_dir {
            if write_client_config(dir, &settings, &admin_token)? {
                tracing::info!(dir = %dir.display(), "wrote client configuration");
            }
        }

        let cancel = CancellationToken::new();
        let app = crate::app::app(state.clone());
        let server = tokio::spawn({
            let cancel = cancel.clone();
            async move {
                use axum::serve::ListenerExt as _;
                // Without TCP_NODELAY a response whose body follows its head in a
                // second write waits for a delayed ACK (40 ms per small file).
                let listener = listener.tap_io(|tcp| {
                    if let Err(err) = tcp.set_nodelay(true) {
                        tracing::debug!(error = %err, "cannot set TCP_NODELAY");
                    }
                });
                let serve = axum::serve(listener, app)
                    .with_graceful_shutdown(async move { cancel.cancelled().await });
                if let Err(err) = serve.await {
                    tracing::error!(error = %err, "server failed");
                }
            }
        });
        crate::disks::spawn_reaper(state.db.clone(), state.settings.clone(), cancel.clone());
        tracing::info!(addr = %local_addr, data_dir = %data_dir.display(), "platform started");
        Ok(RunningPlatform {
            state,
            local_addr,
            admin_user: self.admin_user,
            admin_token,
            client_config_dir: self.client_config_dir,
            cancel,
            server: Some(server),
            _temp_dir: temp_dir,
        })
    }
}

/// A platform serving in the background.
///
/// Dropping it stops the server and asks the jobs service to stop; call
/// [`RunningPlatform::shutdown`] to wait for both.
pub struct RunningPlatform {
    state: AppState,
    local_addr: SocketAddr,
    admin_user: String,
    admin_token: String,
    client_config_dir: Option<PathBuf>,
    cancel: CancellationToken,
    server: Option<JoinHandle<()>>,
    // Last: removed after everything else is dropped.
    _temp_dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for RunningPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningPlatform")
            .field("local_addr", &self.local_addr)
            .field("data_dir", &self.data_dir())
            .field("admin_user", &self.admin_user)
            .field("admin_token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl RunningPlatform {
    /// `http://127.0.0.1:PORT/api/v1`: the URL to log in with.
    pub fn api_url(&self) -> Url {
        self.state.settings.api_url()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> Url {
        self.state.settings.base_url.clone()
    }

    /// The bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Name of the admin user.
    pub fn admin_user(&self) -> &str {
        &self.admin_user
    }

    /// A valid token of the admin user (also in `{data_dir}/admin.token`).
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        &self.state.settings.data_dir
    }

    /// The client configuration directory, if one was requested.
    pub fn client_config_dir(&self) -> Option<&Path> {
        self.client_config_dir.as_deref()
    }

    /// The platform's settings (URLs, presets, capacity).
    pub fn settings(&self) -> &Settings {
        &self.state.settings
    }

    /// Creates user `name` if needed and returns a new token for them.
    pub async fn create_user(&self, name: &str) -> Result<String, PlatformError> {
        let (db, tokens, name) = (
            self.state.db.clone(),
            self.state.tokens.clone(),
            name.to_owned(),
        );
        run_blocking(move || {
            auth::ensure_user(&db, &name)?;
            tokens
                .try_issue(&name)
                .map_err(|e| PlatformError::Token(e.into()))
        })
        .await
    }

    /// Sets the most jobs the existing user `name` may have running at once
    /// (`None`: no limit, the default). A submission past it is refused
    /// unless it asks to wait for a seat (`wait_for_jobs_quota`).
    pub async fn set_running_jobs_quota(
        &self,
        name: &str,
        limit: Option<u32>,
    ) -> Result<(), PlatformError> {
        let (db, user) = (self.state.db.clone(), name.to_owned());
        let exists = run_blocking(move || Ok(auth::user_exists(&db, &user)?)).await?;
        if !exists {
            return Err(UserError::NotFound(name.to_owned()).into());
        }
        self.state
            .jobs
            .set_running_jobs_quota(name, limit)
            .await
            .map_err(|e| PlatformError::Jobs(e.into()))
    }

    /// A new token for the existing user `user`.
    pub async fn issue_token(&self, user: &str) -> Result<String, PlatformError> {
        let (db, tokens, user) = (
            self.state.db.clone(),
            self.state.tokens.clone(),
            user.to_owned(),
        );
        run_blocking(move || {
            if !auth::user_exists(&db, &user)? {
                return Err(UserError::NotFound(user).into());
            }
            tokens
                .try_issue(&user)
                .map_err(|e| PlatformError::Token(e.into()))
        })
        .await
    }

    /// Revokes one token. Returns whether it was valid.
    pub async fn revoke_token(&self, token: &str) -> Result<bool, PlatformError> {
        let (tokens, token) = (self.state.tokens.clone(), token.to_owned());
        run_blocking(move || {
            tokens
                .revoke(&token)
                .map_err(|e| PlatformError::Token(e.into()))
        })
        .await
    }

    /// Deletes user `name`; their tokens stop working at once. Their files stay.
    pub async fn delete_user(&self, name: &str) -> Result<(), PlatformError> {
        let (db, tokens, name) = (
            self.state.db.clone(),
            self.state.tokens.clone(),
            name.to_owned(),
        );
        run_blocking(move || Ok(auth::delete_user(&db, &tokens, &name)?)).await
    }

    /// Stops accepting requests, waits (a few seconds at most) for open
    /// connections, then stops every job.
    pub async fn shutdown(mut self) {
        self.cancel.cancel();
        if let Some(mut server) = self.server.take() {
            if tokio::time::timeout(GRACEFUL_TIMEOUT, &mut server)
                .await
                .is_err()
            {
                tracing::warn!("connections still open after shutdown grace period; closing");
                server.abort();
            }
        }
        self.state.jobs.shutdown().await;
        crate::disks::release_all(&self.state.settings);
        tracing::info!("platform stopped");
    }
}

impl Drop for RunningPlatform {
    fn drop(&mut self) {
        let Some(server) = self.server.take() else {
            return; // shut down already
        };
        self.cancel.cancel();
        server.abort();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let jobs = self.state.jobs.clone();
            handle.spawn(async move { jobs.shutdown().await });
        }
        crate::disks::release_all(&self.state.settings);
    }
}

async fn run_blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, PlatformError> + Send + 'static,
) -> Result<R, PlatformError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PlatformError::Token(e.into()))?
}

/// The base URL clients should use for a server bound to `addr`.
fn base_url(addr: SocketAddr) -> Result<Url, PlatformError> {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Url::parse(&format!("http://{}", SocketAddr::new(ip, addr.port()))).map_err(|e| {
        PlatformError::Bind {
            addr,
            source: std::io::Error::other(e),
        }
    })
}

/// Creates the data directory with mode 0700, or a temporary one.
fn prepare_data_dir(
    dir: Option<PathBuf>,
) -> Result<(PathBuf, Option<tempfile::TempDir>), PlatformError> {
    match dir {
        Some(dir) => {
            let fail = |source| PlatformError::DataDir {
                path: dir.clone(),
                source,
            };
            std::fs::create_dir_all(&dir).map_err(fail)?;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).map_err(fail)?;
            let dir = dir.canonicalize().map_err(fail)?;
            Ok((dir, None))
        }
        None => {
            let temp = tempfile::Builder::new()
                .prefix("neuro-local-")
                .tempdir()
                .map_err(|source| PlatformError::DataDir {
                    path: std::env::temp_dir(),
                    source,
                })?;
            let path = temp
                .path()
                .canonicalize()
                .unwrap_or_else(|_| temp.path().to_path_buf());
            Ok((path, Some(temp)))
        }
    }
}

/// Makes sure the admin user exists and `{data_dir}/admin.token` holds a valid
/// token for them; returns that token.
fn ensure_admin(
    data_dir: &Path,
    db: &Db,
    tokens: &TokenIssuer,
    admin: &str,
) -> Result<String, PlatformError> {
    if auth::ensure_user(db, admin)? {
        tracing::info!(user = admin, "created admin user");
    }
    let path = data_dir.join(ADMIN_TOKEN_FILE);
    if let Ok(text) = std::fs::read_to_string(&path) {
        let token = text.trim();
        if tokens.verify(token).as_deref() == Some(admin) {
            return Ok(token.to_owned());
        }
    }
    let token = tokens
        .try_issue(admin)
        .map_err(|e| PlatformError::Token(e.into()))?;
    write_secret(&path, &token).map_err(|source| PlatformError::DataDir {
        path: path.clone(),
        source,
    })?;
    Ok(token)
}

/// Atomically replaces `path` with `content`, mode 0600.
pub(crate) fn write_secret(path: &Path, content: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // NamedTempFile creates its file with mode 0600.
    let mut file = tempfile::NamedTempFile::new_in(dir)?;
    file.write_all(content.as_bytes())?;
    file.write_all(b"\n")?;
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}
