//! Errors of the Storage API.

use std::path::PathBuf;

use url::Url;

/// A storage operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// The platform answered with an error, or the request could not be made.
    #[error("storage request failed")]
    Http(#[from] neuro_http::Error),
    /// The configuration does not allow the request (e.g. unknown cluster).
    #[error("configuration error")]
    Config(#[from] neuro_config::ConfigError),
    /// A URI or payload could not be converted.
    #[error("invalid storage data")]
    Model(#[from] neuro_types::ModelError),
    /// A URI was refused before anything was sent.
    #[error("invalid URI")]
    Uri(#[from] neuro_types::UriError),
    /// A local file could not be read or written.
    #[error("cannot access {}", path.display())]
    Local {
        /// The local path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The target exists and is a directory where a file was expected.
    #[error("{uri} is a directory")]
    IsADirectory {
        /// The offending URI.
        uri: Url,
    },
    /// A directory was expected (e.g. the parent of an upload target).
    #[error("{uri}: no such directory")]
    NotADirectory {
        /// The offending URI.
        uri: Url,
    },
    /// The target exists (e.g. `mkdir` without `exist_ok`).
    #[error("{uri} already exists")]
    FileExists {
        /// The offending URI.
        uri: Url,
    },
    /// The target or its parent does not exist.
    #[error("{uri}: no such file or directory")]
    FileNotFound {
        /// The offending URI.
        uri: Url,
    },
    /// An argument was refused before anything was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A directory transfer finished, but these entries were not transferred
    /// (each also had a `fail` progress event).
    #[error("{} entries were not transferred: {}", failed.len(), failed.join("; "))]
    Incomplete {
        /// One message per entry.
        failed: Vec<String>,
    },
    /// The server's answer breaks the storage protocol (e.g. a partial read
    /// without a matching `Content-Range`).
    #[error("invalid storage response: {0}")]
    InvalidResponse(String),
}

impl StorageError {
    /// The kind of I/O error this corresponds to, as the Python SDK's `OSError`
    /// subclasses do (`FileNotFoundError`, `IsADirectoryError`, ...).
    pub fn io_error_kind(&self) -> Option<std::io::ErrorKind> {
        use std::io::ErrorKind;
        match self {
            Self::Http(e) if e.is_not_found() => Some(ErrorKind::NotFound),
            Self::Http(e) => e.io_error_kind(),
            Self::Local { source, .. } => Some(source.kind()),
            Self::IsADirectory { .. } => Some(ErrorKind::IsADirectory),
            Self::NotADirectory { .. } => Some(ErrorKind::NotADirectory),
            Self::FileExists { .. } => Some(ErrorKind::AlreadyExists),
            Self::FileNotFound { .. } => Some(ErrorKind::NotFound),
            _ => None,
        }
    }

    /// True when the target does not exist.
    pub fn is_not_found(&self) -> bool {
        self.io_error_kind() == Some(std::io::ErrorKind::NotFound)
    }

    pub(crate) fn local(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Local {
            path: path.into(),
            source,
        }
    }
}

impl crate::engine::RemoteError for StorageError {
    fn is_not_found(&self) -> bool {
        StorageError::is_not_found(self)
    }

    fn is_retryable(&self) -> bool {
        matches!(self, Self::Http(e) if e.is_retryable_transport())
    }

    fn is_already_exists(&self) -> bool {
        self.io_error_kind() == Some(std::io::ErrorKind::AlreadyExists)
    }

    fn local(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::local(path, source)
    }

    fn not_a_directory(uri: &Url) -> Self {
        Self::NotADirectory { uri: uri.clone() }
    }

    fn incomplete(failed: Vec<String>) -> Self {
        Self::Incomplete { failed }
    }
}
