//! TLS end to end without the internet: a throwaway CA and server certificates made
//! with rcgen, an HTTPS/WSS server (axum over tokio-rustls, ring provider) on
//! 127.0.0.1:0, and the transport verifying it: trusted with the CA as an extra root,
//! refused with the default (webpki) roots or when the name does not match.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message as ServerMessage, WebSocketUpgrade};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures::{SinkExt, StreamExt};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use neuro_http::{
    tls_config_with_extra_roots, Bytes, Error, Message, StaticToken, Transport, TransportOptions,
    Url,
};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::CertificateError;
use serde_json::{json, Value};
use tokio_rustls::TlsAcceptor;

const TOKEN: &str = "tls-test-token";

/// A throwaway certificate authority.
struct TestCa {
    /// The CA certificate, PEM-encoded.
    pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    fn new() -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "neuro-rs test CA");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        TestCa {
            pem: cert.pem(),
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate and key for `names` (DNS names or IP addresses).
    fn server_cert(&self, names: &[&str]) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let mut params =
            CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        params.distinguished_name.push(DnType::CommonName, names[0]);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.der().clone(), key.into())
    }
}

/// A running HTTPS server.
struct TlsServer {
    port: u16,
    /// Requests that reached a handler (i.e. came through a completed handshake).
    requests: Arc<AtomicUsize>,
}

impl TlsServer {
    /// `<scheme>://<host>:<port>/<path>`.
    fn url(&self, scheme: &str, host: &str, path: &str) -> Url {
        Url::parse(&format!("{scheme}://{host}:{}/{path}", self.port)).unwrap()
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// Serves HTTP/2 and HTTP/1.1 (with upgrades) over TLS on 127.0.0.1:0.
async fn serve_tls(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> TlsServer {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(config));

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let requests = Arc::new(AtomicUsize::new(0));
    let app = router(requests.clone());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let app = app.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate aborts the handshake here.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection_with_upgrades(
                        TokioIo::new(tls),
                        TowerToHyperService::new(app),
                    )
                    .await;
            });
        }
    });
    TlsServer { port, requests }
}

fn router(requests: Arc<AtomicUsize>) -> Router {
    Router::new()
        .route("/info", get(info))
        .route("/echo", post(echo))
        .route("/ws/echo", get(ws_echo))
        .layer(middleware::from_fn_with_state(requests, count))
}

async fn count(State(requests): State<Arc<AtomicUsize>>, request: Request, next: Next) -> Response {
    requests.fetch_add(1, Ordering::SeqCst);
    next.run(request).await
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Describes the request.
async fn info(request: Request) -> axum::Json<Value> {
    axum::Json(json!({
        "method": request.method().as_str(),
        "version": format!("{:?}", request.version()),
        "authorization": header_text(request.headers(), header::AUTHORIZATION),
    }))
}

/// Answers with the request body and the HTTP version in `X-Http-Version`.
async fn echo(request: Request) -> Response {
    let version = format!("{:?}", request.version());
    let body = axum::body::to_bytes(request.into_body(), usize::MAX)
        .await
        .unwrap();
    ([("x-http-version", version)], body).into_response()
}

/// Sends the `Authorization` it was opened with, then echoes text and binary messages.
async fn ws_echo(headers: HeaderMap, ws: WebSocketUpgrade) -> Response {
    let Some(auth) = header_text(&headers, header::AUTHORIZATION) else {
        return (StatusCode::UNAUTHORIZED, "no credentials").into_response();
    };
    ws.on_upgrade(move |mut socket| async move {
        if socket.send(ServerMessage::text(auth)).await.is_err() {
            return;
        }
        while let Some(Ok(message)) = socket.recv().await {
            let reply = match message {
                ServerMessage::Text(_) | ServerMessage::Binary(_) => message,
                ServerMessage::Close(_) => break,
                _ => continue,
            };
            if socket.send(reply).await.is_err() {
                break;
            }
        }
    })
}

/// Short timeouts, so that a broken test fails instead of hanging.
fn options() -> TransportOptions {
    TransportOptions {
        connect_timeout: Some(Duration::from_secs(5)),
        read_timeout: Some(Duration::from_secs(5)),
        ..TransportOptions::default()
    }
}

/// A transport that trusts the webpki roots plus `ca`.
fn trusting(ca: &TestCa) -> Transport {
    Transport::new(TransportOptions {
        tls_config: Some(tls_config_with_extra_roots(ca.pem.as_bytes()).unwrap()),
        ..options()
    })
    .unwrap()
    .with_auth(Arc::new(StaticToken::new(TOKEN)))
}

/// A transport with the default roots only.
fn default_roots() -> Transport {
    Transport::new(options())
        .unwrap()
        .with_auth(Arc::new(StaticToken::new(TOKEN)))
}

/// Checks that `err` is a connection refused during the TLS handshake (so nothing was
/// sent) and returns the certificate error found in its source chain.
fn certificate_error(err: &Error) -> CertificateError {
    assert!(
        matches!(err, Error::Connect { .. } | Error::Tls(_)),
        "{err:?}"
    );
    assert!(!err.may_have_been_sent(), "{err:?}");
    let mut chain = Vec::new();
    let mut found = None;
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(c) = cause {
        chain.push(c.to_string());
        // `io::Error::source` skips its payload (hyper-rustls even wraps tokio-rustls's
        // io error in another one), so unwrap io errors by hand.
        let mut inner = c;
        while let Some(payload) = inner
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            inner = payload;
        }
        if let Some(rustls::Error::InvalidCertificate(e)) = inner.downcast_ref() {
            found.get_or_insert_with(|| e.clone());
        }
        cause = c.source();
    }
    let chain = chain.join(": ");
    assert!(chain.contains("certificate"), "{chain}");
    found.unwrap_or_else(|| panic!("no certificate error in: {chain}"))
}

