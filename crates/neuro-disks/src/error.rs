//! Errors of the Disks API.

/// A disks operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DisksError {
    /// The platform answered with an error, or the request could not be made.
    #[error("disks request failed")]
    Http(#[from] neuro_http::Error),
    /// The configuration does not allow the request (e.g. unknown cluster).
    #[error("configuration error")]
    Config(#[from] neuro_config::ConfigError),
    /// A URL could not be built.
    #[error("invalid disk data")]
    Model(#[from] neuro_types::ModelError),
    /// An argument was refused before anything was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl DisksError {
    /// True when the platform said the disk does not exist (404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Http(e) if e.is_not_found())
    }

    /// The HTTP error behind this one, if any.
    pub fn http(&self) -> Option<&neuro_http::Error> {
        match self {
            Self::Http(e) => Some(e),
            _ => None,
        }
    }
}
