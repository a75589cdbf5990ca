//! Job life cycles against a real neuro-local: restarts seen through the
//! monitoring service (the restart count, the separator between the archived
//! output of earlier runs and the live one), the priority order of the pending
//! queue, the life span and its bump, restart policies, the schedule timeout
//! of a job that cannot fit, and a crash and restart of neuro-local itself.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{shell_job, wait_finished, wait_for, Env};
use futures::TryStreamExt as _;
use neuro_sdk::jobs::MonitorOptions;
use neuro_sdk::{
    Container, JobPriority, JobRestartPolicy, JobRun, JobStatus, RemoteImage, Resources,
};

const TIMEOUT: Duration = Duration::from_secs(120);

#[tokio::test]
async fn a_restarted_job_shows_its_archive_then_the_separator_then_live_logs() {
    let env = Env::start().await;
    // The first run fails; the second one (the marker exists) keeps running.
    let mut job = shell_job(
        "sh -c 'if [ -f marker ]; then echo second; sleep 300; fi; touch marker; echo first; exit 1'",
    );
    job.options.restart_policy = JobRestartPolicy::OnFailure;
    let job = env.client.jobs().start(job).await.unwrap();
    let running = wait_for(&env.client, &job.id, TIMEOUT, |j| {
        j.status.is_running() && j.history.restarts == 1
    })
    .await;
    assert_eq!(running.history.reason, "Restarting");
    let jobs = env.client.jobs();
    let options = MonitorOptions::new().separator("=== live ===");
    let mut logs = std::pin::pin!(jobs.monitor(&job.id, options));
    let mut text = String::new();
    while !text.contains("second\n") {
        let chunk = tokio::time::timeout(TIMEOUT, logs.try_next())
            .await
            .unwrap()
            .unwrap()
            .expect("the log ended early");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert_eq!(text, "first\n=== live ===\nsecond\n");
    jobs.kill(&job.id).await.unwrap();
    // The stream ends with the job.
    let rest = tokio::time::timeout(TIMEOUT, logs.try_collect::<Vec<_>>())
        .await
        .unwrap()
        .unwrap();
    assert!(rest.is_empty());
    let done = wait_finished(&env.client, &job.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Cancelled);
    assert_eq!(done.history.restarts, 1);
}

/// The pending queue is ordered by priority, then by submission: with the
/// machine busy, a high-priority job submitted after a low-priority one starts
/// first; both wait with a reason while the machine is full.
#[tokio::test]
async fn priorities_order_the_pending_queue() {
    let env = Env::start().await;
    let jobs = env.client.jobs();
    // The whole machine, then two more jobs that need all of it.
    let whole = |command: &str, priority: JobPriority| {
        let mut job = shell_job(command);
        job.preset_name = "cpu-large".into();
        job.options.priority = Some(priority);
        job
    };
    let busy = jobs
        .start(whole("sleep 300", JobPriority::Normal))
        .await
        .unwrap();
    wait_for(&env.client, &busy.id, TIMEOUT, |j| j.status.is_running()).await;
    let low = jobs.start(whole("true", JobPriority::Low)).await.unwrap();
    let mut high = whole("true", JobPriority::High);
    // No quotas here: waiting for one is accepted and changes nothing.
    high.options.wait_for_jobs_quota = true;
    let high = jobs.start(high).await.unwrap();
    for id in [&low.id, &high.id] {
        let waiting = wait_for(&env.client, id, TIMEOUT, |j| {
            j.status == JobStatus::Pending && !j.history.reason.is_empty()
        })
        .await;
        assert_eq!(waiting.status, JobStatus::Pending);
    }

    jobs.kill(&busy.id).await.unwrap();
    let high = wait_finished(&env.client, &high.id, TIMEOUT).await;
    let low = wait_finished(&env.client, &low.id, TIMEOUT).await;
    assert_eq!(high.status, JobStatus::Succeeded, "{:?}", high.history);
    assert_eq!(low.status, JobStatus::Succeeded, "{:?}", low.history);
    // Low started only once high had ended: each needs the whole machine.
    let high_end = high.history.finished_at.unwrap();
    let low_start = low.history.started_at.unwrap();
    assert!(low_start >= high_end, "{low_start} < {high_end}");
}

/// A crash of neuro-local (the process killed, nothing shut down) loses no
/// job record: the next start marks the job that was running failed, says the
/// platform restarted, and kills the process it left behind.
#[tokio::test]
async fn a_crashed_platform_marks_running_jobs_failed_on_restart() {
    const CHILD: &str = "NEURO_TEST_CRASH_CHILD";
    let data = match std::env::var_os(CHILD) {
        // The child: start the platform on the given data dir, run a job,
        // report it in `data/running`, and wait to be killed.
        Some(dir) => {
            let dir = std::path::PathBuf::from(dir);
            let env =
                Env::start_with(neuro_local::LocalPlatform::builder().data_dir(dir.clone())).await;
            let pid_file = env.dir.path().join("job.pid");
            let job = shell_job(&format!(
                "sh -c 'echo $$ > {}; exec sleep 300'",
                pid_file.display()
            ));
            let job = env.client.jobs().start(job).await.unwrap();
            wait_for(&env.client, &job.id, TIMEOUT, |j| j.status.is_running()).await;
            while std::fs::read_to_string(&pid_file).map_or(true, |t| !t.ends_with('\n')) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let pid = std::fs::read_to_string(&pid_file).unwrap();
            let report = dir.join("running.tmp");
            std::fs::write(&report, format!("{} {}", job.id, pid.trim())).unwrap();
            std::fs::rename(&report, dir.join("running")).unwrap();
            std::future::pending::<()>().await;
            unreachable!();
        }
        None => tempfile::tempdir().unwrap(),
    };

    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "a_crashed_platform_marks_running_jobs_failed_on_restart",
            "--exact",
            "--test-threads",
            "1",
        ])
        .env(CHILD, data.path())
        .spawn()
        .unwrap();
    let report = data.path().join("running");
    let deadline = std::time::Instant::now() + TIMEOUT;
    let (id, pid) = loop {
        if let Ok(text) = std::fs::read_to_string(&report) {
            let (id, pid) = text.split_once(' ').unwrap();
            break (id.to_owned(), pid.parse::<i32>().unwrap());
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the child ended ({status}) before its job ran");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the child's job never ran"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    // The crash.
    child.kill().unwrap();
    child.wait().unwrap();
    let alive = |pid: i32| std::path::Path::new(&format!("/proc/{pid}")).exists();
    assert!(alive(pid), "the job's process should outlive the crash");

    let env =
        Env::start_with(neuro_local::LocalPlatform::builder().data_dir(data.path().to_path_buf()))
            .await;
    let job = env.client.jobs().status(&id).await.unwrap();
    assert_eq!(job.status, JobStatus::Failed, "{:?}", job.history);
    assert_eq!(job.history.reason, "Lost");
    assert!(
        job.history.description.contains("neuro-local restarted"),
        "{:?}",
        job.history
    );
    let deadline = std::time::Instant::now() + TIMEOUT;
    while alive(pid) {
        assert!(
            std::time::Instant::now() < deadline,
            "process {pid} survived the restart"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A job that outlives its life span (one minute, the shortest the API takes)
/// is cancelled, and the reason says so.
#[tokio::test]
async fn life_span_cancels_a_job_that_runs_too_long() {
    let env = Env::start().await;
    let mut job = shell_job("sleep 600");
    job.options.life_span = Some(60.0);
    let job = env.client.jobs().start(job).await.unwrap();
    wait_for(&env.client, &job.id, TIMEOUT, |j| j.status.is_running()).await;
    let done = wait_finished(&env.client, &job.id, Duration::from_secs(240)).await;
    assert_eq!(done.status, JobStatus::Cancelled, "{:?}", done.history);
    assert_eq!(done.history.reason, "LifeSpanEnded");
    let ran = done.history.finished_at.unwrap() - done.history.started_at.unwrap();
    assert!(ran >= time::Duration::seconds(59), "{ran}");
}

/// `restart_policy: always` starts a job again after a success too, counting
/// each restart, until it is killed.
#[tokio::test]
async fn restart_policy_always_restarts_a_succeeding_job() {
    let env = Env::start().await;
    let jobs = env.client.jobs();
    let mut job = shell_job("echo run");
    job.options.restart_policy = JobRestartPolicy::Always;
    let job = jobs.start(job).await.unwrap();
    assert_eq!(job.restart_policy, JobRestartPolicy::Always);
    // Back-offs of 1 s and 2 s.
    wait_for(&env.client, &job.id, TIMEOUT, |j| j.history.restarts >= 2).await;
    jobs.kill(&job.id).await.unwrap();
    let done = wait_finished(&env.client, &job.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Cancelled, "{:?}", done.history);
    let restarts = done.history.restarts;
    assert!(restarts >= 2, "{restarts}");
    let restarting = done
        .history
        .transitions
        .iter()
        .filter(|t| t.reason == "Restarting")
        .count();
    assert_eq!(restarting, restarts as usize);
    // Every run printed its line: the archive holds them all.
    let log: Vec<_> = jobs
        .monitor(&job.id, MonitorOptions::new())
        .try_collect()
        .await
        .unwrap();
    let log = String::from_utf8(log.concat()).unwrap();
    assert!(log.matches("run\n").count() > restarts as usize, "{log:?}");
}

/// A job that can never fit the machine waits in the queue with a reason and
/// fails when its schedule timeout has passed.
#[tokio::test]
async fn a_job_that_cannot_fit_fails_after_its_schedule_timeout() {
    let env = Env::start().await;
    let image = RemoteImage::new_external_image("ubuntu", None, Some("latest".into()));
    // More CPU than any machine has.
    let container = Container::new(image, Resources::new(64 << 20, 100_000.0));
    let mut run = JobRun::new(container);
    run.options.schedule_timeout = Some(3.0);
    let job = env.client.jobs().run(run).await.unwrap();
    assert_eq!(job.schedule_timeout, Some(3.0));
    let waiting = wait_for(&env.client, &job.id, TIMEOUT, |j| {
        j.history.reason == "Scheduling" || j.status.is_finished()
    })
    .await;
    assert_eq!(waiting.status, JobStatus::Pending, "{:?}", waiting.history);
    let done = wait_finished(&env.client, &job.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Failed, "{:?}", done.history);
    assert_eq!(done.history.reason, "ClusterScaleUpFailed");
    let waited = done.history.finished_at.unwrap() - done.history.created_at.unwrap();
    assert!(waited >= time::Duration::seconds(3), "{waited}");
    let steps: Vec<_> = done
        .history
        .transitions
        .iter()
        .map(|t| (t.status, t.reason.as_str()))
        .collect();
    // It never ran: no running step.
    assert_eq!(
        steps,
        [
            (JobStatus::Pending, "Creating"),
            (JobStatus::Pending, "Scheduling"),
            (JobStatus::Failed, "ClusterScaleUpFailed"),
        ]
    );
}

/// `bump_life_span` adds whole minutes to a running job's life span.
#[tokio::test]
async fn bump_life_span_extends_a_running_job() {
    let env = Env::start().await;
    let jobs = env.client.jobs();
    let mut job = shell_job("sleep 600");
    job.options.life_span = Some(120.0);
    let job = jobs.start(job).await.unwrap();
    wait_for(&env.client, &job.id, TIMEOUT, |j| j.status.is_running()).await;
    jobs.bump_life_span(&job.id, 3600.0).await.unwrap();
    let bumped = jobs.status(&job.id).await.unwrap();
    assert_eq!(bumped.life_span, Some(3720.0));
    assert!(bumped.status.is_running());
    // Less than a whole minute is refused by the server, as platform-api
    // does; a negative bump before anything is sent.
    let short = jobs.bump_life_span(&job.id, 59.0).await.unwrap_err();
    assert_eq!(short.http().and_then(|e| e.status()), Some(400));
    assert!(matches!(
        jobs.bump_life_span(&job.id, -1.0).await,
        Err(neuro_sdk::jobs::JobsError::InvalidArgument(_))
    ));
    assert_eq!(jobs.status(&job.id).await.unwrap().life_span, Some(3720.0));
    jobs.kill(&job.id).await.unwrap();
    wait_finished(&env.client, &job.id, TIMEOUT).await;
}

/// A user's running-jobs quota: a submission past it is refused unless it
/// asks to wait for a seat; one that waits starts when one of the user's jobs
/// ends, and other users' jobs are not held up meanwhile.
#[tokio::test]
async fn running_jobs_quota_refuses_or_queues_jobs_past_it() {
    let env = Env::start().await;
    let alice = env.user("alice").await;
    env.platform
        .set_running_jobs_quota("alice", Some(1))
        .await
        .unwrap();
    assert!(env
        .platform
        .set_running_jobs_quota("nobody-here", Some(1))
        .await
        .is_err());
    let jobs = alice.jobs();
    let first = jobs.start(shell_job("sleep 300")).await.unwrap();

    let refused = jobs.start(shell_job("true")).await.unwrap_err();
    assert_eq!(refused.http().and_then(|e| e.status()), Some(400));
    let text = format!("{refused:?}");
    assert!(
        text.contains("Jobs limit quota exceeded for user 'alice'"),
        "{text}"
    );

    let mut patient = shell_job("echo second");
    patient.options.wait_for_jobs_quota = true;
    let second = jobs.start(patient).await.unwrap();
    let waiting = wait_for(&alice, &second.id, TIMEOUT, |j| {
        j.history.reason == "Scheduling"
    })
    .await;
    assert_eq!(waiting.status, JobStatus::Pending);
    assert!(
        waiting
            .history
            .description
            .contains("quota of user 'alice'"),
        "{:?}",
        waiting.history
    );
    // The admin has no quota: their job runs at once.
    let other = env.client.jobs().start(shell_job("true")).await.unwrap();
    let other = wait_finished(&env.client, &other.id, TIMEOUT).await;
    assert_eq!(other.status, JobStatus::Succeeded);
    assert_eq!(
        jobs.status(&second.id).await.unwrap().status,
        JobStatus::Pending
    );

    jobs.kill(&first.id).await.unwrap();
    let first = wait_finished(&alice, &first.id, TIMEOUT).await;
    let second = wait_finished(&alice, &second.id, TIMEOUT).await;
    assert_eq!(second.status, JobStatus::Succeeded, "{:?}", second.history);
    assert!(second.history.started_at.unwrap() >= first.history.finished_at.unwrap());

    // Without the quota, nothing is refused any more.
    env.platform
        .set_running_jobs_quota("alice", None)
        .await
        .unwrap();
    let a = jobs.start(shell_job("sleep 300")).await.unwrap();
    let b = jobs.start(shell_job("sleep 300")).await.unwrap();
    for id in [&a.id, &b.id] {
        wait_for(&alice, id, TIMEOUT, |j| j.status.is_running()).await;
        jobs.kill(id).await.unwrap();
    }
}
