//! [`JobService`]: submission, queries, kill, and the tasks that run jobs.
//!
//! One scheduler task moves jobs from the pending queue to running when capacity
//! allows and fails jobs past their schedule timeout. Each started job gets a
//! supervisor task that owns its process: it records the transitions, restarts
//! the process per the restart policy, enforces the life span and obeys kills.
//!
//! Lifecycle and reasons:
//! * `pending` / `Creating` on submission; `pending` / `Scheduling` when it has to
//!   wait for CPU or memory, or for a seat of its owner's running-jobs quota;
//!   `failed` / `ClusterScaleUpFailed` when it waited longer than its
//!   `schedule_timeout`.
//! * Running-jobs quota (per user, none by default): a submission that would
//!   exceed it is refused (`400`, as platform-api does) unless it asks
//!   `wait_for_jobs_quota`; such a job waits in the queue until one of the
//!   owner's jobs ends.
//! * `running` when the process starts; `running` / `Restarting` after each
//!   restart. At most [`MAX_RESTARTS`] restarts, with a back-off of 1, 2, 4, 8
//!   then 10 seconds; after the last one the exit is final.
//! * `succeeded` / `Completed` (exit 0), `failed` / `Error` with `Exit code: N`,
//!   `failed` / `ContainerCannotRun` when the process cannot start.
//! * `cancelled` / `UserRequested` on `DELETE`; `cancelled` / `LifeSpanEnded` when
//!   the run time exceeds `max_run_time_minutes`. Both send SIGTERM to the
//!   process group, then SIGKILL after [`KILL_GRACE`].
//! * `failed` / `Lost` when neuro-local stops (`shutdown`) or restarts while the
//!   job runs. After a crash, a surviving process is recognised by its pid and
//!   start time and killed. Pending jobs survive restarts and are queued again.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context as _;
use futures::Stream;
use neuro_types::jobs::JobStatus;
use neuro_types::permission::Action;
use neuro_types::wire::JobPayload;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::db::Db;
use crate::error::ApiError;
use crate::settings::Settings;

use super::access;
use super::io::JobIo;
use super::list::ListQuery;
use super::model::{now_us, reason, JobRecord, Transition};
use super::payload::job_payload;
use super::request::{Submission, MAX_LIFE_SPAN_MINUTES};
use super::runtime;
use super::scheduler::{Capacity, Demand, Queue, QueuedJob, Seats};
use super::store::{self, InsertError, NewJob};

/// How long a killed job gets between SIGTERM and SIGKILL.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// Most restarts of one job under a restart policy.
pub const MAX_RESTARTS: u32 = 5;

/// Longest wait of the scheduler between passes when nothing wakes it.
const IDLE_PASS: Duration = Duration::from_secs(30);

/// Handle on the jobs service; cheap to clone.
#[derive(Clone)]
pub struct JobService {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for JobService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobService").finish_non_exhaustive()
    }
}

struct Inner {
    settings: Arc<Settings>,
    db: Db,
    state: Mutex<State>,
    /// Wakes the scheduler: a job was queued or capacity was freed.
    wake: Notify,
    /// Cancelled by `shutdown`.
    stop: CancellationToken,
    /// The scheduler and the supervisors.
    tasks: Mutex<JoinSet<()>>,
    /// The live side of every started job, until it ends.
    io: Mutex<HashMap<String, Arc<JobIo>>>,
    timing: Timing,
}

/// Time constants of the service.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    /// Between SIGTERM and SIGKILL.
    pub kill_grace: Duration,
    /// Length of one minute of life span.
    pub minute: Duration,
    /// First restart back-off; later ones double it, up to ten times it.
    pub backoff: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            kill_grace: KILL_GRACE,
            minute: Duration::from_secs(60),
            backoff: Duration::from_secs(1),
        }
    }
}

struct State {
    queue: Queue,
    capacity: Capacity,
    running: HashMap<String, Running>,
    stopping: bool,
}

/// A job that left the queue: its supervisor runs or is about to.
struct Running {
    owner: String,
    control: mpsc::UnboundedSender<Control>,
}

