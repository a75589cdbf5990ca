//! The jobs domain of the server: status reasons, the stored job spec and the
//! stored record. Statuses, restart policies and priorities are the shared model's
//! ([`JobStatus`], [`JobRestartPolicy`], [`JobPriority`] of `neuro_types::jobs`).

use neuro_types::jobs::{JobPriority, JobRestartPolicy, JobStatus};
use neuro_types::wire::{ContainerSpec, ResourcesPayload};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One mebibyte.
pub(crate) const MIB: u64 = 1 << 20;

/// Status reasons, spelled as the real platform spells them (platform-api
/// `JobStatusReason`), plus `Lost` for jobs whose process neuro-local lost.
pub mod reason {
    /// Pending: the job was just accepted.
    pub const CREATING: &str = "Creating";
    /// Pending: waiting for CPU or memory to free up.
    pub const SCHEDULING: &str = "Scheduling";
    /// Running again after the process exited (restart policy).
    pub const RESTARTING: &str = "Restarting";
    /// Succeeded: the process exited with code 0.
    pub const COMPLETED: &str = "Completed";
    /// Failed: the process exited with a non-zero code.
    pub const ERROR: &str = "Error";
    /// Failed: the process could not be started.
    pub const CONTAINER_CANNOT_RUN: &str = "ContainerCannotRun";
    /// Failed: pending longer than the job's `schedule_timeout`.
    pub const CLUSTER_SCALE_UP_FAILED: &str = "ClusterScaleUpFailed";
    /// Cancelled: killed by its owner (`DELETE jobs/{id}`).
    pub const USER_REQUESTED: &str = "UserRequested";
    /// Cancelled: ran out of its `max_run_time_minutes`.
    pub const LIFE_SPAN_ENDED: &str = "LifeSpanEnded";
    /// Failed: neuro-local stopped or restarted while the job was running, so its
    /// process and exit code are gone.
    pub const LOST: &str = "Lost";
}

/// Everything a job was submitted with, validated. Stored as JSON and never changed
/// after submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Image, command, env, mounts and the other container fields.
    pub container: ContainerSpec,
    /// CPU, memory and accelerators.
    pub resources: ResourcesPayload,
    /// Job name, unique among the owner's unfinished jobs.
    #[serde(default)]
    pub name: Option<String>,
    /// Sorted, deduplicated tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Free-text description.
    #[serde(default)]
    pub description: Option<String>,
    /// Seconds the job may stay pending before it fails.
    #[serde(default)]
    pub schedule_timeout: Option<f64>,
    /// What happens when the process exits (stored by its wire spelling).
    #[serde(default, with = "wire_spelling")]
    pub restart_policy: JobRestartPolicy,
    /// Queue priority (stored by its wire spelling).
    #[serde(default, with = "wire_spelling")]
    pub priority: JobPriority,
    /// Recorded as asked; local processes never get extra privileges.
    #[serde(default)]
    pub privileged: bool,
    /// Whether `NEURO_PASSED_CONFIG` is injected.
    #[serde(default)]
    pub pass_config: bool,
    /// Wait for a seat of the owner's running-jobs quota instead of being
    /// refused when it is used up.
    #[serde(default)]
    pub wait_for_jobs_quota: bool,
    /// Whether the job goes through the platform scheduler.
    #[serde(default)]
    pub scheduler_enabled: bool,
    /// Whether the job asked for a preemptible node.
    #[serde(default)]
    pub preemptible_node: bool,
    /// Preset the resources came from.
    #[serde(default)]
    pub preset_name: Option<String>,
    /// Org of the job (always `None` for now).
    #[serde(default)]
    pub org_name: Option<String>,
    /// Price of one hour of running.
    #[serde(with = "neuro_types::wire::serde_util::decimal_str")]
    pub price_credits_per_hour: Decimal,
}

impl JobSpec {
    /// CPU in thousandths of a core, the unit of capacity accounting.
    pub fn milli_cpu(&self) -> u64 {
        cpu_to_milli(self.resources.cpu)
    }

    /// Whether the job asks for accelerators, which this machine does not have.
    pub fn needs_accelerator(&self) -> bool {
        self.resources.gpu.unwrap_or(0) > 0 || self.resources.tpu.is_some()
    }
}

/// Stores an enumeration of the shared model by its wire spelling (`Display`)
/// and reads it back with its `FromStr`, so the stored spec keeps the spellings
/// of the API (`on-failure`, `high`, ...).
mod wire_spelling {
    use std::fmt::Display;
    use std::str::FromStr;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<T: Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    pub fn deserialize<'de, T, D>(d: D) -> Result<T, D::Error>
    where
        T: FromStr,
        T::Err: Display,
        D: Deserializer<'de>,
    {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Converts cores to thousandths of a core (negative and NaN count as 0).
pub(crate) fn cpu_to_milli(cpu: f64) -> u64 {
    if cpu.is_finite() && cpu > 0.0 {
        (cpu * 1000.0).round() as u64
    } else {
        0
    }
}

/// One status transition of a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// Status entered.
    pub status: JobStatus,
    /// When, in microseconds since the Unix epoch (UTC).
    pub time_us: i64,
    /// Machine-readable reason (see [`reason`]), or empty.
    pub reason: String,
    /// Human-readable description, or empty.
    pub description: String,
    /// Exit code of the process, for transitions caused by an exit.
    pub exit_code: Option<i32>,
}

impl Transition {
    /// A transition happening now.
    pub fn now(status: JobStatus, reason: &str, description: impl Into<String>) -> Transition {
        Transition {
            status,
            time_us: now_us(),
            reason: reason.to_owned(),
            description: description.into(),
            exit_code: None,
        }
    }

