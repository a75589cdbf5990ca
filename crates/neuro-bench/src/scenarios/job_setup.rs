//! Set-up shared by the jobs scenarios (untimed): a logged-in client and
//! jobs found by name or started.

use std::time::Duration;

use anyhow::{bail, Context as _};
use neuro_sdk::{Client, Factory, JobDescription, JobStart, RemoteImage};

use crate::env::BenchEnv;

/// Longest wait for a set-up job to reach the wanted state.
const SETUP_TIMEOUT: Duration = Duration::from_secs(600);

/// A client logged in with the benchmark token into `work_dir/<dir>`.
pub(crate) async fn login(env: &BenchEnv, dir: &str) -> anyhow::Result<Client> {
    let factory = Factory::with_path(env.work_dir().join(dir));
    if factory.is_config_present() {
        factory.logout().await?;
    }
    factory
        .login_with_token(env.token(), env.api_url())
        .await
        .context("login with the benchmark token failed")?;
    Ok(factory.get().await?)
}

/// A `cpu-small` job running `command` with `/bin/sh -c`.
pub(crate) fn shell_job(command: &str) -> JobStart {
    let image = RemoteImage::new_external_image("ubuntu", None, Some("latest".into()));
    let mut job = JobStart::new(image, "cpu-small");
    job.container.command = Some(command.into());
    job
}

/// The caller's job called `name` once `ready` holds for it: an existing one,
/// or (when there is none, or it ended otherwise) a new one running `command`.
pub(crate) async fn named_job(
    client: &Client,
    name: &str,
    command: &str,
    ready: impl Fn(&JobDescription) -> bool,
) -> anyhow::Result<JobDescription> {
    let jobs = client.jobs();
    let id = match jobs.status(name).await {
        Ok(job) if ready(&job) => return Ok(job),
        Ok(job) if !job.status.is_finished() => job.id,
        _ => {
            let mut start = shell_job(command);
            start.options.name = Some(name.to_owned());
            jobs.start(start).await?.id
        }
    };
    let deadline = tokio::time::Instant::now() + SETUP_TIMEOUT;
    loop {
        let job = jobs.status(&id).await?;
        if ready(&job) {
            return Ok(job);
        }
        if job.status.is_finished() {
            bail!("set-up job {name} ended as {}", job.status.as_str());
        }
        if tokio::time::Instant::now() > deadline {
            bail!("set-up job {name} not ready after {SETUP_TIMEOUT:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
