//! Errors of the Users and ServiceAccounts APIs.

/// A users, permissions or service-account operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UsersError {
    /// The platform answered with an error, or the request could not be made.
    #[error("users request failed")]
    Http(#[from] neuro_http::Error),
    /// A payload could not be decoded.
    #[error("invalid users data")]
    Model(#[from] neuro_types::ModelError),
    /// An argument was refused before anything was sent (e.g. a name with `:`).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The platform answered with a success status other than the one this
    /// call requires (the Python SDK's "Server return unexpected result").
    #[error("server returned an unexpected result: {0}")]
    UnexpectedStatus(u16),
}

impl UsersError {
    /// True when the platform said the target does not exist (404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Http(e) if e.is_not_found())
    }

    /// True when the platform refused the credentials (401) or the access (403).
    pub fn is_auth(&self) -> bool {
        matches!(self, Self::Http(e) if e.is_auth())
    }

    /// The HTTP error behind this one, if any.
    pub fn http(&self) -> Option<&neuro_http::Error> {
        match self {
            Self::Http(e) => Some(e),
            _ => None,
        }
    }
}
