//! Streaming NDJSON answers, as the platform services send them.
//!
//! Every item becomes one JSON document followed by `\r\n` (what aiohttp-based
//! services write), sent as soon as the stream yields it, with
//! `Content-Type: application/x-ndjson`. The Python SDK switches to line-by-line
//! parsing on that content type.

use std::convert::Infallible;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;

/// The NDJSON content type.
pub const NDJSON: &str = "application/x-ndjson";

/// A `200` answer streaming one JSON line per item of `items`.
///
/// Nothing is serialised before the body is polled; dropping the response (for
/// example when the client goes away) drops `items`.
pub fn ndjson_response<S, T>(items: S) -> Response
where
    S: Stream<Item = T> + Send + 'static,
    T: Serialize,
{
    let body = Body::from_stream(items.map(|item| Ok::<_, Infallible>(ndjson_line(&item))));
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON));
    response
}

/// One NDJSON line: `item` as compact JSON followed by `\r\n`.
///
/// An item that cannot be serialised becomes an `{"error": ...}` line, which the
/// SDK reports as a stream error.
pub fn ndjson_line<T: Serialize + ?Sized>(item: &T) -> Bytes {
    let mut line = serde_json::to_vec(item).unwrap_or_else(|err| {
        serde_json::to_vec(&neuro_types::wire::ErrorBody::new(format!(
            "cannot serialise item: {err}"
        )))
        .unwrap_or_default()
    });
    line.extend_from_slice(b"\r\n");
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
        assert_eq!(
            &ndjson_line(&serde_json::json!({"a": 1}))[..],
            b"{\"a\":1}\r\n"
        );
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
        let resp = ndjson_response(futures::stream::iter(vec![1, 2]));
        assert_eq!(resp.headers()[header::CONTENT_TYPE], NDJSON);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"1\r\n2\r\n");
    }
}
