//! The monitoring protocol through the SDK against a real neuro-local: logs,
//! telemetry, signals and capacity, on the current cluster or another one.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use common::proxy::CuttingProxy;
use common::recorder::RecordingProxy;
use common::{shell_job, start_running, wait_finished, Env};
use futures::{StreamExt as _, TryStreamExt as _};
use neuro_sdk::jobs::{JobsError, MonitorOptions};
use neuro_sdk::JobStatus;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

const TIMEOUT: Duration = Duration::from_secs(120);

/// Every line is the next number: 6.5 million lines, about 51 MB.
const LINES: u64 = 6_500_000;

#[tokio::test]
async fn fifty_megabytes_of_live_logs_arrive_complete_and_in_order() {
    let env = Env::start().await;
    let job = env
        .client
        .jobs()
        .start(shell_job(&format!("seq 1 {LINES}")))
        .await
        .unwrap();
    // Streams from before the start, through the live output, to the end.
    let mut logs = std::pin::pin!(env.client.jobs().monitor(&job.id, MonitorOptions::new()));
    let mut expected = 1u64;
    let mut partial = Vec::new();
    let mut total = 0usize;
    while let Some(chunk) = logs.try_next().await.unwrap() {
        total += chunk.len();
        partial.extend_from_slice(&chunk);
        let complete = partial
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        for line in partial[..complete].split(|b| *b == b'\n') {
            if line.is_empty() {
                continue;
            }
            let n: u64 = std::str::from_utf8(line).unwrap().parse().unwrap();
            assert_eq!(n, expected, "line out of order");
            expected += 1;
        }
        partial.drain(..complete);
    }
    assert!(partial.is_empty(), "a partial last line");
    assert_eq!(expected, LINES + 1, "lines missing");
    assert!(total > 50_000_000, "{total} bytes");
    let done = wait_finished(&env.client, &job.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Succeeded);
}

async fn log_text(env: &Env, id: &str, options: MonitorOptions) -> String {
    let chunks: Vec<_> = env
        .client
        .jobs()
        .monitor(id, options)
        .try_collect()
        .await
        .unwrap();
    String::from_utf8(chunks.concat()).unwrap()
}

#[tokio::test]
async fn timestamps_and_since_select_lines_by_arrival() {
    let env = Env::start().await;
    let job = env
        .client
        .jobs()
        .start(shell_job(
            "sh -c 'echo first; sleep 1.5; echo second; printf tail'",
        ))
        .await
        .unwrap();
    wait_finished(&env.client, &job.id, TIMEOUT).await;
    assert_eq!(
        log_text(&env, &job.id, MonitorOptions::new()).await,
        "first\nsecond\ntail"
    );
    let stamped = log_text(&env, &job.id, MonitorOptions::new().timestamps(true)).await;
    let lines: Vec<(OffsetDateTime, &str)> = stamped
        .split_inclusive('\n')
        .map(|line| {
            let (stamp, text) = line.split_once(' ').unwrap();
            (OffsetDateTime::parse(stamp, &Rfc3339).unwrap(), text)
        })
        .collect();
    let texts: Vec<&str> = lines.iter().map(|(_, t)| *t).collect();
    assert_eq!(texts, ["first\n", "second\n", "tail"]);
    assert!(lines[1].0 - lines[0].0 >= time::Duration::seconds(1));
    // `since` the second line drops the first.
    let since = lines[1].0;
    assert_eq!(
        log_text(&env, &job.id, MonitorOptions::new().since(since)).await,
        "second\ntail"
    );
    let both = MonitorOptions::new().since(since).timestamps(true);
    assert!(log_text(&env, &job.id, both).await.ends_with(" tail"));
}

#[tokio::test]
async fn logs_of_unknown_or_foreign_jobs_are_refused() {
    let env = Env::start().await;
    let err = env
        .client
        .jobs()
        .monitor(
            "job-00000000-0000-0000-0000-000000000000",
            MonitorOptions::new(),
        )
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let job = env
        .client
        .jobs()
        .start(shell_job("echo private"))
        .await
        .unwrap();
    let bob = env.user("bob").await;
    let err = bob
        .jobs()
        .monitor(&job.id, MonitorOptions::new())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.http().is_some_and(|e| e.is_auth()), "{err:?}");
}

#[tokio::test]
async fn top_reports_cpu_and_memory_of_the_process_tree() {
    let env = Env::start().await;
    let job = start_running(
        &env.client,
        shell_job("sh -c 'while :; do :; done'"),
        TIMEOUT,
    )
    .await;
    let samples: Vec<_> = env
        .client
        .jobs()
        .top(&job.id)
        .take(3)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(samples.len(), 3);
    let last = samples.last().unwrap();
    // A busy loop gets some of a core even when other work loads the machine;
    // the share itself depends on that load, so only its presence and range are
    // checked (speed belongs to benchmarks, not tests).
    let busiest = samples.iter().map(|s| s.cpu).fold(0.0_f64, f64::max);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    assert!(busiest > 0.01, "a busy loop uses the CPU: {samples:?}");
    assert!(busiest <= cores + 0.5, "at most every core: {samples:?}");
    assert!(last.memory_bytes > 0);
    assert!(last.memory() > 0.0);
    assert!(samples[2].timestamp > samples[0].timestamp);
    env.client.jobs().kill(&job.id).await.unwrap();
    // A finished job has no telemetry.
    wait_finished(&env.client, &job.id, TIMEOUT).await;
    let err = env
        .client
        .jobs()
        .top(&job.id)
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(
        matches!(err, JobsError::NotRunning(ref id) if *id == job.id),
        "{err:?}"
    );
}

