//! The transport error type and the mapping of HTTP error responses.

use std::fmt;
use std::io;

use serde_json::{Map, Value};

use crate::errno::Errno;

/// A boxed error from a lower layer (hyper, the OS, an auth provider).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a failed platform call went wrong with.
///
/// `Display` is one short sentence; lower-level causes are reachable only through
/// [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a status ≥ 400 (or refused a websocket handshake).
    #[error(transparent)]
    Api(#[from] ApiError),
    /// A `{"error": …}` line inside an NDJSON stream.
    #[error("{message}")]
    Ndjson {
        /// The `error` member of the line.
        message: String,
        /// The `errno` member of the line, if present and not `null`.
        errno: Option<Errno>,
    },
    /// The TCP or TLS connection could not be established; nothing was sent.
    #[error("cannot connect to {host}")]
    Connect {
        /// `host:port` that was being connected to.
        host: String,
        /// The underlying failure.
        #[source]
        source: BoxError,
    },
    /// A timeout expired.
    #[error("timed out {0}")]
    Timeout(TimeoutPhase),
    /// Sending the request or receiving the response head failed.
    #[error("HTTP request failed")]
    Http(#[source] BoxError),
    /// The response body broke off (connection reset, truncated body, …).
    #[error("error reading response body")]
    Body(#[source] BoxError),
    /// An I/O error outside the HTTP machinery.
    #[error("I/O error")]
    Io(#[from] io::Error),
    /// A JSON document could not be decoded.
    #[error("cannot decode {context}")]
    Json {
        /// What was being decoded, e.g. `"response body"`.
        context: String,
        /// The decoder's error.
        #[source]
        source: serde_json::Error,
    },
    /// A line of a line-delimited response exceeded the limit.
    #[error("response line longer than {limit} bytes")]
    LineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// A redirect could not be followed.
    #[error("redirect failed: {0}")]
    Redirect(String),
    /// A websocket protocol or I/O error after or during the handshake.
    #[error("websocket error")]
    WebSocket(#[source] Box<tokio_tungstenite::tungstenite::Error>),
    /// The URL cannot be used for this request.
    #[error("invalid URL {url}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A header name or value given to a builder is not valid HTTP.
    #[error("invalid request")]
    InvalidRequest(#[source] http::Error),
    /// The TLS configuration could not be built (bad certificates, no usable versions).
    #[error("TLS setup failed")]
    Tls(#[source] BoxError),
    /// The [`AuthProvider`](crate::AuthProvider) could not produce credentials.
    #[error("{message}")]
    Auth {
        /// What went wrong, for the user.
        message: String,
        /// The underlying failure, if any.
        #[source]
        source: Option<BoxError>,
    },
}

/// The step at which a [`Error::Timeout`] expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutPhase {
    /// Opening the TCP connection.
    Connect,
    /// Waiting for the response status line and headers.
    ResponseHead,
    /// Waiting for the next piece of the response body.
    ResponseBody,
    /// Performing the websocket handshake.
    WebSocketHandshake,
}

impl fmt::Display for TimeoutPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutPhase::Connect => "connecting",
            TimeoutPhase::ResponseHead => "waiting for the response",
            TimeoutPhase::ResponseBody => "reading the response body",
            TimeoutPhase::WebSocketHandshake => "during the websocket handshake",
        })
    }
}

/// An error answer from the server, classified like the Python SDK's exceptions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.display_message())]
pub struct ApiError {
    /// The HTTP status code.
    pub status: u16,
    /// The class of error (the Python exception type).
    pub kind: ApiErrorKind,
    /// The `error` member of a JSON body, otherwise the raw body text.
    pub message: String,
    /// The errno of an [`ApiErrorKind::Os`] error.
    pub errno: Option<Errno>,
}

/// The Python SDK exception an [`ApiError`] corresponds to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApiErrorKind {
    /// 400, and any status ≥ 400 not listed below (`IllegalArgumentError`).
    IllegalArgument,
    /// 401 (`AuthenticationError`).
    Authentication,
    /// 403 (`AuthorizationError`).
    Authorization,
    /// 404 (`ResourceNotFound`).
    ResourceNotFound,
    /// 405 (`ClientError`).
    Client,
    /// 502 (`ServerNotAvailable`).
    ServerNotAvailable,
    /// 400 whose JSON body has both `error` and `errno` (`OSError`).
    Os,
}

