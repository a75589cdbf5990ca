//! Jobs through the SDK against a real neuro-local running real processes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{wait_finished, wait_for, Env};
use futures::TryStreamExt;
use neuro_sdk::{
    Container, ContainerOptions, HttpPort, JobFilter, JobPriority, JobRestartPolicy, JobRun,
    JobStart, JobStatus, RemoteImage, Resources,
};

const TIMEOUT: Duration = Duration::from_secs(60);

fn ubuntu() -> RemoteImage {
    RemoteImage::new_external_image("ubuntu", None, Some("latest".into()))
}

fn start(command: &str) -> JobStart {
    common::shell_job(command)
}

#[tokio::test]
async fn start_records_every_parameter_and_runs_the_command() {
    let env = Env::start().await;
    let out = env.dir.path().join("env.out");
    let mut job = start(&format!(
        "sh -c 'echo \"$GREETING\" > {}; pwd >> {}'",
        out.display(),
        out.display()
    ));
    job.options.name = Some("all-params".into());
    job.options.tags = vec!["b".into(), "a".into()];
    job.options.description = Some("every parameter".into());
    job.options.life_span = Some(3600.0);
    job.options.schedule_timeout = Some(30.0);
    job.options.restart_policy = JobRestartPolicy::Never;
    job.options.priority = Some(JobPriority::High);
    job.container.env = BTreeMap::from([("GREETING".into(), "hello env".into())]);
    job.container.working_dir = Some(env.dir.path().display().to_string());
    job.container.http = Some(HttpPort {
        port: 8080,
        requires_auth: false,
    });
    let started = env.client.jobs().start(job).await.unwrap();
    assert!(started.id.starts_with("job-"));
    assert_eq!(started.owner, "admin");
    assert_eq!(started.cluster_name, "default");
    assert_eq!(started.name.as_deref(), Some("all-params"));
    assert_eq!(started.tags, vec!["a".to_owned(), "b".to_owned()]);
    assert_eq!(started.description.as_deref(), Some("every parameter"));
    assert_eq!(started.life_span, Some(3600.0));
    assert_eq!(started.schedule_timeout, Some(30.0));
    assert_eq!(started.priority, JobPriority::High);
    assert_eq!(started.restart_policy, JobRestartPolicy::Never);
    assert!(!started.pass_config);
    assert_eq!(
        started.internal_hostname.as_deref(),
        Some(format!("{}.platform-jobs", started.id).as_str())
    );
    assert_eq!(
        started.internal_hostname_named.as_deref(),
        Some("all-params--admin.platform-jobs")
    );
    assert_eq!(started.preset_name.as_deref(), Some("cpu-small"));
    assert_eq!(
        started.container.image.as_docker_url(false),
        "ubuntu:latest"
    );
    assert_eq!(
        started
            .container
            .settings
            .env
            .get("GREETING")
            .map(String::as_str),
        Some("hello env")
    );
    assert_eq!(
        started.container.settings.http.as_ref().map(|h| h.port),
        Some(8080)
    );
    assert_eq!(
        started.uri.as_str(),
        format!("job://default/admin/{}", started.id)
    );

    let done = wait_finished(&env.client, &started.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.history);
    assert_eq!(done.history.exit_code, Some(0));
    let written = std::fs::read_to_string(&out).unwrap();
    assert_eq!(
        written,
        format!("hello env\n{}\n", env.dir.path().display()),
        "the job saw its env and working dir"
    );
    let statuses: Vec<JobStatus> = done.history.transitions.iter().map(|t| t.status).collect();
    assert_eq!(
        statuses,
        [JobStatus::Pending, JobStatus::Running, JobStatus::Succeeded]
    );
    assert!(done.history.created_at.is_some());
    assert!(done.history.started_at.is_some());
    assert!(done.history.finished_at.is_some());
}

#[tokio::test]
async fn failing_job_reports_exit_code_and_reason() {
    let env = Env::start().await;
    let job = env.client.jobs().start(start("exit 3")).await.unwrap();
    let done = wait_finished(&env.client, &job.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Failed);
    assert_eq!(done.history.exit_code, Some(3));
    // The default restart policy, never: one run only.
    assert_eq!(done.history.restarts, 0);
    assert!(!done.history.reason.is_empty());
    let last = done.history.transitions.last().unwrap();
    assert_eq!(last.status, JobStatus::Failed);
    assert_eq!(last.exit_code, Some(3));
}

#[tokio::test]
async fn run_with_explicit_resources() {
    let env = Env::start().await;
    let container = Container {
        settings: ContainerOptions {
            command: Some("true".into()),
            ..ContainerOptions::default()
        },
        ..Container::new(ubuntu(), Resources::new(64 << 20, 0.1))
    };
    let mut run = JobRun::new(container);
    run.options.name = Some("run-form".into());
    let job = env.client.jobs().run(run).await.unwrap();
    assert_eq!(job.container.resources.memory, 64 << 20);
    assert_eq!(job.container.resources.cpu, 0.1);
    assert_eq!(job.preset_name, None);
    let done = wait_finished(&env.client, &job.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Succeeded);
}