/// Messages to a supervisor.
enum Control {
    /// Kill the job; answer when it is recorded as cancelled.
    Kill(oneshot::Sender<()>),
    /// The life span changed to this many minutes.
    LifeSpan(Option<i64>),
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn demand_of(job: &JobRecord) -> Demand {
    Demand {
        milli_cpu: job.spec.milli_cpu(),
        memory: job.spec.resources.memory,
        accelerator: job.spec.needs_accelerator(),
    }
}

fn queued(job: &JobRecord) -> QueuedJob {
    QueuedJob {
        id: job.id.clone(),
        owner: job.owner.clone(),
        demand: demand_of(job),
        created_us: job.created_us(),
        schedule_timeout: job.spec.schedule_timeout,
        marked_waiting: job
            .current()
            .is_some_and(|t| t.reason == reason::SCHEDULING),
    }
}

fn id_like(text: &str) -> bool {
    text.starts_with("job-")
}

impl JobService {
    /// Starts the service on the current Tokio runtime: recovers the jobs of a
    /// previous run (see the module docs) and starts the scheduler.
    pub fn new(settings: Arc<Settings>, db: Db) -> anyhow::Result<JobService> {
        Self::with_timing(settings, db, Timing::default())
    }

    /// [`JobService::new`] with other time constants (tests shorten them).
    pub(crate) fn with_timing(
        settings: Arc<Settings>,
        db: Db,
        timing: Timing,
    ) -> anyhow::Result<JobService> {
        let runtime = tokio::runtime::Handle::try_current()
            .context("the jobs service needs a Tokio runtime")?;
        std::fs::create_dir_all(settings.jobs_dir()).with_context(|| {
            format!(
                "cannot create the jobs directory {}",
                settings.jobs_dir().display()
            )
        })?;
        let capacity = Capacity::new(
            super::model::cpu_to_milli(settings.total_cpu),
            settings.total_memory,
        );
        let inner = Arc::new(Inner {
            settings,
            db,
            state: Mutex::new(State {
                queue: Queue::default(),
                capacity,
                running: HashMap::new(),
                stopping: false,
            }),
            wake: Notify::new(),
            stop: CancellationToken::new(),
            tasks: Mutex::new(JoinSet::new()),
            io: Mutex::new(HashMap::new()),
            timing,
        });
        inner
            .recover()
            .context("cannot recover the jobs of the previous run")?;
        lock(&inner.tasks).spawn_on(scheduler_loop(inner.clone()), &runtime);
        Ok(JobService { inner })
    }

    /// Stops the service: no job starts any more, every running job's process
    /// group is terminated and recorded as lost, and this waits for all of it.
    /// Pending jobs stay pending in the database for the next start.
    pub async fn shutdown(&self) {
        lock(&self.inner.state).stopping = true;
        self.inner.stop.cancel();
        loop {
            let mut tasks = std::mem::take(&mut *lock(&self.inner.tasks));
            if tasks.is_empty() {
                break;
            }
            while tasks.join_next().await.is_some() {}
        }
    }

    /// Directory of one job's files (`{data_dir}/jobs/<id>`).
    pub fn job_dir(&self, id: &str) -> PathBuf {
        self.inner.settings.jobs_dir().join(id)
    }

    /// The job's log: its stdout and stderr, interleaved.
    pub fn log_path(&self, id: &str) -> PathBuf {
        self.job_dir(id).join("log")
    }