    /// The same transition with an exit code.
    pub fn with_exit_code(mut self, exit_code: i32) -> Transition {
        self.exit_code = Some(exit_code);
        self
    }

    /// Whether `self` and `other` say the same thing (the time does not count, as
    /// on the platform).
    pub fn same_as(&self, other: &Transition) -> bool {
        self.status == other.status
            && self.reason == other.reason
            && self.description == other.description
            && self.exit_code == other.exit_code
    }
}

/// A job as stored: the spec plus everything that changes over its life.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    /// Creation order; larger is newer.
    pub seq: i64,
    /// `job-<uuid4>`.
    pub id: String,
    /// User who submitted the job.
    pub owner: String,
    /// Always the platform's single cluster.
    pub cluster_name: String,
    /// The submitted job.
    pub spec: JobSpec,
    /// Current status (the last transition's).
    pub status: JobStatus,
    /// All transitions, oldest first; never empty for a stored job.
    pub transitions: Vec<Transition>,
    /// Life span in minutes; `None` means unlimited.
    pub max_run_time_minutes: Option<i64>,
    /// Whether a process of the job exists right now.
    pub materialized: bool,
    /// Retention flag of the platform (always false locally).
    pub being_dropped: bool,
    /// Retention flag of the platform (always false locally).
    pub logs_removed: bool,
}

impl JobRecord {
    /// When the job was created, in microseconds since the epoch.
    pub fn created_us(&self) -> i64 {
        self.transitions.first().map_or(0, |t| t.time_us)
    }

    /// The current transition.
    pub fn current(&self) -> Option<&Transition> {
        self.transitions.last()
    }

    /// When the job first became running (or finished without running).
    pub fn started_us(&self) -> Option<i64> {
        self.transitions
            .iter()
            .find(|t| t.status == JobStatus::Running)
            .or_else(|| self.transitions.iter().find(|t| t.status.is_finished()))
            .map(|t| t.time_us)
    }

    /// Microseconds spent running so far (up to `now_us` for a running job).
    pub fn run_time_us(&self, now_us: i64) -> i64 {
        let mut total = 0i64;
        let mut running_since: Option<i64> = None;
        for t in &self.transitions {
            if let Some(since) = running_since.take() {
                total += (t.time_us - since).max(0);
            }
            if t.status == JobStatus::Running {
                running_since = Some(t.time_us);
            }
        }
        if let Some(since) = running_since {
            total += (now_us - since).max(0);
        }
        total
    }

    /// Number of restarts (transitions with reason `Restarting`).
    pub fn restarts(&self) -> u32 {
        let n = self
            .transitions
            .iter()
            .filter(|t| t.reason == reason::RESTARTING || t.status == JobStatus::Suspended)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Credits spent: the hourly price times the run time.
    pub fn total_price_credits(&self, now_us: i64) -> Decimal {
        let run_us = Decimal::from(self.run_time_us(now_us));
        let hour_us = Decimal::from(3_600_000_000i64);
        (self.spec.price_credits_per_hour * run_us / hour_us)
            .round_dp(6)
            .normalize()
    }
}

/// Microseconds since the Unix epoch, now.
pub fn now_us() -> i64 {
    let now = OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

/// Converts microseconds since the epoch to a UTC timestamp.
pub fn us_to_datetime(us: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Converts a timestamp to microseconds since the epoch.
pub fn datetime_to_us(value: OffsetDateTime) -> i64 {
    i64::try_from(value.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn spec_stores_wire_spellings() {
        let spec = JobSpec {
            container: ContainerSpec {
                image: "ubuntu".to_owned(),
                ..ContainerSpec::default()
            },
            resources: ResourcesPayload {
                memory: 16 * MIB,
                cpu: 0.1,
                shm: false,
                gpu: None,
                gpu_model: None,
                tpu: None,
                memory_mb: None,
            },
            name: None,
            tags: Vec::new(),
            description: None,
            schedule_timeout: None,
            restart_policy: JobRestartPolicy::OnFailure,
            priority: JobPriority::High,
            privileged: false,
            pass_config: false,
            wait_for_jobs_quota: false,
            scheduler_enabled: false,
            preemptible_node: false,
            preset_name: None,
            org_name: None,
            price_credits_per_hour: Decimal::ONE,
        };
        let mut value = serde_json::to_value(&spec).unwrap();
        assert_eq!(value["restart_policy"], "on-failure");
        assert_eq!(value["priority"], "high");
        assert_eq!(
            serde_json::from_value::<JobSpec>(value.clone()).unwrap(),
            spec
        );
        // Missing keys read as the defaults; unknown spellings are refused.
        let obj = value.as_object_mut().unwrap();
        obj.remove("restart_policy");
        obj.remove("priority");
        let read: JobSpec = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(read.restart_policy, JobRestartPolicy::Never);
        assert_eq!(read.priority, JobPriority::Normal);
        value["restart_policy"] = "sometimes".into();
        assert!(serde_json::from_value::<JobSpec>(value).is_err());
    }

    #[test]
    fn time_round_trip() {
        let us = 1_658_829_600_123_456;
        assert_eq!(datetime_to_us(us_to_datetime(us)), us);
    }
}
