#![doc = include_str!("../README.md")]

pub mod bucket;
pub mod config;
pub mod disk;
pub mod endpoints;
pub mod error;
pub mod image;
pub mod jobs;
pub mod parser;
pub mod permission;
pub mod secret;
pub mod service_account;
pub mod storage;
pub mod uri;
pub mod wire;

pub use bucket::{
    Bucket, BucketCredentials, BucketProvider, BucketUsage, PersistentBucketCredentials,
};
pub use config::{AuthConfig, Cluster, Preset, Presets, ServerConfig};
pub use disk::{Disk, DiskStatus};
pub use error::{ModelError, ParseEnumError};
pub use image::{ImageContext, ImageError, LocalImage, RemoteImage, TagOption};
pub use jobs::{
    Container, ContainerOptions, DiskVolume, HttpPort, JobDescription, JobInternal, JobOptions,
    JobPriority, JobRestartPolicy, JobRun, JobStart, JobStatus, JobStatusHistory, JobStatusItem,
    JobTelemetry, OrgSelection, Resources, SecretFile, Volume,
};
pub use permission::{Action, Permission, Share};
pub use secret::Secret;
pub use service_account::ServiceAccount;
pub use storage::{DiskUsageInfo, FileStatus, FileStatusType, StorageDeleteEvent};
pub use uri::{normalize_uri, short_uri, Scheme, UriContext, UriError};
