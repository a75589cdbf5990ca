//! [`JobService`]: submission, queries, kill, and the tasks that run jobs.
//!
//! One scheduler task moves jobs from the pending queue to running when capacity
//! allows and fails jobs past their schedule timeout. Each started job gets a
//! supervisor task that owns its process: it records the transitions, restarts
//! the process per the restart policy, enforces the life span and obeys kills.
//!
//! Lifecycle and reasons:
//! * `pending` / `Creating` on submission; `pending` / `Scheduling` when it has to
//!   wait for CPU or memory; `failed` / `ClusterScaleUpFailed` when it waited
//!   longer than its `schedule_timeout`.
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
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use anyhow::Context as _;
use neuro_types::wire::JobPayload;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::db::Db;
use crate::error::ApiError;
use crate::settings::Settings;

use super::access::{self, Action};
use super::list::ListQuery;
use super::model::{now_us, reason, JobRecord, JobStatus, Transition};
use super::payload::job_payload;
use super::request::{Submission, PASSED_CONFIG_ENV};
use super::runtime::{self, JobProcess, Launch};
use super::scheduler::{Capacity, Demand, Queue, QueuedJob};
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
    control: mpsc::UnboundedSender<Control>,
}

/// Messages to a supervisor.
enum Control {
    /// Kill the job; answer when it is recorded as cancelled.
    Kill(oneshot::Sender<()>),
    /// The life span changed to this many minutes.
    LifeSpan(Option<i64>),
}

