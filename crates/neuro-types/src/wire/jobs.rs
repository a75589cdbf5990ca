//! Jobs API payloads (wire-protocol-core §7).

use std::collections::BTreeMap;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, Serializer};
use time::OffsetDateTime;

use super::config::TpuPayload;
use super::serde_util::{decimal_str, is_false, iso8601};

/// The container fields shared by job requests and job objects, without
/// `resources` (whose shape differs between `run`, `start` and responses).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// Image reference as a Docker URL (`registry/owner/name:tag` or `ubuntu:latest`).
    pub image: String,
    /// Entrypoint as one shell-like string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<String>,
    /// Command as one shell-like string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Working directory inside the container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Exposed HTTP port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpPayload>,
    /// Environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Storage folders mounted into the container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumePayload>,
    /// Environment variables filled from secrets: name -> `secret://` URI.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_env: BTreeMap<String, String>,
    /// Secrets mounted as files.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_volumes: Vec<SecretVolumePayload>,
    /// Disks mounted into the container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disk_volumes: Vec<DiskVolumePayload>,
    /// Whether the container gets a terminal.
    #[serde(default, skip_serializing_if = "is_false")]
    pub tty: bool,
}

/// A container with its resources, as sent by `POST jobs` (run form) and as
/// returned inside every job object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContainerPayload {
    /// Everything but the resources.
    #[serde(flatten)]
    pub spec: ContainerSpec,
    /// Resources of the container.
    pub resources: ResourcesPayload,
}

/// `{"port": 8080, "requires_auth": true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpPayload {
    /// Container port; `-1` when the server omitted it.
    #[serde(default = "minus_one")]
    pub port: i64,
    /// Whether platform authentication guards the port. A missing key reads as
    /// `false`.
    #[serde(default)]
    pub requires_auth: bool,
    /// Health-check path; sent by the real server, ignored by the SDK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_path: Option<String>,
}

fn minus_one() -> i64 {
    -1
}

fn yes() -> bool {
    true
}

/// A storage folder mount. A missing `read_only` reads as `true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumePayload {
    /// `storage://cluster/...` URI.
    pub src_storage_uri: String,
    /// Mount point in the container.
    pub dst_path: String,
    /// Read-only mount.
    #[serde(default = "yes")]
    pub read_only: bool,
}

/// A secret mounted as a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretVolumePayload {
    /// `secret://cluster/...` URI.
    pub src_secret_uri: String,
    /// File path in the container.
    pub dst_path: String,
}

/// A disk mount. A missing `read_only` reads as `true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskVolumePayload {
    /// `disk://cluster/...` URI.
    pub src_disk_uri: String,
    /// Mount point in the container.
    pub dst_path: String,
    /// Read-only mount.
    #[serde(default = "yes")]
    pub read_only: bool,
}

/// Container resources (wire-protocol-core §7.4).
///
/// When serialised, `gpu` is written only when set, and then `gpu_model` is
/// always written too (possibly `null`), as the Python SDK does.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ResourcesPayload {
    /// Memory in bytes.
    pub memory: u64,
    /// CPU cores.
    pub cpu: f64,
    /// Whether `/dev/shm` is enlarged. A missing key reads as `true`.
    #[serde(default = "yes")]
    pub shm: bool,
    /// Number of GPUs.
    #[serde(default)]
    pub gpu: Option<u32>,
    /// GPU model.
    #[serde(default)]
    pub gpu_model: Option<String>,
    /// TPU settings.
    #[serde(default)]
    pub tpu: Option<TpuPayload>,
    /// Memory in MiB; sent by servers, never by the SDK.
    #[serde(default)]
    pub memory_mb: Option<u64>,
}

