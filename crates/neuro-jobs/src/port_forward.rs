//! [`PortForward`]: a local TCP port forwarded to a job's port.

use std::net::SocketAddr;

use futures::{SinkExt as _, StreamExt as _};
use neuro_http::Message;
use neuro_types::endpoints::{self, paths};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

use crate::jobs::check_id;
use crate::{Jobs, JobsError};

/// Bytes read from the local socket per frame, as the Python SDK reads.
const FRAME: usize = 4 * 1024 * 1024;

/// A running port forward: every TCP connection to
/// [`local_addr`](PortForward::local_addr) is carried to the job's port over a
/// websocket of its own. Dropping the guard stops listening and ends every
/// forwarded connection.
#[derive(Debug)]
pub struct PortForward {
    local_addr: SocketAddr,
    task: JoinHandle<()>,
}

impl PortForward {
    /// The address it listens on (useful with local port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }
}

impl Drop for PortForward {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Jobs {
    /// Listens on `127.0.0.1:local_port` (0 picks a free port) and forwards each
    /// connection to port `job_port` of job `id` until the guard is dropped.
    ///
    /// ```no_run
    /// # // no_run: `job-1` stands for a running job of the caller (docs/jobs.md runs this call on a real one)
    /// # async fn demo(jobs: neuro_jobs::Jobs) -> Result<(), neuro_jobs::JobsError> {
    /// let forward = jobs.port_forward("job-1", 0, 8080).await?;
    /// println!("the job's port 8080 is at {}", forward.local_addr());
    /// # Ok(()) }
    /// ```
    pub async fn port_forward(
        &self,
        id: &str,
        local_port: u16,
        job_port: u16,
    ) -> Result<PortForward, JobsError> {
        let url = self.url(
            &endpoints::MONITORING_PORT_FORWARD,
            &paths::monitoring_port_forward(check_id(id)?, &job_port.to_string()),
        )?;
        let listener = TcpListener::bind(("127.0.0.1", local_port))
            .await
            .map_err(|e| JobsError::Io(format!("cannot listen on port {local_port}"), e))?;
        let local_addr = listener
            .local_addr()
            .map_err(|e| JobsError::Io("cannot read the listening address".into(), e))?;
        let jobs = self.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => {
                            connections.spawn(forward(jobs.clone(), url.clone(), stream));
                        }
                        Err(e) => tracing::warn!(error = %e, "port forward: accept failed"),
                    },
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Ok(PortForward { local_addr, task })
    }
}

/// Carries one connection; failures are logged, as the Python SDK does.
async fn forward(jobs: Jobs, url: url::Url, stream: TcpStream) {
    let ws = match jobs.config().transport().ws_connect(url).send().await {
        Ok(ws) => ws,
        Err(e) => {
            tracing::warn!(error = %e, "port forward: the platform refused the connection");
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    let (mut sink, mut source) = ws.split();
    let (mut tcp_in, mut tcp_out) = stream.into_split();
    let to_job = async {
        let mut buf = vec![0u8; FRAME];
        loop {
            match tcp_in.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let data = bytes::Bytes::copy_from_slice(&buf[..n]);
                    if sink.send(Message::Binary(data)).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = sink.close().await;
    };
    let from_job = async {
        while let Some(message) = source.next().await {
            match message {
                Ok(Message::Binary(data)) => {
                    if tcp_out.write_all(&data).await.is_err() {
                        break;
                    }
                }
                Ok(Message::Text(_)) => {
                    tracing::warn!("port forward: a text frame from the platform");
                    break;
                }
                Ok(Message::Close(_)) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = tcp_out.shutdown().await;
    };
    tokio::select! {
        () = to_job => {}
        () = from_job => {}
    }
}
