#![doc = include_str!("../README.md")]

mod client;
mod error;

pub use client::{Client, Factory};
pub use error::Error;

pub use neuro_blob as blob;
pub use neuro_config as config;
pub use neuro_disks as disks;
pub use neuro_http as http;
pub use neuro_images as images;
pub use neuro_jobs as jobs;
pub use neuro_secrets as secrets;
pub use neuro_storage as storage;
pub use neuro_types as types;
pub use neuro_users as users;

pub use neuro_blob::{BlobError, BucketCreate, BucketLookup, Buckets};
pub use neuro_config::{Config, ConfigError};
pub use neuro_disks::{DiskCreate, DiskLookup, Disks, DisksError};
pub use neuro_http::TransportOptions;
pub use neuro_images::{Images, ImagesError, Tag};
pub use neuro_jobs::{JobFilter, Jobs, JobsError};
pub use neuro_secrets::{SecretOptions, Secrets, SecretsError};
pub use neuro_storage::{Storage, StorageError};
pub use neuro_types::{
    Action, Cluster, Container, ContainerOptions, Disk, DiskStatus, DiskVolume, FileStatus,
    FileStatusType, HttpPort, JobDescription, JobPriority, JobRestartPolicy, JobRun, JobStart,
    JobStatus, JobStatusHistory, JobStatusItem, Permission, Preset, RemoteImage, Resources, Secret,
    SecretFile, ServiceAccount, Share, Volume,
};
pub use neuro_users::{AclFilter, ServiceAccountToken, ServiceAccounts, Users, UsersError};

/// The guides in `docs/`, compiled as doctests of this crate so that their
/// snippets keep up with the API; they run against a neuro-local started
/// in-process (`neuro_local::examples`, called from hidden lines).
#[cfg(doctest)]
mod guides {
    #[doc = include_str!("../../../docs/getting-started.md")]
    struct GettingStarted;
    #[doc = include_str!("../../../docs/jobs.md")]
    struct Jobs;
    #[doc = include_str!("../../../docs/storage.md")]
    struct Storage;
    #[doc = include_str!("../../../docs/config.md")]
    struct Config;
    #[doc = include_str!("../../../docs/neuro-local.md")]
    struct NeuroLocal;
    #[doc = include_str!("../../../docs/blob.md")]
    struct Blob;
    #[doc = include_str!("../../../docs/secrets-disks-users.md")]
    struct SecretsDisksUsers;
    #[doc = include_str!("../../../docs/images.md")]
    struct Images;
}
