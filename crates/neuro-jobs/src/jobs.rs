//! [`Jobs`]: start, inspect, list and stop jobs.

use futures::{Stream, StreamExt, TryStreamExt};
use neuro_config::Config;
use neuro_http::{header, RequestBuilder};
use neuro_types::endpoints::{self, paths, Endpoint};
use neuro_types::jobs::{JobDescription, JobRun, JobStart};
use neuro_types::uri::join_path;
use neuro_types::wire::{JobListPayload, JobPayload};
use url::Url;

use std::collections::BTreeMap;

use crate::{JobFilter, JobsError, StdStream, StdStreamOptions};

/// The Jobs API of one logged-in client. Cheap to clone.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let example = neuro_local::examples::start().await?;
/// # let config = neuro_config::ConfigFactory::new().load().await?;
/// use neuro_jobs::Jobs;
/// use neuro_types::image::RemoteImage;
/// use neuro_types::jobs::JobStart;
///
/// let jobs = Jobs::new(config);
/// let image = RemoteImage::new_external_image("ubuntu", None, Some("latest".into()));
/// let mut start = JobStart::new(image, "cpu-small");
/// start.container.command = Some("echo hello".into());
/// let job = jobs.start(start).await?;
/// println!("{} is {}", job.id, job.status.as_str());
/// # drop(jobs); example.shutdown().await; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Jobs {
    config: Config,
    /// The cluster of the monitoring calls (`None`: the current one).
    cluster: Option<String>,
}

