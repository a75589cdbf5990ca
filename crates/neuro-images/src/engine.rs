//! A minimal client of the Docker engine API (the part push and pull need),
//! over its unix socket or plain TCP (wire-protocol-core §10): where the engine
//! is ([`EngineAddress`], `DOCKER_HOST`), its API version (`GET /version`,
//! once), requests, and its progress streams.

use std::path::PathBuf;

use bytes::Bytes;
use futures::{Stream, TryStreamExt as _};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::Deserialize;

use crate::progress::ImageProgressStep;
use crate::ImagesError;

/// The sockets tried, in order, when `DOCKER_HOST` is not set.
pub const DEFAULT_SOCKETS: [&str; 2] = ["/run/docker.sock", "/var/run/docker.sock"];

/// Where the Docker engine listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EngineAddress {
    /// A unix socket (`unix:///run/docker.sock`).
    Unix(PathBuf),
    /// A plain TCP address, `host:port` (`tcp://` or `http://`).
    Tcp(String),
}

impl EngineAddress {
    /// Parses a `DOCKER_HOST` value: `unix://<path>`, `tcp://<host:port>` or
    /// `http://<host:port>`.
    ///
    /// ```
    /// use neuro_images::EngineAddress;
    /// assert_eq!(
    ///     EngineAddress::parse("unix:///run/podman.sock").unwrap(),
    ///     EngineAddress::Unix("/run/podman.sock".into())
    /// );
    /// assert_eq!(
    ///     EngineAddress::parse("tcp://127.0.0.1:2375").unwrap(),
    ///     EngineAddress::Tcp("127.0.0.1:2375".into())
    /// );
    /// assert!(EngineAddress::parse("npipe:////./pipe/docker_engine").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<EngineAddress, ImagesError> {
        if let Some(path) = text.strip_prefix("unix://") {
            return Ok(EngineAddress::Unix(PathBuf::from(path)));
        }
        for scheme in ["tcp://", "http://"] {
            if let Some(rest) = text.strip_prefix(scheme) {
                let authority = rest.trim_end_matches('/');
                if !authority.is_empty() && !authority.contains('/') {
                    return Ok(EngineAddress::Tcp(authority.to_owned()));
                }
            }
        }
        Err(ImagesError::DockerUnavailable(format!(
            "unsupported DOCKER_HOST {text:?}"
        )))
    }

    /// The engine of this environment: `DOCKER_HOST` if set (TLS, that is
    /// `DOCKER_TLS_VERIFY`, is not supported), else the first of
    /// [`DEFAULT_SOCKETS`] that exists.
    pub fn from_env() -> Result<EngineAddress, ImagesError> {
        if let Some(host) = std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()) {
            if std::env::var("DOCKER_TLS_VERIFY").is_ok_and(|v| !v.is_empty() && v != "0") {
                return Err(ImagesError::DockerUnavailable(
                    "DOCKER_TLS_VERIFY is set: TLS to the engine is not supported".into(),
                ));
            }
            return Self::parse(&host);
        }
        DEFAULT_SOCKETS
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .map(EngineAddress::Unix)
            .ok_or_else(|| {
                ImagesError::DockerUnavailable("no DOCKER_HOST and no local socket".into())
            })
    }
}

/// A request to the engine and its answer.
pub(crate) struct Engine {
    address: EngineAddress,
    /// `ApiVersion` of `GET /version`, read once.
    version: tokio::sync::OnceCell<String>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

fn transport(what: &str, source: impl std::error::Error + Send + Sync + 'static) -> ImagesError {
    ImagesError::DockerTransport {
        what: what.to_owned(),
        source: Box::new(source),
    }
}

#[derive(Deserialize)]
struct Version {
    #[serde(rename = "ApiVersion")]
    api_version: String,
}

#[derive(Debug, Deserialize)]
struct EngineMessage {
    #[serde(default)]
    message: String,
}

/// One line of a progress stream.
#[derive(Debug, Deserialize)]
struct ProgressLine {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    progress: Option<String>,
    #[serde(rename = "progressDetail", default)]
    progress_detail: Option<ProgressDetail>,
    #[serde(default)]
    error: Option<serde_json::Value>,
    #[serde(rename = "errorDetail", default)]
    error_detail: Option<EngineMessage>,
}

#[derive(Debug, Deserialize)]
struct ProgressDetail {
    #[serde(default)]
    current: Option<u64>,
    #[serde(default)]
    total: Option<u64>,
}

/// Characters escaped in an image name put in a path (`/` and `:` stay).
const NAME: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b':')
    .remove(b'.')
    .remove(b'-')
    .remove(b'_')
    .remove(b'@');

