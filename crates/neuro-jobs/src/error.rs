//! Errors of the Jobs API.

/// A jobs operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JobsError {
    /// The platform answered with an error, or the request could not be made.
    #[error("jobs request failed")]
    Http(#[from] neuro_http::Error),
    /// The configuration does not allow the request (e.g. unknown cluster).
    #[error("configuration error")]
    Config(#[from] neuro_config::ConfigError),
    /// A job or request could not be converted to or from its wire form.
    #[error("invalid job data")]
    Model(#[from] neuro_types::ModelError),
    /// An argument was refused before anything was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A websocket (logs, telemetry, attach, exec, port forward) failed.
    #[error("websocket failed")]
    WebSocket(#[source] Box<neuro_http::tungstenite::Error>),
    /// The server broke the monitoring protocol (e.g. a text frame in a log).
    #[error("unexpected data from the server: {0}")]
    Protocol(String),
    /// The job has no running process to observe (`top`).
    #[error("Job is not running. Job Id = {0}")]
    NotRunning(String),
    /// A local socket operation failed (port forwarding).
    #[error("{0}")]
    Io(String, #[source] std::io::Error),
}

impl JobsError {
    /// True when the platform said the job does not exist (404).
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