impl ApiErrorKind {
    /// The kind for a status when the body carries no errno.
    pub fn from_status(status: u16) -> Self {
        match status {
            401 => ApiErrorKind::Authentication,
            403 => ApiErrorKind::Authorization,
            404 => ApiErrorKind::ResourceNotFound,
            405 => ApiErrorKind::Client,
            502 => ApiErrorKind::ServerNotAvailable,
            _ => ApiErrorKind::IllegalArgument,
        }
    }
}

impl ApiError {
    /// Classifies an error response from its status and body text (wire notes §1.4).
    ///
    /// The body is parsed as JSON. If it is an object with an `error` member, that member
    /// is the message; otherwise the whole body text is. A 400 whose object also has an
    /// `errno` member becomes [`ApiErrorKind::Os`]; on other statuses `errno` is ignored.
    ///
    /// ```
    /// use neuro_http::{ApiError, ApiErrorKind};
    ///
    /// let e = ApiError::from_response(400, r#"{"error": "exists", "errno": "EEXIST"}"#);
    /// assert_eq!(e.kind, ApiErrorKind::Os);
    /// assert_eq!(e.message, "exists");
    /// assert_eq!(e.errno.and_then(|n| n.code()), Some(17));
    /// ```
    pub fn from_response(status: u16, body: &str) -> Self {
        let error_object = match serde_json::from_str::<Value>(body) {
            Ok(Value::Object(map)) if map.contains_key("error") => Some(map),
            _ => None,
        };
        let Some(map) = error_object else {
            return ApiError {
                status,
                kind: ApiErrorKind::from_status(status),
                message: body.to_owned(),
                errno: None,
            };
        };
        let message = map.get("error").map(json_message).unwrap_or_default();
        match errno_member(&map) {
            Some(errno) if status == 400 => ApiError {
                status,
                kind: ApiErrorKind::Os,
                message,
                errno,
            },
            _ => ApiError {
                status,
                kind: ApiErrorKind::from_status(status),
                message,
                errno: None,
            },
        }
    }

    fn display_message(&self) -> String {
        if self.message.is_empty() {
            format!("HTTP status {}", self.status)
        } else {
            self.message.clone()
        }
    }
}

/// `Some(errno)` if the object has an `errno` key (`Some(None)` for `null`).
fn errno_member(map: &Map<String, Value>) -> Option<Option<Errno>> {
    map.get("errno").map(Errno::from_json)
}

