//! Errors of the buckets API and of blob operations.

use std::path::{Path, PathBuf};

use neuro_storage::engine::RemoteError;
use url::Url;

/// A buckets or blob operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// The platform answered with an error, or a request (to the platform or
    /// the provider) could not be made.
    #[error("buckets request failed")]
    Http(#[from] neuro_http::Error),
    /// The configuration does not allow the request (e.g. unknown cluster).
    #[error("configuration error")]
    Config(#[from] neuro_config::ConfigError),
    /// A payload, URI or URL could not be decoded or built.
    #[error("invalid bucket data")]
    Model(#[from] neuro_types::ModelError),
    /// The object storage refused a request (the provider's error code and
    /// message).
    #[error("{operation} {key:?} failed: {status} {code}: {message}")]
    Provider {
        /// What was being done (`GetObject`, ...).
        operation: &'static str,
        /// The object key (empty for bucket-level calls).
        key: String,
        /// HTTP status.
        status: u16,
        /// The provider's error code (`NoSuchKey`, `AccessDenied`, ...).
        code: String,
        /// The provider's message.
        message: String,
    },
    /// There is no such object or directory.
    #[error("there is no object with key {key:?} in bucket {bucket}")]
    NotFound {
        /// The bucket (name or id).
        bucket: String,
        /// The key.
        key: String,
    },
    /// The credentials lack a key the provider needs.
    #[error("bucket credentials lack {0:?}")]
    MissingCredential(&'static str),
    /// A provider answer could not be decoded.
    #[error("cannot decode the provider's answer to {operation}: {message}")]
    Decode {
        /// The call.
        operation: &'static str,
        /// What went wrong.
        message: String,
    },
    /// A local file or directory could not be used.
    #[error("{}: {source}", path.display())]
    Local {
        /// The path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The destination exists and is not a directory.
    #[error("{uri} is not a directory")]
    NotADirectory {
        /// The destination.
        uri: Url,
    },
    /// The source is a directory where a file was expected.
    #[error("{uri} is a directory")]
    IsADirectory {
        /// The source.
        uri: String,
    },
    /// A directory transfer finished, but these entries were not transferred.
    #[error("{} entries were not transferred: {}", .0.len(), .0.join("; "))]
    Incomplete(Vec<String>),
    /// An argument was refused before anything was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl BlobError {
    /// True when the object, bucket or credentials do not exist (404).
    pub fn is_not_found(&self) -> bool {
        match self {
            Self::Http(e) => e.is_not_found(),
            Self::NotFound { .. } => true,
            Self::Provider { status, .. } => *status == 404,
            _ => false,
        }
    }

    /// True when access was refused (403), by the platform or the provider.
    pub fn is_forbidden(&self) -> bool {
        match self {
            Self::Http(e) => e.status() == Some(403),
            Self::Provider { status, .. } => *status == 403,
            _ => false,
        }
    }

    /// The HTTP error behind this one, if any.
    pub fn http(&self) -> Option<&neuro_http::Error> {
        match self {
            Self::Http(e) => Some(e),
            _ => None,
        }
    }

    pub(crate) fn local(path: &Path, source: std::io::Error) -> Self {
        Self::Local {
            path: path.to_path_buf(),
            source,
        }
    }
}

impl RemoteError for BlobError {
    fn is_not_found(&self) -> bool {
        BlobError::is_not_found(self)
    }

    fn is_retryable(&self) -> bool {
        matches!(self, Self::Http(e) if e.is_retryable_transport())
            || matches!(self, Self::Provider { status, .. } if *status >= 500)
    }

    fn is_already_exists(&self) -> bool {
        false
    }

    fn local(path: &Path, source: std::io::Error) -> Self {
        BlobError::local(path, source)
    }

    fn not_a_directory(uri: &Url) -> Self {
        Self::NotADirectory { uri: uri.clone() }
    }

    fn incomplete(failed: Vec<String>) -> Self {
        Self::Incomplete(failed)
    }
}
