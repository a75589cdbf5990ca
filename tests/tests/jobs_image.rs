//! Jobs whose image is in neuro-local's registry run inside it: the test
//! pushes a busybox image built here, and jobs see only the image's files plus
//! their mounts, with the image's command, environment and working directory
//! unless they override them. Jobs of other images run on the host, and say so.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::image::{busybox_image, push};
use common::{shell_job, start_running, wait_finished, Env};
use futures::TryStreamExt as _;
use neuro_sdk::jobs::StdStreamOptions;
use neuro_sdk::types::TagOption;
use neuro_sdk::{DiskCreate, DiskVolume, JobStart, JobStatus, SecretFile, SecretOptions, Volume};
use url::Url;

const TIMEOUT: Duration = Duration::from_secs(120);

async fn logs(env: &Env, id: &str) -> String {
    common::job_logs(&env.client, id).await
}

/// Starts `job` as the admin, waits for its end and requires success; its output.
async fn succeeds(env: &Env, job: JobStart) -> String {
    let job = env.client.jobs().start(job).await.unwrap();
    let done = wait_finished(&env.client, &job.id, TIMEOUT).await;
    let text = logs(env, &job.id).await;
    assert_eq!(
        done.status,
        JobStatus::Succeeded,
        "{text} {:?}",
        done.history
    );
    text
}

/// Pushes the busybox image as `busybox:v1` of the admin; the job start of it.
async fn busybox_job(env: &Env) -> JobStart {
    image_job(
        env,
        "busybox:v1",
        serde_json::json!({
            "Cmd": ["/bin/sh", "-c", "echo from-image-cmd; pwd; echo $IMAGE_VAR; echo $PATH"],
            "Env": ["PATH=/bin", "IMAGE_VAR=from-image"],
            "WorkingDir": "/work",
        }),
    )
    .await
}

/// Pushes the busybox image with the runtime configuration `config` as
/// `name:tag` of the admin; the job start of it.
async fn image_job(env: &Env, name_tag: &str, config: serde_json::Value) -> JobStart {
    let image = busybox_image(config);
    let (name, tag) = name_tag.split_once(':').unwrap();
    let client = &env.client;
    let registry = client.config().registry_url().clone();
    push(
        client,
        &registry,
        &format!("{}/{name}", client.username()),
        tag,
        &image,
    )
    .await;
    let remote = client
        .config()
        .image_context()
        .parse_remote(&format!("image:{name_tag}"), TagOption::Default)
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
    let text = succeeds(&env, job).await;
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
    assert_eq!(succeeds(&env, again).await, "pristine\n");
}

#[tokio::test]
async fn image_entrypoint_with_secrets_and_disks_inside() {
    let env = Env::start().await;
    let client = &env.client;
    let config = serde_json::json!({
        "Entrypoint": ["/bin/sh", "-c"],
        "Cmd": ["echo from-entrypoint-and-cmd"],
        "Env": ["PATH=/bin"],
    });
    // The image's Entrypoint and Cmd together.
    let job = image_job(&env, "entry:v1", config.clone()).await;
    assert_eq!(succeeds(&env, job).await, "from-entrypoint-and-cmd\n");

    // The job's command replaces Cmd and keeps the Entrypoint; a secret (as a
    // variable and as a file) and a disk are there inside the image.
    client
        .secrets()
        .add("api-key", b"s3cr3t", &SecretOptions::default())
        .await
        .unwrap();
    let disk = client
        .disks()
        .create(DiskCreate::new(16 << 20))
        .await
        .unwrap();
    let secret = Url::parse(&format!("secret://default/{}/api-key", client.username())).unwrap();
    let mut job = image_job(&env, "entry:v1", config).await;
    job.container.command = Some(
        "'echo $API_KEY; cat /run/keys/api-key; echo; echo kept > /mnt/disk/f; \
         cat /mnt/disk/f; ls /; ls /run'"
            .into(),
    );
    job.container
        .secret_env
        .insert("API_KEY".into(), secret.clone());
    job.container.secret_files.push(SecretFile {
        secret_uri: secret,
        container_path: "/run/keys/api-key".into(),
    });
    job.container.disk_volumes.push(DiskVolume {
        disk_uri: disk.uri().unwrap(),
        container_path: "/mnt/disk".into(),
        read_only: false,
    });
    assert_eq!(
        succeeds(&env, job).await,
        "s3cr3t\ns3cr3t\nkept\nbin\ndata\ndev\netc\nmnt\nproc\nrun\nsys\ntmp\nwork\nkeys\n"
    );
    // The disk kept what the job wrote.
    let mut check = image_job(&env, "entry:v1", serde_json::json!({"Env": ["PATH=/bin"]})).await;
    check.container.command = Some("cat /d/f".into());
    check.container.disk_volumes.push(DiskVolume {
        disk_uri: disk.uri().unwrap(),
        container_path: "/d".into(),
        read_only: true,
    });
    assert_eq!(succeeds(&env, check).await, "kept\n");
}

#[tokio::test]
async fn exec_runs_inside_the_image() {
    let env = Env::start().await;
    let mut job = busybox_job(&env).await;
    job.container.command =
        Some("/bin/sh -c 'echo job-wrote > /tmp/mark; /bin/busybox sleep 300'".into());
    let job = start_running(&env.client, job, TIMEOUT).await;
    let jobs = env.client.jobs();
    let mut session = jobs
        .exec(
            &job.id,
            "sh -c 'cat /etc/image-release; busybox cat /tmp/mark; pwd; \
             test -e /usr || echo no-host-usr; echo $IMAGE_VAR'",
            StdStreamOptions::pipes(),
        )
        .await
        .unwrap();
    let mut out = String::new();
    let read = async {
        while let Some(message) = session.read_out().await.unwrap() {
            out.push_str(&String::from_utf8_lossy(&message.data));
        }
    };
    tokio::time::timeout(TIMEOUT, read).await.unwrap();
    assert_eq!(session.exit_status().unwrap().code, 0, "{out}");
    assert_eq!(
        out,
        "busybox-test\njob-wrote\n/work\nno-host-usr\nfrom-image\n"
    );
    jobs.kill(&job.id).await.unwrap();
    wait_finished(&env.client, &job.id, TIMEOUT).await;
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
