#![doc = include_str!("../README.md")]

mod auth;
mod errno;
mod error;
pub mod ndjson;
mod request;
mod response;
pub mod tracing_headers;
mod transport;
mod ws;

pub use auth::{AuthProvider, StaticToken};
pub use errno::Errno;
pub use error::{ApiError, ApiErrorKind, BoxError, Error, TimeoutPhase};
pub use ndjson::{LineStream, NdjsonStream};
pub use request::RequestBuilder;
pub use response::{Response, NDJSON_CONTENT_TYPE};
pub use transport::{
    default_user_agent, tls_config_with_extra_roots, Transport, TransportOptions, DEFAULT_TIMEOUT,
    DEFAULT_WS_MAX_MESSAGE_SIZE,
};
pub use ws::{WsRequestBuilder, WsStream};

pub use bytes::Bytes;
pub use futures::future::BoxFuture;
pub use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
pub use tokio_tungstenite::tungstenite;
pub use tokio_tungstenite::tungstenite::Message;
pub use url::Url;
