//! The facade's error: any error of the domain crates.

/// An SDK operation failed. Each variant wraps the error of the crate that did
/// the work; match on it, or use the helpers, to react to a kind of failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Login or configuration failed.
    #[error(transparent)]
    Config(#[from] neuro_config::ConfigError),
    /// A jobs operation failed.
    #[error(transparent)]
    Jobs(#[from] neuro_jobs::JobsError),
    /// A storage operation failed.
    #[error(transparent)]
    Storage(#[from] neuro_storage::StorageError),
    /// A secrets operation failed.
    #[error(transparent)]
    Secrets(#[from] neuro_secrets::SecretsError),
    /// A disks operation failed.
    #[error(transparent)]
    Disks(#[from] neuro_disks::DisksError),
    /// A users, permissions or service-account operation failed.
    #[error(transparent)]
    Users(#[from] neuro_users::UsersError),
    /// A buckets or blob operation failed.
    #[error(transparent)]
    Blob(#[from] neuro_blob::BlobError),
    /// A request failed at the transport or API level.
    #[error(transparent)]
    Http(#[from] neuro_http::Error),
    /// An images (registry or Docker engine) operation failed.
    #[error(transparent)]
    Images(#[from] neuro_images::ImagesError),
}

impl Error {
    /// True when the platform said the target does not exist.
    pub fn is_not_found(&self) -> bool {
        match self {
            Self::Jobs(e) => e.is_not_found(),
            Self::Storage(e) => e.is_not_found(),
            Self::Secrets(e) => e.is_not_found(),
            Self::Disks(e) => e.is_not_found(),
            Self::Users(e) => e.is_not_found(),
            Self::Http(e) => e.is_not_found(),
            Self::Images(e) => e.is_not_found(),
            Self::Blob(e) => e.is_not_found(),
            Self::Config(_) => false,
        }
    }

    /// True when the platform refused the credentials (401) or the access (403).
    pub fn is_auth(&self) -> bool {
        if let Self::Config(neuro_config::ConfigError::NotAuthorized) = self {
            return true;
        }
        self.http().is_some_and(neuro_http::Error::is_auth)
    }

    /// The HTTP status the platform answered with, if the failure was an answer.
    pub fn status(&self) -> Option<u16> {
        self.http().and_then(neuro_http::Error::status)
    }

    /// The transport or API error behind this one, if any.
    pub fn http(&self) -> Option<&neuro_http::Error> {
        let http = match self {
            Self::Jobs(neuro_jobs::JobsError::Http(e)) => e,
            Self::Storage(neuro_storage::StorageError::Http(e)) => e,
            Self::Secrets(neuro_secrets::SecretsError::Http(e)) => e,
            Self::Disks(neuro_disks::DisksError::Http(e)) => e,
            Self::Users(neuro_users::UsersError::Http(e)) => e,
            Self::Blob(neuro_blob::BlobError::Http(e)) => e,
            Self::Config(neuro_config::ConfigError::Http(e)) => e,
            Self::Http(e) => e,
            Self::Images(neuro_images::ImagesError::Http(e)) => e,
            _ => return None,
        };
        Some(http)
    }
}