    /// Accepts a validated job from `owner` and queues it. `passed_config` is the
    /// `NEURO_PASSED_CONFIG` value to inject, for jobs with `pass_config`.
    pub async fn submit(
        &self,
        owner: &str,
        submission: Submission,
        passed_config: Option<String>,
    ) -> Result<JobPayload, ApiError> {
        let inner = &self.inner;
        if lock(&inner.state).stopping {
            return Err(ApiError::new(
                http::StatusCode::SERVICE_UNAVAILABLE,
                "neuro-local is shutting down",
            ));
        }
        access::check_resources(
            &inner.db,
            &inner.settings.cluster_name,
            owner,
            &submission.spec.container,
        )
        .await?;
        let new = NewJob {
            id: format!("job-{}", uuid::Uuid::new_v4()),
            owner: owner.to_owned(),
            cluster_name: inner.settings.cluster_name.clone(),
            spec: submission.spec,
            max_run_time_minutes: submission.max_run_time_minutes,
            first: Transition::now(JobStatus::Pending, reason::CREATING, ""),
            passed_config,
        };
        let insert = new.clone();
        // The quota check and the insert in one call: no other submission
        // comes between them.
        let seq = inner
            .db
            .call(move |conn| {
                if !insert.spec.wait_for_jobs_quota {
                    if let Some(limit) = store::running_jobs_quota(conn, &insert.owner)? {
                        if store::active_jobs_of(conn, &insert.owner)? >= limit {
                            return Ok(Err(Refused::Quota));
                        }
                    }
                }
                Ok(match store::insert_job(conn, &insert) {
                    Ok(seq) => Ok(seq),
                    Err(InsertError::NameTaken(id)) => Err(Refused::NameTaken(id)),
                    Err(InsertError::Db(e)) => return Err(e),
                })
            })
            .await?
            .map_err(|refused| {
                ApiError::bad_request(match refused {
                    Refused::NameTaken(existing) => format!(
                        "Failed to create job: job with name '{}' and owner '{}' already \
                         exists: '{existing}'",
                        new.spec.name.as_deref().unwrap_or_default(),
                        new.owner
                    ),
                    Refused::Quota => {
                        format!("Jobs limit quota exceeded for user '{}'", new.owner)
                    }
                })
            })?;
        let record = JobRecord {
            seq,
            id: new.id,
            owner: new.owner,
            cluster_name: new.cluster_name,
            spec: new.spec,
            status: JobStatus::Pending,
            transitions: vec![new.first],
            max_run_time_minutes: new.max_run_time_minutes,
            materialized: false,
            being_dropped: false,
            logs_removed: false,
        };
        tracing::info!(job = %record.id, owner, "job submitted");
        lock(&inner.state)
            .queue
            .push(record.spec.priority, record.seq, queued(&record));
        inner.wake.notify_one();
        Ok(job_payload(&record, &inner.settings, now_us()))
    }

    /// The job object of the caller's job `id_or_name`.
    pub async fn get(&self, user: &str, id_or_name: &str) -> Result<JobPayload, ApiError> {
        let job = self.inner.resolve(user, id_or_name, Action::Read).await?;
        Ok(job_payload(&job, &self.inner.settings, now_us()))
    }

    /// The job `id_or_name` if `user` may perform `action` on it.
    pub async fn job(
        &self,
        user: &str,
        id_or_name: &str,
        action: Action,
    ) -> Result<JobRecord, ApiError> {
        self.inner.resolve(user, id_or_name, action).await
    }

    /// The job whose HTTP host label is `label`: its id, or `<name>--<owner>`.
    pub async fn find_by_label(&self, label: &str) -> Result<Option<JobRecord>, ApiError> {
        let label = label.to_owned();
        self.inner
            .db
            .call(move |conn| {
                if id_like(&label) {
                    return store::get_job(conn, &label);
                }
                match label.rsplit_once(super::payload::NAME_SEPARATOR) {
                    Some((name, owner)) => store::get_job_by_name(conn, owner, name),
                    None => Ok(None),
                }
            })
            .await
    }

    /// The live side of job `id` while it is started (running, restarting or
    /// stopping); `None` before its start and after its end.
    pub fn io(&self, id: &str) -> Option<Arc<JobIo>> {
        lock(&self.inner.io).get(id).cloned()
    }

