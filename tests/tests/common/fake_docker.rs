//! An in-process stand-in for the Docker engine on a unix socket, replaying
//! Docker-format progress streams (per-layer progress with byte counts, the
//! `aux` digest line, errors inside a `200` stream). It exists only because no
//! Docker daemon can run here; the real engine API is exercised against
//! Podman's Docker-compatible service beside it (`images_podman.rs`).

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// The API version the fake announces.
pub const API_VERSION: &str = "1.41";

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    /// Method and path with query, e.g. `POST /v1.41/images/x/tag?repo=y`.
    pub line: String,
    /// The `X-Registry-Auth` header, if sent.
    pub registry_auth: Option<String>,
}

/// What the fake answers to push and pull: the progress lines of each.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// Lines of the push stream.
    pub push: Vec<String>,
    /// Lines of the pull stream.
    pub pull: Vec<String>,
}

/// The running fake; stops when dropped.
pub struct FakeEngine {
    /// Its unix socket (after [`FakeEngine::start_tcp`], a path nothing listens on).
    pub socket: PathBuf,
    /// `DOCKER_HOST` naming it: `unix://<socket>` or `tcp://127.0.0.1:<port>`.
    pub docker_host: String,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Drop for FakeEngine {
    fn drop(&mut self) {
        self.task.abort();
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn full(status: u16, body: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_owned())).boxed());
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    response
}

/// A `200` progress stream: each line in two chunks, lines ended by `\r\n`,
/// as Docker writes them.
fn stream(lines: &[String]) -> Response<Body> {
    let mut chunks = Vec::new();
    for line in lines {
        let text = format!("{line}\r\n");
        let (a, b) = text.split_at(text.len() / 2);
        chunks.push(Ok::<_, Infallible>(Frame::data(Bytes::from(a.to_owned()))));
        chunks.push(Ok(Frame::data(Bytes::from(b.to_owned()))));
    }
    let mut response = Response::new(StreamBody::new(futures::stream::iter(chunks)).boxed());
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn answer(script: &Script, method: &hyper::Method, path: &str) -> Response<Body> {
    let versioned = format!("/v{API_VERSION}/");
    if method == hyper::Method::GET && path == "/version" {
        return full(
            200,
            &format!(r#"{{"ApiVersion":"{API_VERSION}","Version":"fake"}}"#),
        );
    }
    let Some(rest) = path.strip_prefix(&versioned) else {
        return full(404, r#"{"message":"page not found"}"#);
    };
    let route = rest.split('?').next().unwrap_or(rest);
    match (method.as_str(), route) {
        ("POST", r) if r.starts_with("images/missing") && r.ends_with("/tag") => {
            full(404, r#"{"message":"No such image: missing:latest"}"#)
        }
        ("POST", r) if r.ends_with("/tag") => full(201, ""),
        ("POST", r) if r.ends_with("/push") && r.contains("/forbidden") => {
            full(403, r#"{"message":"access to the resource is denied"}"#)
        }
        ("POST", r) if r.ends_with("/push") => stream(&script.push),
        ("POST", "images/create") if rest.contains("fromImage=missing") => {
            full(404, r#"{"message":"manifest unknown"}"#)
        }
        ("POST", "images/create") if rest.contains("forbidden") => {
            full(403, r#"{"message":"access to the resource is denied"}"#)
        }
        ("POST", "images/create") => stream(&script.pull),
        ("DELETE", r) if r.starts_with("images/") => full(200, "[]"),
        _ => full(404, r#"{"message":"page not found"}"#),
    }
}

/// Answers the requests of one connection, logging them.
async fn serve<S>(conn: S, log: Arc<Mutex<Vec<Received>>>, script: Arc<Script>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let (log, script) = (log.clone(), script.clone());
        async move {
            let path = request
                .uri()
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default();
            log.lock().unwrap().push(Received {
                line: format!("{} {path}", request.method()),
                registry_auth: request
                    .headers()
                    .get("x-registry-auth")
                    .map(|v| v.to_str().unwrap().to_owned()),
            });
            Ok::<_, Infallible>(answer(&script, request.method(), &path))
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(conn), service)
        .await;
}

/// Where the fake listens.
enum Listener {
    Unix(tokio::net::UnixListener),
    Tcp(tokio::net::TcpListener),
}

impl FakeEngine {
    /// Starts the fake with `script` on a unix socket in a new temporary directory.
    pub async fn start(script: Script) -> FakeEngine {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("docker.sock");
        let listener = tokio::net::UnixListener::bind(&socket).unwrap();
        let docker_host = format!("unix://{}", socket.display());
        Self::launch(Listener::Unix(listener), script, docker_host, dir)
    }

    /// Starts the fake with `script` on a TCP port of 127.0.0.1.
    pub async fn start_tcp(script: Script) -> FakeEngine {
        let dir = tempfile::tempdir().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let docker_host = format!("tcp://{}", listener.local_addr().unwrap());
        Self::launch(Listener::Tcp(listener), script, docker_host, dir)
    }

    fn launch(
        listener: Listener,
        script: Script,
        docker_host: String,
        dir: tempfile::TempDir,
    ) -> FakeEngine {
        let received = Arc::new(Mutex::new(Vec::new()));
        let (log, script) = (received.clone(), Arc::new(script));
        let task = tokio::spawn(async move {
            loop {
                let (log, script) = (log.clone(), script.clone());
                let accepted = match &listener {
                    Listener::Unix(l) => l
                        .accept()
                        .await
                        .map(|(conn, _)| tokio::spawn(serve(conn, log, script))),
                    Listener::Tcp(l) => l
                        .accept()
                        .await
                        .map(|(conn, _)| tokio::spawn(serve(conn, log, script))),
                };
                if accepted.is_err() {
                    return;
                }
            }
        });
        FakeEngine {
            socket: dir.path().join("docker.sock"),
            docker_host,
            received,
            task,
            _dir: dir,
        }
    }

    /// The requests received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}
