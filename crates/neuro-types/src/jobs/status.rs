//! Job statuses, status history, restart policy and priority.

use std::convert::Infallible;
use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;

use crate::error::ParseEnumError;
use crate::wire::{HistoryPayload, StatusItemPayload};

/// The state of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Being created and scheduled (finding resources, pulling the image, ...).
    Pending,
    /// A preemptible job paused to let other jobs run.
    Suspended,
    /// Running.
    Running,
    /// Finished with exit code 0.
    Succeeded,
    /// Finished with a non-zero exit code.
    Failed,
    /// Killed by a user.
    Cancelled,
    /// A status this client does not know (client-side only; never sent).
    Unknown,
}

impl JobStatus {
    const ITEMS: [JobStatus; 6] = [
        JobStatus::Pending,
        JobStatus::Suspended,
        JobStatus::Running,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    /// The wire string (`"pending"`, ..., `"unknown"`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Suspended => "suspended",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Unknown => "unknown",
        }
    }

    /// Pending or suspended.
    pub fn is_pending(self) -> bool {
        matches!(self, JobStatus::Pending | JobStatus::Suspended)
    }

    /// Running.
    pub fn is_running(self) -> bool {
        self == JobStatus::Running
    }

    /// Succeeded, failed or cancelled.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }

    /// Every real status (all but [`JobStatus::Unknown`]).
    pub fn items() -> &'static [JobStatus] {
        &Self::ITEMS
    }

    /// The statuses of jobs that have not finished: pending, suspended, running.
    pub fn active_items() -> &'static [JobStatus] {
        &Self::ITEMS[..3]
    }

    /// The statuses of finished jobs: succeeded, failed, cancelled.
    pub fn finished_items() -> &'static [JobStatus] {
        &Self::ITEMS[3..]
    }

    /// Reads a wire string; anything unknown becomes [`JobStatus::Unknown`].
    pub fn from_wire(text: &str) -> JobStatus {
        Self::parse_known(text).unwrap_or(JobStatus::Unknown)
    }

    /// Reads the wire string of a real status (one of [`JobStatus::items`]);
    /// anything else, `"unknown"` included, is an error. For servers, which
    /// never produce [`JobStatus::Unknown`] and refuse statuses they do not know
    /// (clients use the lenient [`JobStatus::from_wire`]).
    ///
    /// ```
    /// use neuro_types::jobs::JobStatus;
    ///
    /// assert_eq!(JobStatus::parse_known("running"), Ok(JobStatus::Running));
    /// assert!(JobStatus::parse_known("unknown").is_err());
    /// assert!(JobStatus::parse_known("Running").is_err());
    /// ```
    pub fn parse_known(text: &str) -> Result<JobStatus, ParseEnumError> {
        Self::ITEMS
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| ParseEnumError::new("job status", text))
    }
}

impl FromStr for JobStatus {
    type Err = Infallible;

    /// Never fails: unknown strings map to [`JobStatus::Unknown`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(JobStatus::from_wire(s))
    }
}

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One status transition of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobStatusItem {
    /// Status entered.
    pub status: JobStatus,
    /// When it was entered.
    pub transition_time: OffsetDateTime,
    /// Machine-readable reason.
    pub reason: String,
    /// Human-readable description.
    pub description: String,
    /// Exit code, for finished states.
    pub exit_code: Option<i32>,
}

impl JobStatusItem {
    /// Decodes a `statuses[]` item.
    pub fn from_payload(payload: &StatusItemPayload) -> Self {
        Self {
            status: JobStatus::from_wire(&payload.status),
            transition_time: payload.transition_time,
            reason: payload.reason.clone(),
            description: payload.description.clone(),
            exit_code: payload.exit_code,
        }
    }

    /// Encodes a `statuses[]` item.
    pub fn to_payload(&self) -> StatusItemPayload {
        StatusItemPayload {
            status: self.status.as_str().to_owned(),
            transition_time: self.transition_time,
            reason: self.reason.clone(),
            description: self.description.clone(),
            exit_code: self.exit_code,
        }
    }
}

/// The current status of a job with its timestamps and all transitions.
#[derive(Debug, Clone, PartialEq)]
pub struct JobStatusHistory {
    /// Current status.
    pub status: JobStatus,
    /// Machine-readable reason of the current status.
    pub reason: String,
    /// Human-readable description of the current status.
    pub description: String,
    /// How many times the job was restarted.
    pub restarts: u32,
    /// When the job was created.
    pub created_at: Option<OffsetDateTime>,
    /// When the job started running.
    pub started_at: Option<OffsetDateTime>,
    /// When the job finished.
    pub finished_at: Option<OffsetDateTime>,
    /// Seconds spent running.
    pub run_time_seconds: Option<f64>,
    /// Exit code of the main process, once known.
    pub exit_code: Option<i32>,
    /// All transitions, oldest first (the job object's top-level `statuses`).
    pub transitions: Vec<JobStatusItem>,
}

