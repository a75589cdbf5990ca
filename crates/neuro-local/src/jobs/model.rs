//! The jobs domain: statuses, reasons, the stored job spec and the stored record.

use std::fmt;

use neuro_types::wire::{ContainerSpec, ResourcesPayload};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// One mebibyte.
pub(crate) const MIB: u64 = 1 << 20;

/// Status of a job, as the platform spells it on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JobStatus {
    /// Waiting for capacity or being created.
    Pending,
    /// Paused by the scheduler (never produced by neuro-local, accepted in filters).
    Suspended,
    /// The process is running.
    Running,
    /// The process exited with code 0.
    Succeeded,
    /// The process exited with a non-zero code, could not start or was lost.
    Failed,
    /// Killed on request or at the end of its life span.
    Cancelled,
}

impl JobStatus {
    /// Every status, in the platform's order.
    pub const ALL: [JobStatus; 6] = [
        JobStatus::Pending,
        JobStatus::Suspended,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    /// The wire spelling (`pending`, `running`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Suspended => "suspended",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(text: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Succeeded, failed or cancelled: no transition may follow.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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

/// `never`, `on-failure` or `always`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    /// Never restart.
    #[default]
    Never,
    /// Restart after a non-zero exit.
    OnFailure,
    /// Restart after any exit.
    Always,
}

impl RestartPolicy {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RestartPolicy::Never => "never",
            RestartPolicy::OnFailure => "on-failure",
            RestartPolicy::Always => "always",
        }
    }

    /// Parses the wire spelling.
    pub fn parse(text: &str) -> Option<RestartPolicy> {
        [
            RestartPolicy::Never,
            RestartPolicy::OnFailure,
            RestartPolicy::Always,
        ]
        .into_iter()
        .find(|p| p.as_str() == text)
    }

    /// Whether a process that exited with `exit_code` is started again.
    pub fn restarts_after(self, exit_code: i32) -> bool {
        match self {
            RestartPolicy::Never => false,
            RestartPolicy::OnFailure => exit_code != 0,
            RestartPolicy::Always => true,
        }
    }
}

/// `low`, `normal` or `high`; higher priorities leave the pending queue first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Starts after every other pending job.
    Low,
    /// The default.
    #[default]
    Normal,
    /// Starts before every other pending job.
    High,
}

impl Priority {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
        }
    }

    /// Parses the wire spelling, case-insensitively as the SDK does.
    pub fn parse(text: &str) -> Option<Priority> {
        [Priority::Low, Priority::Normal, Priority::High]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(text))
    }

    /// The integer the platform stores (`-1`, `0`, `1`).
    pub fn as_i64(self) -> i64 {
        match self {
            Priority::Low => -1,
            Priority::Normal => 0,
            Priority::High => 1,
        }
    }

    /// The inverse of [`Priority::as_i64`]; unknown values read as normal.
    pub fn from_i64(value: i64) -> Priority {
        match value {
            i64::MIN..=-1 => Priority::Low,
            0 => Priority::Normal,
            _ => Priority::High,
        }
    }
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
    /// What happens when the process exits.
    #[serde(default)]
    pub restart_policy: RestartPolicy,
    /// Queue priority.
    #[serde(default)]
    pub priority: Priority,
    /// Recorded as asked; local processes never get extra privileges.
    #[serde(default)]
    pub privileged: bool,
    /// Whether `NEURO_PASSED_CONFIG` is injected.
    #[serde(default)]
    pub pass_config: bool,
    /// Recorded as asked (no quotas locally).
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
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip() {
        for s in JobStatus::ALL {
            assert_eq!(JobStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(JobStatus::parse("unknown"), None);
        assert!(JobStatus::Cancelled.is_finished());
        assert!(!JobStatus::Running.is_finished());
    }

    #[test]
    fn restart_policy() {
        assert!(!RestartPolicy::Never.restarts_after(1));
        assert!(RestartPolicy::OnFailure.restarts_after(1));
        assert!(!RestartPolicy::OnFailure.restarts_after(0));
        assert!(RestartPolicy::Always.restarts_after(0));
        assert_eq!(
            RestartPolicy::parse("on-failure"),
            Some(RestartPolicy::OnFailure)
        );
    }

    #[test]
    fn priority_order() {
        assert!(Priority::High > Priority::Normal && Priority::Normal > Priority::Low);
        assert_eq!(Priority::parse("HIGH"), Some(Priority::High));
        assert_eq!(Priority::from_i64(Priority::Low.as_i64()), Priority::Low);
    }

    #[test]
    fn time_round_trip() {
        let us = 1_658_829_600_123_456;
        assert_eq!(datetime_to_us(us_to_datetime(us)), us);
    }
}
