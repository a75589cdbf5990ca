//! Building `POST jobs` bodies from the model (§7.1-7.3), and reading them back
//! (for servers).

use super::{Container, ContainerOptions, JobPriority, JobRestartPolicy};
use crate::error::ModelError;
use crate::image::{ImageContext, RemoteImage};
use crate::uri::UriContext;
use crate::wire::{JobRequestFields, JobRunRequest, JobStartRequest, StartResources};

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
    /// The org this selection names for `ctx`; an empty name is no org.
    pub fn resolve(&self, ctx: &UriContext) -> Option<String> {
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

impl JobOptions {
    /// The job keys of a request body: these options in wire form, plus the
    /// request's `cluster_name` and `privileged` flag.
    fn to_fields(
        &self,
        ctx: &UriContext,
        cluster_name: String,
        privileged: bool,
    ) -> Result<JobRequestFields, ModelError> {
        let max_run_time_minutes = match self.life_span {
            None => None,
            Some(s) if s.is_finite() => Some((s / 60.0).floor() as i64),
            Some(s) => return Err(ModelError::InvalidLifeSpan(s)),
        };
        Ok(JobRequestFields {
            pass_config: self.pass_config,
            name: self.name.clone().filter(|n| !n.is_empty()),
            tags: self.tags.clone(),
            description: self.description.clone().filter(|d| !d.is_empty()),
            schedule_timeout: self.schedule_timeout.filter(|t| *t != 0.0),
            restart_policy: (self.restart_policy != JobRestartPolicy::Never)
                .then(|| self.restart_policy.as_str().to_owned()),
            max_run_time_minutes,
            wait_for_jobs_quota: self.wait_for_jobs_quota,
            privileged,
            org_name: self.org.resolve(ctx),
            priority: self.priority.map(|p| p.as_str().to_owned()),
            cluster_name,
        })
    }

    /// Reads the job keys of a request body back (server side); the org is the
    /// one sent, or [`OrgSelection::NoOrg`].
    fn from_fields(f: &JobRequestFields) -> Result<Self, ModelError> {
        Ok(Self {
            name: f.name.clone(),
            tags: f.tags.clone(),
            description: f.description.clone(),
            pass_config: f.pass_config,
            wait_for_jobs_quota: f.wait_for_jobs_quota,
            schedule_timeout: f.schedule_timeout,
            restart_policy: f
                .restart_policy
                .as_deref()
                .map(str::parse)
                .transpose()?
                .unwrap_or_default(),
            life_span: f.max_run_time_minutes.map(|m| m as f64 * 60.0),
            org: f
                .org_name
                .clone()
                .map_or(OrgSelection::NoOrg, OrgSelection::Org),
            priority: f.priority.as_deref().map(str::parse).transpose()?,
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
        Ok(JobRunRequest {
            job: self
                .options
                .to_fields(ctx, ctx.cluster_name.clone(), false)?,
            container: self.container.to_payload(ctx)?,
            scheduler_enabled: self.scheduler_enabled,
        })
    }

    /// Reads a run request (server side). `ctx` resolves the image (its cluster
    /// is replaced by the request's `cluster_name`). The returned value has
    /// `org` set to the org sent (or [`OrgSelection::NoOrg`]).
    pub fn from_request(request: &JobRunRequest, ctx: &ImageContext) -> Result<Self, ModelError> {
        let ctx = ctx.with_cluster(request.job.cluster_name.clone());
        let container = Container::from_payload(&request.container, &ctx)?;
        Ok(Self {
            container,
            scheduler_enabled: request.scheduler_enabled,
            options: JobOptions::from_fields(&request.job)?,
        })
    }
}

/// A job using a preset's resources (`Jobs.start`; `POST {api_url}/jobs?from_preset`).
///
/// ```
/// use neuro_types::image::RemoteImage;
/// use neuro_types::jobs::JobStart;
/// use neuro_types::uri::UriContext;
///
/// let image = RemoteImage::new_external_image("ubuntu", None, Some("latest".into()));
/// let mut start = JobStart::new(image, "cpu-small");
/// start.container.command = Some("echo hello".into());
/// start.options.name = Some("greeter".into());
/// let ctx = UriContext::new("alice", "default", None);
/// let body = serde_json::to_value(start.to_request(&ctx).unwrap()).unwrap();
/// assert_eq!(body["preset_name"], "cpu-small");
/// assert_eq!(body["image"], "ubuntu:latest");
/// assert_eq!(body["command"], "echo hello");
/// assert_eq!(body["name"], "greeter");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct JobStart {
    /// Preset whose resources the job gets.
    pub preset_name: String,
    /// The image.
    pub image: RemoteImage,
    /// Target cluster; `None` = the current one.
    pub cluster_name: Option<String>,
    /// What runs in the container: command, environment, mounts, HTTP port and
    /// terminal (sent flattened into the top level of the body).
    pub container: ContainerOptions,
    /// Enlarge `/dev/shm` (default `false` here, unlike
    /// [`Resources::shm`](crate::jobs::Resources::shm)).
    pub shm: bool,
    /// Privileged container (sent only when true).
    pub privileged: bool,
    /// Everything else.
    pub options: JobOptions,
}

impl JobStart {
    /// A job running `image` with the resources of `preset_name` and default
    /// container settings and options.
    pub fn new(image: RemoteImage, preset_name: impl Into<String>) -> Self {
        Self {
            preset_name: preset_name.into(),
            image,
            cluster_name: None,
            container: ContainerOptions::default(),
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
        let cluster = self.cluster_name.as_deref().filter(|c| !c.is_empty());
        let cluster = cluster.unwrap_or(&ctx.cluster_name).to_owned();
        Ok(JobStartRequest {
            job: self.options.to_fields(ctx, cluster, self.privileged)?,
            preset_name: self.preset_name.clone(),
            container: self.container.to_spec(&self.image, ctx)?,
            resources: self.shm.then_some(StartResources { shm: true }),
        })
    }

    /// Reads a preset request (server side); see [`JobRun::from_request`].
    pub fn from_request(request: &JobStartRequest, ctx: &ImageContext) -> Result<Self, ModelError> {
        let ctx = ctx.with_cluster(request.job.cluster_name.clone());
        let (image, container) = ContainerOptions::from_spec(&request.container, &ctx)?;
        Ok(Self {
            preset_name: request.preset_name.clone(),
            image,
            cluster_name: Some(request.job.cluster_name.clone()),
            container,
            shm: request.resources.as_ref().is_some_and(|r| r.shm),
            privileged: request.job.privileged,
            options: JobOptions::from_fields(&request.job)?,
        })
    }
}
