//! `neuro-local`: run a single-machine Neuro Platform, and manage its users.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use neuro_local::auth::{self, TokenIssuer};
use neuro_local::db::Db;
use neuro_local::{LocalPlatform, LocalPlatformBuilder};

/// mimalloc instead of the C library's allocator: the server allocates and
/// frees a few small buffers per request, across threads, and glibc's
/// `malloc` spent more time on that than mimalloc does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A single-machine Neuro Platform speaking the real platform API.
#[derive(Debug, Parser)]
#[command(name = "neuro-local", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the `serve` variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum Command {
    /// Run the platform until SIGINT or SIGTERM.
    Serve {
        /// State directory [default: $XDG_DATA_HOME/neuro-local or ~/.local/share/neuro-local].
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Where to write a ready-to-use client config for the admin user, if that
        /// directory has none yet [default: $NEUROMATION_CONFIG or ~/.neuro].
        #[arg(long)]
        client_config: Option<PathBuf>,
        /// Do not write a client config anywhere.
        #[arg(long, conflicts_with = "client_config")]
        no_client_config: bool,
        /// URL clients reach the server at, if not http://<listen address>
        /// (e.g. behind a reverse proxy); /config advertises service URLs under it.
        #[arg(long)]
        public_url: Option<url::Url>,
        /// Name of the admin user created on first start.
        #[arg(long, default_value = "admin")]
        admin_user: String,
        /// An org of the default cluster, in order; `NO_ORG` is "no org"
        /// [default: NO_ORG only].
        #[arg(long = "org", value_name = "ORG")]
        orgs: Vec<String>,
        /// One more cluster in /config, sharing this platform's services:
        /// `NAME` or `NAME=ORG,ORG` (`NO_ORG` is "no org"). Repeatable.
        #[arg(long = "extra-cluster", value_name = "NAME[=ORGS]")]
        extra_clusters: Vec<String>,
        /// The user the OAuth login page approves [default: the admin user].
        #[arg(long)]
        oauth_user: Option<String>,
        /// Lifetime of the access tokens of the OAuth login, in seconds.
        #[arg(long, default_value_t = 86_400)]
        access_token_ttl: u64,
    },
    /// Manage tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create USER if needed and print a new token for them (and nothing else).
    Create {
        /// User name.
        user: String,
        /// State directory (as for `serve`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user.
    Add {
        /// User name.
        user: String,
        /// State directory (as for `serve`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Set the running-jobs quota of a user (a running server applies it at
    /// its next scheduling pass, within 30 seconds).
    Quota {
        /// User name.
        user: String,
        /// The most jobs the user may have running at once.
        #[arg(long, required_unless_present = "unlimited")]
        running_jobs: Option<u32>,
        /// Remove the limit.
        #[arg(long, conflicts_with = "running_jobs")]
        unlimited: bool,
        /// State directory (as for `serve`).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("neuro-local: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve {
            data_dir,
            listen,
            client_config,
            no_client_config,
            public_url,
            admin_user,
            orgs,
            extra_clusters,
            oauth_user,
            access_token_ttl,
        } => {
            let data_dir = data_dir_or_default(data_dir)?;
            let client_config = if no_client_config {
                None
            } else {
                client_config.or_else(default_client_config_dir)
            };
            let mut builder = LocalPlatform::builder()
                .data_dir(data_dir)
                .listen(listen)
                .public_url(public_url)
                .admin_user(admin_user)
                .client_config_dir(client_config)
                .access_token_ttl(std::time::Duration::from_secs(access_token_ttl))
                .orgs(orgs.iter().map(|o| org_name(o)).collect());
            if let Some(user) = oauth_user {
                builder = builder.oauth_user(user);
            }
            for spec in &extra_clusters {
                let (name, orgs) = match spec.split_once('=') {
                    Some((name, orgs)) => (name, orgs.split(',').map(org_name).collect()),
                    None => (spec.as_str(), vec![None]),
                };
                anyhow::ensure!(!name.is_empty(), "--extra-cluster needs a name: {spec:?}");
                builder = builder.extra_cluster(name, orgs);
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(serve(builder))
        }
        Command::Token {
            command: TokenCommand::Create { user, data_dir },
        } => {
            let data_dir = data_dir_or_default(data_dir)?;
            let (db, tokens) = open_state(&data_dir)?;
            auth::ensure_user(&db, &user)?;
            let token = tokens.try_issue(&user)?;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{token}")?;
            out.flush()?;
            Ok(())
        }
        Command::User {
            command: UserCommand::Add { user, data_dir },
        } => {
            let data_dir = data_dir_or_default(data_dir)?;
            let (db, _tokens) = open_state(&data_dir)?;
            if auth::ensure_user(&db, &user)? {
                println!("created user {user}");
            } else {
                println!("user {user} already exists");
            }
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Quota {
                    user,
                    running_jobs,
                    unlimited: _,
                    data_dir,
                },
        } => {
            let data_dir = data_dir_or_default(data_dir)?;
            let (db, _tokens) = open_state(&data_dir)?;
            anyhow::ensure!(auth::user_exists(&db, &user)?, "user {user} does not exist");
            db.call_blocking(|conn| {
                neuro_local::jobs::store::set_running_jobs_quota(conn, &user, running_jobs)
            })?;
            match running_jobs {
                Some(n) => println!("user {user} may run {n} jobs at once"),
                None => println!("user {user} may run any number of jobs"),
            }
            Ok(())
        }
    }
}

/// `$NEUROMATION_CONFIG`, else `~/.neuro`: where the SDK and the Python CLI
/// look for a login.
fn default_client_config_dir() -> Option<PathBuf> {
    match std::env::var_os("NEUROMATION_CONFIG") {
        Some(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|home| PathBuf::from(home).join(".neuro")),
    }
}

/// `NO_ORG` (as the Python CLI spells it) is "no org".
fn org_name(text: &str) -> Option<String> {
    (text != "NO_ORG").then(|| text.to_owned())
}

async fn serve(builder: LocalPlatformBuilder) -> anyhow::Result<()> {
    let platform = builder.start().await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "neuro-local listening on http://{}",
            platform.local_addr()
        )?;
        writeln!(out, "api url: {}", platform.api_url())?;
        writeln!(
            out,
            "admin token: {}",
            platform.data_dir().join("admin.token").display()
        )?;
        if let Some(dir) = platform.client_config_dir() {
            writeln!(out, "client config: {}", dir.display())?;
        }
        out.flush()?;
    }
    wait_for_signal().await?;
    tracing::info!("shutting down");
    platform.shutdown().await;
    Ok(())
}

async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    tokio::select! {
        res = tokio::signal::ctrl_c() => res.context("cannot watch SIGINT")?,
        _ = term.recv() => {}
    }
    Ok(())
}

/// Opens the state of a data directory without starting a server (a running
/// server on the same directory sees the result).
fn open_state(data_dir: &std::path::Path) -> anyhow::Result<(Db, Arc<TokenIssuer>)> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    std::fs::set_permissions(data_dir, std::fs::Permissions::from_mode(0o700))?;
    let db = Db::open(&data_dir.join("state.db"))?;
    let tokens = Arc::new(TokenIssuer::open(data_dir, db.clone())?);
    Ok((db, tokens))
}

/// `--data-dir`, else `$XDG_DATA_HOME/neuro-local`, else
/// `~/.local/share/neuro-local`.
fn data_dir_or_default(dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = dir {
        return Ok(dir);
    }
    if let Some(xdg) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return Ok(PathBuf::from(xdg).join("neuro-local"));
    }
    let home = std::env::var_os("HOME")
        .filter(|v| !v.is_empty())
        .context("cannot find a data directory: set --data-dir, XDG_DATA_HOME or HOME")?;
    Ok(PathBuf::from(home).join(".local/share/neuro-local"))
}