    /// Sends SIGKILL to the process group of the caller's running job
    /// `id_or_name` (`POST {monitoring}/{id}/kill`). The job then ends (or
    /// restarts) as its restart policy says for exit code 137.
    pub async fn send_kill_signal(&self, user: &str, id_or_name: &str) -> Result<(), ApiError> {
        let job = self.inner.resolve(user, id_or_name, Action::Write).await?;
        let pid = self.io(&job.id).and_then(|io| io.state().pid);
        match pid {
            Some(pid) => {
                runtime::kill_group(pid, nix::sys::signal::Signal::SIGKILL);
                Ok(())
            }
            None => Err(ApiError::bad_request(format!(
                "Job {} is not running",
                job.id
            ))),
        }
    }

    /// The jobs `user` may see that match `query`, as a stream that reads them
    /// page by page while it is polled (module `listing`). Errors of the query
    /// itself (the caller's grants) come before the stream.
    pub async fn list(
        &self,
        user: &str,
        query: &ListQuery,
    ) -> Result<impl Stream<Item = Result<JobPayload, ApiError>> + Send + 'static, ApiError> {
        let (owners, view) = access::listable(
            &self.inner.db,
            &self.inner.settings.cluster_name,
            user,
            &query.filter.owners,
        )
        .await?;
        Ok(listing::stream(
            self.inner.db.clone(),
            self.inner.settings.clone(),
            owners,
            view,
            query.clone(),
        ))
    }

    /// The tags of `user`'s jobs, most recently used first.
    pub async fn tags(&self, user: &str) -> Result<Vec<String>, ApiError> {
        let user = user.to_owned();
        self.inner
            .db
            .call(move |conn| store::owner_tags(conn, &user))
            .await
    }

    /// Kills the caller's job `id_or_name`: a pending job is cancelled at once, a
    /// running one once its process group is gone. A finished job is left alone.
    pub async fn kill(&self, user: &str, id_or_name: &str) -> Result<(), ApiError> {
        let inner = &self.inner;
        let job = inner.resolve(user, id_or_name, Action::Write).await?;
        if job.status.is_finished() {
            return Ok(());
        }
        let control = {
            let mut state = lock(&inner.state);
            if state.queue.remove(&job.id).is_some() {
                None
            } else {
                state.running.get(&job.id).map(|r| r.control.clone())
            }
        };
        if let Some(control) = control {
            let (done, wait) = oneshot::channel();
            if control.send(Control::Kill(done)).is_ok() {
                let limit = inner.timing.kill_grace + Duration::from_secs(5);
                if tokio::time::timeout(limit, wait).await.is_err() {
                    tracing::warn!(job = %job.id, "kill not confirmed in time");
                }
                return Ok(());
            }
        }
        // Queued (or not handed to a supervisor yet): nothing runs, record it.
        inner
            .transition(
                &job.id,
                Transition::now(JobStatus::Cancelled, reason::USER_REQUESTED, ""),
            )
            .await?;
        inner.wake.notify_one();
        tracing::info!(job = %job.id, "pending job cancelled");
        Ok(())
    }

    /// Changes the life span of the caller's job `id_or_name`; a running job is
    /// killed as soon as its run time exceeds the new value.
    pub async fn update_life_span(
        &self,
        user: &str,
        id_or_name: &str,
        change: LifeSpanChange,
    ) -> Result<(), ApiError> {
        let minutes = match change {
            LifeSpanChange::Add(n) | LifeSpanChange::Set(n) => n,
        };
        if !(1..=MAX_LIFE_SPAN_MINUTES).contains(&minutes) {
            return Err(ApiError::bad_request(format!(
                "the life span change must be between 1 and {MAX_LIFE_SPAN_MINUTES} minutes"
            )));
        }
        let inner = &self.inner;
        let job = inner.resolve(user, id_or_name, Action::Write).await?;
        let id = job.id.clone();
        let total = inner
            .db
            .call(move |conn| match change {
                LifeSpanChange::Add(n) => store::add_max_run_time(conn, &id, n),
                LifeSpanChange::Set(n) => store::set_max_run_time(conn, &id, n),
            })
            .await?;
        if let Some(running) = lock(&inner.state).running.get(&job.id) {
            let _ = running.control.send(Control::LifeSpan(total));
        }
        Ok(())
    }

