//! The error every handler returns, rendered the way the real platform services do.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use neuro_types::wire::ErrorBody;

/// A failed request: an HTTP status and the `{"error": ..., "errno": ...}` body.
///
/// `401` is rendered as aiohttp's plain-text `401: Unauthorized` with a
/// `WWW-Authenticate: Bearer` challenge, as the real services do; every other
/// status gets the JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// JSON body of the answer.
    pub body: ErrorBody,
}

impl ApiError {
    /// An error with any status and message.
    pub fn new(status: StatusCode, msg: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody::new(msg),
        }
    }

    /// `400 {"error": msg}`.
    pub fn bad_request(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, msg)
    }

    /// `400 {"error": msg, "errno": errno}`: the SDK raises the matching `OSError`.
    pub fn os(msg: impl Into<String>, errno: &'static str) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            body: ErrorBody::with_errno(msg, errno),
        }
    }

    /// `401`: missing or invalid bearer token.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Unauthorized")
    }

    /// `403 {"error": msg}`.
    pub fn forbidden(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, msg)
    }

    /// `404 {"error": msg}`.
    pub fn not_found(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, msg)
    }

    /// `409 {"error": msg}`.
    pub fn conflict(msg: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, msg)
    }

    /// `500`. The message is logged; callers must not put secrets in it.
    pub fn internal(msg: impl Into<String>) -> Self {
        let msg = msg.into();
        tracing::error!(error = %msg, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, msg)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.status.as_u16(), self.body.error)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status == StatusCode::UNAUTHORIZED {
            return unauthorized_response("Platform API");
        }
        json_response(self.status, &self.body)
    }
}

/// aiohttp's `401: Unauthorized` text answer with a `Bearer` challenge for `realm`.
pub fn unauthorized_response(realm: &str) -> Response {
    let challenge = HeaderValue::from_str(&format!("Bearer realm=\"{realm}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("Bearer"));
    (
        StatusCode::UNAUTHORIZED,
        [
            (header::WWW_AUTHENTICATE, challenge),
            (header::CONTENT_TYPE, HeaderValue::from_static(TEXT_PLAIN)),
        ],
        "401: Unauthorized",
    )
        .into_response()
}

/// `text/plain; charset=utf-8`, the content type of aiohttp's default answers.
pub const TEXT_PLAIN: &str = "text/plain; charset=utf-8";

/// aiohttp's default plain-text answer for `status`, e.g. `404: Not Found`.
pub fn text_response(status: StatusCode) -> Response {
    let text = format!(
        "{}: {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Unknown")
    );
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_PLAIN))],
        text,
    )
        .into_response()
}

impl From<rusqlite::Error> for ApiError {
    fn from(err: rusqlite::Error) -> Self {
        ApiError::internal(format!("database error: {err}"))
    }
}

impl From<std::io::Error> for ApiError {
    fn from(err: std::io::Error) -> Self {
        use std::io::ErrorKind;
        match err.kind() {
            ErrorKind::NotFound => ApiError::not_found("Not Found"),
            ErrorKind::PermissionDenied => ApiError::forbidden("Permission denied"),
            _ => ApiError::internal(format!("I/O error: {err}")),
        }
    }
}

/// `status` with `body` as JSON and aiohttp's `application/json; charset=utf-8`.
pub fn json_response<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_string(body) {
        Ok(text) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            )],
            text,
        )
            .into_response(),
        Err(err) => ApiError::internal(format!("cannot serialise answer: {err}")).into_response(),
    }
}
