//! Secrets into a job: store a secret, hand it to a job as an environment
//! variable and as a file, and read what the job saw. The value never appears
//! in a listing.
//!
//! ```sh
//! cargo run -p neuro-sdk --example secrets_into_job
//! ```
//!
//! With no platform named, the example starts neuro-local in-process (see
//! `examples/common`); `NEURO_API_URL` + `NEURO_TOKEN` or `NEURO_USE_CONFIG=1`
//! name another one.

use std::time::Duration;

mod common;

use futures::TryStreamExt;
use neuro_sdk::jobs::MonitorOptions;
use neuro_sdk::{JobStart, RemoteImage, SecretFile, SecretOptions};

use common::BoxError;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let work = tempfile::tempdir()?;
    let (client, _platform) = common::connect(work.path()).await?;

    // 1. Store the secret (the value is bytes; it is sealed at rest).
    let secrets = client.secrets();
    let options = SecretOptions::default();
    secrets
        .add("example-db-password", b"s3cr3t-from-example", &options)
        .await?;
    let listed: Vec<_> = secrets.list(&options).try_collect().await?;
    for secret in &listed {
        // A listing names secrets; it never carries their values.
        println!("secret {} (owner {})", secret.uri()?, secret.owner);
    }
    let uri = listed
        .iter()
        .find(|s| s.key == "example-db-password")
        .ok_or("the new secret is not listed")?
        .uri()?;

    // 2. A job that receives it twice: as $DB_PASSWORD and as a file.
    let image = RemoteImage::new_external_image("ubuntu", None, Some("latest".into()));
    let mut start = JobStart::new(image, "cpu-small");
    start.container.command = Some(
        "sh -c 'echo env: ${#DB_PASSWORD} characters; \
         echo file: $(wc -c < /var/secrets/db-password) bytes; \
         test \"$DB_PASSWORD\" = \"$(cat /var/secrets/db-password)\" && echo they match'"
            .into(),
    );
    start
        .container
        .secret_env
        .insert("DB_PASSWORD".into(), uri.clone());
    start.container.secret_files.push(SecretFile {
        secret_uri: uri,
        container_path: "/var/secrets/db-password".into(),
    });
    let job = client.jobs().start(start).await?;
    println!("started job {}", job.id);

    // 3. Its output, until it ends (the log stream closes with the job).
    let mut log = std::pin::pin!(client.jobs().monitor(&job.id, MonitorOptions::new()));
    println!("--- job output ---");
    let read_all = async {
        while let Some(chunk) = log.try_next().await? {
            print!("{}", String::from_utf8_lossy(&chunk));
        }
        Ok::<_, neuro_sdk::JobsError>(())
    };
    tokio::time::timeout(Duration::from_secs(120), read_all)
        .await
        .map_err(|_| "the job did not finish in time")??;
    println!("--- end of job output ---");
    // The log ends with the process; the status follows a moment later.
    let mut done = client.jobs().status(&job.id).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done.status.is_finished() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        done = client.jobs().status(&job.id).await?;
    }
    println!(
        "job {} ended {} (exit code {:?})",
        done.id,
        done.status.as_str(),
        done.history.exit_code
    );

    secrets.rm("example-db-password", &options).await?;
    if done.history.exit_code != Some(0) {
        return Err("the job did not see the secret".into());
    }
    Ok(())
}