impl Serialize for ResourcesPayload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("memory", &self.memory)?;
        if let Some(mb) = self.memory_mb {
            map.serialize_entry("memory_mb", &mb)?;
        }
        map.serialize_entry("cpu", &self.cpu)?;
        map.serialize_entry("shm", &self.shm)?;
        if let Some(gpu) = self.gpu.filter(|g| *g > 0) {
            map.serialize_entry("gpu", &gpu)?;
            map.serialize_entry("gpu_model", &self.gpu_model)?;
        }
        if let Some(tpu) = &self.tpu {
            map.serialize_entry("tpu", tpu)?;
        }
        map.end()
    }
}

/// The `resources` object of the preset form of `POST jobs`: only `{"shm": true}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartResources {
    /// Always `true` when sent.
    pub shm: bool,
}

/// The job keys both forms of `POST jobs` carry at their top level (the keys
/// of the Python SDK's `_job_to_api`, plus `privileged` and `cluster_name`).
///
/// Embedded with `#[serde(flatten)]` in [`JobRunRequest`] and
/// [`JobStartRequest`], so it never appears as a nested object on the wire.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRequestFields {
    /// Ask the server to inject `NEURO_PASSED_CONFIG`.
    #[serde(default)]
    pub pass_config: bool,
    /// Job name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Job tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Seconds the job may wait in the queue; never sent as 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_timeout: Option<f64>,
    /// `"on-failure"` or `"always"`; absent means `never`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<String>,
    /// Life span in whole minutes (0 means unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_run_time_minutes: Option<i64>,
    /// Wait for quota instead of failing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub wait_for_jobs_quota: bool,
    /// Privileged container.
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
    /// Org the job runs for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_name: Option<String>,
    /// `"low"`, `"normal"` or `"high"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    /// Target cluster.
    pub cluster_name: String,
}

/// Body of `POST {api_url}/jobs` (the `Jobs.run` form with explicit resources).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRunRequest {
    /// The job keys, flattened into the top level.
    #[serde(flatten)]
    pub job: JobRequestFields,
    /// The container with its resources.
    pub container: ContainerPayload,
    /// Whether the job goes through the scheduler.
    #[serde(default)]
    pub scheduler_enabled: bool,
}

/// Body of `POST {api_url}/jobs?from_preset` (the `Jobs.start` form): the job
/// fields and the container fields side by side at the top level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStartRequest {
    /// The job keys, flattened into the top level.
    #[serde(flatten)]
    pub job: JobRequestFields,
    /// Preset whose resources the job gets.
    pub preset_name: String,
    /// Container fields, flattened into the top level.
    #[serde(flatten)]
    pub container: ContainerSpec,
    /// `{"shm": true}` when a bigger `/dev/shm` is requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<StartResources>,
}

/// `history` of a job object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryPayload {
    /// Current status (`pending`, `running`, ...).
    #[serde(default = "unknown")]
    pub status: String,
    /// Machine-readable reason of the current status.
    #[serde(default)]
    pub reason: String,
    /// Human-readable description of the current status.
    #[serde(default)]
    pub description: String,
    /// How many times the job was restarted.
    #[serde(default)]
    pub restarts: u32,
    /// When the job was created.
    #[serde(
        default,
        with = "iso8601::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_at: Option<OffsetDateTime>,
    /// When the job started running.
    #[serde(
        default,
        with = "iso8601::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub started_at: Option<OffsetDateTime>,
    /// When the job finished.
    #[serde(
        default,
        with = "iso8601::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub finished_at: Option<OffsetDateTime>,
    /// Seconds spent running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_time_seconds: Option<f64>,
    /// Exit code of the main process, once known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

fn unknown() -> String {
    "unknown".to_owned()
}

/// One status transition (`statuses[]` of a job object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusItemPayload {
    /// Status entered.
    #[serde(default = "unknown")]
    pub status: String,
    /// When it was entered.
    #[serde(with = "iso8601")]
    pub transition_time: OffsetDateTime,
    /// Machine-readable reason.
    #[serde(default)]
    pub reason: String,
    /// Human-readable description.
    #[serde(default)]
    pub description: String,
    /// Exit code, for finished states.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

