//! HTTP and websocket transport for the Neuro Platform SDK: auth, error mapping, NDJSON.
//!
//! One [`Transport`] holds the connection pool, TLS setup, timeouts, `User-Agent` and
//! credentials, and is shared (cheaply cloned) by every API crate. It reproduces the
//! wire behaviour of the Python `neuro-sdk` 22.7.1 transport (`_core.py`):
//!
//! * requests carry `Authorization` (from an [`AuthProvider`]), `User-Agent` and the
//!   `b3`/`sentry-trace` tracing headers ([`tracing_headers`]);
//! * query parameters replace the URL's query and are encoded like yarl;
//! * a status ≥ 400 becomes [`Error::Api`] with the Python SDK's classification
//!   ([`ApiError::from_response`]), including `OSError`-style errno errors;
//! * NDJSON bodies are read as `'static` streams ([`Response::ndjson`]);
//! * websockets ([`Transport::ws_connect`]) share the TLS setup and credentials.
//!
//! ```no_run
//! use std::sync::Arc;
//! use futures::TryStreamExt;
//! use neuro_http::{StaticToken, Transport, TransportOptions, Url};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let transport = Transport::new(TransportOptions::default())?
//!     .with_auth(Arc::new(StaticToken::new("token")));
//! let url = Url::parse("https://staging.neu.ro/api/v1/jobs")?;
//! let jobs: Vec<serde_json::Value> = transport
//!     .get(url)
//!     .header("Accept", "application/x-ndjson")
//!     .query("cluster_name", "default")
//!     .send()
//!     .await?
//!     .ndjson()
//!     .try_collect()
//!     .await?;
//! # Ok(()) }
//! ```

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
