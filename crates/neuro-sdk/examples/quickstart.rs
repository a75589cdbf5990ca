//! Quickstart: log in, run a job, move a file through storage.
//!
//! ```sh
//! cargo run -p neuro-sdk --example quickstart
//! ```
//!
//! With no platform named, the example starts neuro-local in-process (a temporary
//! data directory, a free port on 127.0.0.1) and logs in as its admin. To use an
//! existing platform instead, set `NEURO_API_URL` and `NEURO_TOKEN`, or set
//! `NEURO_USE_CONFIG=1` to use the stored login (`~/.neuro` or
//! `$NEUROMATION_CONFIG`).

use std::time::Duration;

mod common;

use futures::TryStreamExt;
use neuro_sdk::{Client, JobStart, RemoteImage};

use common::BoxError;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let work = tempfile::tempdir()?;
    // Keep the embedded platform alive until the end of main.
    let (client, _platform) = common::connect(work.path()).await?;
    println!(
        "logged in as {} on cluster {} ({})",
        client.username(),
        client.cluster_name(),
        client.config().api_url()
    );

    run_job(&client).await?;
    round_trip_file(&client, work.path()).await?;
    println!("quickstart finished");
    Ok(())
}

async fn run_job(client: &Client) -> Result<(), BoxError> {
    let image = RemoteImage::new_external_image("ubuntu", None, Some("latest".into()));
    let mut start = JobStart::new(image, "cpu-small");
    start.container.command = Some("sh -c 'echo hello from neuro-local; sleep 1'".into());
    start.options.name = Some("quickstart".into());
    let mut job = client.jobs().start(start).await?;
    println!("started job {} ({})", job.id, job.status.as_str());

    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while !job.status.is_finished() {
        if tokio::time::Instant::now() > deadline {
            return Err(format!("job {} did not finish in time", job.id).into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        job = client.jobs().status(&job.id).await?;
    }
    println!("job {} finished: {}", job.id, job.status.as_str());
    for item in &job.history.transitions {
        println!(
            "  {:<10} {:<24} {}",
            item.status.as_str(),
            item.reason,
            neuro_sdk::types::wire::serde_util::iso8601::format(item.transition_time)
        );
    }
    if !job.status.is_finished() || job.history.exit_code != Some(0) {
        return Err(format!("job ended with exit code {:?}", job.history.exit_code).into());
    }
    Ok(())
}

async fn round_trip_file(client: &Client, work: &std::path::Path) -> Result<(), BoxError> {
    let storage = client.storage();
    let local = work.join("hello.txt");
    let content: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    tokio::fs::write(&local, &content).await?;

    storage.mkdir("storage:quickstart", true, true).await?;
    storage
        .upload_file(&local, "storage:quickstart/hello.txt", &Default::default())
        .await?;
    println!(
        "uploaded {} bytes to storage:quickstart/hello.txt",
        content.len()
    );

    let listing: Vec<_> = storage.list("storage:quickstart").try_collect().await?;
    for status in &listing {
        println!(
            "  {:<12} {:>10}  {}",
            status.file_type.as_str(),
            status.size,
            status.uri
        );
    }

    let back = work.join("hello.back.txt");
    storage
        .download_file("storage:quickstart/hello.txt", &back, &Default::default())
        .await?;
    let downloaded = tokio::fs::read(&back).await?;
    if downloaded != content {
        return Err("downloaded bytes differ from the uploaded ones".into());
    }
    println!("downloaded it back: {} bytes, identical", downloaded.len());
    storage.rm("storage:quickstart", true).await?;
    Ok(())
}
