//! Port forwarding: a job serves HTTP on a port of its own; a local port
//! carries connections to it, as `neuro port-forward` does.
//!
//! ```sh
//! cargo run -p neuro-sdk --example port_forward
//! ```
//!
//! The job runs `python3 -m http.server` (the `python` image on a real
//! platform; the machine's `python3` on neuro-local, whose jobs run on the host).
//! With no platform named, the example starts neuro-local in-process (see
//! `examples/common`).

use std::time::Duration;

mod common;

use neuro_sdk::{JobStart, JobStatus, RemoteImage};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use common::BoxError;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let work = tempfile::tempdir()?;
    let (client, _platform) = common::connect(work.path()).await?;

    // A port unlikely to be taken: on neuro-local jobs share the machine's network.
    let job_port = 20_000 + (std::process::id() % 10_000) as u16;
    let image = RemoteImage::new_external_image("python", None, Some("3.11".into()));
    let mut start = JobStart::new(image, "cpu-small");
    start.container.command = Some(format!(
        "python3 -m http.server {job_port} --bind 127.0.0.1"
    ));
    let job = client.jobs().start(start).await?;
    println!("started job {} serving on its port {job_port}", job.id);

    let result = fetch_through_forward(&client, &job.id, job_port).await;
    client.jobs().kill(&job.id).await?;
    println!("killed job {}", job.id);
    result
}

async fn fetch_through_forward(
    client: &neuro_sdk::Client,
    id: &str,
    job_port: u16,
) -> Result<(), BoxError> {
    // Local port 0: the system picks a free one.
    let forward = client.jobs().port_forward(id, 0, job_port).await?;
    println!("job port {job_port} is at {}", forward.local_addr());

    // The server needs a moment to start: retry until it answers.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let job = client.jobs().status(id).await?;
        if job.status.is_finished() {
            return Err(format!("the job ended: {}", job.history.reason).into());
        }
        if job.status == JobStatus::Running {
            if let Ok(answer) = get(forward.local_addr()).await {
                let status_line = answer.lines().next().unwrap_or_default();
                println!("GET / through the forward: {status_line}");
                println!("{} bytes in the answer", answer.len());
                return Ok(());
            }
        }
        if tokio::time::Instant::now() > deadline {
            return Err("the job's server never answered".into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A minimal HTTP/1.0 `GET /`: the whole answer as text.
async fn get(addr: std::net::SocketAddr) -> Result<String, BoxError> {
    let mut stream = TcpStream::connect(addr).await?;
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    if !answer.starts_with(b"HTTP/") {
        return Err("no HTTP answer yet".into());
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}