/// What ended a wait of a supervisor.
enum Event {
    Exited(std::io::Result<i32>),
    BackoffDone,
    Kill(oneshot::Sender<()>),
    LifeSpanEnded,
    Stop,
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
        let seq = inner
            .db
            .call(move |conn| {
                Ok(match store::insert_job(conn, &insert) {
                    Ok(seq) => Ok(seq),
                    Err(InsertError::NameTaken(id)) => Err(id),
                    Err(InsertError::Db(e)) => return Err(e),
                })
            })
            .await?
            .map_err(|existing| {
                ApiError::bad_request(format!(
                    "Failed to create job: job with name '{}' and owner '{}' already \
                     exists: '{existing}'",
                    new.spec.name.as_deref().unwrap_or_default(),
                    new.owner
                ))
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

    /// The jobs `user` may see that match `query`.
    pub async fn list(&self, user: &str, query: &ListQuery) -> Result<Vec<JobPayload>, ApiError> {
        let owners = access::listable_owners(user, &query.filter.owners);
        let query = query.clone();
        let jobs = self
            .inner
            .db
            .call(move |conn| {
                store::list_jobs(conn, &owners, &query.filter, query.reverse, query.limit)
            })
            .await?;
        let now = now_us();
        Ok(jobs
            .iter()
            .map(|job| job_payload(job, &self.inner.settings, now))
            .collect())
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
        if minutes < 1 {
            return Err(ApiError::bad_request(
                "the life span change must be at least 1 minute",
            ));
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
        access::check(user, &job, action)?;
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
        let pass = {
            let mut state = lock(&self.state);
            if state.stopping {
                return None;
            }
            let state = &mut *state;
            let pass = state.queue.pass(&mut state.capacity, now_us());
            for job in &pass.start {
                let (tx, rx) = mpsc::unbounded_channel();
                state
                    .running
                    .insert(job.id.clone(), Running { control: tx });
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
        let mut tasks = lock(&self.tasks);
        for (id, demand, control) in starts {
            tasks.spawn(supervise(self.clone(), id, demand, control));
        }
        while tasks.try_join_next().is_some() {}
        pass.next_deadline_us
    }

    /// Runs one job until it is finished (or the service stops).
    async fn run_job(&self, id: &str, control: &mut mpsc::UnboundedReceiver<Control>) {
        let key = id.to_owned();
        let job = match self.db.call(move |conn| store::get_job(conn, &key)).await {
            Ok(Some(job)) => job,
            Ok(None) => return,
            Err(err) => {
                tracing::error!(job = %id, error = %err, "cannot load a job to start");
                return;
            }
        };
        if job.status.is_finished() || self.stop.is_cancelled() {
            return;
        }
        let mut life = LifeSpan {
            started_us: None,
            minutes: job.max_run_time_minutes,
            minute: self.timing.minute,
        };
        // A kill or a life-span change that came before the start.
        while let Ok(message) = control.try_recv() {
            match message {
                Control::Kill(done) => {
                    self.finish_stopped(id, Event::Kill(done), &life).await;
                    return;
                }
                Control::LifeSpan(minutes) => life.minutes = minutes,
            }
        }
        let launch = match self.prepare(&job).await {
            Ok(launch) => launch,
            Err(err) => {
                let t = Transition::now(
                    JobStatus::Failed,
                    reason::CONTAINER_CANNOT_RUN,
                    format!("Cannot prepare the job's directories: {err}"),
                );
                self.record(id, t).await;
                return;
            }
        };
        let mut restarts = 0u32;
        let mut last_exit = 0;
        loop {
            let mut process = match runtime::spawn(&launch) {
                Ok(process) => process,
                Err(err) => {
                    let t = Transition::now(
                        JobStatus::Failed,
                        reason::CONTAINER_CANNOT_RUN,
                        format!("Cannot start the job's process: {err}"),
                    );
                    self.record(id, t).await;
                    return;
                }
            };
            self.set_process(id, Some((process.pid, process.start_ticks)))
                .await;
            let t = if restarts == 0 {
                Transition::now(JobStatus::Running, "", "")
            } else {
                Transition::now(
                    JobStatus::Running,
                    reason::RESTARTING,
                    format!("Restart {restarts} of {MAX_RESTARTS} after exit code {last_exit}"),
                )
            };
            let started_at = t.time_us;
            if !self.record(id, t).await && self.is_finished(id).await {
                // Cancelled while starting.
                let _ = process.terminate(self.timing.kill_grace).await;
                self.set_process(id, None).await;
                return;
            }
            life.started_us.get_or_insert(started_at);
            let event = self
                .next_event(Some(&mut process), control, &mut life, None)
                .await;
            let code = match event {
                Event::Exited(Ok(code)) => code,
                Event::Exited(Err(err)) => {
                    let t = Transition::now(
                        JobStatus::Failed,
                        reason::ERROR,
                        format!("Cannot wait for the job's process: {err}"),
                    );
                    self.record(id, t).await;
                    self.set_process(id, None).await;
                    return;
                }
                Event::BackoffDone => continue,
                stop => {
                    if let Err(err) = process.terminate(self.timing.kill_grace).await {
                        tracing::error!(job = %id, error = %err, "cannot terminate a job");
                    }
                    self.set_process(id, None).await;
                    self.finish_stopped(id, stop, &life).await;
                    return;
                }
            };
            self.set_process(id, None).await;
            tracing::info!(job = %id, code, "job process exited");
            if !(job.spec.restart_policy.restarts_after(code) && restarts < MAX_RESTARTS) {
                let t = if code == 0 {
                    Transition::now(JobStatus::Succeeded, reason::COMPLETED, "")
                } else {
                    Transition::now(
                        JobStatus::Failed,
                        reason::ERROR,
                        format!("Exit code: {code}"),
                    )
                };
                self.record(id, t.with_exit_code(code)).await;
                return;
            }
            restarts += 1;
            last_exit = code;
            let backoff = self.timing.backoff * (1u32 << (restarts - 1).min(4)).min(10);
            match self
                .next_event(None, control, &mut life, Some(backoff))
                .await
            {
                Event::BackoffDone | Event::Exited(_) => {}
                stop => {
                    self.finish_stopped(id, stop, &life).await;
                    return;
                }
            }
        }
    }

    /// Records how a job that was stopped from outside ended.
    async fn finish_stopped(&self, id: &str, event: Event, life: &LifeSpan) {
        match event {
            Event::Kill(done) => {
                let t = Transition::now(JobStatus::Cancelled, reason::USER_REQUESTED, "");
                self.record(id, t).await;
                let _ = done.send(());
            }
            Event::LifeSpanEnded => {
                let minutes = life.minutes.unwrap_or_default();
                let t = Transition::now(
                    JobStatus::Cancelled,
                    reason::LIFE_SPAN_ENDED,
                    format!("The job ran out of its life span of {minutes} minutes"),
                );
                self.record(id, t).await;
            }
            Event::Stop => {
                let t = Transition::now(
                    JobStatus::Failed,
                    reason::LOST,
                    "neuro-local shut down while the job was running",
                );
                self.record(id, t).await;
            }
            Event::Exited(_) | Event::BackoffDone => {}
        }
    }

    /// Waits for the process to exit (if any), the back-off to end (if any), a
    /// control message, the end of the life span, or the service to stop.
    async fn next_event(
        &self,
        mut process: Option<&mut JobProcess>,
        control: &mut mpsc::UnboundedReceiver<Control>,
        life: &mut LifeSpan,
        backoff: Option<Duration>,
    ) -> Event {
        let backoff_end = backoff.map(|b| tokio::time::Instant::now() + b);
        loop {
            let deadline = life.deadline();
            let wait_exit = async {
                match process.as_deref_mut() {
                    Some(p) => p.wait().await,
                    None => std::future::pending().await,
                }
            };
            let sleep_until = |at: Option<tokio::time::Instant>| async move {
                match at {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                result = wait_exit => return Event::Exited(result),
                () = sleep_until(backoff_end) => return Event::BackoffDone,
                () = sleep_until(deadline) => return Event::LifeSpanEnded,
                () = self.stop.cancelled() => return Event::Stop,
                message = control.recv() => match message {
                    Some(Control::Kill(done)) => return Event::Kill(done),
                    Some(Control::LifeSpan(minutes)) => life.minutes = minutes,
                    // The service keeps the sender while the supervisor runs.
                    None => return Event::Stop,
                },
            }
        }
    }

    async fn is_finished(&self, id: &str) -> bool {
        let key = id.to_owned();
        matches!(
            self.db.call(move |conn| store::get_job(conn, &key)).await,
            Ok(Some(job)) if job.status.is_finished()
        )
    }

    async fn set_process(&self, id: &str, process: Option<(i32, Option<u64>)>) {
        let key = id.to_owned();
        if let Err(err) = self
            .db
            .call(move |conn| store::set_process(conn, &key, process))
            .await
        {
            tracing::error!(job = %id, error = %err, "cannot record the job's process");
        }
    }

    /// Creates the job's directories and works out how to start it.
    async fn prepare(&self, job: &JobRecord) -> std::io::Result<Launch> {
        let dir = self.settings.jobs_dir().join(&job.id);
        let work = dir.join("work");
        tokio::fs::create_dir_all(&work).await?;
        let cwd = match &job.spec.container.working_dir {
            Some(wd) if Path::new(wd).is_dir() => PathBuf::from(wd),
            _ => work.clone(),
        };
        let key = job.id.clone();
        let passed_config = if job.spec.pass_config {
            self.db
                .call(move |conn| store::passed_config(conn, &key))
                .await
                .map_err(|e| std::io::Error::other(e.to_string()))?
        } else {
            None
        };
        Ok(Launch {
            command: shell_command(job),
            env: job_env(job, &work, passed_config),
            cwd,
            log: dir.join("log"),
        })
    }
}

/// The life span of a running job.
struct LifeSpan {
    /// When the job first became running.
    started_us: Option<i64>,
    /// Minutes it may run; `None` is unlimited.
    minutes: Option<i64>,
    /// Length of a minute.
    minute: Duration,
}

impl LifeSpan {
    fn deadline(&self) -> Option<tokio::time::Instant> {
        let started = self.started_us?;
        let minutes = self.minutes.filter(|m| *m > 0)?;
        let minute_us = i64::try_from(self.minute.as_micros()).unwrap_or(i64::MAX);
        let end_us = started.saturating_add(minutes.saturating_mul(minute_us));
        let left_us = u64::try_from(end_us.saturating_sub(now_us())).unwrap_or(0);
        Some(tokio::time::Instant::now() + Duration::from_micros(left_us))
    }
}

/// `entrypoint command`, `command` or `entrypoint` as one shell command line;
/// `None` when the job has neither.
fn shell_command(job: &JobRecord) -> Option<String> {
    let c = &job.spec.container;
    let parts: Vec<&str> = [c.entrypoint.as_deref(), c.command.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.trim().is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// The job's environment: `PATH` and `HOME` first (the job may override them),
/// then the job's variables, then the platform's `NEURO_JOB_*` ones.
fn job_env(job: &JobRecord, home: &Path, passed_config: Option<String>) -> Vec<(String, String)> {
    let mut env = vec![
        ("PATH".to_owned(), runtime::default_path()),
        ("HOME".to_owned(), home.display().to_string()),
    ];
    env.extend(
        job.spec
            .container
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    env.push(("NEURO_JOB_ID".to_owned(), job.id.clone()));
    if let Some(name) = &job.spec.name {
        env.push(("NEURO_JOB_NAME".to_owned(), name.clone()));
    }
    env.push(("NEURO_JOB_OWNER".to_owned(), job.owner.clone()));
    env.push(("NEURO_JOB_CLUSTER".to_owned(), job.cluster_name.clone()));
    if let Some(value) = passed_config {
        env.push((PASSED_CONFIG_ENV.to_owned(), value));
    }
    env
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

/// Runs a job, then gives its capacity back and wakes the scheduler.
async fn supervise(
    inner: Arc<Inner>,
    id: String,
    demand: Demand,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    inner.run_job(&id, &mut control).await;
    {
        let mut state = lock(&inner.state);
        state.running.remove(&id);
        state.capacity.release(demand);
    }
    inner.wake.notify_one();
    // Answer kills that raced with the end of the job.
    control.close();
    while let Ok(message) = control.try_recv() {
        if let Control::Kill(done) = message {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::super::request::parse_submission;
    use super::*;

    struct Fixture {
        _dir: tempfile::TempDir,
        settings: Arc<Settings>,
        db: Db,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let settings = Arc::new(Settings::new(
            dir.path().to_path_buf(),
            url::Url::parse("http://127.0.0.1:1").unwrap(),
        ));
        let db = Db::open(&settings.db_path()).unwrap();
        Fixture {
            _dir: dir,
            settings,
            db,
        }
    }

    fn fast() -> Timing {
        Timing {
            kill_grace: Duration::from_millis(500),
            minute: Duration::from_millis(300),
            backoff: Duration::from_millis(20),
        }
    }

    fn submission(settings: &Settings, extra: serde_json::Value) -> Submission {
        let mut body =
            json!({"cluster_name": "default", "image": "ubuntu", "preset_name": "cpu-small"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        parse_submission(body.to_string().as_bytes(), true, settings).unwrap()
    }

    async fn wait_finished(service: &JobService, id: &str) -> JobPayload {
        for _ in 0..300 {
            let job = service.get("alice", id).await.unwrap();
            if JobStatus::parse(&job.status).is_some_and(JobStatus::is_finished) {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("job {id} did not finish");
    }

    fn reasons(job: &JobPayload) -> Vec<(String, String)> {
        job.statuses
            .iter()
            .map(|s| (s.status.clone(), s.reason.clone()))
            .collect()
    }

    #[tokio::test]
    async fn life_span_ends_the_job() {
        let f = fixture();
        let service = JobService::with_timing(f.settings.clone(), f.db.clone(), fast()).unwrap();
        let s = submission(
            &f.settings,
            json!({"command": "sleep 30", "max_run_time_minutes": 1}),
        );
        let job = service.submit("alice", s, None).await.unwrap();
        let started = std::time::Instant::now();
        let job = wait_finished(&service, &job.id).await;
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(job.status, "cancelled");
        assert_eq!(job.history.reason, reason::LIFE_SPAN_ENDED);
        service.shutdown().await;
    }

    #[tokio::test]
    async fn bumped_life_span_is_applied_to_a_running_job() {
        let f = fixture();
        let service = JobService::with_timing(f.settings.clone(), f.db.clone(), fast()).unwrap();
        let s = submission(
            &f.settings,
            json!({"command": "sleep 30", "max_run_time_minutes": 1}),
        );
        let job = service.submit("alice", s, None).await.unwrap();
        service
            .update_life_span("alice", &job.id, LifeSpanChange::Add(4))
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let done = wait_finished(&service, &job.id).await;
        // 5 "minutes" of 300 ms.
        assert!(
            started.elapsed() >= Duration::from_millis(1200),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(done.max_run_time_minutes, Some(5));
        assert_eq!(done.history.reason, reason::LIFE_SPAN_ENDED);
        service.shutdown().await;
    }

    #[tokio::test]
    async fn restarts_are_counted_and_bounded() {
        let f = fixture();
        let service = JobService::with_timing(f.settings.clone(), f.db.clone(), fast()).unwrap();
        let s = submission(
            &f.settings,
            json!({"command": "sh -c 'echo run; exit 7'", "restart_policy": "on-failure"}),
        );
        let job = service.submit("alice", s, None).await.unwrap();
        let job = wait_finished(&service, &job.id).await;
        assert_eq!(job.status, "failed");
        assert_eq!(job.history.exit_code, Some(7));
        assert_eq!(job.history.restarts, MAX_RESTARTS);
        let restarting = reasons(&job)
            .iter()
            .filter(|(s, r)| s == "running" && r == reason::RESTARTING)
            .count();
        assert_eq!(restarting, MAX_RESTARTS as usize);
        let log = std::fs::read_to_string(service.log_path(&job.id)).unwrap();
        assert_eq!(log, "run\n".repeat(MAX_RESTARTS as usize + 1));
        // on-failure does not restart a success.
        let s = submission(
            &f.settings,
            json!({"command": "true", "restart_policy": "on-failure"}),
        );
        let ok = service.submit("alice", s, None).await.unwrap();
        let ok = wait_finished(&service, &ok.id).await;
        assert_eq!((ok.status.as_str(), ok.history.restarts), ("succeeded", 0));
        assert_eq!(ok.history.reason, reason::COMPLETED);
        service.shutdown().await;
    }

    #[tokio::test]
    async fn kill_during_restart_backoff() {
        let f = fixture();
        let timing = Timing {
            backoff: Duration::from_secs(30),
            ..fast()
        };
        let service = JobService::with_timing(f.settings.clone(), f.db.clone(), timing).unwrap();
        let s = submission(
            &f.settings,
            json!({"command": "exit 1", "restart_policy": "always"}),
        );
        let job = service.submit("alice", s, None).await.unwrap();
        for _ in 0..100 {
            let logs = service.get("alice", &job.id).await.unwrap();
            if logs.statuses.len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        service.kill("alice", &job.id).await.unwrap();
        let job = service.get("alice", &job.id).await.unwrap();
        assert_eq!(
            (job.status.as_str(), job.history.reason.as_str()),
            ("cancelled", reason::USER_REQUESTED)
        );
        service.shutdown().await;
    }

    #[tokio::test]
    async fn schedule_timeout_fails_a_job_that_cannot_fit() {
        let f = fixture();
        let service = JobService::with_timing(f.settings.clone(), f.db.clone(), fast()).unwrap();
        let body = json!({"cluster_name": "default", "schedule_timeout": 1.0,
            "container": {"image": "ubuntu", "command": "true",
                          "resources": {"cpu": f.settings.total_cpu * 4.0, "memory": 1 << 26}}});
        let s = parse_submission(body.to_string().as_bytes(), false, &f.settings).unwrap();
        let job = service.submit("alice", s, None).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let pending = service.get("alice", &job.id).await.unwrap();
        assert_eq!(
            (pending.status.as_str(), pending.history.reason.as_str()),
            ("pending", reason::SCHEDULING)
        );
        let job = wait_finished(&service, &job.id).await;
        assert_eq!(job.history.reason, reason::CLUSTER_SCALE_UP_FAILED);
        assert_eq!(
            reasons(&job),
            [
                ("pending".to_owned(), reason::CREATING.to_owned()),
                ("pending".to_owned(), reason::SCHEDULING.to_owned()),
                (
                    "failed".to_owned(),
                    reason::CLUSTER_SCALE_UP_FAILED.to_owned()
                ),
            ]
        );
        service.shutdown().await;
    }

    #[tokio::test]
    async fn env_and_working_dir() {
        let f = fixture();
        let service = JobService::with_timing(f.settings.clone(), f.db.clone(), fast()).unwrap();
        let s = submission(
            &f.settings,
            json!({"command": "sh -c 'echo $NEURO_JOB_ID $NEURO_JOB_NAME $NEURO_JOB_OWNER $NEURO_JOB_CLUSTER $FOO; pwd; echo $HOME; echo ${NEURO_PASSED_CONFIG:-none}'",
                   "name": "env-job", "env": {"FOO": "bar"}, "working_dir": "/"}),
        );
        let job = service.submit("alice", s, None).await.unwrap();
        let job = wait_finished(&service, &job.id).await;
        assert_eq!(job.status, "succeeded");
        let log = std::fs::read_to_string(service.log_path(&job.id)).unwrap();
        let work = service.job_dir(&job.id).join("work");
        assert_eq!(
            log,
            format!(
                "{} env-job alice default bar\n/\n{}\nnone\n",
                job.id,
                work.display()
            )
        );
        // A working dir missing on the host falls back to the job's own dir;
        // a passed config is injected.
        let s = submission(
            &f.settings,
            json!({"command": "sh -c 'pwd; echo $NEURO_PASSED_CONFIG'", "working_dir": "/no/such/dir", "pass_config": true}),
        );
        let job = service
            .submit("alice", s, Some("Y29uZmln".to_owned()))
            .await
            .unwrap();
        let job = wait_finished(&service, &job.id).await;
        let log = std::fs::read_to_string(service.log_path(&job.id)).unwrap();
        let work = service.job_dir(&job.id).join("work");
        assert_eq!(log, format!("{}\nY29uZmln\n", work.display()));
        assert!(job.pass_config);
        assert!(job.container.spec.env.is_empty(), "the token is not shown");
        service.shutdown().await;
    }

    #[tokio::test]
    async fn shutdown_marks_running_jobs_lost_and_keeps_pending_ones() {
        let f = fixture();
        let service = JobService::with_timing(f.settings.clone(), f.db.clone(), fast()).unwrap();
        let big = json!({"cluster_name": "default",
            "container": {"image": "ubuntu", "command": "sleep 30",
                          "resources": {"cpu": f.settings.total_cpu, "memory": 1 << 26}}});
        let s = parse_submission(big.to_string().as_bytes(), false, &f.settings).unwrap();
        let running = service.submit("alice", s.clone(), None).await.unwrap();
        let pending = service.submit("alice", s, None).await.unwrap();
        for _ in 0..100 {
            if service.get("alice", &running.id).await.unwrap().status == "running" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        service.shutdown().await;
        let after = JobService::with_timing(f.settings.clone(), f.db.clone(), fast()).unwrap();
        let lost = after.get("alice", &running.id).await.unwrap();
        assert_eq!(
            (lost.status.as_str(), lost.history.reason.as_str()),
            ("failed", reason::LOST)
        );
        for _ in 0..100 {
            if after.get("alice", &pending.id).await.unwrap().status == "running" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            after.get("alice", &pending.id).await.unwrap().status,
            "running"
        );
        after.shutdown().await;
    }
}
