//! Building `POST jobs` bodies from the model (§7.1-7.3), and reading them back
//! (for servers).

use std::collections::BTreeMap;

use url::Url;

use super::container::{decode_spec, ContainerFields};
use super::{Container, DiskVolume, HttpPort, JobPriority, JobRestartPolicy, SecretFile, Volume};
use crate::error::ModelError;
use crate::image::{ImageContext, RemoteImage};
use crate::uri::UriContext;
use crate::wire::{JobRunRequest, JobStartRequest, StartResources};

/// Which org a new job is created for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum OrgSelection {
    /// The current org of the [`UriContext`] (the SDK's default).
    #[default]
    Current,
    /// No org: the cluster is used directly.
    NoOrg,
    /// The named org.
    Org(String),
}

impl OrgSelection {
    fn resolve(&self, ctx: &UriContext) -> Option<String> {
        match self {
            OrgSelection::Current => ctx.org_name.clone(),
            OrgSelection::NoOrg => None,
            OrgSelection::Org(org) => Some(org.clone()),
        }
        .filter(|o| !o.is_empty())
    }
}

/// Job settings shared by both forms of `POST jobs`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct JobOptions {
    /// Job name (sent when non-empty).
    pub name: Option<String>,
    /// Tags (sent when non-empty).
    pub tags: Vec<String>,
    /// Description (sent when non-empty).
    pub description: Option<String>,
    /// Ask the server to inject `NEURO_PASSED_CONFIG` (always sent).
    pub pass_config: bool,
    /// Wait for quota instead of failing (sent only when true).
    pub wait_for_jobs_quota: bool,
    /// Seconds the job may wait in the queue (0 is not sent).
    pub schedule_timeout: Option<f64>,
    /// Restart policy (`never` is not sent).
    pub restart_policy: JobRestartPolicy,
    /// Life span in seconds; sent as `floor(life_span / 60)` minutes whenever set,
    /// so `Some(0.0)` sends 0 (unlimited).
    pub life_span: Option<f64>,
    /// Org of the job.
    pub org: OrgSelection,
    /// Priority (sent when set).
    pub priority: Option<JobPriority>,
}

/// The fields of `_job_to_api`, in wire form.
struct JobFields {
    name: Option<String>,
    tags: Vec<String>,
    description: Option<String>,
    schedule_timeout: Option<f64>,
    restart_policy: Option<String>,
    max_run_time_minutes: Option<i64>,
    org_name: Option<String>,
    priority: Option<String>,
}

