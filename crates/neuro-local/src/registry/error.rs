//! The registry's error answers: the distribution spec's
//! `{"errors": [{"code", "message", "detail"}]}` for protocol errors, and
//! aiohttp's plain-text answers for authentication (`401` with a `Basic`
//! challenge) and authorization (`403`), as the platform's registry sends them.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Value};

use crate::error::{ApiError, TEXT_PLAIN};

/// `Docker-Distribution-Api-Version`, sent on every registry answer.
pub const API_VERSION_HEADER: &str = "Docker-Distribution-Api-Version";
/// Its value.
pub const API_VERSION: &str = "registry/2.0";
/// The `WWW-Authenticate` challenge Docker clients answer with Basic credentials.
pub const CHALLENGE: &str = "Basic realm=\"Docker Registry\"";

/// A failed registry request.
#[derive(Debug, Clone, PartialEq)]
pub enum RegistryError {
    /// No or invalid credentials: `401: Unauthorized` with the Basic challenge.
    Unauthorized,
    /// Valid credentials without the needed permission: `403: Forbidden`.
    Forbidden,
    /// Not a registry route: `404: Not Found`.
    NotFound,
    /// A protocol error with its code.
    Spec {
        /// HTTP status.
        status: StatusCode,
        /// The spec's error code (`MANIFEST_UNKNOWN`, ...).
        code: &'static str,
        /// Its message.
        message: String,
        /// Details (`{"Tag": "v1"}`, ...).
        detail: Value,
    },
}

impl RegistryError {
    /// A protocol error.
    pub fn spec(
        status: StatusCode,
        code: &'static str,
        message: impl Into<String>,
        detail: Value,
    ) -> Self {
        RegistryError::Spec {
            status,
            code,
            message: message.into(),
            detail,
        }
    }

    /// `404 MANIFEST_UNKNOWN` for the tag or digest `reference`.
    pub fn manifest_unknown(key: &str, reference: &str) -> Self {
        Self::spec(
            StatusCode::NOT_FOUND,
            "MANIFEST_UNKNOWN",
            "manifest unknown",
            json!({ key: reference }),
        )
    }

    /// `404 BLOB_UNKNOWN`.
    pub fn blob_unknown(digest: &str) -> Self {
        Self::spec(
            StatusCode::NOT_FOUND,
            "BLOB_UNKNOWN",
            "blob unknown to registry",
            json!(digest),
        )
    }

    /// `404 BLOB_UPLOAD_UNKNOWN`.
    pub fn upload_unknown(id: &str) -> Self {
        Self::spec(
            StatusCode::NOT_FOUND,
            "BLOB_UPLOAD_UNKNOWN",
            "blob upload unknown to registry",
            json!(id),
        )
    }

    /// `404 NAME_UNKNOWN`.
    pub fn name_unknown(repo: &str) -> Self {
        Self::spec(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "repository name not known to registry",
            json!({ "name": repo }),
        )
    }

    /// `400 NAME_INVALID`.
    pub fn name_invalid(repo: &str) -> Self {
        Self::spec(
            StatusCode::BAD_REQUEST,
            "NAME_INVALID",
            "invalid repository name",
            json!({ "name": repo }),
        )
    }

    /// `400 DIGEST_INVALID`.
    pub fn digest_invalid(detail: impl Into<String>) -> Self {
        Self::spec(
            StatusCode::BAD_REQUEST,
            "DIGEST_INVALID",
            "provided digest did not match uploaded content",
            json!(detail.into()),
        )
    }

    /// `400 MANIFEST_INVALID`.
    pub fn manifest_invalid(detail: impl Into<String>) -> Self {
        Self::spec(
            StatusCode::BAD_REQUEST,
            "MANIFEST_INVALID",
            "manifest invalid",
            json!(detail.into()),
        )
    }

    /// `500` for a failure of this server.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::spec(
            StatusCode::INTERNAL_SERVER_ERROR,
            "UNKNOWN",
            "unknown error",
            json!(detail.into()),
        )
    }
}

impl From<ApiError> for RegistryError {
    fn from(err: ApiError) -> Self {
        match err.status {
            StatusCode::UNAUTHORIZED => RegistryError::Unauthorized,
            StatusCode::FORBIDDEN => RegistryError::Forbidden,
            _ => RegistryError::internal(err.body.error),
        }
    }
}

impl From<std::io::Error> for RegistryError {
    fn from(err: std::io::Error) -> Self {
        RegistryError::internal(format!("I/O error: {err}"))
    }
}

impl From<rusqlite::Error> for RegistryError {
    fn from(err: rusqlite::Error) -> Self {
        RegistryError::internal(format!("database error: {err}"))
    }
}

impl IntoResponse for RegistryError {
    fn into_response(self) -> Response {
        let text = |status: StatusCode| {
            (
                status,
                [(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_PLAIN))],
                format!(
                    "{}: {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("Unknown")
                ),
            )
        };
        match self {
            RegistryError::Unauthorized => {
                let mut response = text(StatusCode::UNAUTHORIZED).into_response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(CHALLENGE),
                );
                response
            }
            RegistryError::Forbidden => text(StatusCode::FORBIDDEN).into_response(),
            RegistryError::NotFound => text(StatusCode::NOT_FOUND).into_response(),
            RegistryError::Spec {
                status,
                code,
                message,
                detail,
            } => {
                if status.is_server_error() {
                    tracing::error!(code, %detail, "registry request failed");
                }
                let body =
                    json!({"errors": [{"code": code, "message": message, "detail": detail}]});
                (
                    status,
                    [
                        (
                            header::CONTENT_TYPE,
                            HeaderValue::from_static("application/json; charset=utf-8"),
                        ),
                        (
                            header::HeaderName::from_static("docker-distribution-api-version"),
                            HeaderValue::from_static(API_VERSION),
                        ),
                    ],
                    format!("{body}\n"),
                )
                    .into_response()
            }
        }
    }
}