/// The text of an `error` member: strings as they are, other values as JSON text.
pub(crate) fn json_message(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Error {
    /// A JSON decoding error, with a note of what was being decoded.
    pub fn json(context: impl Into<String>, source: serde_json::Error) -> Self {
        Error::Json {
            context: context.into(),
            source,
        }
    }

    /// A failure of an [`AuthProvider`](crate::AuthProvider).
    pub fn auth(message: impl Into<String>, source: Option<BoxError>) -> Self {
        Error::Auth {
            message: message.into(),
            source,
        }
    }

    /// The [`ApiError`], if the server answered with an error status.
    pub fn as_api(&self) -> Option<&ApiError> {
        match self {
            Error::Api(api) => Some(api),
            _ => None,
        }
    }

    /// The HTTP status of an [`Error::Api`].
    pub fn status(&self) -> Option<u16> {
        self.as_api().map(|api| api.status)
    }

    /// The errno of an OS-style API error or of an NDJSON error line.
    pub fn errno(&self) -> Option<&Errno> {
        match self {
            Error::Api(api) => api.errno.as_ref(),
            Error::Ndjson { errno, .. } => errno.as_ref(),
            _ => None,
        }
    }

    /// True for a 404 answer and for errno `ENOENT`.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404) || self.errno().and_then(Errno::code) == Some(2)
    }

    /// True for 401 and 403 answers.
    pub fn is_auth(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }

    /// The [`io::ErrorKind`] of an errno-carrying error, an I/O error or a timeout.
    ///
    /// `None` for everything else, including plain HTTP statuses.
    pub fn io_error_kind(&self) -> Option<io::ErrorKind> {
        match self {
            Error::Io(e) => Some(e.kind()),
            Error::Timeout(_) => Some(io::ErrorKind::TimedOut),
            Error::Api(ApiError {
                kind: ApiErrorKind::Os,
                errno,
                ..
            }) => Some(
                errno
                    .as_ref()
                    .map_or(io::ErrorKind::Other, Errno::io_error_kind),
            ),
            Error::Ndjson {
                errno: Some(errno), ..
            } => Some(errno.io_error_kind()),
            _ => None,
        }
    }

    /// True for transport failures worth retrying: failed connections, disconnects,
    /// timeouts and truncated bodies. Error statuses from the server are never retryable,
    /// as in the Python SDK's retry helper.
    pub fn is_retryable_transport(&self) -> bool {
        match self {
            Error::Connect { .. }
            | Error::Timeout(_)
            | Error::Http(_)
            | Error::Body(_)
            | Error::Io(_) => true,
            Error::WebSocket(e) => matches!(
                **e,
                tokio_tungstenite::tungstenite::Error::Io(_)
                    | tokio_tungstenite::tungstenite::Error::ConnectionClosed
            ),
            _ => false,
        }
    }

    /// False when the request certainly never reached the server (bad URL, refused
    /// connection, credentials unavailable); true when it may have been processed.
    pub fn may_have_been_sent(&self) -> bool {
        !matches!(
            self,
            Error::Connect { .. }
                | Error::Timeout(TimeoutPhase::Connect)
                | Error::InvalidUrl { .. }
                | Error::InvalidRequest(_)
                | Error::Tls(_)
                | Error::Auth { .. }
        )
    }
}

impl From<tokio_tungstenite::tungstenite::Error> for Error {
    fn from(e: tokio_tungstenite::tungstenite::Error) -> Self {
        Error::WebSocket(Box::new(e))
    }
}

