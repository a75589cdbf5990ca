//! Websocket handshakes (logs, top, attach, exec, port-forward).
//!
//! Wire notes §1.5-§1.6: `Authorization` and `User-Agent` are sent, tracing headers are
//! not; a subprotocol is a plain header whose echo is not checked; a refused handshake
//! is classified from its `X-Error` header like an HTTP error body.

use std::fmt;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::handshake::client::generate_key;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use url::Url;

use crate::error::{ApiError, Error, TimeoutPhase};
use crate::request::{
    classify_send_error, encode_query, request_target, sensitive_value, AuthMode,
};
use crate::transport::Transport;

/// An open websocket connection (plain or TLS): a `Stream` and `Sink` of
/// [`Message`](crate::Message)s.
///
/// The connection is a hyper upgrade rather than tokio-tungstenite's `MaybeTlsStream`
/// because tungstenite's own client handshake insists that the server echo a requested
/// subprotocol, which the platform's servers need not do.
pub type WsStream = WebSocketStream<TokioIo<Upgraded>>;

/// A websocket handshake being put together; see [`Transport::ws_connect`].
///
/// ```no_run
/// # // no_run: neuro-http sits below neuro-local in the crate graph; the websocket calls run for real in the jobs tests (exec, attach, port-forward)
/// use futures::StreamExt;
/// use neuro_http::{Transport, TransportOptions, Url};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let transport = Transport::new(TransportOptions::default())?;
/// let url = Url::parse("https://mon.example/api/v1/jobs/job-1/attach")?;
/// let mut ws = transport
///     .ws_connect(url)
///     .query("stdout", "1")
///     .protocol("v2.channels.neu.ro")
///     .send()
///     .await?;
/// while let Some(message) = ws.next().await {
///     println!("{:?}", message?);
/// }
/// # Ok(()) }
/// ```
#[must_use = "a handshake does nothing until it is sent"]
pub struct WsRequestBuilder {
    transport: Transport,
    url: Url,
    query: Vec<(String, Option<String>)>,
    headers: HeaderMap,
    auth: AuthMode,
    max_message_size: Option<Option<usize>>,
    read_buffer_size: Option<usize>,
    error: Option<Error>,
}

impl WsRequestBuilder {
    pub(crate) fn new(transport: Transport, url: Url) -> Self {
        WsRequestBuilder {
            transport,
            url,
            query: Vec::new(),
            headers: HeaderMap::new(),
            auth: AuthMode::Provider,
            max_message_size: None,
            read_buffer_size: None,
            error: None,
        }
    }

    /// Adds a query parameter; any parameter replaces the URL's own query.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), Some(value.into())));
        self
    }

    /// Sends `Sec-WebSocket-Protocol: <protocol>`. The server's echo is not checked.
    pub fn protocol(self, protocol: &str) -> Self {
        self.header(header::SEC_WEBSOCKET_PROTOCOL, protocol)
    }

    /// Adds a header.
    pub fn header<K, V>(mut self, name: K, value: V) -> Self
    where
        K: TryInto<HeaderName>,
        K::Error: Into<http::Error>,
        V: TryInto<HeaderValue>,
        V::Error: Into<http::Error>,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(value)) => {
                self.headers.append(name, value);
            }
            (Err(e), _) => self.fail(Error::InvalidRequest(e.into())),
            (_, Err(e)) => self.fail(Error::InvalidRequest(e.into())),
        }
        self
    }

    fn fail(&mut self, e: Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Uses this `Authorization` value instead of the transport's credentials.
    pub fn authorization(mut self, value: impl Into<String>) -> Self {
        self.auth = AuthMode::Explicit(value.into());
        self
    }

    /// Sends no `Authorization` header.
    pub fn no_auth(mut self) -> Self {
        self.auth = AuthMode::Off;
        self
    }

    /// Limit for one incoming message (`None`: unlimited). Default: the transport's
    /// [`ws_max_message_size`](crate::TransportOptions::ws_max_message_size).
    pub fn max_message_size(mut self, limit: Option<usize>) -> Self {
        self.max_message_size = Some(limit);
        self
    }

    /// Bytes read from the socket at a time (default: tungstenite's 128 KiB).
    /// A stream of large frames (a job's log comes in 1 MiB frames) reads
    /// with fewer calls when this matches the frame size; the buffer is only
    /// filled as data arrives.
    pub fn read_buffer_size(mut self, bytes: usize) -> Self {
        self.read_buffer_size = Some(bytes);
        self
    }

    /// Connects and performs the handshake. A refused handshake becomes [`Error::Api`].
    ///
    /// The handshake is done with hyper rather than tungstenite so that, like aiohttp,
    /// a subprotocol header is sent without requiring the server to echo it.
    pub async fn send(self) -> Result<WsStream, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let shared = &self.transport.shared;
        let url = http_url(&self.url)?;
        let target = request_target(&url, encode_query(&self.query).as_deref())?;
        let shown_url = target.to_string();

        let key = generate_key();
        let mut headers = HeaderMap::new();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        headers.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
        headers.insert(
            header::SEC_WEBSOCKET_KEY,
            HeaderValue::from_str(&key).map_err(|e| Error::InvalidRequest(e.into()))?,
        );
        headers.insert(header::USER_AGENT, shared.user_agent.clone());
        let auth = match self.auth {
            AuthMode::Off => None,
            AuthMode::Explicit(value) => Some(value),
            AuthMode::Provider => match &self.transport.auth {
                Some(provider) => provider.authorization().await?,
                None => None,
            },
        };
        if let Some(value) = auth {
            headers.insert(header::AUTHORIZATION, sensitive_value(&value)?);
        }
        for (name, value) in &self.headers {
            headers.append(name.clone(), value.clone());
        }
        let mut request = http::Request::new(Empty::new().map_err(|n| match n {}).boxed_unsync());
        *request.uri_mut() = target;
        *request.headers_mut() = headers;

        tracing::debug!(url = %shown_url, "fetch web socket");
        let handshake = async {
            let mut response = shared
                .ws_client
                .request(request)
                .await
                .map_err(|e| classify_send_error(e, &url))?;
            check_handshake(&response, &key, &shown_url)?;
            hyper::upgrade::on(&mut response)
                .await
                .map_err(|e| Error::Http(Box::new(e)))
        };
        let head_timeout = shared
            .read_timeout
            .map(|r| r + shared.connect_timeout.unwrap_or_default());
        let upgraded = match head_timeout {
            Some(limit) => tokio::time::timeout(limit, handshake)
                .await
                .map_err(|_| Error::Timeout(TimeoutPhase::WebSocketHandshake))??,
            None => handshake.await?,
        };

        let max_message_size = self.max_message_size.unwrap_or(shared.ws_max_message_size);
        let mut config = WebSocketConfig::default().max_message_size(max_message_size);
        if let Some(bytes) = self.read_buffer_size {
            config = config.read_buffer_size(bytes);
        }
        Ok(
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Client, Some(config))
                .await,
        )
    }
}

