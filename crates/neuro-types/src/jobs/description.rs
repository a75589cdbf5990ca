//! [`JobDescription`]: a job as the jobs API reports it.

use rust_decimal::Decimal;
use url::Url;

use super::{Container, JobPriority, JobRestartPolicy, JobStatus, JobStatusHistory};
use crate::error::{parse_url, ModelError};
use crate::image::ImageContext;
use crate::uri::url_to_wire;
use crate::wire::JobPayload;

/// Internal bookkeeping flags of a job (`JobDescription._internal`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct JobInternal {
    /// Whether the job's resources exist in the cluster.
    pub materialized: bool,
    /// Whether the job is being dropped.
    pub being_dropped: bool,
    /// Whether the job's logs were removed.
    pub logs_removed: bool,
}

/// A job (`neuro_sdk.JobDescription`).
#[derive(Debug, Clone, PartialEq)]
pub struct JobDescription {
    /// Job id (`job-<uuid>`).
    pub id: String,
    /// Owner user name.
    pub owner: String,
    /// Cluster the job runs on.
    pub cluster_name: String,
    /// Org the job belongs to.
    pub org_name: Option<String>,
    /// Current status.
    pub status: JobStatus,
    /// Status details, timestamps and transitions.
    pub history: JobStatusHistory,
    /// The container.
    pub container: Container,
    /// Whether the job goes through the scheduler.
    pub scheduler_enabled: bool,
    /// Whether `NEURO_PASSED_CONFIG` is injected.
    pub pass_config: bool,
    /// `job://<cluster>/[<org>/]<owner>/<id>`.
    pub uri: Url,
    /// Credits spent so far.
    pub total_price_credits: Decimal,
    /// Credits per hour.
    pub price_credits_per_hour: Decimal,
    /// Job name.
    pub name: Option<String>,
    /// Tags.
    pub tags: Vec<String>,
    /// Free-text description.
    pub description: Option<String>,
    /// Public URL of the HTTP port: the named URL when the server sent one,
    /// otherwise the by-id URL; `None` when neither was sent (or both were empty).
    pub http_url: Option<Url>,
    /// Cluster-internal host name (by id).
    pub internal_hostname: Option<String>,
    /// Cluster-internal host name (by name).
    pub internal_hostname_named: Option<String>,
    /// Restart policy.
    pub restart_policy: JobRestartPolicy,
    /// Life span in seconds (`max_run_time_minutes * 60`); `None` = server default.
    pub life_span: Option<f64>,
    /// Seconds the job may wait in the queue.
    pub schedule_timeout: Option<f64>,
    /// Whether the job runs on a preemptible node.
    pub preemptible_node: bool,
    /// Privileged container. Always `false` when decoded (the Python SDK never
    /// reads the key); set it yourself when building a server response.
    pub privileged: bool,
    /// Scheduling priority.
    pub priority: JobPriority,
    /// Preset the job was started from.
    pub preset_name: Option<String>,
    /// Internal bookkeeping flags.
    pub internal: JobInternal,
}

impl JobDescription {
    /// Decodes a job object (§7.6).
    ///
    /// `ctx` supplies the current user and org and the registries; the job's own
    /// cluster is used as the default cluster for its image. An image that cannot
    /// be parsed becomes `INVALID-IMAGE-NAME`; an image on a cluster missing from
    /// `ctx` is an error, as in the Python SDK.
    pub fn from_payload(payload: JobPayload, ctx: &ImageContext) -> Result<Self, ModelError> {
        let image_ctx = ctx.with_cluster(payload.cluster_name.clone());
        let container = Container::from_payload(&payload.container, &image_ctx)?;
        let http_url = match (
            payload.http_url_named.as_deref(),
            payload.http_url.as_deref(),
        ) {
            (Some(named), _) if !named.is_empty() => Some(parse_url("http_url_named", named)?),
            (_, Some(url)) if !url.is_empty() => Some(parse_url("http_url", url)?),
            _ => None,
        };
        let history = JobStatusHistory::from_payload(&payload.history, &payload.statuses);
        Ok(Self {
            status: JobStatus::from_wire(&payload.status),
            uri: parse_url("uri", &payload.uri)?,
            restart_policy: payload.restart_policy.parse()?,
            priority: payload.priority.parse()?,
            life_span: payload.max_run_time_minutes.map(|m| m as f64 * 60.0),
            internal: JobInternal {
                materialized: payload.materialized,
                being_dropped: payload.being_dropped,
                logs_removed: payload.logs_removed,
            },
            id: payload.id,
            owner: payload.owner,
            cluster_name: payload.cluster_name,
            org_name: payload.org_name,
            history,
            container,
            scheduler_enabled: payload.scheduler_enabled,
            pass_config: payload.pass_config,
            total_price_credits: payload.total_price_credits,
            price_credits_per_hour: payload.price_credits_per_hour,
            name: payload.name,
            tags: payload.tags,
            description: payload.description,
            http_url,
            internal_hostname: payload.internal_hostname,
            internal_hostname_named: payload.internal_hostname_named,
            schedule_timeout: payload.schedule_timeout,
            preemptible_node: payload.preemptible_node,
            privileged: false,
            preset_name: payload.preset_name,
        })
    }

    /// The job object a server sends for this job, shaped like platform-api's:
    /// the legacy `is_preemptible` (= `scheduler_enabled`) and
    /// `is_preemptible_node_required` (= `preemptible_node`) flags and
    /// `resources.memory_mb` are filled in, `http_url` carries
    /// [`JobDescription::http_url`] (there is no separate named URL in the model),
    /// and `max_run_time_minutes` is `floor(life_span / 60)`.
    pub fn to_payload(&self) -> JobPayload {
        JobPayload {
            id: self.id.clone(),
            owner: self.owner.clone(),
            cluster_name: self.cluster_name.clone(),
            org_name: self.org_name.clone(),
            status: self.status.as_str().to_owned(),
            statuses: self.history.statuses_payload(),
            history: self.history.to_payload(),
            container: self.container.to_response_payload(),
            scheduler_enabled: self.scheduler_enabled,
            preemptible_node: self.preemptible_node,
            is_preemptible: self.scheduler_enabled,
            is_preemptible_node_required: self.preemptible_node,
            pass_config: self.pass_config,
            name: self.name.clone(),
            preset_name: self.preset_name.clone(),
            description: self.description.clone(),
            tags: self.tags.clone(),
            http_url: self.http_url.as_ref().map(url_to_wire),
            http_url_named: None,
            internal_hostname: self.internal_hostname.clone(),
            internal_hostname_named: self.internal_hostname_named.clone(),
            schedule_timeout: self.schedule_timeout,
            max_run_time_minutes: self
                .life_span
                .filter(|s| s.is_finite())
                .map(|s| (s / 60.0).floor() as i64),
            uri: self.uri.to_string(),
            restart_policy: self.restart_policy.as_str().to_owned(),
            privileged: self.privileged,
            materialized: self.internal.materialized,
            being_dropped: self.internal.being_dropped,
            logs_removed: self.internal.logs_removed,
            total_price_credits: self.total_price_credits,
            price_credits_per_hour: self.price_credits_per_hour,
            priority: self.priority.as_str().to_owned(),
        }
    }
}