impl JobStatusHistory {
    /// When the current status was entered: `created_at` for pending,
    /// `started_at` for running or suspended, `finished_at` for finished jobs,
    /// and the last transition otherwise. `None` where the Python SDK asserts.
    pub fn changed_at(&self) -> Option<OffsetDateTime> {
        match self.status {
            JobStatus::Pending => self.created_at,
            JobStatus::Running | JobStatus::Suspended => self.started_at,
            s if s.is_finished() => self.finished_at,
            _ => self.transitions.last().map(|t| t.transition_time),
        }
    }

    /// Decodes `history` together with the top-level `statuses`.
    pub fn from_payload(history: &HistoryPayload, statuses: &[StatusItemPayload]) -> Self {
        Self {
            status: JobStatus::from_wire(&history.status),
            reason: history.reason.clone(),
            description: history.description.clone(),
            restarts: history.restarts,
            created_at: history.created_at,
            started_at: history.started_at,
            finished_at: history.finished_at,
            run_time_seconds: history.run_time_seconds,
            exit_code: history.exit_code,
            transitions: statuses.iter().map(JobStatusItem::from_payload).collect(),
        }
    }

    /// Encodes the `history` object (the transitions go to `statuses`, see
    /// [`JobStatusHistory::statuses_payload`]).
    pub fn to_payload(&self) -> HistoryPayload {
        HistoryPayload {
            status: self.status.as_str().to_owned(),
            reason: self.reason.clone(),
            description: self.description.clone(),
            restarts: self.restarts,
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            run_time_seconds: self.run_time_seconds,
            exit_code: self.exit_code,
        }
    }

    /// Encodes the transitions as the top-level `statuses` array.
    pub fn statuses_payload(&self) -> Vec<StatusItemPayload> {
        self.transitions
            .iter()
            .map(JobStatusItem::to_payload)
            .collect()
    }
}

/// What the platform does when a job's container exits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum JobRestartPolicy {
    /// Never restart (the default).
    #[default]
    Never,
    /// Restart when the container fails.
    OnFailure,
    /// Always restart.
    Always,
}

impl JobRestartPolicy {
    /// The wire string: `never`, `on-failure` or `always`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobRestartPolicy::Never => "never",
            JobRestartPolicy::OnFailure => "on-failure",
            JobRestartPolicy::Always => "always",
        }
    }

    /// Whether a container that exited with `exit_code` is started again under
    /// this policy: never, after a non-zero exit, or after any exit.
    ///
    /// ```
    /// use neuro_types::jobs::JobRestartPolicy;
    ///
    /// assert!(JobRestartPolicy::OnFailure.restarts_after(1));
    /// assert!(!JobRestartPolicy::OnFailure.restarts_after(0));
    /// assert!(JobRestartPolicy::Always.restarts_after(0));
    /// assert!(!JobRestartPolicy::Never.restarts_after(1));
    /// ```
    pub fn restarts_after(self, exit_code: i32) -> bool {
        match self {
            JobRestartPolicy::Never => false,
            JobRestartPolicy::OnFailure => exit_code != 0,
            JobRestartPolicy::Always => true,
        }
    }
}

impl FromStr for JobRestartPolicy {
    type Err = ParseEnumError;

    /// Exact wire strings only; anything else is an error, as in the SDK.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "never" => Ok(JobRestartPolicy::Never),
            "on-failure" => Ok(JobRestartPolicy::OnFailure),
            "always" => Ok(JobRestartPolicy::Always),
            _ => Err(ParseEnumError::new("restart policy", s)),
        }
    }
}

impl fmt::Display for JobRestartPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Scheduling priority of a job (ordered: `Low < Normal < High`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum JobPriority {
    /// Low.
    Low,
    /// Normal (the default).
    #[default]
    Normal,
    /// High.
    High,
}

impl JobPriority {
    /// The wire string: `low`, `normal` or `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobPriority::Low => "low",
            JobPriority::Normal => "normal",
            JobPriority::High => "high",
        }
    }
}

impl FromStr for JobPriority {
    type Err = ParseEnumError;

    /// Case-insensitive (`"HIGH"` works), as the SDK looks names up upper-cased.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "low" => Ok(JobPriority::Low),
            "normal" => Ok(JobPriority::Normal),
            "high" => Ok(JobPriority::High),
            _ => Err(ParseEnumError::new("job priority", s)),
        }
    }
}

impl fmt::Display for JobPriority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