impl fmt::Debug for WsRequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsRequestBuilder")
            .field("url", &self.url.as_str())
            .field("query", &self.query)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// The `http`/`https` URL for an `http(s)`/`ws(s)` URL.
fn http_url(url: &Url) -> Result<Url, Error> {
    let scheme = match url.scheme() {
        "http" | "ws" => "http",
        "https" | "wss" => "https",
        _ => {
            return Err(Error::InvalidUrl {
                url: url.to_string(),
                reason: "a websocket needs an http, https, ws or wss URL".into(),
            })
        }
    };
    let text = format!("{scheme}{}", &url[url::Position::AfterScheme..]);
    Url::parse(&text).map_err(|e| Error::InvalidUrl {
        url: url.to_string(),
        reason: e.to_string(),
    })
}

/// Checks the answer to a handshake like aiohttp 3.8 does; any failure is classified
/// by [`handshake_error`] with the answer's status.
fn check_handshake(response: &http::Response<Incoming>, key: &str, url: &str) -> Result<(), Error> {
    let status = response.status().as_u16();
    let headers = response.headers();
    let header_is = |name: header::HeaderName, expected: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case(expected))
    };
    let problem = if status != 101 {
        Some("Invalid response status")
    } else if !header_is(header::UPGRADE, "websocket") {
        Some("Invalid upgrade header")
    } else if !header_is(header::CONNECTION, "upgrade") {
        Some("Invalid connection header")
    } else if !header_is(
        header::SEC_WEBSOCKET_ACCEPT,
        &derive_accept_key(key.as_bytes()),
    ) {
        Some("Invalid challenge response")
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(problem) => Err(handshake_error(status, headers, problem, url).into()),
    }
}

/// Classifies a refused handshake: the `X-Error` header if present, else aiohttp's
/// `"<status>, message='<problem>', url=URL('<url>')"`, then the same steps as an HTTP
/// error body.
pub(crate) fn handshake_error(
    status: u16,
    headers: &HeaderMap,
    problem: &str,
    url: &str,
) -> ApiError {
    let text = match headers.get("X-Error").and_then(|v| v.to_str().ok()) {
        Some(x_error) => x_error.to_owned(),
        None => format!("{status}, message='{problem}', url=URL('{url}')"),
    };
    ApiError::from_response(status, &text)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::ApiErrorKind;

    #[test]
    fn http_urls() {
        let u = Url::parse("wss://h:8443/api/v1/jobs/x/log_ws?a=1").unwrap();
        assert_eq!(
            http_url(&u).unwrap().as_str(),
            "https://h:8443/api/v1/jobs/x/log_ws?a=1"
        );
        let u = Url::parse("ws://127.0.0.1/x").unwrap();
        assert_eq!(http_url(&u).unwrap().as_str(), "http://127.0.0.1/x");
        let u = Url::parse("ws://[::1]:9/x").unwrap();
        assert_eq!(http_url(&u).unwrap().as_str(), "http://[::1]:9/x");
        let u = Url::parse("https://h/x").unwrap();
        assert_eq!(http_url(&u).unwrap().as_str(), "https://h/x");
        let u = Url::parse("ftp://h/x").unwrap();
        assert!(http_url(&u).is_err());
    }

    #[test]
    fn handshake_errors() {
        let url = "http://h/x";
        let problem = "Invalid response status";
        let mut headers = HeaderMap::new();
        let e = handshake_error(404, &headers, problem, url);
        assert_eq!(e.kind, ApiErrorKind::ResourceNotFound);
        assert_eq!(
            e.message,
            "404, message='Invalid response status', url=URL('http://h/x')"
        );
        headers.insert(
            "X-Error",
            HeaderValue::from_static(r#"{"error": "ws failure"}"#),
        );
        let e = handshake_error(500, &headers, problem, url);
        assert_eq!(e.message, "ws failure");
        assert_eq!(e.kind, ApiErrorKind::IllegalArgument);
        headers.insert(
            "X-Error",
            HeaderValue::from_static(r#"{"error": "bad", "errno": "ENOENT"}"#),
        );
        let e = handshake_error(400, &headers, problem, url);
        assert_eq!(e.kind, ApiErrorKind::Os);
        headers.insert("X-Error", HeaderValue::from_static("plain text"));
        assert_eq!(
            handshake_error(403, &headers, problem, url).message,
            "plain text"
        );
    }
}
