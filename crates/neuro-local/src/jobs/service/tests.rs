//! Tests of the jobs service with real processes and shortened timings.
#![allow(clippy::unwrap_used, clippy::panic)]

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

impl Fixture {
    /// A service with [`fast`] timings on this fixture's data dir.
    fn fast_service(&self) -> JobService {
        JobService::with_timing(self.settings.clone(), self.db.clone(), fast()).unwrap()
    }

    /// Submits a `cpu-small` job of alice's with `extra` body fields.
    async fn submit(&self, service: &JobService, extra: serde_json::Value) -> JobPayload {
        let s = submission(&self.settings, extra);
        service.submit("alice", s, None).await.unwrap()
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
        if JobStatus::from_wire(&job.status).is_finished() {
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
    let service = f.fast_service();
    let job = f
        .submit(
            &service,
            json!({"command": "sleep 30", "max_run_time_minutes": 1}),
        )
        .await;
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
    let service = f.fast_service();
    let job = f
        .submit(
            &service,
            json!({"command": "sleep 30", "max_run_time_minutes": 1}),
        )
        .await;
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
    let service = f.fast_service();
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
    let ok = f
        .submit(
            &service,
            json!({"command": "true", "restart_policy": "on-failure"}),
        )
        .await;
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
    let job = f
        .submit(
            &service,
            json!({"command": "exit 1", "restart_policy": "always"}),
        )
        .await;
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
    let service = f.fast_service();
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
async fn a_job_that_cannot_start_fails_with_a_description() {
    let f = fixture();
    let service = f.fast_service();
    // The jobs directory is replaced by a file: no job directory can be made.
    let jobs_dir = f.settings.jobs_dir();
    std::fs::remove_dir_all(&jobs_dir).unwrap();
    std::fs::write(&jobs_dir, "not a directory").unwrap();
    let job = f.submit(&service, json!({"command": "true"})).await;
    let job = wait_finished(&service, &job.id).await;
    assert_eq!(job.status, "failed");
    assert_eq!(job.history.reason, reason::CONTAINER_CANNOT_RUN);
    assert!(
        job.history
            .description
            .starts_with("Cannot prepare the job: cannot create the job's directories: "),
        "{}",
        job.history.description
    );
    assert_eq!(job.history.exit_code, None);
    service.shutdown().await;
}

#[tokio::test]
async fn env_and_working_dir() {
    let f = fixture();
    let service = f.fast_service();
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
    let service = f.fast_service();
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
    let after = f.fast_service();
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
