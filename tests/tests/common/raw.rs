//! Plain-socket helpers for the peer servers the tests start (SeaweedFS,
//! Azurite, fake-gcs-server): free ports and one-shot HTTP/1.1 requests made
//! without the SDK, to set the peers up and to wait until they answer.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// How long a peer may take to come up on a loaded machine.
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// `n` distinct free ports on 127.0.0.1 (held until all are picked).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// One HTTP/1.1 request to 127.0.0.1:`port` with `headers` and `body`; the
/// status, or `None` when nothing listens yet.
pub async fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<u16> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.ok()?;
    stream.write_all(body).await.ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.ok()?;
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1)?.parse().ok()
}

/// One HTTP/1.1 request without a body or headers.
pub async fn status(port: u16, method: &str, path: &str) -> Option<u16> {
    request(port, method, path, &[], b"").await
}

/// A tool installed by `tests/setup.sh` at `relative` (under `tests/`), else
/// `name` on PATH; without either the test fails saying how to get it.
pub fn tool(relative: &str, name: &str, what: &str) -> PathBuf {
    let installed = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    if installed.is_file() {
        return installed;
    }
    if let Some(found) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    }) {
        return found;
    }
    panic!(
        "{what} is missing: no {} and no `{name}` on PATH; run `bash tests/setup.sh`",
        installed.display()
    );
}

/// Polls `ready` every 200 ms until it is true; fails after
/// [`READY_TIMEOUT`] naming `what` and its `log`.
pub async fn wait_until<F, Fut>(what: &str, log: &Path, mut ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    while !ready().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not come up in {READY_TIMEOUT:?}; see {}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
