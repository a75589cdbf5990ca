//! Data model, platform URIs and wire (de)serialisation of the Neuro Platform API,
//! byte-compatible with `neuro-sdk==22.7.1`.
//!
//! This crate does no I/O. It holds the types every other crate of the workspace
//! shares:
//!
//! | module | what lives there |
//! |---|---|
//! | [`wire`] | the exact JSON payloads (requests, responses, the stored config); one struct per shape, used by clients and by `neuro-local` |
//! | [`uri`] | platform URIs: [`normalize_uri`], [`short_uri`], [`uri_from_cli`](uri::uri_from_cli), path helpers |
//! | [`image`] | image references: [`RemoteImage`], [`LocalImage`], parsing with an [`ImageContext`] |
//! | [`config`] | [`Cluster`], [`Preset`], [`AuthConfig`], [`ServerConfig`] and their `/config` and stored forms |
//! | [`jobs`] | [`JobDescription`], [`Container`] and its parts, statuses, and the [`JobRun`] / [`JobStart`] request builders |
//! | [`storage`] | [`FileStatus`], [`StorageDeleteEvent`], [`DiskUsageInfo`] |
//! | [`parser`] | [`Parser`](parser::Parser): volumes, images, environment variables and URIs as users type them |
//! | [`permission`] | [`Action`], [`Permission`], [`Share`] |
//! | [`error`] | [`ModelError`], the error of every payload conversion |
//!
//! Model types convert from payloads with `from_payload` and back with
//! `to_payload`. Decoding follows the SDK's defaults for missing keys; encoding
//! follows its "sent only when" rules, so a request built here is the request the
//! Python SDK would send.
//!
//! ```
//! use neuro_types::{ImageContext, JobDescription, UriContext};
//! use neuro_types::wire::JobPayload;
//!
//! let ctx = ImageContext::new(
//!     UriContext::new("alice", "default", None),
//!     vec![("default".into(), "registry.neu.ro".into())],
//! );
//! let payload: JobPayload = serde_json::from_str(r#"{
//!     "id": "job-1", "owner": "alice", "cluster_name": "default", "status": "running",
//!     "history": {}, "container": {"image": "image:img", "resources": {"memory": 1048576, "cpu": 1}},
//!     "scheduler_enabled": false, "pass_config": false, "uri": "job://default/alice/job-1",
//!     "total_price_credits": "0", "price_credits_per_hour": "1.5"
//! }"#).unwrap();
//! let job = JobDescription::from_payload(payload, &ctx).unwrap();
//! assert!(job.status.is_running());
//! assert_eq!(job.container.image.as_docker_url(false), "registry.neu.ro/alice/img:latest");
//! ```

pub mod config;
pub mod endpoints;
pub mod error;
pub mod image;
pub mod jobs;
pub mod parser;
pub mod permission;
pub mod storage;
pub mod uri;
pub mod wire;

pub use config::{AuthConfig, Cluster, Preset, Presets, ServerConfig};
pub use error::{ModelError, ParseEnumError};
pub use image::{ImageContext, ImageError, LocalImage, RemoteImage, TagOption};
pub use jobs::{
    Container, ContainerOptions, DiskVolume, HttpPort, JobDescription, JobInternal, JobOptions,
    JobPriority, JobRestartPolicy, JobRun, JobStart, JobStatus, JobStatusHistory, JobStatusItem,
    OrgSelection, Resources, SecretFile, Volume,
};
pub use permission::{Action, Permission, Share};
pub use storage::{DiskUsageInfo, FileStatus, FileStatusType, StorageDeleteEvent};
pub use uri::{normalize_uri, short_uri, Scheme, UriContext, UriError};
