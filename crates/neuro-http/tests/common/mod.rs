//! A real HTTP server on 127.0.0.1:0 for the integration tests.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use futures::{SinkExt, StreamExt};
use neuro_http::{StaticToken, Transport, TransportOptions, Url};
use serde_json::{json, Value};

/// The bearer token the websocket endpoints insist on.
pub const TOKEN: &str = "test-token";

/// Starts the test server and returns its base URL.
pub async fn serve() -> Url {
    serve_router(router()).await
}

/// Starts any router on an ephemeral port.
pub async fn serve_router(router: Router) -> Url {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    Url::parse(&format!("http://{addr}/")).unwrap()
}

/// A transport with the test token and short timeouts.
pub fn transport() -> Transport {
    transport_with(TransportOptions {
        connect_timeout: Some(Duration::from_secs(5)),
        read_timeout: Some(Duration::from_secs(10)),
        ..TransportOptions::default()
    })
}

/// A transport with the test token and the given options.
pub fn transport_with(options: TransportOptions) -> Transport {
    Transport::new(options)
        .unwrap()
        .with_auth(Arc::new(StaticToken::new(TOKEN)))
}

fn router() -> Router {
    Router::new()
        .route("/echo", any(echo))
        .route("/status/{code}", any(status))
        .route("/ndjson/jobs", get(ndjson_jobs))
        .route("/ndjson/error", get(ndjson_error))
        .route("/legacy/jobs", get(legacy_jobs))
        .route("/large", get(large))
        .route("/stall", get(stall))
        .route("/stall-head", get(stall_head))
        .route("/count", any(count))
        .route("/redirect/{code}", any(redirect))
        .route(
            "/loop",
            get(|| async { (StatusCode::FOUND, [("location", "/loop")]) }),
        )
        .route("/ws/echo", get(ws_echo))
        .route("/ws/echo-protocol", get(ws_echo_protocol))
        .route("/ws/reject", get(ws_reject))
        .route("/ws/reject-plain", get(ws_reject_plain))
        .route("/ws/big", get(ws_big))
}

/// Describes the request: method, raw query, selected headers and body.
async fn echo(RawQuery(query): RawQuery, request: Request) -> impl IntoResponse {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
    let headers: BTreeMap<String, String> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    axum::Json(json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": query,
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    }))
}

/// `?body=<text>` is sent verbatim; otherwise `{"error": "status <code>"}`, with
/// `"errno"` from `?errno=`.
async fn status(Path(code): Path<u16>, RawQuery(query): RawQuery) -> Response {
    let status = StatusCode::from_u16(code).unwrap();
    let query = query.unwrap_or_default();
    let params: BTreeMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    if let Some(body) = params.get("body") {
        return (status, body.clone()).into_response();
    }
    let mut payload = json!({"error": format!("status {code}")});
    if let Some(errno) = params.get("errno") {
        payload["errno"] = match errno.parse::<i64>() {
            Ok(n) => json!(n),
            Err(_) => json!(errno),
        };
    }
    (status, axum::Json(payload)).into_response()
}

/// A body sent as the given pieces with a pause before each.
fn slow_body(pieces: Vec<Vec<u8>>, pause: Duration) -> Body {
    let stream = futures::stream::iter(pieces).then(move |piece| async move {
        tokio::time::sleep(pause).await;
        Ok::<_, Infallible>(Bytes::from(piece))
    });
    Body::from_stream(stream)
}

/// Splits `text` into pieces of odd sizes that cut lines in the middle.
fn odd_pieces(text: &[u8]) -> Vec<Vec<u8>> {
    let sizes = [1, 7, 3, 13, 2, 29, 5];
    let mut out = Vec::new();
    let mut rest = text;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].min(rest.len());
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
        i += 1;
    }
    out
}

pub fn ndjson_jobs_text() -> String {
    let mut text = String::new();
    for i in 0..20 {
        let line = json!({"id": format!("job-{i}"), "status": "running", "n": i});
        text.push_str(&line.to_string());
        // CRLF on some lines; no newline after the last line.
        if i < 19 {
            text.push_str(if i % 3 == 0 { "\r\n" } else { "\n" });
        }
    }
    text
}

async fn ndjson_jobs() -> Response {
    let pieces = odd_pieces(ndjson_jobs_text().as_bytes());
    (
        [("content-type", "application/x-ndjson; charset=utf-8")],
        slow_body(pieces, Duration::from_millis(2)),
    )
        .into_response()
}

async fn ndjson_error() -> Response {
    let text = concat!(
        "{\"id\": \"job-0\", \"status\": \"running\", \"n\": 0}\n",
        "{\"id\": \"job-1\", \"status\": \"running\", \"n\": 1}\n",
        "{\"error\": \"database is gone\", \"errno\": \"EIO\"}",
    );
    (
        [("content-type", "application/x-ndjson")],
        slow_body(odd_pieces(text.as_bytes()), Duration::from_millis(1)),
    )
        .into_response()
}

async fn legacy_jobs() -> impl IntoResponse {
    axum::Json(json!({"jobs": [
        {"id": "job-a", "status": "pending", "n": 1},
        {"id": "job-b", "status": "running", "n": 2},
    ]}))
}

