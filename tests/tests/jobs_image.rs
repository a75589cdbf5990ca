//! Jobs whose image is in neuro-local's registry run inside it: the test
//! pushes a busybox image built here, and jobs see only the image's files plus
//! their mounts, with the image's command, environment and working directory
//! unless they override them. Jobs of other images run on the host, and say so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::image::{busybox_image, push};
use common::{shell_job, wait_finished, Env};
use futures::TryStreamExt as _;
use neuro_sdk::types::TagOption;
use neuro_sdk::{JobStart, JobStatus, Volume};
use url::Url;

const TIMEOUT: Duration = Duration::from_secs(120);

async fn logs(env: &Env, id: &str) -> String {
    common::job_logs(&env.client, id).await
}

/// Pushes the busybox image as `busybox:v1` of the admin; the job start of it.
async fn busybox_job(env: &Env) -> JobStart {
    let image = busybox_image(serde_json::json!({
        "Cmd": ["/bin/sh", "-c", "echo from-image-cmd; pwd; echo $IMAGE_VAR; echo $PATH"],
        "Env": ["PATH=/bin", "IMAGE_VAR=from-image"],
        "WorkingDir": "/work",
    }));
    let client = &env.client;
    let registry = client.config().registry_url().clone();
    push(
        client,
        &registry,
        &format!("{}/busybox", client.username()),
        "v1",
        &image,
    )
    .await;
    let remote = client
        .config()
        .image_context()
        .parse_remote("image:busybox:v1", TagOption::Default)
        .unwrap();
    JobStart::new(remote, "cpu-small")
}

#[tokio::test]
async fn image_defaults_apply() {
    let env = Env::start().await;
    let job = busybox_job(&env).await;
    let job = env.client.jobs().start(job).await.unwrap();
    let done = wait_finished(&env.client, &job.id, TIMEOUT).await;
    let text = logs(&env, &job.id).await;
    assert_eq!(
        done.status,
        JobStatus::Succeeded,
        "{text} {:?}",
        done.history
    );
    assert_eq!(text, "from-image-cmd\n/work\nfrom-image\n/bin\n");
    assert!(
        done.history
            .transitions
            .iter()
            .all(|t| !t.description.contains("host")),
        "{:?}",
        done.history
    );
}

#[tokio::test]
async fn job_sees_only_the_image_and_its_mounts() {
    let env = Env::start().await;
    let storage = env.client.storage();
    storage.mkdir("storage:inputs", false, false).await.unwrap();
    let data = futures::stream::iter([Ok(Bytes::from_static(b"input bytes\n"))]);
    storage.create("storage:inputs/in.txt", data).await.unwrap();

    let mut job = busybox_job(&env).await;
    // The job's command replaces the image's Cmd; its env and working dir win.
    job.container.command = Some(
        "/bin/busybox sh -c 'ls /; cat /etc/image-release; \
         test -e /etc/removed || echo whiteout-honoured; cat /etc/added; ls /etc/opaque; \
         test -e /usr || echo no-host-usr; cat /data/in/in.txt; echo out > /data/out/out.txt; \
         pwd; echo $IMAGE_VAR; echo scratch > /etc/scratch && echo image-writable'"
            .into(),
    );
    job.container
        .env
        .insert("IMAGE_VAR".into(), "from-job".into());
    job.container.working_dir = Some("/tmp".into());
    job.container.volumes = vec![
        Volume {
            storage_uri: Url::parse("storage:inputs").unwrap(),
            container_path: "/data/in".into(),
            read_only: true,
        },
        Volume {
            storage_uri: Url::parse("storage:outputs").unwrap(),
            container_path: "/data/out".into(),
            read_only: false,
        },
    ];
    let job = env.client.jobs().start(job).await.unwrap();
    let done = wait_finished(&env.client, &job.id, TIMEOUT).await;
    let text = logs(&env, &job.id).await;
    assert_eq!(
        done.status,
        JobStatus::Succeeded,
        "{text} {:?}",
        done.history
    );
    assert_eq!(
        text,
        "bin\ndata\ndev\netc\nproc\nsys\ntmp\nwork\n\
         busybox-test\nwhiteout-honoured\nlayer2\nnew\nno-host-usr\ninput bytes\n\
         /tmp\nfrom-job\nimage-writable\n"
    );
    let out: Vec<Bytes> = storage
        .open("storage:outputs/out.txt", 0, None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(out.concat(), b"out\n");

    // The job's writes stay in its own layer: a second job sees the image unchanged.
    let mut again = busybox_job(&env).await;
    again.container.command = Some("/bin/sh -c 'test -e /etc/scratch || echo pristine'".into());
    let again = env.client.jobs().start(again).await.unwrap();
    let done = wait_finished(&env.client, &again.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(logs(&env, &again.id).await, "pristine\n");
}

#[tokio::test]
async fn an_image_outside_the_registry_runs_on_the_host() {
    let env = Env::start().await;
    let job = shell_job("test -d /usr && echo host-usr");
    let job = env.client.jobs().start(job).await.unwrap();
    let done = wait_finished(&env.client, &job.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Succeeded);
    assert_eq!(logs(&env, &job.id).await, "host-usr\n");
    let running = done
        .history
        .transitions
        .iter()
        .find(|t| t.status == JobStatus::Running)
        .unwrap();
    assert!(
        running
            .description
            .contains("ubuntu:latest is not in this platform's registry"),
        "{running:?}"
    );
}

#[tokio::test]
async fn another_users_image_needs_read_access() {
    let env = Env::start().await;
    let job = busybox_job(&env).await;
    let bob = env.user("bob").await;
    let job = bob.jobs().start(job).await.unwrap();
    let done = wait_finished(&bob, &job.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Failed);
    assert!(
        done.history
            .description
            .contains("no read access to the image"),
        "{:?}",
        done.history
    );
}
