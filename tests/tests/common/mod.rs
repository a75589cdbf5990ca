//! Shared set-up: an in-process neuro-local on a free port and an SDK client
//! logged in to it through a private config directory.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

pub mod azurite;
pub mod browser;
pub mod fake_docker;
pub mod fake_gcs;
pub mod files;
pub mod image;
pub mod podman;
pub mod proxy;
pub mod raw;
pub mod recorder;
pub mod seaweed;

use neuro_local::{LocalPlatform, RunningPlatform};
use neuro_sdk::{Client, Factory, JobDescription, JobStart, RemoteImage};
use tempfile::TempDir;

/// A running platform plus a logged-in client; dropping it stops everything.
pub struct Env {
    pub client: Client,
    pub factory: Factory,
    pub platform: RunningPlatform,
    pub dir: TempDir,
}

impl Env {
    /// Starts neuro-local and logs its admin in.
    pub async fn start() -> Env {
        Env::start_with(LocalPlatform::builder()).await
    }

    /// Starts neuro-local as `builder` says (for example on a given data
    /// directory) and logs its admin in.
    pub async fn start_with(builder: neuro_local::LocalPlatformBuilder) -> Env {
        let platform = builder.start().await.expect("start neuro-local");
        let dir = tempfile::tempdir().expect("temp dir");
        let factory = Factory::with_path(dir.path().join("config"));
        factory
            .login_with_token(platform.admin_token(), &platform.api_url())
            .await
            .expect("login");
        let client = factory.get().await.expect("client");
        Env {
            client,
            factory,
            platform,
            dir,
        }
    }

    /// A client for another user of the same platform.
    pub async fn user(&self, name: &str) -> Client {
        let token = self.platform.create_user(name).await.expect("create user");
        let factory = Factory::with_path(self.dir.path().join(format!("config-{name}")));
        factory
            .login_with_token(&token, &self.platform.api_url())
            .await
            .expect("login");
        factory.get().await.expect("client")
    }
}

/// Polls the job until it has finished, failing the test after `timeout`.
pub async fn wait_finished(client: &Client, id: &str, timeout: Duration) -> JobDescription {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let job = client.jobs().status(id).await.expect("status");
        if job.status.is_finished() {
            return job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job {id} still {} after {timeout:?}",
            job.status.as_str()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Polls the job until `pred` holds.
pub async fn wait_for(
    client: &Client,
    id: &str,
    timeout: Duration,
    pred: impl Fn(&JobDescription) -> bool,
) -> JobDescription {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let job = client.jobs().status(id).await.expect("status");
        if pred(&job) {
            return job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job {id} did not reach the expected state (now {})",
            job.status.as_str()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A job from the `cpu-small` preset running `command` with `/bin/sh -c`.
pub fn shell_job(command: &str) -> JobStart {
    let image = RemoteImage::new_external_image("ubuntu", None, Some("latest".into()));
    let mut job = JobStart::new(image, "cpu-small");
    job.container.command = Some(command.into());
    job
}

/// A job volume mounting the storage `uri` at `container_path`.
pub fn volume(uri: &str, container_path: &str, read_only: bool) -> neuro_sdk::Volume {
    neuro_sdk::Volume {
        storage_uri: url::Url::parse(uri).expect("a storage URI"),
        container_path: container_path.into(),
        read_only,
    }
}

/// Starts `job` and waits until it runs.
pub async fn start_running(client: &Client, job: JobStart, timeout: Duration) -> JobDescription {
    let started = client.jobs().start(job).await.expect("start job");
    wait_for(client, &started.id, timeout, |j| j.status.is_running()).await
}

/// The HTTP status a failed SDK call got from the platform.
pub fn http_status<T: std::fmt::Debug, E: Into<neuro_sdk::Error>>(result: Result<T, E>) -> u16 {
    let err: neuro_sdk::Error = result.expect_err("the call should fail").into();
    err.status()
        .unwrap_or_else(|| panic!("no HTTP status in {err:?}"))
}

/// Everything job `id` wrote (its whole log, once it has finished).
pub async fn job_logs(client: &Client, id: &str) -> String {
    use futures::TryStreamExt as _;
    let chunks: Vec<bytes::Bytes> = client
        .jobs()
        .monitor(id, neuro_sdk::jobs::MonitorOptions::new())
        .try_collect()
        .await
        .expect("job logs");
    String::from_utf8(chunks.concat()).expect("UTF-8 logs")
}
