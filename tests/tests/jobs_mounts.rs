//! Storage volumes of jobs: bind mounts in a private mount namespace, read-only
//! when asked, visible to exec'd processes too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{shell_job, start_running, volume, wait_finished, Env};
use futures::TryStreamExt as _;
use neuro_sdk::jobs::StdStreamOptions;
use neuro_sdk::JobStatus;

const TIMEOUT: Duration = Duration::from_secs(120);

async fn logs(env: &Env, id: &str) -> String {
    common::job_logs(&env.client, id).await
}

#[tokio::test]
async fn read_only_and_read_write_volumes() {
    let env = Env::start().await;
    let storage = env.client.storage();
    storage.mkdir("storage:inputs", false, false).await.unwrap();
    let data = futures::stream::iter([Ok(Bytes::from_static(b"input bytes\n"))]);
    storage.create("storage:inputs/in.txt", data).await.unwrap();

    // Container paths that do not exist on this machine, beside real ones.
    let mut job = shell_job(
        "sh -c 'cat /var/neuro-test/in/in.txt > /var/neuro-test/out/out.txt; \
         if touch /var/neuro-test/in/new 2>/dev/null; then echo ro-writable; \
         else echo ro-refused; fi; \
         ls /var/neuro-test; test -d /var/lib && echo var-lib-present'",
    );
    job.container.volumes = vec![
        volume("storage:inputs", "/var/neuro-test/in", true),
        volume("storage:outputs", "/var/neuro-test/out", false),
    ];
    let job = env.client.jobs().start(job).await.unwrap();
    let done = wait_finished(&env.client, &job.id, TIMEOUT).await;
    let text = logs(&env, &job.id).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{text}");
    assert_eq!(text, "ro-refused\nin\nout\nvar-lib-present\n");
    // The job's output is in storage; the host has no /var/neuro-test.
    let out: Vec<Bytes> = storage
        .open("storage:outputs/out.txt", 0, None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(out.concat(), b"input bytes\n");
    assert!(storage.stat("storage:inputs/new").await.is_err());
    assert!(!std::path::Path::new("/var/neuro-test").exists());
}

#[tokio::test]
async fn exec_sees_the_jobs_mounts() {
    let env = Env::start().await;
    let mut job = shell_job("sh -c 'echo from-job > /data/rw/marker; sleep 300'");
    job.container.volumes = vec![volume("storage:shared", "/data/rw", false)];
    job.container.working_dir = Some("/data/rw".into());
    let job = start_running(&env.client, job, TIMEOUT).await;
    let mut session = env
        .client
        .jobs()
        .exec(
            &job.id,
            "sh -c 'while [ ! -s marker ]; do sleep 0.05; done; pwd; cat marker'",
            StdStreamOptions::pipes(),
        )
        .await
        .unwrap();
    let mut out = Vec::new();
    while let Some(message) = session.read_out().await.unwrap() {
        out.extend_from_slice(&message.data);
    }
    assert_eq!(String::from_utf8(out).unwrap(), "/data/rw\nfrom-job\n");
    assert_eq!(session.exit_status().unwrap().code, 0);
    env.client.jobs().kill(&job.id).await.unwrap();
}

#[tokio::test]
async fn a_volume_the_owner_cannot_reach_fails_the_job_with_a_reason() {
    let env = Env::start().await;
    let mut job = shell_job("true");
    job.container.volumes = vec![volume("storage://default/someone-else/data", "/data", true)];
    let job = env.client.jobs().start(job).await.unwrap();
    let done = wait_finished(&env.client, &job.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(done.history.reason, "ContainerCannotRun");
    assert!(
        done.history.description.contains("cannot mount")
            && done.history.description.contains("no read access"),
        "{}",
        done.history.description
    );
}
