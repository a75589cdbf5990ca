//! Jobs across server restarts: graceful (shutdown) and crash (no shutdown).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::Client;
use http::{Method, StatusCode};
use neuro_local::LocalPlatform;
use serde_json::{json, Value};

const JOBS: &str = "/api/v1/jobs";

async fn run(c: &Client, token: &str, command: &str, cpu: f64) -> String {
    let body = json!({"cluster_name": "default",
        "container": {"image": "ubuntu", "command": command,
                      "resources": {"cpu": cpu, "memory": 64 << 20}}});
    let r = c
        .req(Method::POST, JOBS, Some(token), &[], body.to_string())
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    r.json()["id"].as_str().unwrap().to_owned()
}

async fn wait_for(c: &Client, token: &str, id: &str, status: &str) -> Value {
    for _ in 0..500 {
        let job = c.get(&format!("{JOBS}/{id}"), token).await.json();
        if job["status"] == status {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("job {id} never became {status}");
}

fn job_processes(id: &str) -> usize {
    let needle = format!("NEURO_JOB_ID={id}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|v| v == needle.as_bytes()))
        })
        .count()
}

async fn start(data: &Path) -> neuro_local::RunningPlatform {
    LocalPlatform::builder()
        .data_dir(data.to_path_buf())
        .start()
        .await
        .unwrap()
}

#[tokio::test]
async fn graceful_restart_loses_running_jobs_and_requeues_pending_ones() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let p = start(&data).await;
    let token = p.admin_token().to_owned();
    let total = p.settings().total_cpu;
    let c = Client::new(&p);
    let running = run(&c, &token, "sleep 30", total).await;
    wait_for(&c, &token, &running, "running").await;
    let pending = run(&c, &token, "echo later", total).await;
    wait_for(&c, &token, &pending, "pending").await;
    p.shutdown().await;
    assert_eq!(job_processes(&running), 0);

    let p = start(&data).await;
    let c = Client::new(&p);
    let lost = wait_for(&c, &token, &running, "failed").await;
    assert_eq!(lost["history"]["reason"], "Lost");
    assert_eq!(
        lost["history"]["description"],
        "neuro-local shut down while the job was running"
    );
    let done = wait_for(&c, &token, &pending, "succeeded").await;
    assert_eq!(done["history"]["exit_code"], 0);
    let log = std::fs::read_to_string(data.join("jobs").join(&pending).join("log")).unwrap();
    assert_eq!(log, "later\n");
    p.shutdown().await;
}

#[test]
fn crash_leaves_no_orphans() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");

    // First run: start a job, then "crash" (drop the runtime without shutdown).
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (token, id) = rt.block_on(async {
        let p = start(&data).await;
        let token = p.admin_token().to_owned();
        let c = Client::new(&p);
        let id = run(&c, &token, "sh -c 'sleep 30 & sleep 30; wait'", 0.1).await;
        wait_for(&c, &token, &id, "running").await;
        for _ in 0..100 {
            if job_processes(&id) >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        std::mem::forget(p);
        (token, id)
    });
    drop(rt);
    assert!(
        job_processes(&id) >= 3,
        "the job outlives the crashed server"
    );

    // Second run: the survivor is recognised, killed and the job marked lost.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let p = start(&data).await;
        let c = Client::new(&p);
        let job = c.get(&format!("{JOBS}/{id}"), &token).await.json();
        assert_eq!(job["status"], "failed");
        assert_eq!(job["history"]["reason"], "Lost");
        assert_eq!(
            job["history"]["description"],
            "neuro-local restarted while the job was running; its leftover processes were killed"
        );
        for _ in 0..50 {
            if job_processes(&id) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(job_processes(&id), 0);
        p.shutdown().await;
    });
}