/// `name` escaped for a request path.
pub(crate) fn path_name(name: &str) -> String {
    percent_encoding::utf8_percent_encode(name, NAME).to_string()
}

impl Engine {
    pub(crate) fn new(address: EngineAddress) -> Engine {
        Engine {
            address,
            version: tokio::sync::OnceCell::new(),
        }
    }

    /// Sends one request on a new connection.
    async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
    ) -> Result<http::Response<Incoming>, ImagesError> {
        let what = format!("{method} {path}");
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, "docker")
            .header(http::header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            builder = builder.header(*name, value.as_str());
        }
        let request = builder
            .body(Full::new(Bytes::new()))
            .map_err(|e| transport(&what, e))?;
        macro_rules! exchange {
            ($stream:expr) => {{
                let (mut sender, connection) =
                    hyper::client::conn::http1::handshake(TokioIo::new($stream))
                        .await
                        .map_err(|e| transport(&what, e))?;
                tokio::spawn(async move {
                    if let Err(err) = connection.await {
                        tracing::debug!(error = %err, "Docker engine connection ended");
                    }
                });
                sender
                    .send_request(request)
                    .await
                    .map_err(|e| transport(&what, e))
            }};
        }
        match &self.address {
            EngineAddress::Unix(path) => {
                let stream = tokio::net::UnixStream::connect(path).await.map_err(|e| {
                    ImagesError::DockerUnavailable(format!("{}: {e}", path.display()))
                })?;
                exchange!(stream)
            }
            EngineAddress::Tcp(authority) => {
                let stream = tokio::net::TcpStream::connect(authority.as_str())
                    .await
                    .map_err(|e| ImagesError::DockerUnavailable(format!("{authority}: {e}")))?;
                exchange!(stream)
            }
        }
    }

    /// The engine's API version, asked once.
    async fn api_version(&self) -> Result<&str, ImagesError> {
        self.version
            .get_or_try_init(|| async {
                let response = self.send(Method::GET, "/version", &[]).await?;
                let body = read_ok(response, "GET /version").await?;
                let version: Version =
                    serde_json::from_slice(&body).map_err(|e| transport("GET /version", e))?;
                Ok::<_, ImagesError>(version.api_version)
            })
            .await
            .map(String::as_str)
    }

    /// `method /v<version><path>`; an error status becomes
    /// [`ImagesError::Docker`] with the engine's message.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
    ) -> Result<http::Response<Incoming>, ImagesError> {
        let full = format!("/v{}{path}", self.api_version().await?);
        let response = self.send(method.clone(), &full, headers).await?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let message = serde_json::from_slice::<EngineMessage>(&body)
            .map(|m| m.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
        Err(ImagesError::Docker {
            status: status.as_u16(),
            message,
        })
    }
}