impl JobOptions {
    fn to_fields(&self, ctx: &UriContext) -> Result<JobFields, ModelError> {
        let max_run_time_minutes = match self.life_span {
            None => None,
            Some(s) if s.is_finite() => Some((s / 60.0).floor() as i64),
            Some(s) => return Err(ModelError::InvalidLifeSpan(s)),
        };
        Ok(JobFields {
            name: self.name.clone().filter(|n| !n.is_empty()),
            tags: self.tags.clone(),
            description: self.description.clone().filter(|d| !d.is_empty()),
            schedule_timeout: self.schedule_timeout.filter(|t| *t != 0.0),
            restart_policy: (self.restart_policy != JobRestartPolicy::Never)
                .then(|| self.restart_policy.as_str().to_owned()),
            max_run_time_minutes,
            org_name: self.org.resolve(ctx),
            priority: self.priority.map(|p| p.as_str().to_owned()),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn from_fields(
        pass_config: bool,
        name: Option<String>,
        tags: Vec<String>,
        description: Option<String>,
        schedule_timeout: Option<f64>,
        restart_policy: Option<&str>,
        max_run_time_minutes: Option<i64>,
        wait_for_jobs_quota: bool,
        org_name: Option<String>,
        priority: Option<&str>,
    ) -> Result<Self, ModelError> {
        Ok(Self {
            name,
            tags,
            description,
            pass_config,
            wait_for_jobs_quota,
            schedule_timeout,
            restart_policy: restart_policy
                .map(str::parse)
                .transpose()?
                .unwrap_or_default(),
            life_span: max_run_time_minutes.map(|m| m as f64 * 60.0),
            org: org_name.map_or(OrgSelection::NoOrg, OrgSelection::Org),
            priority: priority.map(str::parse).transpose()?,
        })
    }
}

/// A job with explicit resources (`Jobs.run`; `POST {api_url}/jobs`).
///
/// ```
/// use neuro_types::image::RemoteImage;
/// use neuro_types::jobs::{Container, JobOptions, JobRun, Resources};
/// use neuro_types::uri::UriContext;
///
/// let image = RemoteImage::new_external_image("ubuntu", None, Some("latest".into()));
/// let run = JobRun {
///     container: Container::new(image, Resources::new(1 << 30, 0.5)),
///     scheduler_enabled: false,
///     options: JobOptions { life_span: Some(0.0), ..JobOptions::default() },
/// };
/// let ctx = UriContext::new("alice", "default", None);
/// let body = serde_json::to_value(run.to_request(&ctx).unwrap()).unwrap();
/// assert_eq!(body["max_run_time_minutes"], 0);
/// assert_eq!(body["cluster_name"], "default");
/// assert_eq!(body["container"]["image"], "ubuntu:latest");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct JobRun {
    /// The container, with its resources.
    pub container: Container,
    /// Whether the job goes through the scheduler.
    pub scheduler_enabled: bool,
    /// Everything else.
    pub options: JobOptions,
}

impl JobRun {
    /// A job running `container` with default options.
    pub fn new(container: Container) -> Self {
        Self {
            container,
            scheduler_enabled: false,
            options: JobOptions::default(),
        }
    }

    /// The request body. The job goes to `ctx`'s cluster; relative URIs are
    /// normalised with `ctx`.
    pub fn to_request(&self, ctx: &UriContext) -> Result<JobRunRequest, ModelError> {
        let f = self.options.to_fields(ctx)?;
        Ok(JobRunRequest {
            pass_config: self.options.pass_config,
            name: f.name,
            tags: f.tags,
            description: f.description,
            schedule_timeout: f.schedule_timeout,
            restart_policy: f.restart_policy,
            max_run_time_minutes: f.max_run_time_minutes,
            wait_for_jobs_quota: self.options.wait_for_jobs_quota,
            privileged: false,
            org_name: f.org_name,
            priority: f.priority,
            cluster_name: ctx.cluster_name.clone(),
            container: self.container.to_payload(ctx)?,
            scheduler_enabled: self.scheduler_enabled,
        })
    }

    /// Reads a run request (server side). `ctx` resolves the image (its cluster
    /// is replaced by the request's `cluster_name`). The returned value has
    /// `org` set to the org sent (or [`OrgSelection::NoOrg`]).
    pub fn from_request(request: &JobRunRequest, ctx: &ImageContext) -> Result<Self, ModelError> {
        let ctx = ctx.with_cluster(request.cluster_name.clone());
        let container = Container::from_payload(&request.container, &ctx)?;
        Ok(Self {
            container,
            scheduler_enabled: request.scheduler_enabled,
            options: JobOptions::from_fields(
                request.pass_config,
                request.name.clone(),
                request.tags.clone(),
                request.description.clone(),
                request.schedule_timeout,
                request.restart_policy.as_deref(),
                request.max_run_time_minutes,
                request.wait_for_jobs_quota,
                request.org_name.clone(),
                request.priority.as_deref(),
            )?,
        })
    }
}

/// A job using a preset's resources (`Jobs.start`; `POST {api_url}/jobs?from_preset`).
#[derive(Debug, Clone, PartialEq)]
pub struct JobStart {
    /// Preset whose resources the job gets.
    pub preset_name: String,
    /// The image.
    pub image: RemoteImage,
    /// Target cluster; `None` = the current one.
    pub cluster_name: Option<String>,
    /// Entrypoint override.
    pub entrypoint: Option<String>,
    /// Command.
    pub command: Option<String>,
    /// Working directory.
    pub working_dir: Option<String>,
    /// Exposed HTTP port.
    pub http: Option<HttpPort>,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// Storage mounts.
    pub volumes: Vec<Volume>,
    /// Environment variables filled from secrets.
    pub secret_env: BTreeMap<String, Url>,
    /// Secrets mounted as files.
    pub secret_files: Vec<SecretFile>,
    /// Disk mounts.
    pub disk_volumes: Vec<DiskVolume>,
    /// Whether the container gets a terminal.
    pub tty: bool,
    /// Enlarge `/dev/shm` (default `false` here, unlike
    /// [`Resources::shm`](crate::jobs::Resources::shm)).
    pub shm: bool,
    /// Privileged container (sent only when true).
    pub privileged: bool,
    /// Everything else.
    pub options: JobOptions,
}

impl JobStart {
    /// A job running `image` with the resources of `preset_name`.
    pub fn new(image: RemoteImage, preset_name: impl Into<String>) -> Self {
        Self {
            preset_name: preset_name.into(),
            image,
            cluster_name: None,
            entrypoint: None,
            command: None,
            working_dir: None,
            http: None,
            env: BTreeMap::new(),
            volumes: Vec::new(),
            secret_env: BTreeMap::new(),
            secret_files: Vec::new(),
            disk_volumes: Vec::new(),
            tty: false,
            shm: false,
            privileged: false,
            options: JobOptions::default(),
        }
    }

    /// The request body: job fields and container fields side by side, no
    /// `scheduler_enabled`, `resources` only as `{"shm": true}`. Relative URIs are
    /// normalised with `ctx` even when `cluster_name` names another cluster (as the
    /// SDK does).
    pub fn to_request(&self, ctx: &UriContext) -> Result<JobStartRequest, ModelError> {
        let f = self.options.to_fields(ctx)?;
        let fields = ContainerFields {
            image: &self.image,
            entrypoint: &self.entrypoint,
            command: &self.command,
            working_dir: &self.working_dir,
            http: &self.http,
            env: &self.env,
            volumes: &self.volumes,
            secret_env: &self.secret_env,
            secret_files: &self.secret_files,
            disk_volumes: &self.disk_volumes,
            tty: self.tty,
        };
        Ok(JobStartRequest {
            pass_config: self.options.pass_config,
            name: f.name,
            preset_name: self.preset_name.clone(),
            tags: f.tags,
            description: f.description,
            schedule_timeout: f.schedule_timeout,
            restart_policy: f.restart_policy,
            max_run_time_minutes: f.max_run_time_minutes,
            wait_for_jobs_quota: self.options.wait_for_jobs_quota,
            privileged: self.privileged,
            org_name: f.org_name,
            priority: f.priority,
            cluster_name: self
                .cluster_name
                .clone()
                .filter(|c| !c.is_empty())
                .unwrap_or_else(|| ctx.cluster_name.clone()),
            container: fields.to_spec(ctx)?,
            resources: self.shm.then_some(StartResources { shm: true }),
        })
    }

    /// Reads a preset request (server side); see [`JobRun::from_request`].
    pub fn from_request(request: &JobStartRequest, ctx: &ImageContext) -> Result<Self, ModelError> {
        let ctx = ctx.with_cluster(request.cluster_name.clone());
        let spec = decode_spec(&request.container, &ctx)?;
        Ok(Self {
            preset_name: request.preset_name.clone(),
            image: spec.image,
            cluster_name: Some(request.cluster_name.clone()),
            entrypoint: spec.entrypoint,
            command: spec.command,
            working_dir: spec.working_dir,
            http: spec.http,
            env: spec.env,
            volumes: spec.volumes,
            secret_env: spec.secret_env,
            secret_files: spec.secret_files,
            disk_volumes: spec.disk_volumes,
            tty: spec.tty,
            shm: request.resources.as_ref().is_some_and(|r| r.shm),
            privileged: request.privileged,
            options: JobOptions::from_fields(
                request.pass_config,
                request.name.clone(),
                request.tags.clone(),
                request.description.clone(),
                request.schedule_timeout,
                request.restart_policy.as_deref(),
                request.max_run_time_minutes,
                request.wait_for_jobs_quota,
                request.org_name.clone(),
                request.priority.as_deref(),
            )?,
        })
    }
}
