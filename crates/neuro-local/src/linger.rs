//! Reads a small request body completely before the handler runs.
//!
//! The real services (aiohttp) keep reading ("lingering on") a request body the
//! handler did not read before they answer, so a client still sending its body
//! gets the answer. hyper instead answers at once and closes the connection
//! with the body unread: a client whose body arrives after its headers (aiohttp
//! writes them separately) then fails with a broken pipe instead of reading
//! the `400`/`401`/`404` it was sent. Every handler that can refuse a request
//! before reading its body (authentication, unknown job, unsupported
//! operation ...) is covered by reading bodies of a known small size up front.
//! Large bodies (storage uploads) stay streamed; their handlers read them.

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use http::header::CONTENT_LENGTH;
use http::StatusCode;
use http_body_util::BodyExt as _;

/// Bodies up to this many bytes (by `Content-Length`) are read before the
/// handler runs: every JSON request of the platform APIs fits.
pub const MAX_BUFFERED_BODY: u64 = 1 << 20;

/// Buffers the body of `request` when its `Content-Length` is at most
/// [`MAX_BUFFERED_BODY`]; other requests pass as they are. A body that ends
/// early (the client went away) is answered `400` (the `Err`), so no
/// half-received body is ever acted on.
pub async fn read_small_body(request: Request) -> Result<Request, Response> {
    let small = request
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|len| len > 0 && len <= MAX_BUFFERED_BODY);
    if !small {
        return Ok(request);
    }
    let (parts, body) = request.into_parts();
    match body.collect().await {
        Ok(collected) => Ok(Request::from_parts(parts, Body::from(collected.to_bytes()))),
        Err(err) => {
            tracing::debug!(%err, "request body ended early");
            Err(crate::error::text_response(StatusCode::BAD_REQUEST))
        }
    }
}
