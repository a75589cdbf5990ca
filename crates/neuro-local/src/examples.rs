//! A platform for documentation examples.
//!
//! The SDK's guides and API docs run their examples against a neuro-local
//! started in-process: their hidden first line calls [`start`], which logs the
//! user `alice` in where `neuro_sdk::Factory::new()` looks
//! (`$NEUROMATION_CONFIG`) and makes a fresh directory the current one, so the
//! visible part stays what a user writes against a real platform. The platform
//! also knows the user `bob` and the org `acme`, which the examples name.

use std::path::{Path, PathBuf};

use crate::{LocalPlatform, PlatformError, RunningPlatform};

/// A running platform, logged in as its admin in a temporary configuration
/// directory; dropping it stops the platform and removes both directories.
#[derive(Debug)]
pub struct ExamplePlatform {
    platform: RunningPlatform,
    config_dir: PathBuf,
    // Last: removed once the platform has stopped.
    root: tempfile::TempDir,
}

impl ExamplePlatform {
    /// The configuration directory to pass to `Factory::with_path` (or
    /// `ConfigFactory::with_path`).
    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    /// The platform itself.
    pub fn platform(&self) -> &RunningPlatform {
        &self.platform
    }
}

/// Starts a platform (admin `alice`, user `bob`, orgs none and `acme`) on a
/// temporary data directory and a free port; writes alice's login into a
/// temporary configuration directory and points `$NEUROMATION_CONFIG` at it;
/// makes an empty temporary directory the current one.
///
/// It changes the process's environment and current directory: for examples
/// (each doctest is a process of its own), not for library code.
pub async fn start() -> Result<ExamplePlatform, PlatformError> {
    let dir = tempfile::tempdir().map_err(|source| PlatformError::DataDir {
        path: std::env::temp_dir(),
        source,
    })?;
    let config_dir = dir.path().join("config");
    let work_dir = dir.path().join("work");
    std::fs::create_dir(&work_dir)
        .and_then(|()| std::env::set_current_dir(&work_dir))
        .map_err(|source| PlatformError::DataDir {
            path: work_dir.clone(),
            source,
        })?;
    let platform = LocalPlatform::builder()
        .data_dir(dir.path().join("data"))
        .admin_user("alice")
        .orgs(vec![None, Some("acme".to_owned())])
        .client_config_dir(config_dir.clone())
        .start()
        .await?;
    platform.create_user("bob").await?;
    std::env::set_var("NEUROMATION_CONFIG", &config_dir);
    Ok(ExamplePlatform {
        platform,
        config_dir,
        root: dir,
    })
}

impl ExamplePlatform {
    /// Stops the platform and waits until its jobs have ended (an example
    /// that started jobs calls it last, so no process outlives it).
    pub async fn shutdown(self) {
        let ExamplePlatform { platform, root, .. } = self;
        platform.shutdown().await;
        drop(root);
    }
}

/// Runs `$command` as a job of the client `$client` (a `neuro_sdk::Client`)
/// and evaluates to its id once it has left `pending`: the job an example about
/// an existing job works on.
///
/// Expands to `neuro_sdk` calls, so only crates depending on `neuro-sdk` (its
/// doctests) can use it.
#[doc(hidden)]
#[macro_export]
macro_rules! example_job {
    ($client:expr, $command:expr) => {{
        let image = ::neuro_sdk::RemoteImage::new_external_image("ubuntu", None, None);
        let mut container =
            ::neuro_sdk::Container::new(image, ::neuro_sdk::Resources::new(64 << 20, 0.1));
        container.settings.command = Some(::std::string::String::from($command));
        let id = $client
            .jobs()
            .run(::neuro_sdk::JobRun::new(container))
            .await?
            .id;
        while $client.jobs().status(&id).await?.status == ::neuro_sdk::JobStatus::Pending {
            ::tokio::time::sleep(::std::time::Duration::from_millis(50)).await;
        }
        id
    }};
}
