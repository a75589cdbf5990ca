//! The supervisor of one job: starts its process, records its transitions,
//! restarts it, enforces its life span and obeys kills.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use neuro_types::jobs::JobStatus;
use tokio::sync::{mpsc, oneshot};

use super::{lock, Control, Inner, MAX_RESTARTS};
use crate::jobs::image;
use crate::jobs::io::JobIo;
use crate::jobs::logs::{self, LogWriter};
use crate::jobs::model::{now_us, reason, JobRecord, Transition};
use crate::jobs::mounts::{
    remove_secret_files, resolve_disks, resolve_secret_files, resolve_volumes,
};
use crate::jobs::request::PASSED_CONFIG_ENV;
use crate::jobs::runtime::{self, JobProcess, Launch};
use crate::jobs::scheduler::Demand;
use crate::jobs::store;
use crate::permissions::load_view;

/// Longest wait for a finished process's output to reach the log.
const OUTPUT_DRAIN: Duration = Duration::from_secs(5);

/// What ended a wait of a supervisor.
enum Event {
    Exited(std::io::Result<i32>),
    BackoffDone,
    Kill(oneshot::Sender<()>),
    LifeSpanEnded,
    Stop,
}

impl Inner {
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
        let dir = self.settings.jobs_dir().join(id);
        let launch = match self.prepare(&job).await {
            Ok(launch) => launch,
            Err(err) => {
                remove_secret_files(&dir);
                let t = Transition::now(
                    JobStatus::Failed,
                    reason::CONTAINER_CANNOT_RUN,
                    format!("Cannot prepare the job: {err}"),
                );
                self.record(id, t).await;
                return;
            }
        };
        let log_len = std::fs::metadata(logs::log_path(&dir)).map_or(0, |m| m.len());
        let io = Arc::new(JobIo::new(dir.clone(), launch, log_len));
        lock(&self.io).insert(id.to_owned(), io.clone());
        self.run_started_job(id, &job, &io, control, &mut life)
            .await;
        io.end();
        lock(&self.io).remove(id);
        remove_secret_files(&dir);
    }

    /// Starts the job's process, again per its restart policy, until the job is
    /// finished.
    async fn run_started_job(
        &self,
        id: &str,
        job: &JobRecord,
        io: &Arc<JobIo>,
        control: &mut mpsc::UnboundedReceiver<Control>,
        life: &mut LifeSpan,
    ) {
        let mut restarts = 0u32;
        let mut last_exit = 0;
        loop {
            let (mut process, pumped) = match start_run(io) {
                Ok(started) => started,
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
                let note = io.launch().note.clone().unwrap_or_default();
                Transition::now(JobStatus::Running, "", note)
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
                let code = process.terminate(self.timing.kill_grace).await;
                end_run(io, pumped, code.unwrap_or(1)).await;
                self.set_process(id, None).await;
                return;
            }
            life.started_us.get_or_insert(started_at);
            let event = self
                .next_event(Some(&mut process), control, life, None)
                .await;
            let code = match event {
                Event::Exited(Ok(code)) => code,
                Event::Exited(Err(err)) => {
                    end_run(io, pumped, 1).await;
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
                    let code = match process.terminate(self.timing.kill_grace).await {
                        Ok(code) => code,
                        Err(err) => {
                            tracing::error!(job = %id, error = %err, "cannot terminate a job");
                            1
                        }
                    };
                    end_run(io, pumped, code).await;
                    self.set_process(id, None).await;
                    self.finish_stopped(id, stop, life).await;
                    return;
                }
            };
            end_run(io, pumped, code).await;
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
            match self.next_event(None, control, life, Some(backoff)).await {
                Event::BackoffDone | Event::Exited(_) => {}
                stop => {
                    self.finish_stopped(id, stop, life).await;
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

    /// Creates the job's directories, resolves its mounts and works out how to
    /// start it.
    async fn prepare(&self, job: &JobRecord) -> Result<Launch, String> {
        let dir = self.settings.jobs_dir().join(&job.id);
        let work = dir.join("work");
        tokio::fs::create_dir_all(&work)
            .await
            .map_err(|e| format!("cannot create the job's directories: {e}"))?;
        let view = load_view(&self.db, &job.owner, &self.settings.cluster_name)
            .await
            .map_err(|e| e.body.error)?;
        let (settings, record, owner) = (self.settings.clone(), job.clone(), view.clone());
        let mut mounts =
            tokio::task::spawn_blocking(move || resolve_volumes(&record, &settings, &owner))
                .await
                .map_err(|e| format!("the mount task failed: {e}"))?
                .map_err(|e| e.to_string())?;
        let disks = resolve_disks(&self.db, &self.settings, &view, job);
        mounts.binds.extend(disks.await.map_err(|e| e.to_string())?);
        let files = resolve_secret_files(&self.db, &self.settings, &view, job, &dir);
        mounts.binds.extend(files.await.map_err(|e| e.to_string())?);
        let cwd = match &job.spec.container.working_dir {
            Some(wd) if Path::new(wd).is_dir() => PathBuf::from(wd),
            Some(wd) if mounts.binds.iter().any(|b| wd.starts_with(&b.container)) => {
                PathBuf::from(wd)
            }
            _ => work.clone(),
        };
        let key = job.id.clone();
        let passed_config = if job.spec.pass_config {
            self.db
                .call(move |conn| store::passed_config(conn, &key))
                .await
                .map_err(|e| e.to_string())?
        } else {
            None
        };
        let secret_env = crate::secrets::resolve_env(
            &self.db,
            &self.settings,
            &view,
            &job.spec.container.secret_env,
        )
        .await
        .map_err(|e| e.body.error)?;
        let mut launch = Launch {
            command: shell_command(job),
            env: [job_env(job, &work, passed_config), secret_env].concat(),
            cwd,
            tty: job.spec.container.tty,
            mounts,
            root_dir: dir.join("root"),
            argv: None,
            image: None,
            note: None,
        };
        let image = &job.spec.container.image;
        match image::resolve(&self.db, &self.settings, &view, image).await? {
            Some(run) => image::apply(&mut launch, &run, &job.spec.container, &dir)?,
            None => {
                launch.note = Some(format!(
                    "The image {image} is not in this platform's registry: \
                     the job runs on the host's file system"
                ));
            }
        }
        Ok(launch)
    }
}

/// Starts one run of the job: the process, and a thread pumping its output
/// into the log (the receiver fires when the output has ended).
fn start_run(io: &Arc<JobIo>) -> std::io::Result<(JobProcess, oneshot::Receiver<()>)> {
    let writer = LogWriter::open(io.dir())?;
    let started = runtime::spawn(io.launch())?;
    io.run_started(started.process.pid, started.terminal, started.stdin);
    let (done, pumped) = oneshot::channel();
    let pump_io = io.clone();
    let output = started.output;
    std::thread::Builder::new()
        .name("job-output".into())
        .spawn(move || {
            writer.pump(output, |stream, data, len| {
                pump_io.output(stream, data, len)
            });
            let _ = done.send(());
        })?;
    Ok((started.process, pumped))
}

/// Ends a run: waits (a bounded time: a process that left the group may hold
/// the output open) for its output to reach the log, then publishes its exit.
async fn end_run(io: &JobIo, pumped: oneshot::Receiver<()>, code: i32) {
    if tokio::time::timeout(OUTPUT_DRAIN, pumped).await.is_err() {
        tracing::warn!("a job's output is still open after its process ended");
    }
    io.run_exited(code);
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
        // Past the end of time (absurd limits) counts as unlimited.
        tokio::time::Instant::now().checked_add(Duration::from_micros(left_us))
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

/// Runs a job, then gives its capacity back and wakes the scheduler.
pub(super) async fn supervise(
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