impl From<Error> for io::Error {
    /// Keeps the error kind: errno-derived kinds, 404 → `NotFound`, 401/403 →
    /// `PermissionDenied`, timeouts → `TimedOut`. An [`Error::Io`] is unwrapped.
    fn from(e: Error) -> Self {
        let kind = e.io_error_kind().unwrap_or(match e.status() {
            Some(404) => io::ErrorKind::NotFound,
            Some(401 | 403) => io::ErrorKind::PermissionDenied,
            _ => io::ErrorKind::Other,
        });
        match e {
            Error::Io(inner) => inner,
            other => io::Error::new(kind, other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(status: u16, body: &str) -> ApiError {
        ApiError::from_response(status, body)
    }

    #[test]
    fn statuses_map_to_kinds() {
        let cases = [
            (400, ApiErrorKind::IllegalArgument),
            (401, ApiErrorKind::Authentication),
            (403, ApiErrorKind::Authorization),
            (404, ApiErrorKind::ResourceNotFound),
            (405, ApiErrorKind::Client),
            (502, ApiErrorKind::ServerNotAvailable),
            (402, ApiErrorKind::IllegalArgument),
            (409, ApiErrorKind::IllegalArgument),
            (422, ApiErrorKind::IllegalArgument),
            (500, ApiErrorKind::IllegalArgument),
            (503, ApiErrorKind::IllegalArgument),
            (599, ApiErrorKind::IllegalArgument),
            (200, ApiErrorKind::IllegalArgument),
        ];
        for (status, kind) in cases {
            let e = map(status, r#"{"error": "boom"}"#);
            assert_eq!(e.kind, kind, "status {status}");
            assert_eq!(e.message, "boom");
            assert_eq!(e.status, status);
            assert_eq!(e.errno, None);
        }
    }

    #[test]
    fn errno_string_and_int_on_400() {
        let e = map(400, r#"{"error": "no such file", "errno": "ENOENT"}"#);
        assert_eq!(e.kind, ApiErrorKind::Os);
        assert_eq!(e.message, "no such file");
        assert_eq!(e.errno, Some(Errno::Name("ENOENT".into())));

        let e = map(400, r#"{"error": "exists", "errno": 17}"#);
        assert_eq!(e.kind, ApiErrorKind::Os);
        assert_eq!(e.errno, Some(Errno::Code(17)));
        let err = Error::from(e);
        assert_eq!(err.io_error_kind(), Some(io::ErrorKind::AlreadyExists));

        let e = map(400, r#"{"error": "weird", "errno": "EWEIRD"}"#);
        assert_eq!(e.kind, ApiErrorKind::Os);
        assert_eq!(Error::from(e).io_error_kind(), Some(io::ErrorKind::Other));

        let e = map(400, r#"{"error": "null errno", "errno": null}"#);
        assert_eq!(e.kind, ApiErrorKind::Os);
        assert_eq!(e.errno, None);
    }

    #[test]
    fn errno_ignored_elsewhere() {
        let e = map(404, r#"{"error": "gone", "errno": "ENOENT"}"#);
        assert_eq!(e.kind, ApiErrorKind::ResourceNotFound);
        assert_eq!(e.errno, None);
        let e = map(500, r#"{"error": "x", "errno": 2}"#);
        assert_eq!(e.kind, ApiErrorKind::IllegalArgument);
        // errno without error: the body is not an error object at all
        let e = map(400, r#"{"errno": "ENOENT"}"#);
        assert_eq!(e.kind, ApiErrorKind::IllegalArgument);
        assert_eq!(e.message, r#"{"errno": "ENOENT"}"#);
    }

    #[test]
    fn raw_body_kept() {
        let e = map(400, r#"{"message": "hi"}"#);
        assert_eq!(e.message, r#"{"message": "hi"}"#);
        assert_eq!(e.kind, ApiErrorKind::IllegalArgument);

        let e = map(500, "500: Internal Server Error");
        assert_eq!(e.message, "500: Internal Server Error");
        let e = map(404, "");
        assert_eq!(e.message, "");
        assert_eq!(e.to_string(), "HTTP status 404");
        let e = map(400, r#"["error"]"#);
        assert_eq!(e.message, r#"["error"]"#);
        let e = map(400, r#""error""#);
        assert_eq!(e.message, r#""error""#);
    }

    #[test]
    fn non_string_error_member() {
        let e = map(409, r#"{"error": {"code": 1}}"#);
        assert_eq!(e.message, r#"{"code":1}"#);
        let e = map(409, r#"{"error": null}"#);
        assert_eq!(e.message, "null");
    }

    #[test]
    fn helpers() {
        let not_found = Error::from(map(404, "{}"));
        assert!(not_found.is_not_found());
        assert!(!not_found.is_auth());
        assert_eq!(not_found.status(), Some(404));
        assert_eq!(not_found.io_error_kind(), None);
        assert!(!not_found.is_retryable_transport());
        assert_eq!(io::Error::from(not_found).kind(), io::ErrorKind::NotFound);

        let enoent = Error::from(map(400, r#"{"error": "x", "errno": "ENOENT"}"#));
        assert!(enoent.is_not_found());
        assert_eq!(enoent.io_error_kind(), Some(io::ErrorKind::NotFound));
        let io_err = io::Error::from(enoent);
        assert_eq!(io_err.kind(), io::ErrorKind::NotFound);
        assert_eq!(io_err.to_string(), "x");

        assert!(Error::from(map(401, "")).is_auth());
        assert!(Error::from(map(403, "")).is_auth());

        let timeout = Error::Timeout(TimeoutPhase::ResponseBody);
        assert!(timeout.is_retryable_transport());
        assert!(timeout.may_have_been_sent());
        assert_eq!(timeout.to_string(), "timed out reading the response body");
        assert!(!Error::Timeout(TimeoutPhase::Connect).may_have_been_sent());

        let nd = Error::Ndjson {
            message: "m".into(),
            errno: Some(Errno::Name("EISDIR".into())),
        };
        assert_eq!(nd.io_error_kind(), Some(io::ErrorKind::IsADirectory));
        assert_eq!(nd.to_string(), "m");

        let raw = io::Error::new(io::ErrorKind::BrokenPipe, "pipe");
        let back = io::Error::from(Error::Io(raw));
        assert_eq!(back.kind(), io::ErrorKind::BrokenPipe);
    }
}