#[tokio::test]
async fn https_get_and_streamed_post_with_extra_root() {
    let ca = TestCa::new();
    let (cert, key) = ca.server_cert(&["localhost", "127.0.0.1"]);
    let server = serve_tls(cert, key).await;
    let t = trusting(&ca);

    // By DNS name; HTTP/2 is negotiated by ALPN.
    let info: Value = t
        .get(server.url("https", "localhost", "info"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["method"], "GET");
    assert_eq!(info["version"], "HTTP/2.0");
    assert_eq!(info["authorization"], format!("Bearer {TOKEN}"));

    // By IP address, with a streamed body larger than a TLS record and an HTTP/2 window.
    let pieces: Vec<Bytes> = (0..20u8)
        .map(|i| Bytes::from(vec![i; 10_000 + usize::from(i)]))
        .collect();
    let expected: Vec<u8> = pieces.concat();
    let stream = futures::stream::iter(pieces.into_iter().map(Ok::<_, std::io::Error>));
    let response = t
        .post(server.url("https", "127.0.0.1", "echo"))
        .body_stream(stream)
        .send()
        .await
        .unwrap();
    assert_eq!(response.header_str("x-http-version"), Some("HTTP/2.0"));
    let body = response.bytes().await.unwrap();
    assert_eq!(body.len(), expected.len());
    assert!(body == expected, "echoed body differs");
    assert_eq!(server.requests(), 2);
}

#[tokio::test]
async fn wss_echo_with_extra_root() {
    let ca = TestCa::new();
    let (cert, key) = ca.server_cert(&["localhost", "127.0.0.1"]);
    let server = serve_tls(cert, key).await;

    let mut ws = trusting(&ca)
        .ws_connect(server.url("wss", "localhost", "ws/echo"))
        .send()
        .await
        .unwrap();
    // The server's first message is the Authorization header it received.
    let first = ws.next().await.unwrap().unwrap();
    assert_eq!(first, Message::text(format!("Bearer {TOKEN}")));
    ws.send(Message::text("hello over tls")).await.unwrap();
    assert_eq!(
        ws.next().await.unwrap().unwrap(),
        Message::text("hello over tls")
    );
    let blob = vec![0xA5u8; 100_000];
    ws.send(Message::binary(blob.clone())).await.unwrap();
    assert_eq!(ws.next().await.unwrap().unwrap(), Message::binary(blob));
    ws.close(None).await.unwrap();
    assert_eq!(server.requests(), 1);
}

#[tokio::test]
async fn default_roots_refuse_private_ca() {
    let ca = TestCa::new();
    let (cert, key) = ca.server_cert(&["localhost", "127.0.0.1"]);
    let server = serve_tls(cert, key).await;
    let t = default_roots();

    let err = t
        .get(server.url("https", "localhost", "info"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(certificate_error(&err), CertificateError::UnknownIssuer);
    assert!(
        err.to_string().starts_with("cannot connect to localhost:"),
        "{err}"
    );

    let err = t
        .ws_connect(server.url("wss", "127.0.0.1", "ws/echo"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(certificate_error(&err), CertificateError::UnknownIssuer);

    assert_eq!(server.requests(), 0, "a request got through");
}

#[tokio::test]
async fn certificate_for_another_name_is_refused() {
    let ca = TestCa::new();
    let (cert, key) = ca.server_cert(&["api.example.invalid"]);
    let server = serve_tls(cert, key).await;

    let err = trusting(&ca)
        .get(server.url("https", "localhost", "info"))
        .send()
        .await
        .unwrap_err();
    let cert_err = certificate_error(&err);
    assert!(
        matches!(
            cert_err,
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        ),
        "{cert_err:?}"
    );
    assert_eq!(server.requests(), 0, "a request got through");
}
