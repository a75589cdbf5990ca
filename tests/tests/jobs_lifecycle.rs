//! Job life cycles against a real neuro-local: restarts seen through the
//! monitoring service (the restart count, the separator between the archived
//! output of earlier runs and the live one), the priority order of the pending
//! queue, the life span, and a crash and restart of neuro-local itself.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{shell_job, wait_finished, wait_for, Env};
use futures::TryStreamExt as _;
use neuro_sdk::jobs::MonitorOptions;
use neuro_sdk::{JobPriority, JobRestartPolicy, JobStatus};

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