    /// Sets (`None`: removes) the most jobs `user` may have running at once;
    /// their further jobs wait, or are refused unless they ask to wait.
    pub async fn set_running_jobs_quota(
        &self,
        user: &str,
        limit: Option<u32>,
    ) -> Result<(), ApiError> {
        let user = user.to_owned();
        self.inner
            .db
            .call(move |conn| store::set_running_jobs_quota(conn, &user, limit))
            .await?;
        // A raised (or removed) quota may let waiting jobs start.
        self.inner.wake.notify_one();
        Ok(())
    }

    /// For each preset, how many more jobs of it could start right now.
    pub fn capacity(&self) -> BTreeMap<String, u64> {
        let state = lock(&self.inner.state);
        let (free_cpu, free_memory) = state.capacity.free();
        self.inner
            .settings
            .presets
            .iter()
            .map(|p| {
                let cpu = super::model::cpu_to_milli(p.cpu);
                let fit = if p.gpu.unwrap_or(0) > 0 || p.tpu.is_some() {
                    0
                } else {
                    let by_cpu = free_cpu.checked_div(cpu).unwrap_or(u64::MAX);
                    let by_memory = free_memory.checked_div(p.memory).unwrap_or(u64::MAX);
                    by_cpu.min(by_memory)
                };
                (p.name.clone(), fit)
            })
            .collect()
    }
}

/// Why a submission was refused.
enum Refused {
    /// Another unfinished job of the owner has that name; carries its id.
    NameTaken(String),
    /// The owner's running-jobs quota is used up.
    Quota,
}

/// A change of a job's life span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LifeSpanChange {
    /// Add this many minutes (to 0 if the job has no limit).
    Add(i64),
    /// Set the limit to this many minutes.
    Set(i64),
}

impl Inner {
    /// The job `id_or_name` (an id, or the name of one of `user`'s jobs), if
    /// `user` may perform `action` on it.
    async fn resolve(
        &self,
        user: &str,
        id_or_name: &str,
        action: Action,
    ) -> Result<JobRecord, ApiError> {
        let (key, owner) = (id_or_name.to_owned(), user.to_owned());
        let job = self
            .db
            .call(move |conn| match store::get_job(conn, &key)? {
                Some(job) => Ok(Some(job)),
                None if !id_like(&key) => store::get_job_by_name(conn, &owner, &key),
                None => Ok(None),
            })
            .await?
            .ok_or_else(|| ApiError::not_found(format!("no such job {id_or_name}")))?;
        access::check(&self.db, user, &job, action).await?;
        Ok(job)
    }

    /// Records a transition; returns whether it was recorded.
    async fn transition(&self, id: &str, t: Transition) -> Result<bool, ApiError> {
        let id = id.to_owned();
        self.db
            .call(move |conn| store::add_transition(conn, &id, &t))
            .await
    }

    /// Records a transition, logging failures (for tasks that cannot return them).
    async fn record(&self, id: &str, t: Transition) -> bool {
        tracing::info!(job = %id, status = %t.status, reason = %t.reason, "job transition");
        match self.transition(id, t).await {
            Ok(recorded) => recorded,
            Err(err) => {
                tracing::error!(job = %id, error = %err, "cannot record a job transition");
                false
            }
        }
    }

    /// Marks jobs running in a previous run as lost (killing survivors) and
    /// queues pending ones again.
    fn recover(&self) -> anyhow::Result<()> {
        let jobs = self.db.call_blocking(|conn| {
            store::jobs_with_status(
                conn,
                &[JobStatus::Pending, JobStatus::Running, JobStatus::Suspended],
            )
        })?;
        let mut state = lock(&self.state);
        for job in jobs {
            if job.status == JobStatus::Pending {
                state.queue.push(job.spec.priority, job.seq, queued(&job));
                continue;
            }
            let process = self
                .db
                .call_blocking(|conn| store::process_of(conn, &job.id))?;
            let killed = process.is_some_and(|(pid, start)| runtime::kill_orphan(pid, start));
            let description = if killed {
                "neuro-local restarted while the job was running; its leftover processes \
                 were killed"
            } else {
                "neuro-local restarted while the job was running"
            };
            let t = Transition::now(JobStatus::Failed, reason::LOST, description);
            self.db
                .call_blocking(|conn| store::add_transition(conn, &job.id, &t))?;
            tracing::warn!(job = %job.id, killed, "job lost in a restart");
        }
        if state.queue.len() > 0 {
            tracing::info!(pending = state.queue.len(), "pending jobs queued again");
        }
        Ok(())
    }