impl Jobs {
    /// The Jobs API for `config`'s user.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            cluster: None,
        }
    }

    /// The same API with its monitoring calls ([`monitor`](Jobs::monitor),
    /// [`top`](Jobs::top), [`attach`](Jobs::attach), [`exec`](Jobs::exec),
    /// [`port_forward`](Jobs::port_forward), [`send_signal`](Jobs::send_signal),
    /// [`get_capacity`](Jobs::get_capacity)) sent to the monitoring service of
    /// the cluster `name` instead of the current one: the `cluster_name`
    /// argument of those calls in the Python SDK. The other calls go to the
    /// platform API as before. Fails for a cluster the configuration does not
    /// list.
    ///
    /// ```no_run
    /// # // no_run: needs a second cluster named `other` in the configuration
    /// # async fn demo(jobs: neuro_jobs::Jobs) -> Result<(), neuro_jobs::JobsError> {
    /// let capacity = jobs.on_cluster("other")?.get_capacity().await?;
    /// for (preset, free) in capacity {
    ///     println!("{preset}: {free} more");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn on_cluster(&self, name: &str) -> Result<Jobs, JobsError> {
        self.config.cluster(Some(name))?;
        Ok(Jobs {
            config: self.config.clone(),
            cluster: Some(name.to_owned()),
        })
    }

    /// The configuration this API uses.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Starts a job with the resources of a preset (`POST jobs?from_preset`).
    pub async fn start(&self, job: JobStart) -> Result<JobDescription, JobsError> {
        if let Some(cluster) = job.cluster_name.as_deref() {
            self.config.cluster(Some(cluster))?;
        }
        let body = job.to_request(&self.config.uri_context())?;
        self.submit(&body, true).await
    }

    /// Starts a job with explicit resources (`POST jobs`), always on the current
    /// cluster. Prefer [`Jobs::start`]; this is the older form of the API.
    pub async fn run(&self, job: JobRun) -> Result<JobDescription, JobsError> {
        let body = job.to_request(&self.config.uri_context())?;
        self.submit(&body, false).await
    }

    /// `POST jobs` (with the bare `from_preset` query key for the preset form).
    async fn submit(
        &self,
        body: &impl serde::Serialize,
        from_preset: bool,
    ) -> Result<JobDescription, JobsError> {
        let mut request = self.request(&endpoints::JOBS_CREATE, endpoints::JOBS_CREATE.path)?;
        if from_preset {
            request = request.query_flag("from_preset");
        }
        let payload: JobPayload = request.json(body).send().await?.json().await?;
        self.decode(payload)
    }

    /// The job `id` (or, as the server allows, the caller's job named `id`).
    pub async fn status(&self, id: &str) -> Result<JobDescription, JobsError> {
        let payload: JobPayload = self
            .request(&endpoints::JOBS_GET, &paths::jobs_get(check_id(id)?))?
            .send()
            .await?
            .json()
            .await?;
        self.decode(payload)
    }

    /// The tags of the caller's jobs, most recently used first (`GET tags` of
    /// platform-api; the Python SDK 22.7.1 has no such call).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let example = neuro_local::examples::start().await?;
    /// # let config = neuro_config::ConfigFactory::new().load().await?; let jobs = neuro_jobs::Jobs::new(config);
    /// for tag in jobs.tags().await? {
    ///     println!("{tag}");
    /// }
    /// # drop(jobs); example.shutdown().await; Ok(()) }
    /// ```
    pub async fn tags(&self) -> Result<Vec<String>, JobsError> {
        #[derive(serde::Deserialize)]
        struct Tags {
            tags: Vec<String>,
        }
        let tags: Tags = self
            .request(&endpoints::JOBS_TAGS, endpoints::JOBS_TAGS.path)?
            .send()
            .await?
            .json()
            .await?;
        Ok(tags.tags)
    }

    /// Kills (cancels) the job `id`.
    pub async fn kill(&self, id: &str) -> Result<(), JobsError> {
        self.request(&endpoints::JOBS_KILL, &paths::jobs_kill(check_id(id)?))?
            .send()
            .await?;
        Ok(())
    }

    /// Extends the job's life span by `additional_seconds` (whole minutes are
    /// sent, rounded down).
    pub async fn bump_life_span(&self, id: &str, additional_seconds: f64) -> Result<(), JobsError> {
        if !additional_seconds.is_finite() || additional_seconds < 0.0 {
            return Err(JobsError::InvalidArgument(format!(
                "additional life span must be a non-negative number of seconds, got {additional_seconds}"
            )));
        }
        let path = paths::jobs_update_life_span(check_id(id)?);
        let minutes = (additional_seconds / 60.0).floor() as i64;
        self.request(&endpoints::JOBS_UPDATE_LIFE_SPAN, &path)?
            .json(&serde_json::json!({ "additional_max_run_time_minutes": minutes }))
            .send()
            .await?;
        Ok(())
    }

    /// Lists jobs matching `filter` as a stream, decoded as they arrive.
    ///
    /// Nothing is sent until the stream is first polled; dropping it cancels the
    /// request. The server streams NDJSON; a plain `{"jobs": [...]}` answer is
    /// accepted too.
    pub fn list(
        &self,
        filter: JobFilter,
    ) -> impl Stream<Item = Result<JobDescription, JobsError>> + Send + 'static {
        let this = self.clone();
        futures::stream::once(async move { this.list_request(filter).await })
            .try_flatten()
            .boxed()
    }

    async fn list_request(
        self,
        filter: JobFilter,
    ) -> Result<impl Stream<Item = Result<JobDescription, JobsError>>, JobsError> {
        if let Some(limit) = filter.limit {
            if limit == 0 {
                return Err(JobsError::InvalidArgument("limit must be positive".into()));
            }
        }
        let mut request = self
            .request(&endpoints::JOBS_LIST, endpoints::JOBS_LIST.path)?
            .header(header::ACCEPT, "application/x-ndjson");
        for (key, value) in filter.query(self.config.cluster_name()) {
            request = request.query(key, value);
        }
        let response = request.send().await?;
        let payloads = response.ndjson_or_json::<JobPayload, _>(|value| {
            serde_json::from_value::<JobListPayload>(value)
                .map(|list| list.jobs)
                .map_err(|e| neuro_http::Error::json("job list", e))
        });
        let ctx = self.config.image_context().clone();
        Ok(payloads.map(move |item| {
            let payload = item?;
            Ok(JobDescription::from_payload(payload, &ctx)?)
        }))
    }

    /// Attaches to the job's main process (`attach`): its output from now on,
    /// its terminal's input and size for a `tty` job, and its exit code.
    pub async fn attach(
        &self,
        id: &str,
        options: StdStreamOptions,
    ) -> Result<StdStream, JobsError> {
        let mut request = self
            .config
            .transport()
            .ws_connect(self.url(
                &endpoints::MONITORING_ATTACH,
                &paths::monitoring_attach(check_id(id)?),
            )?)
            .protocol(STD_PROTOCOL);
        for (key, value) in options.query() {
            request = request.query(key, value);
        }
        Ok(StdStream::new(request.send().await?))
    }

    /// Runs `cmd` (one command line) in the running job's environment
    /// (`exec`): same variables, working directory and mounts.
    pub async fn exec(
        &self,
        id: &str,
        cmd: &str,
        options: StdStreamOptions,
    ) -> Result<StdStream, JobsError> {
        let mut request = self
            .config
            .transport()
            .ws_connect(self.url(
                &endpoints::MONITORING_EXEC,
                &paths::monitoring_exec(check_id(id)?),
            )?)
            .query("cmd", cmd);
        for (key, value) in options.query() {
            request = request.query(key, value);
        }
        Ok(StdStream::new(request.send().await?))
    }

    /// Sends SIGKILL to the job's processes (`POST {monitoring}/{id}/kill`);
    /// the job then ends, or restarts as its restart policy says.
    pub async fn send_signal(&self, id: &str) -> Result<(), JobsError> {
        self.request(
            &endpoints::MONITORING_KILL,
            &paths::monitoring_kill(check_id(id)?),
        )?
        .send()
        .await?;
        Ok(())
    }

    /// For each preset, how many more jobs of it could start now on the
    /// current cluster (or the one of [`Jobs::on_cluster`]).
    pub async fn get_capacity(&self) -> Result<BTreeMap<String, u64>, JobsError> {
        let capacity = &endpoints::MONITORING_CAPACITY;
        Ok(self
            .request(capacity, capacity.path)?
            .send()
            .await?
            .json()
            .await?)
    }

    /// The URL of `endpoint` (on the cluster of [`Jobs::on_cluster`], else the
    /// current one), with its path filled in as `path` (made by
    /// `neuro_types::endpoints::paths`).
    pub(crate) fn url(&self, endpoint: &Endpoint, path: &str) -> Result<Url, JobsError> {
        let base = self
            .config
            .base_url_on(endpoint.base, self.cluster.as_deref())?;
        join_path(base, path).map_err(model)
    }

    /// A request with `endpoint`'s method to [`Jobs::url`].
    pub(crate) fn request(
        &self,
        endpoint: &Endpoint,
        path: &str,
    ) -> Result<RequestBuilder, JobsError> {
        Ok(self
            .config
            .transport()
            .request(endpoint.method.clone(), self.url(endpoint, path)?))
    }

    fn decode(&self, payload: JobPayload) -> Result<JobDescription, JobsError> {
        Ok(JobDescription::from_payload(
            payload,
            self.config.image_context(),
        )?)
    }
}

/// The subprotocol `attach` asks for (`exec` sends none, as the Python SDK).
const STD_PROTOCOL: &str = "v2.channels.neu.ro";

/// `id`, if it can be one path segment of a job URL.
pub(crate) fn check_id(id: &str) -> Result<&str, JobsError> {
    if id.is_empty() || id.contains('/') {
        return Err(JobsError::InvalidArgument(format!("invalid job id {id:?}")));
    }
    Ok(id)
}

fn model(e: neuro_types::uri::UriError) -> JobsError {
    JobsError::Model(e.into())
}
