//! Streaming NDJSON answers, as the platform services send them, and the
//! plain JSON form of a streamed listing.
//!
//! Every item becomes one JSON document followed by the service's line end (see
//! [`LineEnd`]), sent as soon as the stream yields it, with
//! `Content-Type: application/x-ndjson`. The Python SDK switches to line-by-line
//! parsing on that content type and accepts either line end. A client that does
//! not ask for NDJSON gets `{"<key>": [...]}`, streamed the same way
//! ([`json_list_response`]).

use std::convert::Infallible;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;

use crate::error::ApiError;

/// The NDJSON content type.
pub const NDJSON: &str = "application/x-ndjson";

/// How the lines of an NDJSON answer end; each platform service has its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineEnd {
    /// `\n`: platform-api, so the jobs list.
    Lf,
    /// `\r\n`: the storage service (`LISTSTATUS`, `DELETE` events).
    CrLf,
}

impl LineEnd {
    /// The bytes that end a line.
    pub fn as_bytes(self) -> &'static [u8] {
        match self {
            LineEnd::Lf => b"\n",
            LineEnd::CrLf => b"\r\n",
        }
    }
}

/// A `200` answer streaming one JSON line per item of `items`, each ending with
/// `end`.
///
/// Nothing is serialised before the body is polled; dropping the response (for
/// example when the client goes away) drops `items`.
pub fn ndjson_response<S, T>(items: S, end: LineEnd) -> Response
where
    S: Stream<Item = T> + Send + 'static,
    T: Serialize,
{
    streamed(
        items.map(move |item| Ok::<_, Infallible>(ndjson_line(&item, end))),
        NDJSON,
    )
}

/// A `200` answer streaming one JSON line per item of a fallible stream. An
/// error becomes the last line, `{"error": ...}` (the SDK raises it), and ends
/// the answer.
pub fn ndjson_try_response<S, T>(items: S, end: LineEnd) -> Response
where
    S: Stream<Item = Result<T, ApiError>> + Send + 'static,
    T: Serialize,
{
    let lines = items.scan(false, move |failed, item| {
        let line = match item {
            _ if *failed => None,
            Ok(item) => Some(ndjson_line(&item, end)),
            Err(err) => {
                *failed = true;
                tracing::warn!(error = %err.body.error, "a streamed listing failed");
                Some(ndjson_line(&err.body, end))
            }
        };
        futures::future::ready(line)
    });
    streamed(lines.map(Ok::<_, Infallible>), NDJSON)
}

/// A `200` answer `{"<key>": [...]}` whose array items are serialised as the
/// stream yields them. An error after the start cannot change the status any
/// more: it aborts the body, so the client sees a truncated answer, never a
/// shortened list that looks complete.
pub fn json_list_response<S, T>(key: &str, items: S) -> Response
where
    S: Stream<Item = Result<T, ApiError>> + Send + 'static,
    T: Serialize,
{
    let head = Bytes::from(format!("{{{}:[", serde_json::Value::from(key)));
    let body = items.enumerate().map(|(i, item)| {
        let item = item.map_err(|err| std::io::Error::other(err.body.error))?;
        let mut buf = if i == 0 { Vec::new() } else { b",".to_vec() };
        serde_json::to_writer(&mut buf, &item).map_err(std::io::Error::other)?;
        Ok::<_, std::io::Error>(Bytes::from(buf))
    });
    let parts = futures::stream::once(futures::future::ready(Ok(head)))
        .chain(body)
        .chain(futures::stream::once(futures::future::ready(Ok(
            Bytes::from_static(b"]}"),
        ))));
    streamed(parts, "application/json; charset=utf-8")
}

/// A `200` answer with this content type whose body is `parts`.
fn streamed<S, E>(parts: S, content_type: &'static str) -> Response
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: Into<axum::BoxError>,
{
    let mut response = Response::new(Body::from_stream(parts));
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// One NDJSON line: `item` as compact JSON followed by `end`.
///
/// An item that cannot be serialised becomes an `{"error": ...}` line, which the
/// SDK reports as a stream error.
pub fn ndjson_line<T: Serialize + ?Sized>(item: &T, end: LineEnd) -> Bytes {
    let mut line = serde_json::to_vec(item).unwrap_or_else(|err| {
        serde_json::to_vec(&neuro_types::wire::ErrorBody::new(format!(
            "cannot serialise item: {err}"
        )))
        .unwrap_or_default()
    });
    line.extend_from_slice(end.as_bytes());
    Bytes::from(line)
}

/// Whether the request's `Accept` header asks for NDJSON.
pub fn accepts_ndjson(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| v.trim().starts_with(NDJSON))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    #[test]
    fn line_shape() {
        let item = serde_json::json!({"a": 1});
        assert_eq!(&ndjson_line(&item, LineEnd::CrLf)[..], b"{\"a\":1}\r\n");
        assert_eq!(&ndjson_line(&item, LineEnd::Lf)[..], b"{\"a\":1}\n");
    }

    #[test]
    fn accept_detection() {
        let mut h = HeaderMap::new();
        assert!(!accepts_ndjson(&h));
        h.insert(
            header::ACCEPT,
            HeaderValue::from_static("text/plain, application/x-ndjson"),
        );
        assert!(accepts_ndjson(&h));
    }

    #[tokio::test]
    async fn streams_lines() {
        for (end, want) in [
            (LineEnd::CrLf, &b"1\r\n2\r\n"[..]),
            (LineEnd::Lf, &b"1\n2\n"[..]),
        ] {
            let resp = ndjson_response(futures::stream::iter(vec![1, 2]), end);
            assert_eq!(resp.headers()[header::CONTENT_TYPE], NDJSON);
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], want);
        }
    }
}
