//! The pooled HTTP client shared by every platform API.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Method;
use http_body_util::combinators::UnsyncBoxBody;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use url::Url;

use crate::auth::AuthProvider;
use crate::error::{BoxError, Error};
use crate::request::RequestBuilder;
use crate::ws::WsRequestBuilder;

/// The request body type handed to hyper.
pub(crate) type ReqBody = UnsyncBoxBody<Bytes, BoxError>;

pub(crate) type HyperClient = Client<HttpsConnector<HttpConnector>, ReqBody>;

/// Default for [`TransportOptions::connect_timeout`] and
/// [`TransportOptions::read_timeout`]: 60 s, the Python SDK's `sock_connect`/`sock_read`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Default limit for one incoming websocket message: 4 MiB, aiohttp's `max_msg_size`.
pub const DEFAULT_WS_MAX_MESSAGE_SIZE: usize = 4 * 1024 * 1024;

/// The default `User-Agent`: `neuro-rs/<version> (<os>)`.
pub fn default_user_agent() -> String {
    format!(
        "neuro-rs/{} ({})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS
    )
}

/// Settings for a [`Transport`].
#[derive(Clone)]
pub struct TransportOptions {
    /// Limit for opening a TCP connection. `None` waits forever. Default 60 s.
    pub connect_timeout: Option<Duration>,
    /// Limit for the silence between pieces of a response: while waiting for the
    /// response head and between body chunks. `None` waits forever. Default 60 s.
    /// Requests can override it with [`RequestBuilder::read_timeout`].
    pub read_timeout: Option<Duration>,
    /// Sent as `User-Agent` on every request and websocket handshake.
    pub user_agent: String,
    /// A fixed trace id for the `b3`/`sentry-trace` headers. `None` makes a new one for
    /// each request.
    pub trace_id: Option<String>,
    /// The sampling flag of `sentry-trace` (`None`: unknown, sends an empty flag).
    pub trace_sampled: Option<bool>,
    /// Credentials for requests; see also [`Transport::with_auth`].
    pub auth: Option<Arc<dyn AuthProvider>>,
    /// Largest accepted incoming websocket message. Default 4 MiB; `None` = no limit.
    pub ws_max_message_size: Option<usize>,
    /// A custom TLS configuration (e.g. extra root certificates). Its ALPN list is
    /// replaced. Default: webpki roots with the ring provider.
    pub tls_config: Option<rustls::ClientConfig>,
}

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            connect_timeout: Some(DEFAULT_TIMEOUT),
            read_timeout: Some(DEFAULT_TIMEOUT),
            user_agent: default_user_agent(),
            trace_id: None,
            trace_sampled: None,
            auth: None,
            ws_max_message_size: Some(DEFAULT_WS_MAX_MESSAGE_SIZE),
            tls_config: None,
        }
    }
}

impl fmt::Debug for TransportOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportOptions")
            .field("connect_timeout", &self.connect_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("user_agent", &self.user_agent)
            .field("trace_id", &self.trace_id)
            .field("trace_sampled", &self.trace_sampled)
            .field("auth", &self.auth.as_ref().map(|_| "<provider>"))
            .field("ws_max_message_size", &self.ws_max_message_size)
            .field("tls_config", &self.tls_config.as_ref().map(|_| "<custom>"))
            .finish()
    }
}

/// Everything the clones of a [`Transport`] share.
pub(crate) struct Shared {
    pub(crate) client: HyperClient,
    /// An HTTP/1.1-only client for websocket handshakes (an upgrade needs HTTP/1.1).
    pub(crate) ws_client: HyperClient,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) user_agent: http::HeaderValue,
    pub(crate) trace_id: Option<String>,
    pub(crate) trace_sampled: Option<bool>,
    pub(crate) ws_max_message_size: Option<usize>,
}

/// A pooled HTTP/1.1 + HTTP/2 client for the platform, with optional credentials.
///
/// Clones are cheap and share the connection pool.
///
/// ```no_run
/// # // no_run: neuro-http sits below neuro-local in the crate graph; every SDK crate's tests drive this transport against a real neuro-local
/// use std::sync::Arc;
/// use neuro_http::{Method, StaticToken, Transport, TransportOptions, Url};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let transport = Transport::new(TransportOptions::default())?
///     .with_auth(Arc::new(StaticToken::new("token")));
/// let url = Url::parse("https://staging.neu.ro/api/v1/jobs/job-1")?;
/// let job: serde_json::Value = transport.request(Method::GET, url).send().await?.json().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Transport {
    pub(crate) shared: Arc<Shared>,
    pub(crate) auth: Option<Arc<dyn AuthProvider>>,
}

