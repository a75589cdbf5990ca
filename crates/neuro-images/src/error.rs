//! Errors of the Images API.

/// An images operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImagesError {
    /// The registry answered with an error, or the request could not be made.
    #[error("registry request failed")]
    Http(#[from] neuro_http::Error),
    /// The configuration does not allow the request (e.g. unknown cluster).
    #[error("configuration error")]
    Config(#[from] neuro_config::ConfigError),
    /// An image reference is invalid.
    #[error("invalid image")]
    Image(#[from] neuro_types::ImageError),
    /// An argument was refused before anything was sent (`ValueError` in the
    /// Python SDK): an image without owner, name or tag where one is needed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// The registry's answer lacks something the protocol requires.
    #[error("unexpected registry answer: {0}")]
    Protocol(String),
    /// No Docker engine: `DOCKER_HOST` is unset and no local socket exists, or
    /// it names a transport this client does not speak.
    #[error("Docker engine is not available. Please specify DOCKER_HOST variable if you are using remote docker engine ({0})")]
    DockerUnavailable(String),
    /// The Docker engine could not be reached or sent something unreadable.
    #[error("Docker engine request {what} failed: {source}")]
    DockerTransport {
        /// The request.
        what: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The Docker engine refused a request, or reported an error inside its
    /// progress stream (`DockerError` in the Python SDK; `status` is `900` for
    /// an error inside a `200` stream, as aiodocker reports it).
    #[error("Docker engine error {status}: {message}")]
    Docker {
        /// HTTP status, or 900 for an error line of a progress stream.
        status: u16,
        /// The engine's message.
        message: String,
    },
    /// `push`: the local image does not exist in the Docker engine.
    #[error("Image {0} was not found in your local docker images")]
    LocalImageNotFound(String),
    /// `pull`: the image does not exist in the registry.
    #[error("Image {0} was not found in registry")]
    RemoteImageNotFound(String),
    /// The engine was refused access to the image (`AuthorizationError`).
    #[error("Access denied {0}")]
    AccessDenied(String),
}

impl ImagesError {
    /// The HTTP status behind this error, if any (registry or engine).
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Http(e) => e.status(),
            Self::Docker { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// True when the registry said the image or tag does not exist (404).
    pub fn is_not_found(&self) -> bool {
        match self {
            Self::Http(e) => e.is_not_found(),
            Self::RemoteImageNotFound(_) | Self::LocalImageNotFound(_) => true,
            _ => false,
        }
    }
}
