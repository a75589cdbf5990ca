//! Jobs: start a job, follow its log, run a command inside it, stop it.
//!
//! ```sh
//! cargo run -p neuro-sdk --example jobs
//! ```
//!
//! With no platform named, the example starts neuro-local in-process. Set
//! `NEURO_API_URL` and `NEURO_TOKEN` (or `NEURO_USE_CONFIG=1`) to use another.

mod common;

use std::time::Duration;

use futures::TryStreamExt;
use neuro_sdk::jobs::{MonitorOptions, StdStreamOptions};
use neuro_sdk::{Client, JobStart, JobStatus, RemoteImage};

use common::BoxError;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let work = tempfile::tempdir()?;
    let (client, _platform) = common::connect(work.path()).await?;

    let image = RemoteImage::new_external_image("ubuntu", None, Some("latest".into()));
    let mut start = JobStart::new(image, "cpu-small");
    start.container.command =
        Some("sh -c 'for i in 1 2 3; do echo tick $i; sleep 1; done; sleep 300'".into());
    start.options.name = Some("jobs-example".into());
    let job = client.jobs().start(start).await?;
    println!("started {} ({})", job.id, job.status.as_str());
    wait_for(&client, &job.id, |s| s != JobStatus::Pending).await?;

    // A command in the running job's environment, with its own output streams.
    let mut session = client
        .jobs()
        .exec(
            &job.id,
            "sh -c 'echo hello from exec; echo to stderr >&2'",
            StdStreamOptions::pipes(),
        )
        .await?;
    while let Some(message) = session.read_out().await? {
        let stream = if message.fileno == 2 {
            "stderr"
        } else {
            "stdout"
        };
        print!("exec {stream}: {}", String::from_utf8_lossy(&message.data));
    }
    match session.exit_status() {
        Some(status) => println!("exec exited with code {}", status.code),
        None => println!("exec ended without an exit status"),
    }

    // The job's log, as it is written; stop after the third tick.
    let mut log = std::pin::pin!(client.jobs().monitor(&job.id, MonitorOptions::new()));
    let mut text = String::new();
    while let Some(chunk) = log.try_next().await? {
        print!("log: {}", String::from_utf8_lossy(&chunk));
        text.push_str(&String::from_utf8_lossy(&chunk));
        if text.contains("tick 3") {
            break;
        }
    }

    client.jobs().kill(&job.id).await?;
    let job = wait_for(&client, &job.id, |s| s.is_finished()).await?;
    println!(
        "{} ended: {} ({})",
        job.id,
        job.status.as_str(),
        job.history.reason
    );
    Ok(())
}

/// Polls the job until `done` says yes about its status (two minutes at most).
async fn wait_for(
    client: &Client,
    id: &str,
    done: impl Fn(JobStatus) -> bool,
) -> Result<neuro_sdk::JobDescription, BoxError> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let job = client.jobs().status(id).await?;
        if done(job.status) {
            return Ok(job);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!("job {id} is still {}", job.status.as_str()).into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
