//! Building and sending one HTTP request.

use std::fmt::{self, Write as _};
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};
use http_body::Frame;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use serde::Serialize;
use url::Url;

use crate::auth::has_scheme_and_credential;
use crate::error::{ApiError, BoxError, Error, TimeoutPhase};
use crate::response::Response;
use crate::tracing_headers::{gen_span_id, gen_trace_id, TraceHeaders, B3, SENTRY_TRACE};
use crate::transport::{ReqBody, Transport};

/// aiohttp gives up at the 10th redirect.
const MAX_REDIRECTS: usize = 10;

/// Where the `Authorization` header comes from.
#[derive(Clone)]
pub(crate) enum AuthMode {
    /// Ask the transport's [`AuthProvider`](crate::AuthProvider).
    Provider,
    /// Send none.
    Off,
    /// Send this value.
    Explicit(String),
}

enum Body {
    Empty,
    Bytes(Bytes),
    /// A one-shot stream; `None` once sent.
    Stream(Option<ReqBody>),
}

/// An HTTP request being put together; see [`Transport::request`].
///
/// The builder owns its data, so it can be moved into a task. Invalid header names or
/// values are reported by [`send`](Self::send).
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    transport: Transport,
    method: Method,
    url: Url,
    query: Vec<(String, Option<String>)>,
    headers: HeaderMap,
    body: Body,
    is_json: bool,
    auth: AuthMode,
    read_timeout: Option<Option<Duration>>,
    trace: bool,
    follow_redirects: bool,
    error: Option<Error>,
}

impl RequestBuilder {
    pub(crate) fn new(transport: Transport, method: Method, url: Url) -> Self {
        RequestBuilder {
            transport,
            method,
            url,
            query: Vec::new(),
            headers: HeaderMap::new(),
            body: Body::Empty,
            is_json: false,
            auth: AuthMode::Provider,
            read_timeout: None,
            trace: true,
            follow_redirects: true,
            error: None,
        }
    }

