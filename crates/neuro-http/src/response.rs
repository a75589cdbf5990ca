//! A received response and the ways to read its body.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt};
use http::header::{self, HeaderMap};
use http::StatusCode;
use http_body::Body as _;
use hyper::body::Incoming;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::time::{Instant, Sleep};
use url::Url;

use crate::error::{Error, TimeoutPhase};
use crate::ndjson::{LineStream, NdjsonStream};

/// The media type of NDJSON bodies.
pub const NDJSON_CONTENT_TYPE: &str = "application/x-ndjson";

/// The status, headers and not-yet-read body of an HTTP response.
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    url: Url,
    body: BodyStream,
}

impl Response {
    pub(crate) fn new(
        response: http::Response<Incoming>,
        url: Url,
        read_timeout: Option<Duration>,
    ) -> Self {
        let (parts, body) = response.into_parts();
        Response {
            status: parts.status,
            headers: parts.headers,
            url,
            body: BodyStream::new(body, read_timeout),
        }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The URL that answered (after any redirects).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// A header's value, if present and valid text.
    pub fn header_str(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Content-Type` header, or `""`.
    pub fn content_type(&self) -> &str {
        self.header_str(header::CONTENT_TYPE).unwrap_or("")
    }

    /// The `Content-Length` header, if present and numeric.
    pub fn content_length(&self) -> Option<u64> {
        self.header_str(header::CONTENT_LENGTH)
            .and_then(|v| v.trim().parse().ok())
    }

    /// Whether the body is NDJSON: `Content-Type` starts with `application/x-ndjson`.
    pub fn is_ndjson(&self) -> bool {
        self.content_type().starts_with(NDJSON_CONTENT_TYPE)
    }

    /// Reads the whole body.
    pub async fn bytes(self) -> Result<Bytes, Error> {
        // Preallocate from Content-Length, but do not trust a huge value.
        let hint = self.content_length().unwrap_or(0).min(16 << 20) as usize;
        let mut body = self.body;
        let Some(first) = body.next().await.transpose()? else {
            return Ok(Bytes::new());
        };
        let Some(second) = body.next().await.transpose()? else {
            return Ok(first);
        };
        let mut buf = BytesMut::with_capacity(hint.max(first.len() + second.len()));
        buf.extend_from_slice(&first);
        buf.extend_from_slice(&second);
        while let Some(chunk) = body.next().await {
            buf.extend_from_slice(&chunk?);
        }
        Ok(buf.freeze())
    }

    /// Reads the whole body as text (invalid UTF-8 is replaced).
    pub async fn text(self) -> Result<String, Error> {
        let bytes = self.bytes().await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// Reads the whole body and decodes it as JSON.
    pub async fn json<T: DeserializeOwned>(self) -> Result<T, Error> {
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::json("response body", e))
    }

    /// The body as a stream of chunks, read as they arrive (constant memory). The read
    /// timeout applies to the wait for each chunk.
    pub fn bytes_stream(self) -> impl Stream<Item = Result<Bytes, Error>> + Send + Unpin + 'static {
        self.body
    }

    /// The body split into lines (without `\n` / `\r\n`), each at most 8 MiB.
    pub fn lines(self) -> LineStream {
        LineStream::new(self.body)
    }

    /// The body as an NDJSON stream of `T` (wire notes §1.5).
    pub fn ndjson<T: DeserializeOwned + Send + 'static>(self) -> NdjsonStream<T> {
        NdjsonStream::new(self.lines())
    }

    /// NDJSON if the server streams, otherwise the body is read as one JSON document and
    /// `legacy` extracts the items, e.g. `{"jobs": [...]}` for an old job list.
    ///
    /// ```no_run
    /// # // no_run: needs a response of a real server; the jobs and storage listings read theirs this way from neuro-local in the tests
    /// # async fn run(response: neuro_http::Response) {
    /// use futures::TryStreamExt;
    /// let jobs: Vec<serde_json::Value> = response
    ///     .ndjson_or_json(|body| {
    ///         let jobs = body.get("jobs").cloned().unwrap_or_default();
    ///         serde_json::from_value(jobs).map_err(|e| neuro_http::Error::json("job list", e))
    ///     })
    ///     .try_collect()
    ///     .await
    ///     .unwrap_or_default();
    /// # }
    /// ```
    pub fn ndjson_or_json<T, F>(self, legacy: F) -> NdjsonStream<T>
    where
        T: DeserializeOwned + Send + 'static,
        F: FnOnce(Value) -> Result<Vec<T>, Error> + Send + 'static,
    {
        if self.is_ndjson() {
            self.ndjson()
        } else {
            NdjsonStream::from_future(async move { legacy(self.json::<Value>().await?) })
        }
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("url", &self.url.as_str())
            .field("headers", &self.headers)
            .finish_non_exhaustive()
    }
}

/// The response body as a stream of data chunks, with a timeout for each wait.
struct BodyStream {
    body: Incoming,
    read_timeout: Option<Duration>,
    /// The timer of the current wait; re-armed after each chunk.
    timer: Option<Pin<Box<Sleep>>>,
    armed: bool,
    done: bool,
}

impl BodyStream {
    fn new(body: Incoming, read_timeout: Option<Duration>) -> Self {
        BodyStream {
            body,
            read_timeout,
            timer: None,
            armed: false,
            done: false,
        }
    }
}

impl Stream for BodyStream {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            match Pin::new(&mut this.body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => {
                    this.armed = false;
                    if let Ok(data) = frame.into_data() {
                        if !data.is_empty() {
                            return Poll::Ready(Some(Ok(data)));
                        }
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    return Poll::Ready(Some(Err(Error::Body(Box::new(e)))));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => {
                    let Some(limit) = this.read_timeout else {
                        return Poll::Pending;
                    };
                    let deadline = Instant::now() + limit;
                    let timer = this
                        .timer
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                    if !this.armed {
                        timer.as_mut().reset(deadline);
                        this.armed = true;
                    }
                    if timer.as_mut().poll(cx).is_ready() {
                        this.done = true;
                        return Poll::Ready(Some(Err(Error::Timeout(TimeoutPhase::ResponseBody))));
                    }
                    return Poll::Pending;
                }
            }
        }
    }
}