#[tokio::test]
async fn kill_cancels_and_ends_the_process_group() {
    let env = Env::start().await;
    let pid_file = env.dir.path().join("pids");
    let command = format!(
        "sh -c 'sleep 300 & echo $! > {p}; echo $$ >> {p}; wait'",
        p = pid_file.display()
    );
    let job = env.client.jobs().start(start(&command)).await.unwrap();
    wait_for(&env.client, &job.id, TIMEOUT, |j| j.status.is_running()).await;
    let pids = wait_for_pids(&pid_file, 2).await;
    env.client.jobs().kill(&job.id).await.unwrap();
    let done = wait_finished(&env.client, &job.id, TIMEOUT).await;
    assert_eq!(done.status, JobStatus::Cancelled);
    // The shell and its child `sleep` are both gone.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    for pid in pids {
        while process_alive(pid) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "pid {pid} survived the kill"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Killing a finished job is harmless.
    env.client.jobs().kill(&job.id).await.unwrap();
}

#[tokio::test]
async fn unknown_job_is_not_found() {
    let env = Env::start().await;
    let err = env
        .client
        .jobs()
        .status("job-00000000-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let err = env
        .client
        .jobs()
        .kill("job-00000000-0000-0000-0000-000000000000")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
}

#[tokio::test]
async fn list_filters() {
    let env = Env::start().await;
    let jobs = env.client.jobs();
    let mut first = start("true");
    first.options.name = Some("first-job".into());
    first.options.tags = vec!["exp".into(), "one".into()];
    let first = jobs.start(first).await.unwrap();
    wait_finished(&env.client, &first.id, TIMEOUT).await;

    let mut second = start("sleep 300");
    second.options.name = Some("second-job".into());
    second.options.tags = vec!["exp".into()];
    let second = jobs.start(second).await.unwrap();
    wait_for(&env.client, &second.id, TIMEOUT, |j| j.status.is_running()).await;

    let ids = |filter: JobFilter| {
        let jobs = jobs.clone();
        async move {
            jobs.list(filter)
                .map_ok(|j| j.id)
                .try_collect::<Vec<_>>()
                .await
                .unwrap()
        }
    };
    assert_eq!(
        ids(JobFilter::default()).await,
        vec![first.id.clone(), second.id.clone()]
    );
    assert_eq!(
        ids(JobFilter::default().reverse(true)).await,
        vec![second.id.clone(), first.id.clone()]
    );
    assert_eq!(
        ids(JobFilter::default().limit(1)).await,
        vec![first.id.clone()]
    );
    assert_eq!(
        ids(JobFilter::default().statuses([JobStatus::Running])).await,
        vec![second.id.clone()]
    );
    assert_eq!(
        ids(JobFilter::default().statuses(JobStatus::finished_items().iter().copied())).await,
        vec![first.id.clone()]
    );
    assert_eq!(
        ids(JobFilter::default().name("first-job")).await,
        vec![first.id.clone()]
    );
    assert_eq!(
        ids(JobFilter::default().tag("one")).await,
        vec![first.id.clone()]
    );
    assert_eq!(
        ids(JobFilter::default().tag("exp")).await,
        vec![first.id.clone(), second.id.clone()]
    );
    assert_eq!(ids(JobFilter::default().owner("admin")).await.len(), 2);
    assert!(ids(JobFilter::default().owner("nobody")).await.is_empty());
    let created = second.history.created_at.unwrap();
    assert_eq!(
        ids(JobFilter::default().since(created)).await,
        vec![second.id.clone()]
    );
    assert_eq!(
        ids(JobFilter::default().until(created - time::Duration::milliseconds(1))).await,
        vec![first.id.clone()]
    );

    // A zero limit is refused before anything is sent.
    let err = jobs
        .list(JobFilter {
            limit: Some(0),
            ..JobFilter::default()
        })
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(matches!(err, neuro_sdk::JobsError::InvalidArgument(_)));

    // Other users see none of admin's jobs.
    let bob = env.user("bob").await;
    let bobs: Vec<_> = bob
        .jobs()
        .list(JobFilter::default())
        .try_collect()
        .await
        .unwrap();
    assert!(bobs.is_empty());
    let err = bob.jobs().status(&first.id).await.unwrap_err();
    let status = err.http().and_then(|e| e.status()).unwrap();
    assert!(status == 403 || status == 404, "{err:?}");

    jobs.kill(&second.id).await.unwrap();
}

async fn wait_for_pids(path: &std::path::Path, count: usize) -> Vec<i32> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            let pids: Vec<i32> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
            if pids.len() >= count {
                return pids;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job did not write its pids"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn process_alive(pid: i32) -> bool {
    // A zombie has been killed; only a live process has state other than Z.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}
