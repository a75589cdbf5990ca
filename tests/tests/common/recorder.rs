//! A recording forwarding proxy in front of a real neuro-local.
//!
//! [`RecordingProxy`] is an HTTP server on `127.0.0.1:0` that keeps every request
//! exactly as it arrived (method, raw request target, headers, body), forwards it
//! unchanged to the platform with a hyper client and streams the platform's real
//! answer back. Tests use it to check the bytes the SDK puts on the wire.
//! [`Recorder`] is neuro-local behind such a proxy plus a client logged in
//! through it.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderName;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::{TokioExecutor, TokioIo};
use neuro_local::{LocalPlatform, RunningPlatform};
use neuro_sdk::{Client, Factory};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// One request as the proxy received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// Path and query exactly as sent (`/api/v1/storage/a%20b?op=OPEN`).
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Recorded {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `op=` query value of a storage request.
    pub fn op(&self) -> Option<&str> {
        let query = self.target.split_once('?')?.1;
        query.split('&').find_map(|kv| kv.strip_prefix("op="))
    }

    /// `METHOD target`.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.target)
    }
}

type ProxyBody = BoxBody<Bytes, hyper::Error>;

struct Shared {
    upstream: SocketAddr,
    client: HyperClient<HttpConnector, Full<Bytes>>,
    requests: Mutex<Vec<Recorded>>,
    stripped: Mutex<Vec<HeaderName>>,
}

/// The proxy; dropping it stops accepting.
pub struct RecordingProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl Drop for RecordingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RecordingProxy {
    /// Binds a free port; call [`RecordingProxy::forward_to`] once the upstream
    /// is known (the platform needs the proxy's URL as its public URL first).
    pub async fn bind() -> (TcpListener, SocketAddr) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        (listener, addr)
    }

    /// Starts serving `listener`, forwarding every request to `upstream`.
    pub fn forward_to(listener: TcpListener, upstream: SocketAddr) -> RecordingProxy {
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Shared {
            upstream,
            client: HyperClient::builder(TokioExecutor::new()).build_http(),
            requests: Mutex::new(Vec::new()),
            stripped: Mutex::new(Vec::new()),
        });
        let task = tokio::spawn({
            let shared = Arc::clone(&shared);
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let shared = Arc::clone(&shared);
                    tokio::spawn(async move {
                        let service =
                            service_fn(move |request| forward(Arc::clone(&shared), request));
                        // A client going away mid-answer is not the proxy's problem.
                        let _ = http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            }
        });
        RecordingProxy { addr, shared, task }
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The requests received so far, and forgets them.
    pub fn take(&self) -> Vec<Recorded> {
        std::mem::take(&mut *self.shared.requests.lock().unwrap())
    }

    /// `METHOD target` of each request received so far, and forgets them.
    pub fn take_lines(&self) -> Vec<String> {
        self.take().iter().map(Recorded::line).collect()
    }

    /// Fault injection: from now on the header `name` is removed from the
    /// requests forwarded to the platform (it is still recorded as sent), as an
    /// older server or an intermediary that ignores it would do.
    pub fn strip_request_header(&self, name: &'static str) {
        self.shared
            .stripped
            .lock()
            .unwrap()
            .push(HeaderName::from_static(name));
    }

    /// Forwards requests unchanged again.
    pub fn forward_all_headers(&self) {
        self.shared.stripped.lock().unwrap().clear();
    }
}

async fn forward(
    shared: Arc<Shared>,
    request: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let (mut parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(body) => body.to_bytes(),
        Err(err) => return Ok(bad_gateway(format!("cannot read the request body: {err}"))),
    };
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    shared.requests.lock().unwrap().push(Recorded {
        method: parts.method.to_string(),
        target: target.clone(),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    });
    // The client sends origin-form (`/path?query`); hyper's client needs the
    // authority to connect and sends origin-form again.
    parts.uri = format!("http://{}{target}", shared.upstream)
        .parse()
        .unwrap();
    for name in shared.stripped.lock().unwrap().iter() {
        parts.headers.remove(name);
    }
    match shared
        .client
        .request(Request::from_parts(parts, Full::new(body)))
        .await
    {
        Ok(response) => Ok(response.map(BodyExt::boxed)),
        Err(err) => Ok(bad_gateway(format!("upstream request failed: {err}"))),
    }
}

fn bad_gateway(message: String) -> Response<ProxyBody> {
    let mut response = Response::new(
        Full::new(Bytes::from(message))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response
}

/// An in-process neuro-local whose public URL is a [`RecordingProxy`] in front of
/// it, and a client of its admin `alice` logged in through the proxy.
pub struct Recorder {
    pub client: Client,
    pub platform: RunningPlatform,
    pub proxy: RecordingProxy,
    pub dir: TempDir,
}

impl Recorder {
    /// Starts the platform and the proxy and logs in; the requests of the login
    /// are forgotten.
    pub async fn start() -> Recorder {
        let (listener, addr) = RecordingProxy::bind().await;
        let public: url::Url = format!("http://{addr}").parse().unwrap();
        let platform = LocalPlatform::builder()
            .admin_user("alice")
            .public_url(public)
            .start()
            .await
            .expect("start neuro-local");
        let proxy = RecordingProxy::forward_to(listener, platform.local_addr());
        let dir = tempfile::tempdir().unwrap();
        let factory = Factory::with_path(dir.path().join("config"));
        factory
            .login_with_token(platform.admin_token(), &platform.api_url())
            .await
            .expect("login");
        let client = factory.get().await.expect("client");
        proxy.take();
        Recorder {
            client,
            platform,
            proxy,
            dir,
        }
    }

    /// The address the client talks to: the proxy's.
    pub fn addr(&self) -> SocketAddr {
        self.proxy.addr()
    }

    /// The bearer token of `alice`.
    pub fn token(&self) -> &str {
        self.platform.admin_token()
    }

    /// The requests received so far, and forgets them.
    pub fn take(&self) -> Vec<Recorded> {
        self.proxy.take()
    }

    /// `METHOD target` of each request received so far, and forgets them.
    pub fn take_lines(&self) -> Vec<String> {
        self.proxy.take_lines()
    }
}