    /// Adds a query parameter. Keys may repeat and keep their order. If any parameter is
    /// given, the URL's own query is **replaced**, as in the Python SDK.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), Some(value.into())));
        self
    }

    /// Adds a bare query key without `=`, e.g. `POST jobs?from_preset`.
    pub fn query_flag(mut self, key: impl Into<String>) -> Self {
        self.query.push((key.into(), None));
        self
    }

    /// Adds a header (an existing header of the same name is kept too).
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

    /// Sends `value` as a JSON body with `Content-Type: application/json`.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(bytes) => {
                self.body = Body::Bytes(Bytes::from(bytes));
                self.is_json = true;
            }
            Err(e) => self.fail(Error::json("request body", e)),
        }
        self
    }

    /// Sends bytes as the body, with a `Content-Length`.
    pub fn body_bytes(mut self, body: impl Into<Bytes>) -> Self {
        self.body = Body::Bytes(body.into());
        self.is_json = false;
        self
    }

    /// Streams the body with chunked transfer encoding.
    ///
    /// A streamed body cannot be sent twice, so a `307`/`308` redirect is returned to the
    /// caller instead of being followed.
    pub fn body_stream<S>(mut self, stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let frames = stream
            .map_ok(Frame::data)
            .map_err(|e| Box::new(e) as BoxError);
        self.body = Body::Stream(Some(StreamBody::new(frames).boxed_unsync()));
        self.is_json = false;
        self
    }

    /// Sends no `Authorization` header.
    pub fn no_auth(mut self) -> Self {
        self.auth = AuthMode::Off;
        self
    }

    /// Uses this `Authorization` value instead of the transport's credentials
    /// (e.g. `Basic …` for the registry). Like the Python SDK, a value without a scheme
    /// and a credential (fewer than two words) is not sent.
    pub fn authorization(mut self, value: impl Into<String>) -> Self {
        self.auth = AuthMode::Explicit(value.into());
        self
    }

    /// Overrides the transport's read timeout; `None` disables it (storage uploads and
    /// downloads need that).
    pub fn read_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.read_timeout = Some(timeout);
        self
    }

    /// Leaves out the `b3` and `sentry-trace` headers (the Python SDK does not send them
    /// for `/config` and OAuth calls).
    pub fn no_trace(mut self) -> Self {
        self.trace = false;
        self
    }

    /// Whether to follow `301/302/303/307/308` redirects (default: yes, like aiohttp).
    pub fn follow_redirects(mut self, follow: bool) -> Self {
        self.follow_redirects = follow;
        self
    }

    /// Sends the request. A status ≥ 400 becomes [`Error::Api`] (wire notes §1.4).
    pub async fn send(self) -> Result<Response, Error> {
        let response = self.send_raw().await?;
        let status = response.status();
        if status.as_u16() >= 400 {
            let text = response.text().await?;
            return Err(ApiError::from_response(status.as_u16(), &text).into());
        }
        Ok(response)
    }

    /// Sends the request and returns whatever status the server answered.
    pub async fn send_raw(mut self) -> Result<Response, Error> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        let shared = &self.transport.shared;
        let read_timeout = self.read_timeout.unwrap_or(shared.read_timeout);
        // The head wait includes connecting, which has its own limit.
        let head_timeout = read_timeout.map(|r| r + shared.connect_timeout.unwrap_or_default());

        let mut headers = std::mem::take(&mut self.headers);
        // Only `Sync` parts may be borrowed across an await: the body is not `Sync`.
        add_default_headers(
            &mut headers,
            &self.transport,
            &self.auth,
            &self.method,
            self.trace,
            self.is_json,
        )
        .await?;
        // hyper sends no `Content-Length` for an empty body; aiohttp sends
        // `Content-Length: 0` (an empty storage CREATE, for one), and so do we.
        if let Body::Bytes(bytes) = &self.body {
            if !headers.contains_key(header::CONTENT_LENGTH) {
                headers.insert(header::CONTENT_LENGTH, HeaderValue::from(bytes.len()));
            }
        }

        let mut method = self.method.clone();
        let mut url = self.url.clone();
        url.set_fragment(None);
        let mut query = encode_query(&self.query);
        let mut redirects = 0;
        loop {
            let body = match &mut self.body {
                Body::Empty => Empty::new().map_err(|n| match n {}).boxed_unsync(),
                Body::Bytes(b) => Full::new(b.clone()).map_err(|n| match n {}).boxed_unsync(),
                Body::Stream(s) => match s.take() {
                    Some(s) => s,
                    None => Empty::new().map_err(|n| match n {}).boxed_unsync(),
                },
            };
            let target = request_target(&url, query.as_deref())?;
            let mut request = http::Request::new(body);
            *request.method_mut() = method.clone();
            *request.uri_mut() = target;
            *request.headers_mut() = headers.clone();

            tracing::debug!(method = %method, url = %url, "fetch");
            let pending = shared.client.request(request);
            let result = match head_timeout {
                Some(limit) => tokio::time::timeout(limit, pending)
                    .await
                    .map_err(|_| Error::Timeout(TimeoutPhase::ResponseHead))?,
                None => pending.await,
            };
            let response = result.map_err(|e| classify_send_error(e, &url))?;
            let status = response.status();

            if !self.follow_redirects || !is_redirect(status) {
                return Ok(Response::new(response, url, read_timeout));
            }
            redirects += 1;
            if redirects >= MAX_REDIRECTS {
                return Err(Error::Redirect(format!(
                    "too many redirects, last to {url}"
                )));
            }
            let Some(location) = response
                .headers()
                .get(header::LOCATION)
                .or_else(|| response.headers().get("URI"))
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
            else {
                return Ok(Response::new(response, url, read_timeout));
            };
            let becomes_get = (status == StatusCode::SEE_OTHER && method != Method::HEAD)
                || (matches!(status.as_u16(), 301 | 302) && method == Method::POST);
            if becomes_get {
                method = Method::GET;
                self.body = Body::Empty;
                headers.remove(header::CONTENT_LENGTH);
            } else if matches!(self.body, Body::Stream(_)) {
                // The body is gone; hand the redirect to the caller.
                return Ok(Response::new(response, url, read_timeout));
            }
            let next = url
                .join(&location)
                .map_err(|e| Error::Redirect(format!("bad location {location:?}: {e}")))?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(Error::Redirect(format!(
                    "can redirect only to http or https, not {location:?}"
                )));
            }
            if next.origin() != url.origin() {
                headers.remove(header::AUTHORIZATION);
            }
            drop(response);
            url = next;
            url.set_fragment(None);
            query = None;
        }
    }

    fn fail(&mut self, e: Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestBuilder")
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field("query", &self.query)
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// Authorization, tracing, User-Agent, Accept and Content-Type.
async fn add_default_headers(
    headers: &mut HeaderMap,
    transport: &Transport,
    auth: &AuthMode,
    method: &Method,
    trace: bool,
    is_json: bool,
) -> Result<(), Error> {
    let shared = &transport.shared;
    let auth = match auth {
        AuthMode::Off => None,
        AuthMode::Explicit(value) => Some(value.clone()),
        AuthMode::Provider => match &transport.auth {
            Some(provider) => provider.authorization().await?,
            None => None,
        },
    };
    if let Some(value) = auth.filter(|v| has_scheme_and_credential(v)) {
        headers.insert(header::AUTHORIZATION, sensitive_value(&value)?);
    }
    if trace {
        let trace_id = shared.trace_id.clone().unwrap_or_else(gen_trace_id);
        let trace = TraceHeaders::new(&trace_id, &gen_span_id(), shared.trace_sampled);
        headers.insert(B3, header_value(&trace.b3)?);
        headers.insert(SENTRY_TRACE, header_value(&trace.sentry_trace)?);
    }
    if !headers.contains_key(header::USER_AGENT) {
        headers.insert(header::USER_AGENT, shared.user_agent.clone());
    }
    if !headers.contains_key(header::ACCEPT) {
        headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    }
    if !headers.contains_key(header::CONTENT_TYPE) {
        if is_json {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        } else if matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
            // aiohttp's default for these methods, with or without a body.
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
        }
    }
    Ok(())
}

fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

fn header_value(value: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(value).map_err(|e| Error::InvalidRequest(e.into()))
}

pub(crate) fn sensitive_value(value: &str) -> Result<HeaderValue, Error> {
    let mut v = header_value(value)?;
    v.set_sensitive(true);
    Ok(v)
}

/// Encodes query parameters exactly like yarl's `URL.with_query`: space as `+`, letters,
/// digits and ``-._~!$'()*,?/:@`` as they are, everything else (`+`, `&`, `=`, `;`, …)
/// as upper-case `%XX` of its UTF-8 bytes. `None` if there are no parameters.
pub(crate) fn encode_query(params: &[(String, Option<String>)]) -> Option<String> {
    if params.is_empty() {
        return None;
    }
    let mut out = String::new();
    for (i, (key, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_query_part(key, &mut out);
        if let Some(value) = value {
            out.push('=');
            encode_query_part(value, &mut out);
        }
    }
    Some(out)
}

fn encode_query_part(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'.'
            | b'_'
            | b'~'
            | b'!'
            | b'$'
            | b'\''
            | b'('
            | b')'
            | b'*'
            | b','
            | b'?'
            | b'/'
            | b':'
            | b'@' => out.push(char::from(b)),
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
}

/// The request URI: `url` with its query replaced by `query` when given.
pub(crate) fn request_target(url: &Url, query: Option<&str>) -> Result<http::Uri, Error> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(Error::InvalidUrl {
            url: url.to_string(),
            reason: "only http and https are supported".into(),
        });
    }
    let mut base = url.clone();
    base.set_fragment(None);
    let text = match query {
        Some(query) => {
            base.set_query(None);
            format!("{base}?{query}")
        }
        None => base.to_string(),
    };
    text.parse()
        .map_err(|e: http::uri::InvalidUri| Error::InvalidUrl {
            url: url.to_string(),
            reason: e.to_string(),
        })
}

/// Turns a hyper client failure into a connect, timeout or HTTP error.
pub(crate) fn classify_send_error(e: hyper_util::client::legacy::Error, url: &Url) -> Error {
    if !e.is_connect() {
        return Error::Http(Box::new(e));
    }
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::TimedOut {
                return Error::Timeout(TimeoutPhase::Connect);
            }
        }
        cause = c.source();
    }
    Error::Connect {
        host: host_port(url),
        source: Box::new(e),
    }
}

pub(crate) fn host_port(url: &Url) -> String {
    match (url.host_str(), url.port_or_known_default()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn q(pairs: &[(&str, Option<&str>)]) -> Option<String> {
        let owned: Vec<(String, Option<String>)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.map(str::to_owned)))
            .collect();
        encode_query(&owned)
    }

    #[test]
    fn query_encoding_matches_yarl() {
        // Expected strings produced by yarl 1.x `URL.with_query`.
        assert_eq!(
            q(&[
                ("a b", Some("c+d&e=f;g")),
                ("since", Some("2022-01-01T00:00:00+00:00")),
                ("k", Some("!$'()*,?/:@[]#%^{}|\\\"<>`ä~")),
            ])
            .unwrap(),
            "a+b=c%2Bd%26e%3Df%3Bg&since=2022-01-01T00:00:00%2B00:00\
             &k=!$'()*,?/:@%5B%5D%23%25%5E%7B%7D%7C%5C%22%3C%3E%60%C3%A4~"
        );
        assert_eq!(
            q(&[("status", Some("running")), ("status", Some("pending"))]).unwrap(),
            "status=running&status=pending"
        );
        assert_eq!(q(&[("from_preset", None)]).unwrap(), "from_preset");
        assert_eq!(q(&[]), None);
    }

    #[test]
    fn query_replaces_url_query() {
        let url = Url::parse("https://h/api/v1/jobs?old=1#frag").unwrap();
        let t = request_target(&url, Some("a=1")).unwrap();
        assert_eq!(t.to_string(), "https://h/api/v1/jobs?a=1");
        let url = Url::parse("http://h:8080/x?keep=1").unwrap();
        let t = request_target(&url, None).unwrap();
        assert_eq!(t.to_string(), "http://h:8080/x?keep=1");
        let url = Url::parse("ftp://h/x").unwrap();
        assert!(matches!(
            request_target(&url, None),
            Err(Error::InvalidUrl { .. })
        ));
    }
}