impl Transport {
    /// Builds the client: TLS with webpki roots and the ring provider (no process-wide
    /// crypto provider needed), HTTP/2 by ALPN.
    pub fn new(options: TransportOptions) -> Result<Self, Error> {
        let mut tls = match options.tls_config {
            Some(cfg) => cfg,
            None => default_tls_config()?,
        };
        tls.alpn_protocols.clear();

        let client = build_client(tls.clone(), options.connect_timeout, true);
        let ws_client = build_client(tls, options.connect_timeout, false);

        let user_agent = http::HeaderValue::from_str(&options.user_agent)
            .map_err(|e| Error::InvalidRequest(e.into()))?;
        Ok(Transport {
            shared: Arc::new(Shared {
                client,
                ws_client,
                connect_timeout: options.connect_timeout,
                read_timeout: options.read_timeout,
                user_agent,
                trace_id: options.trace_id,
                trace_sampled: options.trace_sampled,
                ws_max_message_size: options.ws_max_message_size,
            }),
            auth: options.auth,
        })
    }

    /// This transport with `auth` supplying credentials; the pool stays shared.
    pub fn with_auth(mut self, auth: Arc<dyn AuthProvider>) -> Self {
        self.auth = Some(auth);
        self
    }

    /// This transport without credentials; the pool stays shared.
    pub fn without_auth(mut self) -> Self {
        self.auth = None;
        self
    }

    /// The credentials provider, if any.
    pub fn auth(&self) -> Option<&Arc<dyn AuthProvider>> {
        self.auth.as_ref()
    }

    /// The default read timeout of requests.
    pub fn read_timeout(&self) -> Option<Duration> {
        self.shared.read_timeout
    }

    /// Starts a request. Nothing is sent until [`RequestBuilder::send`].
    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, url)
    }

    /// Starts a `GET` request.
    pub fn get(&self, url: Url) -> RequestBuilder {
        self.request(Method::GET, url)
    }

    /// Starts a `POST` request.
    pub fn post(&self, url: Url) -> RequestBuilder {
        self.request(Method::POST, url)
    }

    /// Starts a `PUT` request.
    pub fn put(&self, url: Url) -> RequestBuilder {
        self.request(Method::PUT, url)
    }

    /// Starts a `PATCH` request.
    pub fn patch(&self, url: Url) -> RequestBuilder {
        self.request(Method::PATCH, url)
    }

    /// Starts a `DELETE` request.
    pub fn delete(&self, url: Url) -> RequestBuilder {
        self.request(Method::DELETE, url)
    }

    /// Starts a `HEAD` request.
    pub fn head(&self, url: Url) -> RequestBuilder {
        self.request(Method::HEAD, url)
    }

    /// Starts a websocket handshake. `http`/`https` URLs are used as `ws`/`wss`.
    pub fn ws_connect(&self, url: Url) -> WsRequestBuilder {
        WsRequestBuilder::new(self.clone(), url)
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("connect_timeout", &self.shared.connect_timeout)
            .field("read_timeout", &self.shared.read_timeout)
            .field("user_agent", &self.shared.user_agent)
            .field("auth", &self.auth.as_ref().map(|_| "<provider>"))
            .finish_non_exhaustive()
    }
}

/// A pooled client over TCP and rustls; `http2` enables HTTP/2 by ALPN.
fn build_client(
    tls: rustls::ClientConfig,
    connect_timeout: Option<Duration>,
    http2: bool,
) -> HyperClient {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(connect_timeout);
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1();
    let mut client = Client::builder(TokioExecutor::new());
    client
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new());
    if http2 {
        client.build(builder.enable_http2().wrap_connector(http))
    } else {
        // Upgraded connections never return to the pool; refused ones need not either.
        client
            .pool_max_idle_per_host(0)
            .build(builder.wrap_connector(http))
    }
}

/// Webpki roots, ring provider, TLS 1.2 and 1.3, no client certificate.
fn default_tls_config() -> Result<rustls::ClientConfig, Error> {
    tls_config_with_extra_roots(b"")
}

/// A TLS configuration that trusts the webpki roots plus the PEM certificates in `pem`
/// (e.g. the file named by `SSL_CERT_FILE`, or a company proxy's CA), for
/// [`TransportOptions::tls_config`]. Uses the ring provider.
pub fn tls_config_with_extra_roots(pem: &[u8]) -> Result<rustls::ClientConfig, Error> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};

    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|e| Error::Tls(Box::new(e)))?;
        roots.add(cert).map_err(|e| Error::Tls(Box::new(e)))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(Box::new(e)))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