    /// One scheduling pass; returns the next schedule-timeout deadline.
    async fn schedule_pass(self: &Arc<Self>) -> Option<i64> {
        let mut starts = Vec::new();
        // Read each pass: the `neuro-local user quota` command may change them.
        let quotas = match self.db.call(|conn| store::running_jobs_quotas(conn)).await {
            Ok(quotas) => quotas,
            Err(err) => {
                tracing::error!(error = %err, "cannot read the running-jobs quotas");
                HashMap::new()
            }
        };
        let pass = {
            let mut state = lock(&self.state);
            if state.stopping {
                return None;
            }
            let state = &mut *state;
            let mut seats = Seats::new(
                quotas.clone(),
                state.running.values().map(|r| r.owner.as_str()),
            );
            let pass = state.queue.pass(&mut state.capacity, &mut seats, now_us());
            for job in &pass.start {
                let (tx, rx) = mpsc::unbounded_channel();
                let running = Running {
                    owner: job.owner.clone(),
                    control: tx,
                };
                state.running.insert(job.id.clone(), running);
                starts.push((job.id.clone(), job.demand, rx));
            }
            pass
        };
        for job in &pass.timed_out {
            let t = Transition::now(
                JobStatus::Failed,
                reason::CLUSTER_SCALE_UP_FAILED,
                "Failed to scale up the cluster to get more resources",
            );
            self.record(&job.id, t).await;
        }
        let (free_cpu, free_memory) = lock(&self.state).capacity.free();
        for job in &pass.newly_waiting {
            let description = format!(
                "Waiting for resources: the job needs {} CPU and {} MiB, {} CPU and {} MiB \
                 are free of {} CPU and {} MiB",
                job.demand.milli_cpu as f64 / 1000.0,
                job.demand.memory / super::model::MIB,
                free_cpu as f64 / 1000.0,
                free_memory / super::model::MIB,
                self.settings.total_cpu,
                self.settings.total_memory / super::model::MIB,
            );
            let t = Transition::now(JobStatus::Pending, reason::SCHEDULING, description);
            self.record(&job.id, t).await;
        }
        for job in &pass.newly_waiting_for_seat {
            let limit = quotas.get(&job.owner).copied().unwrap_or_default();
            let description = format!(
                "Waiting for one of the {limit} running jobs the quota of user '{}' allows \
                 to end",
                job.owner
            );
            let t = Transition::now(JobStatus::Pending, reason::SCHEDULING, description);
            self.record(&job.id, t).await;
        }
        let mut tasks = lock(&self.tasks);
        for (id, demand, control) in starts {
            tasks.spawn(supervisor::supervise(self.clone(), id, demand, control));
        }
        while tasks.try_join_next().is_some() {}
        pass.next_deadline_us
    }
}

/// The scheduler: a pass whenever woken, at the next schedule-timeout deadline,
/// or every [`IDLE_PASS`].
async fn scheduler_loop(inner: Arc<Inner>) {
    loop {
        let next = inner.schedule_pass().await;
        let mut wait = IDLE_PASS;
        if let Some(deadline) = next {
            let left = u64::try_from(deadline.saturating_sub(now_us())).unwrap_or(0);
            wait = wait.min(Duration::from_micros(left));
        }
        tokio::select! {
            () = inner.stop.cancelled() => break,
            () = inner.wake.notified() => {}
            () = tokio::time::sleep(wait) => {}
        }
    }
}

mod listing;
mod supervisor;

#[cfg(test)]
mod tests;