/// The byte at `offset` of the large body.
pub fn large_byte(offset: u64) -> u8 {
    (offset.wrapping_mul(31) ^ (offset >> 13)) as u8
}

pub const LARGE_SIZE: u64 = 64 * 1024 * 1024;
const LARGE_CHUNK: u64 = 256 * 1024;

async fn large() -> Response {
    let stream = futures::stream::iter(0..LARGE_SIZE / LARGE_CHUNK).map(|i| {
        let start = i * LARGE_CHUNK;
        let chunk: Vec<u8> = (start..start + LARGE_CHUNK).map(large_byte).collect();
        Ok::<_, Infallible>(Bytes::from(chunk))
    });
    Body::from_stream(stream).into_response()
}

/// Sends a little, then nothing for two seconds, then the rest.
async fn stall() -> Response {
    let pieces = vec![b"{\"partial\":".to_vec(), b" true}".to_vec()];
    let stream =
        futures::stream::iter(pieces.into_iter().enumerate()).then(|(i, piece)| async move {
            if i > 0 {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Ok::<_, Infallible>(Bytes::from(piece))
        });
    Body::from_stream(stream).into_response()
}

/// Answers only after two seconds.
async fn stall_head() -> &'static str {
    tokio::time::sleep(Duration::from_secs(2)).await;
    "late"
}

/// Counts the body bytes and reports the transfer headers.
async fn count(headers: HeaderMap, body: Body) -> impl IntoResponse {
    let mut stream = body.into_data_stream();
    let mut total = 0u64;
    let mut sum = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        for b in chunk.iter() {
            sum = sum.wrapping_mul(31).wrapping_add(u64::from(*b));
        }
        total += chunk.len() as u64;
    }
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("").to_owned())
    };
    axum::Json(json!({
        "total": total,
        "sum": sum,
        "transfer-encoding": header("transfer-encoding"),
        "content-length": header("content-length"),
    }))
}

/// Redirects to `?to=` (default `/echo`) with the status in the path.
async fn redirect(Path(code): Path<u16>, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let to = url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "to")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| "/echo?redirected=1".to_owned());
    (StatusCode::from_u16(code).unwrap(), [("location", to)]).into_response()
}

fn check_ws_headers(headers: &HeaderMap) -> Result<(), (StatusCode, &'static str)> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if text("authorization") != Some(&format!("Bearer {TOKEN}")) {
        return Err((StatusCode::UNAUTHORIZED, "no token"));
    }
    if !text("user-agent").unwrap_or("").starts_with("neuro-rs/") {
        return Err((StatusCode::BAD_REQUEST, "bad user agent"));
    }
    if headers.contains_key("b3") || headers.contains_key("sentry-trace") {
        return Err((StatusCode::BAD_REQUEST, "tracing headers on a websocket"));
    }
    if text("sec-websocket-protocol") != Some("v2.channels.neu.ro") {
        return Err((StatusCode::BAD_REQUEST, "no protocol"));
    }
    Ok(())
}

async fn echo_socket(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        let reply = match message {
            Message::Text(t) => Message::Text(t),
            Message::Binary(b) => Message::Binary(b),
            Message::Close(_) => break,
            _ => continue,
        };
        if socket.send(reply).await.is_err() {
            break;
        }
    }
}

/// Echoes messages; does not echo the subprotocol.
async fn ws_echo(headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    if let Err(rejection) = check_ws_headers(&headers) {
        return rejection.into_response();
    }
    ws.on_upgrade(echo_socket)
}

/// Echoes messages and the subprotocol.
async fn ws_echo_protocol(headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    if let Err(rejection) = check_ws_headers(&headers) {
        return rejection.into_response();
    }
    ws.protocols(["v2.channels.neu.ro"]).on_upgrade(echo_socket)
}

async fn ws_reject() -> Response {
    (
        StatusCode::BAD_REQUEST,
        [("X-Error", r#"{"error": "bad", "errno": "ENOENT"}"#)],
        axum::Json(json!({"error": "bad"})),
    )
        .into_response()
}

async fn ws_reject_plain() -> Response {
    (StatusCode::NOT_FOUND, "nothing here").into_response()
}

/// Sends one message of `?size=` bytes, then closes.
async fn ws_big(RawQuery(query): RawQuery, ws: WebSocketUpgrade) -> Response {
    let size: usize = query
        .and_then(|q| q.strip_prefix("size=").map(str::to_owned))
        .and_then(|s| s.parse().ok())
        .unwrap_or(1024);
    ws.on_upgrade(move |mut socket| async move {
        let _ = socket
            .send(Message::Binary(Bytes::from(vec![7u8; size])))
            .await;
        let _ = socket.send(Message::Close(None)).await;
        let _ = socket.flush().await;
        while let Some(Ok(_)) = socket.recv().await {}
    })
}

/// Decodes an `/echo` answer.
pub fn echo_value(v: &Value, key: &str) -> Value {
    v.get(key).cloned().unwrap_or(Value::Null)
}
