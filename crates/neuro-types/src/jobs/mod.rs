//! Jobs model (wire-protocol-core §7, `neuro_sdk._jobs`).
//!
//! * [`JobDescription`] is a job as reported by the jobs API;
//!   [`JobDescription::from_payload`] decodes a [`JobPayload`](crate::wire::JobPayload)
//!   and [`JobDescription::to_payload`] encodes one (for servers).
//! * [`JobRun`] and [`JobStart`] build the two forms of `POST jobs`
//!   ([`JobRunRequest`](crate::wire::JobRunRequest) and
//!   [`JobStartRequest`](crate::wire::JobStartRequest)), applying every "sent only
//!   when" rule of the SDK, and read them back for servers.
//! * [`Container`], [`Resources`], [`Volume`], ... are the pieces of a job;
//!   [`ContainerOptions`] (command, environment, mounts, ...) is shared by
//!   [`Container::settings`] and [`JobStart::container`].

mod container;
mod description;
mod request;
mod status;
mod telemetry;
#[cfg(test)]
mod tests;

pub use container::{
    Container, ContainerOptions, DiskVolume, HttpPort, Resources, SecretFile, Volume,
    INVALID_IMAGE_NAME,
};
pub use description::{JobDescription, JobInternal};
pub use request::{JobOptions, JobRun, JobStart, OrgSelection};
pub use status::{JobPriority, JobRestartPolicy, JobStatus, JobStatusHistory, JobStatusItem};
pub use telemetry::JobTelemetry;