/// The body of a successful answer.
async fn read_ok(response: http::Response<Incoming>, what: &str) -> Result<Bytes, ImagesError> {
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| transport(what, e))?
        .to_bytes();
    if status != StatusCode::OK {
        return Err(ImagesError::Docker {
            status: status.as_u16(),
            message: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    Ok(body)
}

/// The progress steps of a streamed answer (push, pull). A line with `error`
/// ends the stream with [`ImagesError::Docker`] (status 900), even inside a
/// `200` answer; lines about the tag `target_tag` itself are not steps.
pub(crate) fn progress_steps(
    response: http::Response<Incoming>,
    target_tag: Option<String>,
) -> impl Stream<Item = Result<ImageProgressStep, ImagesError>> + Send {
    let chunks = response
        .into_body()
        .into_data_stream()
        .map_err(|e| neuro_http::Error::Body(Box::new(e)));
    neuro_http::LineStream::new(chunks)
        .map_err(ImagesError::from)
        .try_filter_map(move |line| {
            let target = target_tag.clone();
            async move {
                if line.iter().all(u8::is_ascii_whitespace) {
                    return Ok(None);
                }
                let parsed: ProgressLine = serde_json::from_slice(&line)
                    .map_err(|e| transport("reading the progress stream", e))?;
                parse_step(parsed, target.as_deref())
            }
        })
}

/// The step of one progress line, or its error.
fn parse_step(
    line: ProgressLine,
    target_tag: Option<&str>,
) -> Result<Option<ImageProgressStep>, ImagesError> {
    if line.error.is_some() {
        let message = line
            .error_detail
            .map(|d| d.message)
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "Unknown error".to_owned());
        return Err(ImagesError::Docker {
            status: 900,
            message,
        });
    }
    let Some(id) = line.id else {
        return Ok(None);
    };
    if Some(id.as_str()) == target_tag {
        return Ok(None);
    }
    let status = line.status.unwrap_or_default();
    let message = match &line.progress {
        Some(progress) => format!("{id}: {status} {progress}"),
        None => format!("{id}: {status}"),
    };
    let (current, total) = line
        .progress_detail
        .map_or((None, None), |d| (d.current, d.total));
    Ok(Some(ImageProgressStep {
        message,
        layer_id: id,
        status,
        current,
        total,
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn line(json: &str) -> ProgressLine {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn steps_as_the_python_sdk_reads_them() {
        let step = parse_step(
            line(r#"{"status":"Pushing","progressDetail":{"current":512,"total":1024},"progress":"[==>  ] 512B/1kB","id":"abc"}"#),
            Some("v1"),
        )
        .unwrap()
        .unwrap();
        assert_eq!(step.message, "abc: Pushing [==>  ] 512B/1kB");
        assert_eq!((step.current, step.total), (Some(512), Some(1024)));
        let step = parse_step(
            line(r#"{"status":"Pushed","progressDetail":{},"id":"abc"}"#),
            None,
        )
        .unwrap()
        .unwrap();
        assert_eq!(step.message, "abc: Pushed");
        assert_eq!((step.current, step.total), (None, None));
        // Lines about the tag itself, or without id, are no steps.
        assert!(parse_step(
            line(r#"{"status":"Pulling from a/b","id":"v1"}"#),
            Some("v1")
        )
        .unwrap()
        .is_none());
        assert!(
            parse_step(line(r#"{"status":"Digest: sha256:x"}"#), Some("v1"))
                .unwrap()
                .is_none()
        );
        assert!(parse_step(
            line(r#"{"progressDetail":{},"aux":{"Tag":"v1"}}"#),
            Some("v1")
        )
        .unwrap()
        .is_none());
    }

    #[test]
    fn an_error_line_is_an_error() {
        let err = parse_step(
            line(r#"{"errorDetail":{"message":"denied: access"},"error":"denied: access"}"#),
            None,
        )
        .unwrap_err();
        assert!(
            matches!(err, ImagesError::Docker { status: 900, ref message } if message == "denied: access")
        );
        let err = parse_step(line(r#"{"error":"x"}"#), None).unwrap_err();
        assert!(
            matches!(err, ImagesError::Docker { ref message, .. } if message == "Unknown error")
        );
    }

    #[test]
    fn names_keep_slashes_and_colons() {
        assert_eq!(
            path_name("localhost:5000/alice/img:v1"),
            "localhost:5000/alice/img:v1"
        );
        assert_eq!(path_name("a b"), "a%20b");
    }
}
