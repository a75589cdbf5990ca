//! Rust SDK for the Neuro Platform: [`Factory`], [`Client`] and re-exports of the
//! domain crates.
//!
//! ```no_run
//! # async fn demo() -> Result<(), neuro_sdk::Error> {
//! use neuro_sdk::{Factory, JobStart, RemoteImage};
//!
//! let client = Factory::new().get().await?;
//! let image = RemoteImage::new_external_image("ubuntu", None, Some("latest".into()));
//! let mut job = JobStart::new(image, "cpu-small");
//! job.container.command = Some("echo hello".into());
//! let job = client.jobs().start(job).await?;
//! println!("started {}", job.id);
//! # Ok(()) }
//! ```
//!
//! | crate | re-exported as |
//! |---|---|
//! | `neuro-types` | [`types`], and the common model types at the root |
//! | `neuro-http` | [`http`] |
//! | `neuro-config` | [`config`] |
//! | `neuro-jobs` | [`jobs`] |
//! | `neuro-storage` | [`storage`] |

mod client;
mod error;

pub use client::{Client, Factory};
pub use error::Error;

pub use neuro_config as config;
pub use neuro_http as http;
pub use neuro_jobs as jobs;
pub use neuro_storage as storage;
pub use neuro_types as types;

pub use neuro_config::{Config, ConfigError};
pub use neuro_http::TransportOptions;
pub use neuro_jobs::{JobFilter, Jobs, JobsError};
pub use neuro_storage::{Storage, StorageError};
pub use neuro_types::{
    Action, Cluster, Container, ContainerOptions, DiskVolume, FileStatus, FileStatusType, HttpPort,
    JobDescription, JobPriority, JobRestartPolicy, JobRun, JobStart, JobStatus, JobStatusHistory,
    JobStatusItem, Preset, RemoteImage, Resources, SecretFile, Volume,
};
