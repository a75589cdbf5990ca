//! Errors of configuration loading, saving and login.

use std::path::PathBuf;

/// A configuration or login step failed.
///
/// The `Display` text says what to do where the Python CLI does (for example
/// "Please login."), so it can be shown to users as is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// No config directory or `db` file: the user has not logged in.
    #[error("Config at {} does not exists. Please login.", path.display())]
    NotFound {
        /// The config directory.
        path: PathBuf,
    },
    /// A login was attempted over an existing config.
    #[error("Config at {} already exists. Please logout", path.display())]
    AlreadyExists {
        /// The config directory.
        path: PathBuf,
    },
    /// The config directory or `db` file is readable by other users.
    #[error("Config {} has compromised permission bits, run 'chmod {expected:o} {}' first", path.display(), path.display())]
    Permissions {
        /// The offending path.
        path: PathBuf,
        /// The mode it must have (0700 for the directory, 0600 for `db`).
        expected: u32,
    },
    /// The stored config does not have the expected schema or content.
    #[error("Malformed config at {}: {reason}. Please logout and login again.", path.display())]
    Malformed {
        /// The config directory.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// The config database could not be read or written.
    #[error("cannot access the config database {}", path.display())]
    Database {
        /// The `db` file.
        path: PathBuf,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// A file-system operation on the config directory failed.
    #[error("cannot access {}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `GET {url}/config` answered with a status other than 200.
    #[error("Unable to get server configuration: {status}")]
    ServerConfigStatus {
        /// The HTTP status received.
        status: u16,
    },
    /// The server configuration could not be understood.
    #[error("invalid server configuration: {reason}")]
    InvalidServerConfig {
        /// What was wrong.
        reason: String,
    },
    /// The server did not accept the token (`"authorized": false`).
    #[error("Cannot authorize user")]
    NotAuthorized,
    /// The token is not a JWT carrying a user name.
    #[error("invalid token: {reason}")]
    InvalidToken {
        /// What was wrong with it.
        reason: String,
    },
    /// The server configuration lists no clusters for this user.
    #[error("There are no clusters available. Please logout and login again.")]
    NoClusters,
    /// A cluster name that the config does not know.
    #[error("Cluster {name} doesn't exist in a list of available clusters {available:?}. Please logout and login again.")]
    UnknownCluster {
        /// The requested cluster.
        name: String,
        /// The clusters the config knows.
        available: Vec<String>,
    },
    /// A URL in the server or stored config is not valid.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The offending URL.
        url: String,
        /// Why it is invalid.
        reason: String,
    },
    /// The request to the platform failed.
    #[error("request to the platform failed")]
    Http(#[from] neuro_http::Error),
    /// The OAuth login or a token refresh failed (the Python SDK's `AuthError`).
    #[error("{reason}")]
    Auth {
        /// What went wrong.
        reason: String,
    },
    /// A login callback (showing the browser, asking for the code) failed.
    #[error("login callback failed")]
    Callback(#[source] crate::login::CallbackError),
    /// Every callback port of the browser login is taken.
    #[error("No free ports for the login callback server (tried {ports:?}).")]
    NoFreeCallbackPort {
        /// The ports tried.
        ports: Vec<u16>,
    },
    /// The callback server of the browser login could not listen.
    #[error("cannot start the login callback server on port {port}")]
    CallbackServer {
        /// The port.
        port: u16,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// `NEURO_PASSED_CONFIG` is missing or not what the platform writes.
    #[error("{reason}")]
    PassedConfig {
        /// What is wrong.
        reason: String,
    },
    /// A user-config file (`user.toml`, `.neuro.toml`) is invalid.
    #[error("{}: {problem}", file.display())]
    UserConfig {
        /// The file.
        file: PathBuf,
        /// What is wrong with it.
        problem: crate::user_config::UserConfigProblem,
    },
    /// No `.neuro.toml` in the directory or any parent.
    #[error("Project root is not found for {}", path.display())]
    ProjectRootNotFound {
        /// Where the search started.
        path: PathBuf,
    },
    /// A plugin defined a parameter twice, or an alias.
    #[error("{reason}")]
    Plugin {
        /// What was refused.
        reason: String,
    },
    /// The project's `.neuro.toml` fixes the cluster or org, so it cannot be
    /// switched.
    #[error("Cannot switch the project {what}. Please edit the '.neuro.toml' file.")]
    ProjectOverride {
        /// `"cluster"` or `"org"`.
        what: &'static str,
    },
    /// An org the current cluster does not have.
    #[error("Org {} doesn't exist in a list of available orgs {available:?} for cluster '{cluster}'.", name.as_deref().unwrap_or("NO_ORG"))]
    UnknownOrg {
        /// The requested org (`None`: no org).
        name: Option<String>,
        /// The cluster.
        cluster: String,
        /// The cluster's orgs (`NO_ORG` for "no org").
        available: Vec<String>,
    },
}

impl ConfigError {
    pub(crate) fn malformed(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Malformed {
            path: path.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn auth(reason: impl Into<String>) -> Self {
        Self::Auth {
            reason: reason.into(),
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn db(path: impl Into<PathBuf>, source: rusqlite::Error) -> Self {
        Self::Database {
            path: path.into(),
            source,
        }
    }

    /// True when the error means "log in first".
    #[must_use]
    pub fn is_not_logged_in(&self) -> bool {
        matches!(self, Self::NotFound { .. })
    }
}
