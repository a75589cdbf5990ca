//! Exact JSON shapes exchanged with the Neuro Platform services.
//!
//! These structs mirror, key for key, the JSON that `neuro-sdk==22.7.1` sends and
//! reads (see `wire-protocol-core.md` and `wire-protocol-data.md`). Both halves of
//! this workspace use them: the client crates serialise requests and decode
//! responses with them, and `neuro-local` decodes requests and serialises
//! responses with them, so a shape is written down exactly once.
//!
//! The idiomatic model types (`JobDescription`, `FileStatus`, ...) live in the
//! parent modules and convert from and to these payloads.

pub mod buckets;
pub mod config;
pub mod disks;
pub mod error;
pub mod jobs;
pub mod oauth;
pub mod pyjson;
pub mod secrets;
pub mod serde_util;
pub mod service_accounts;
pub mod storage;
pub mod stored_config;
pub mod users;

pub use buckets::{
    BucketCredentialsPayload, BucketPayload, CreateBucketRequest,
    CreatePersistentCredentialsRequest, ImportBucketRequest, PatchBucketRequest,
    PersistentCredentialsPayload, SignBlobUrlRequest, SignedUrlPayload,
};
pub use config::{ClusterPayload, PresetPayload, ServerConfigPayload, TpuPayload};
pub use disks::{CreateDiskRequest, DiskPayload};
pub use error::ErrorBody;
pub use jobs::{
    ContainerPayload, ContainerSpec, DiskVolumePayload, ExitPayload, HistoryPayload, HttpPayload,
    JobListPayload, JobPayload, JobRequestFields, JobRunRequest, JobStartRequest,
    JobTelemetryPayload, ResizePayload, ResourcesPayload, SecretVolumePayload, StartResources,
    StatusItemPayload, VolumePayload,
};
pub use secrets::{AddSecretRequest, SecretPayload};
pub use service_accounts::{
    CreateServiceAccountRequest, CreatedServiceAccountPayload, ServiceAccountPayload,
};
pub use storage::{
    DeleteEventPayload, DiskUsagePayload, FileStatusEnvelope, FileStatusPayload,
    FileStatusesEnvelope, FileStatusesList,
};
pub use stored_config::{StoredAuthConfig, StoredCluster, StoredPreset, SDK_VERSION};
pub use users::{AddRoleRequest, PermissionPayload, SharePayload, SubrolesPayload};