/// A job object as returned by `GET jobs/{id}`, `POST jobs` and each line of the
/// job list (wire-protocol-core §7.6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobPayload {
    /// Job id (`job-<uuid>`).
    pub id: String,
    /// Owner user name.
    pub owner: String,
    /// Cluster the job runs on.
    pub cluster_name: String,
    /// Org the job belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub org_name: Option<String>,
    /// Current status.
    pub status: String,
    /// All status transitions, oldest first.
    #[serde(default)]
    pub statuses: Vec<StatusItemPayload>,
    /// Current status details and timestamps.
    pub history: HistoryPayload,
    /// The container.
    pub container: ContainerPayload,
    /// Whether the job goes through the scheduler.
    pub scheduler_enabled: bool,
    /// Whether the job runs on a preemptible node.
    #[serde(default)]
    pub preemptible_node: bool,
    /// Legacy form of `preemptible_node`, sent by the real server.
    #[serde(default)]
    pub is_preemptible: bool,
    /// Legacy flag sent by the real server.
    #[serde(default)]
    pub is_preemptible_node_required: bool,
    /// Whether `NEURO_PASSED_CONFIG` is injected.
    pub pass_config: bool,
    /// Job name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Preset the job was started from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset_name: Option<String>,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Job tags, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Public URL of the HTTP port (by id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_url: Option<String>,
    /// Public URL of the HTTP port (by name); preferred when non-empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_url_named: Option<String>,
    /// Cluster-internal host name (by id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_hostname: Option<String>,
    /// Cluster-internal host name (by name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_hostname_named: Option<String>,
    /// Seconds the job may wait in the queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_timeout: Option<f64>,
    /// Life span in minutes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_run_time_minutes: Option<i64>,
    /// `job://cluster/owner/id`.
    pub uri: String,
    /// `never`, `on-failure` or `always`.
    #[serde(default = "never")]
    pub restart_policy: String,
    /// Privileged container (never read by the Python SDK).
    #[serde(default)]
    pub privileged: bool,
    /// Internal bookkeeping flag.
    #[serde(default)]
    pub materialized: bool,
    /// Internal bookkeeping flag.
    #[serde(default)]
    pub being_dropped: bool,
    /// Internal bookkeeping flag.
    #[serde(default)]
    pub logs_removed: bool,
    /// Credits spent so far (decimal string).
    #[serde(with = "decimal_str")]
    pub total_price_credits: Decimal,
    /// Credits per hour (decimal string).
    #[serde(with = "decimal_str")]
    pub price_credits_per_hour: Decimal,
    /// `low`, `normal` or `high`.
    #[serde(default = "normal")]
    pub priority: String,
}

fn never() -> String {
    "never".to_owned()
}

fn normal() -> String {
    "normal".to_owned()
}

/// The legacy, non-streamed job list: `{"jobs": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobListPayload {
    /// The jobs.
    pub jobs: Vec<JobPayload>,
}

/// One telemetry sample of a running job: a TEXT frame of the `top` websocket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobTelemetryPayload {
    /// CPU in use, in cores.
    pub cpu: f64,
    /// Memory in use, in MiB (sent by the server, ignored by the SDK).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<f64>,
    /// Memory in use, in bytes.
    pub memory_bytes: u64,
    /// When the sample was taken, in Unix seconds.
    pub timestamp: f64,
    /// GPU utilisation in percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_duty_cycle: Option<u32>,
    /// GPU memory in use, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_memory_bytes: Option<u64>,
}

/// The end of an attach or exec session: the JSON after channel byte `3`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitPayload {
    /// Exit code of the process.
    pub exit_code: i32,
    /// Why it ended, when the server knows more than the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A terminal size change: the JSON after channel byte `4`, height first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResizePayload {
    /// Rows.
    pub height: u16,
    /// Columns.
    pub width: u16,
}
