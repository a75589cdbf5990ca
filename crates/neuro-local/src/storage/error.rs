//! Failures of storage operations and how the storage service renders them.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use neuro_types::wire::ErrorBody;

pub(crate) use crate::error::json_response;
use crate::error::{text_response, unauthorized_response, TEXT_PLAIN};

/// Why a storage request failed. Rendered like the real storage service
/// (aiohttp): plain-text `404: Not Found` and friends, JSON
/// `{"error", "errno"}` for filesystem errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// Missing or invalid bearer token: `401` with a `Bearer` challenge.
    #[error("unauthorized")]
    Unauthorized,
    /// The path does not exist, is not visible to the caller, or is malformed:
    /// `404: Not Found`.
    #[error("not found")]
    NotFound,
    /// The caller may see the path but not do this: `403: Forbidden`.
    #[error("forbidden")]
    Forbidden,
    /// A refused operation with an explanation: `403 {"error": ...}`.
    #[error("{0}")]
    ForbiddenMsg(String),
    /// A filesystem error: `400 {"error": message, "errno": "E..."}`.
    #[error("{message} ({errno})")]
    Os {
        /// Human-readable message.
        message: String,
        /// Symbolic errno name, e.g. `EEXIST`.
        errno: String,
    },
    /// A bad argument: `400 {"error": ...}`.
    #[error("{0}")]
    BadRequest(String),
    /// A bad request in aiohttp's plain-text form: `400: <message>`.
    #[error("{0}")]
    BadRequestText(String),
    /// The operation does not accept this HTTP method: `405`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// `416` with `Content-Range: bytes */<total>`.
    #[error("range not satisfiable")]
    RangeNotSatisfiable {
        /// Size of the file.
        total: u64,
    },
    /// An unexpected failure: `500 {"error": ...}`.
    #[error("{0}")]
    Internal(String),
}

impl StorageError {
    /// A `400` filesystem error with a symbolic errno.
    pub fn os(message: impl Into<String>, errno: &str) -> Self {
        StorageError::Os {
            message: message.into(),
            errno: errno.to_owned(),
        }
    }

    /// The `{"error", "errno"}` object for an NDJSON error line.
    pub fn to_error_body(&self) -> ErrorBody {
        match self {
            StorageError::Os { message, errno } => ErrorBody::with_errno(message, errno),
            StorageError::NotFound => ErrorBody::with_errno("No such file or directory", "ENOENT"),
            other => ErrorBody::new(other.to_string()),
        }
    }
}

impl From<std::io::Error> for StorageError {
    fn from(err: std::io::Error) -> Self {
        if err.kind() == std::io::ErrorKind::NotFound {
            return StorageError::NotFound;
        }
        match err.raw_os_error() {
            Some(code) => {
                let errno = nix::errno::Errno::from_raw(code);
                StorageError::Os {
                    message: errno.desc().to_owned(),
                    errno: format!("{errno:?}"),
                }
            }
            None => StorageError::Internal(err.to_string()),
        }
    }
}

impl From<tokio::task::JoinError> for StorageError {
    fn from(err: tokio::task::JoinError) -> Self {
        StorageError::Internal(format!("storage task failed: {err}"))
    }
}

impl IntoResponse for StorageError {
    fn into_response(self) -> Response {
        match self {
            StorageError::Unauthorized => unauthorized_response("Storage API"),
            StorageError::NotFound => text_response(StatusCode::NOT_FOUND),
            StorageError::Forbidden => text_response(StatusCode::FORBIDDEN),
            StorageError::MethodNotAllowed => text_response(StatusCode::METHOD_NOT_ALLOWED),
            StorageError::ForbiddenMsg(msg) => {
                json_response(StatusCode::FORBIDDEN, &ErrorBody::new(msg))
            }
            StorageError::Os { message, errno } => json_response(
                StatusCode::BAD_REQUEST,
                &ErrorBody::with_errno(message, errno),
            ),
            StorageError::BadRequest(msg) => {
                json_response(StatusCode::BAD_REQUEST, &ErrorBody::new(msg))
            }
            StorageError::BadRequestText(msg) => (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_PLAIN))],
                format!("400: {msg}"),
            )
                .into_response(),
            StorageError::RangeNotSatisfiable { total } => {
                let range = HeaderValue::from_str(&format!("bytes */{total}"))
                    .unwrap_or_else(|_| HeaderValue::from_static("bytes */0"));
                (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [
                        (header::CONTENT_RANGE, range),
                        (
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/octet-stream"),
                        ),
                    ],
                )
                    .into_response()
            }
            StorageError::Internal(msg) => {
                tracing::error!(error = %msg, "storage failure");
                json_response(StatusCode::INTERNAL_SERVER_ERROR, &ErrorBody::new(msg))
            }
        }
    }
}
