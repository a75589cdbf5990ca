//! Restarts seen through the monitoring service: the restart count, and the
//! separator between the archived output of earlier runs and the live one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::{shell_job, wait_finished, wait_for, Env};
use futures::TryStreamExt as _;
use neuro_sdk::jobs::MonitorOptions;
use neuro_sdk::{JobRestartPolicy, JobStatus};

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