#[tokio::test]
async fn send_signal_kills_the_process_and_the_job_fails() {
    let env = Env::start().await;
    let job = start_running(&env.client, shell_job("sleep 300"), TIMEOUT).await;
    env.client.jobs().send_signal(&job.id).await.unwrap();
    let done = wait_finished(&env.client, &job.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(done.history.exit_code, Some(137));
    // Not running any more: refused.
    let err = env.client.jobs().send_signal(&job.id).await.unwrap_err();
    assert!(err.http().is_some(), "{err:?}");
}

#[tokio::test]
async fn capacity_counts_what_still_fits() {
    let env = Env::start().await;
    let before = env.client.jobs().get_capacity().await.unwrap();
    let small = before["cpu-small"];
    assert!(small > 0, "{before:?}");
    let job = start_running(&env.client, shell_job("sleep 300"), TIMEOUT).await;
    let during = env.client.jobs().get_capacity().await.unwrap();
    assert!(during["cpu-small"] < small, "{before:?} then {during:?}");
    env.client.jobs().kill(&job.id).await.unwrap();
}

/// Points the stored monitoring URL of `cluster` at `addr` (the same path on
/// another host and port), as a platform with that cluster elsewhere would.
fn move_monitoring(env: &Env, cluster: &str, addr: std::net::SocketAddr) {
    let conn = rusqlite::Connection::open(env.dir.path().join("config").join("db")).unwrap();
    let stored: String = conn
        .query_row("SELECT clusters FROM main", [], |r| r.get(0))
        .unwrap();
    let mut clusters: serde_json::Value = serde_json::from_str(&stored).unwrap();
    let entry = clusters
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["name"] == cluster)
        .unwrap();
    let mut url = url::Url::parse(entry["monitoring_url"].as_str().unwrap()).unwrap();
    url.set_port(Some(addr.port())).unwrap();
    entry["monitoring_url"] = url.as_str().into();
    conn.execute("UPDATE main SET clusters = ?1", [clusters.to_string()])
        .unwrap();
}

/// `Jobs::on_cluster` sends the monitoring calls to the monitoring service of
/// the named cluster (here two more clusters of the same platform, each behind
/// a proxy of its own), and refuses a cluster the configuration does not know.
#[tokio::test]
async fn monitoring_calls_go_to_the_named_cluster() {
    let builder = neuro_local::LocalPlatform::builder()
        .extra_cluster("second", vec![None])
        .extra_cluster("third", vec![None]);
    let env = Env::start_with(builder).await;
    let upstream = env.platform.api_url().socket_addrs(|| None).unwrap()[0];
    let (listener, recording_addr) = RecordingProxy::bind().await;
    let recording = RecordingProxy::forward_to(listener, upstream);
    let (listener, tcp_addr) = CuttingProxy::bind().await;
    let tcp = CuttingProxy::forward_to(listener, upstream);
    move_monitoring(&env, "second", recording_addr);
    move_monitoring(&env, "third", tcp_addr);
    let client = env.factory.get().await.unwrap();
    let jobs = client.jobs();
    let job = start_running(&client, shell_job("sh -c 'echo hello; sleep 300'"), TIMEOUT).await;

    // Plain requests: capacity and the signal go through the second
    // cluster's proxy, nothing else does.
    let second = jobs.on_cluster("second").unwrap();
    assert!(second.get_capacity().await.unwrap()["cpu-small"] > 0);
    jobs.get_capacity().await.unwrap();
    assert_eq!(
        recording.take_lines(),
        ["GET /api/v1/jobs/capacity".to_owned()]
    );

    // Websockets: the log through the third cluster's proxy, up to the
    // first line.
    let third = jobs.on_cluster("third").unwrap();
    let first = {
        let mut logs = std::pin::pin!(third.monitor(&job.id, MonitorOptions::new()));
        tokio::time::timeout(TIMEOUT, logs.try_next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
    };
    assert_eq!(&first[..], b"hello\n");
    // Without that proxy the same call cannot connect; the current cluster
    // still can.
    drop(tcp);
    let refused = std::pin::pin!(third.monitor(&job.id, MonitorOptions::new()))
        .try_next()
        .await;
    assert!(refused.is_err(), "{refused:?}");
    let mut direct = std::pin::pin!(jobs.monitor(&job.id, MonitorOptions::new()));
    assert!(direct.try_next().await.unwrap().is_some());

    second.send_signal(&job.id).await.unwrap();
    assert_eq!(
        recording.take_lines(),
        [format!("POST /api/v1/jobs/{}/kill", job.id)]
    );
    let done = wait_finished(&client, &job.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Failed, "{:?}", done.history);

    let unknown = jobs.on_cluster("nowhere").unwrap_err();
    assert!(matches!(unknown, JobsError::Config(_)), "{unknown:?}");
}
