//! Helpers shared by the integration tests: a small HTTP client over real TCP.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use futures::Stream;
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use neuro_local::{LocalPlatform, RunningPlatform};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

pub mod storage_env;

/// A complete answer.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// NDJSON lines of the storage service, checking each ends with `\r\n`.
    pub fn ndjson(&self) -> Vec<serde_json::Value> {
        self.ndjson_ending("\r\n")
    }

    /// NDJSON lines of platform-api (the jobs list), checking each ends with a
    /// bare `\n`.
    pub fn ndjson_lf(&self) -> Vec<serde_json::Value> {
        let lines = self.ndjson_ending("\n");
        assert!(!self.text().contains('\r'), "NDJSON must end with LF only");
        lines
    }

    fn ndjson_ending(&self, end: &str) -> Vec<serde_json::Value> {
        let text = self.text();
        assert!(
            text.is_empty() || text.ends_with(end),
            "NDJSON lines must end with {end:?}: {text:?}"
        );
        text.split_terminator(end)
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

type Body = BoxBody<Bytes, Infallible>;

/// A client bound to one server.
pub struct Client {
    inner: HyperClient<HttpConnector, Body>,
    pub addr: SocketAddr,
}

impl Client {
    pub fn new(platform: &RunningPlatform) -> Client {
        Client {
            inner: HyperClient::builder(TokioExecutor::new()).build_http(),
            addr: platform.local_addr(),
        }
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Resp {
        let mut req = Request::builder()
            .method(method)
            .uri(format!("http://{}{}", self.addr, path));
        if let Some(token) = token {
            req = req.header("Authorization", format!("Bearer {token}"));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = self.inner.request(req.body(body).unwrap()).await.unwrap();
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Resp {
            status: parts.status,
            headers: parts.headers,
            body,
        }
    }

    pub async fn req(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Resp {
        self.send(method, path, token, headers, full(body)).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.req(Method::GET, path, Some(token), &[], Bytes::new())
            .await
    }
}

pub fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into()).boxed()
}

/// A body sent with chunked transfer encoding, one chunk per item.
pub fn chunked(chunks: Vec<&'static [u8]>) -> Body {
    let stream: std::pin::Pin<
        Box<dyn Stream<Item = Result<Frame<Bytes>, Infallible>> + Send + Sync>,
    > = Box::pin(futures::stream::iter(
        chunks
            .into_iter()
            .map(|c| Ok(Frame::data(Bytes::from_static(c)))),
    ));
    StreamBody::new(stream).boxed()
}

/// Sends raw bytes on a new connection and returns everything the server
/// answers until it closes (requests should say `Connection: close`).
pub async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

/// A raw `GET` of `path` (sent verbatim, not normalised) with a token.
pub async fn raw_get(addr: SocketAddr, path: &str, token: &str) -> String {
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    raw(addr, req.as_bytes()).await
}

/// The status code of a raw answer.
pub fn raw_status(answer: &str) -> u16 {
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad answer {answer:?}"))
}

pub async fn start() -> RunningPlatform {
    LocalPlatform::builder().start().await.unwrap()
}

pub fn st(path: &str) -> String {
    format!("/api/v1/storage/{path}")
}
