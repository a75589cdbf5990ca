//! The jobs API over real HTTP, with real processes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::time::{Duration, Instant};

use common::{Client, Resp};
use http::{Method, StatusCode};
use neuro_local::RunningPlatform;
use serde_json::{json, Value};

const JOBS: &str = "/api/v1/jobs";

async fn post(c: &Client, token: &str, from_preset: bool, body: Value) -> Resp {
    let path = if from_preset {
        format!("{JOBS}?from_preset")
    } else {
        JOBS.to_owned()
    };
    c.req(
        Method::POST,
        &path,
        Some(token),
        &[("Content-Type", "application/json")],
        body.to_string(),
    )
    .await
}

/// Starts `command` from the `cpu-small` preset; returns the job object.
async fn start(c: &Client, token: &str, command: &str, extra: Value) -> Value {
    let mut body = json!({"pass_config": false, "preset_name": "cpu-small",
                          "cluster_name": "default", "image": "ubuntu:latest",
                          "command": command});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = post(c, token, true, body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    r.json()
}

/// Runs `command` with explicit resources; returns the job object.
async fn run(c: &Client, token: &str, command: &str, cpu: f64, memory: u64) -> Value {
    let body = json!({"pass_config": false, "cluster_name": "default",
        "container": {"image": "ubuntu:latest", "command": command,
                      "resources": {"cpu": cpu, "memory": memory, "shm": true}},
        "scheduler_enabled": false});
    let r = post(c, token, false, body).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text());
    r.json()
}

async fn status(c: &Client, token: &str, id: &str) -> Value {
    let r = c.get(&format!("{JOBS}/{id}"), token).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    r.json()
}

/// Polls until `pred` holds for the job (10 s at most).
async fn wait_for(c: &Client, token: &str, id: &str, pred: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..500 {
        let job = status(c, token, id).await;
        if pred(&job) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("job {id} never got there: {}", status(c, token, id).await);
}

fn finished(job: &Value) -> bool {
    matches!(
        job["status"].as_str(),
        Some("succeeded" | "failed" | "cancelled")
    )
}

fn is(status: &'static str) -> impl Fn(&Value) -> bool {
    move |job| job["status"] == status
}

fn statuses(job: &Value) -> Vec<(String, String)> {
    job["statuses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["status"].as_str().unwrap().to_owned(),
                s["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Live processes whose environment says they belong to job `id`.
fn job_processes(id: &str) -> Vec<i32> {
    let needle = format!("NEURO_JOB_ID={id}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .is_ok_and(|env| env.split(|b| *b == 0).any(|var| var == needle.as_bytes()))
        })
        .collect()
}

async fn platform() -> (RunningPlatform, Client, String) {
    let p = common::start().await;
    let c = Client::new(&p);
    let token = p.create_user("alice").await.unwrap();
    (p, c, token)
}

#[tokio::test]
async fn failing_job_records_exit_code_and_log() {
    let (p, c, token) = platform().await;
    let job = start(
        &c,
        &token,
        "sh -c 'echo hi; echo err >&2; exit 3'",
        json!({"tags": ["b", "a", "b"]}),
    )
    .await;
    let id = job["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("job-") && id.len() == 40, "{id}");
    assert_eq!(job["status"], "pending");
    assert_eq!(job["history"]["reason"], "Creating");
    assert_eq!(job["owner"], "alice");
    assert_eq!(job["cluster_name"], "default");
    assert_eq!(job["uri"], format!("job://default/alice/{id}"));
    assert_eq!(job["tags"], json!(["a", "b"]));
    assert_eq!(job["preset_name"], "cpu-small");
    assert_eq!(job["internal_hostname"], format!("{id}.platform-jobs"));
    let preset = p.settings().preset("cpu-small").unwrap().clone();
    assert_eq!(job["container"]["resources"]["cpu"], preset.cpu);
    assert_eq!(job["container"]["resources"]["memory"], preset.memory);
    assert_eq!(
        job["container"]["resources"]["memory_mb"],
        preset.memory >> 20
    );
    assert_eq!(
        job["price_credits_per_hour"],
        preset.credits_per_hour.to_string()
    );

    let job = wait_for(&c, &token, &id, finished).await;
    assert_eq!(job["status"], "failed");
    assert_eq!(job["history"]["exit_code"], 3);
    assert_eq!(job["history"]["reason"], "Error");
    assert_eq!(job["history"]["description"], "Exit code: 3");
    assert!(job["history"]["finished_at"]
        .as_str()
        .unwrap()
        .ends_with("+00:00"));
    assert_eq!(
        statuses(&job),
        [
            ("pending".to_owned(), "Creating".to_owned()),
            ("running".to_owned(), String::new()),
            ("failed".to_owned(), "Error".to_owned()),
        ]
    );
    let log = std::fs::read_to_string(p.data_dir().join("jobs").join(&id).join("log")).unwrap();
    assert_eq!(log, "hi\nerr\n");
    p.shutdown().await;
}

#[tokio::test]
async fn kill_ends_the_whole_process_group() {
    let (p, c, token) = platform().await;
    let job = start(
        &c,
        &token,
        "sh -c 'sleep 30 & sleep 30; wait'",
        json!({"name": "sleeper"}),
    )
    .await;
    let id = job["id"].as_str().unwrap().to_owned();
    wait_for(&c, &token, &id, is("running")).await;
    // The shell, its shell child and the two sleeps.
    for _ in 0..100 {
        if job_processes(&id).len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(job_processes(&id).len() >= 3, "{:?}", job_processes(&id));

    let started = Instant::now();
    let r = c
        .req(
            Method::DELETE,
            &format!("{JOBS}/sleeper"),
            Some(&token),
            &[],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let job = status(&c, &token, &id).await;
    assert_eq!(job["status"], "cancelled");
    assert_eq!(job["history"]["reason"], "UserRequested");
    assert!(job["history"]["finished_at"].is_string());
    for _ in 0..50 {
        if job_processes(&id).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(job_processes(&id), Vec::<i32>::new());

    // Killing a finished job is a no-op.
    let r = c
        .req(
            Method::DELETE,
            &format!("{JOBS}/{id}"),
            Some(&token),
            &[],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        status(&c, &token, &id).await["statuses"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    p.shutdown().await;
}

#[tokio::test]
async fn second_big_job_waits_for_capacity() {
    let (p, c, token) = platform().await;
    let cpu = p.settings().total_cpu * 0.6;
    let first = run(&c, &token, "sleep 30", cpu, 64 << 20).await;
    let first_id = first["id"].as_str().unwrap().to_owned();
    wait_for(&c, &token, &first_id, is("running")).await;
    let second = run(&c, &token, "echo second", cpu, 64 << 20).await;
    let second_id = second["id"].as_str().unwrap().to_owned();
    let waiting = wait_for(&c, &token, &second_id, |j| {
        j["history"]["reason"] == "Scheduling"
    })
    .await;
    assert_eq!(waiting["status"], "pending");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(status(&c, &token, &second_id).await["status"], "pending");
    // The machine has no room for another cpu-large job either.
    let r = c.get(&format!("{JOBS}/capacity"), &token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json()["cpu-large"] == 0, "{}", r.text());

    let r = c
        .req(
            Method::DELETE,
            &format!("{JOBS}/{first_id}"),
            Some(&token),
            &[],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let done = wait_for(&c, &token, &second_id, finished).await;
    assert_eq!(done["status"], "succeeded");
    assert_eq!(
        statuses(&done),
        [
            ("pending".to_owned(), "Creating".to_owned()),
            ("pending".to_owned(), "Scheduling".to_owned()),
            ("running".to_owned(), String::new()),
            ("succeeded".to_owned(), "Completed".to_owned()),
        ]
    );
    p.shutdown().await;
}

#[tokio::test]
async fn list_filters_over_ndjson_and_json() {
    let (p, c, token) = platform().await;
    let bob = p.create_user("bob").await.unwrap();
    let a = start(
        &c,
        &token,
        "true",
        json!({"name": "first-one", "tags": ["x", "y"]}),
    )
    .await;
    let a = a["id"].as_str().unwrap().to_owned();
    wait_for(&c, &token, &a, finished).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let middle = time_of(&status(&c, &token, &a).await["history"]["finished_at"]);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let b = start(
        &c,
        &token,
        "sleep 30",
        json!({"name": "second-one", "tags": ["x"]}),
    )
    .await;
    let b = b["id"].as_str().unwrap().to_owned();
    wait_for(&c, &token, &b, is("running")).await;
    let bobs = start(&c, &bob, "true", json!({"tags": ["x"]})).await;
    let bobs = bobs["id"].as_str().unwrap().to_owned();

    let list = |query: String| {
        let (c, token) = (&c, &token);
        async move {
            let r = c
                .req(
                    Method::GET,
                    &format!("{JOBS}?{query}"),
                    Some(token),
                    &[("Accept", "application/x-ndjson")],
                    "",
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text());
            assert_eq!(r.header("content-type"), Some("application/x-ndjson"));
            let ids: Vec<String> = r
                .ndjson_lf()
                .iter()
                .map(|j| j["id"].as_str().unwrap().to_owned())
                .collect();
            ids
        }
    };
    let base = "cluster_name=default&being_dropped=False&logs_removed=False";
    assert_eq!(list(base.to_owned()).await, [a.clone(), b.clone()]);
    assert_eq!(
        list(format!("{base}&reverse=1")).await,
        [b.clone(), a.clone()]
    );
    assert_eq!(
        list(format!("{base}&reverse=1&limit=1")).await,
        [b.as_str()]
    );
    assert_eq!(list(format!("{base}&status=running")).await, [b.as_str()]);
    assert_eq!(
        list(format!("{base}&status=running&status=succeeded")).await,
        [a.clone(), b.clone()]
    );
    assert_eq!(list(format!("{base}&name=first-one")).await, [a.as_str()]);
    assert_eq!(list(format!("{base}&tag=x")).await, [a.clone(), b.clone()]);
    assert_eq!(list(format!("{base}&tag=x&tag=y")).await, [a.as_str()]);
    assert_eq!(list(format!("{base}&tag=z")).await, Vec::<String>::new());
    let since = middle.replace('+', "%2B");
    assert_eq!(list(format!("{base}&since={since}")).await, [b.as_str()]);
    assert_eq!(list(format!("{base}&until={since}")).await, [a.as_str()]);
    assert_eq!(
        list(format!("{base}&owner=alice")).await,
        [a.clone(), b.clone()]
    );
    assert_eq!(
        list(format!("{base}&owner=bob")).await,
        Vec::<String>::new()
    );
    assert_eq!(
        list(format!("{base}&materialized=True")).await,
        [b.as_str()]
    );
    assert_eq!(
        list("cluster_name=other".to_owned()).await,
        Vec::<String>::new()
    );
    assert_eq!(list(String::new()).await, [a.clone(), b.clone()]);

    // The plain JSON form.
    let r = c.get(&format!("{JOBS}?{base}&reverse=1"), &token).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    let ids: Vec<_> = r.json()["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| j["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, [b.clone(), a.clone()]);
    // Bob sees only his job.
    let r = c.get(JOBS, &bob).await;
    assert_eq!(r.json()["jobs"].as_array().unwrap().len(), 1);
    assert_eq!(r.json()["jobs"][0]["id"], bobs);

    for bad in [
        "limit=0",
        "limit=-1",
        "status=bogus",
        "since=yesterday",
        "reverse=maybe",
    ] {
        let r = c.get(&format!("{JOBS}?{bad}"), &token).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(r.json()["error"].is_string());
    }
    p.shutdown().await;
}

fn time_of(v: &Value) -> String {
    v.as_str().unwrap().to_owned()
}

#[tokio::test]
async fn names_access_and_life_span() {
    let (p, c, token) = platform().await;
    let bob = p.create_user("bob").await.unwrap();
    let job = start(
        &c,
        &token,
        "sleep 30",
        json!({"name": "unique-name", "max_run_time_minutes": 10}),
    )
    .await;
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(job["name"], "unique-name");
    assert_eq!(job["max_run_time_minutes"], 10);

    // A second unfinished job with the name is refused.
    let body = json!({"preset_name": "cpu-small", "image": "ubuntu", "name": "unique-name"});
    let r = post(&c, &token, true, body.clone()).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json()["error"],
        format!("Failed to create job: job with name 'unique-name' and owner 'alice' already exists: '{id}'")
    );
    // Another user may use it.
    assert_eq!(
        post(&c, &bob, true, body.clone()).await.status,
        StatusCode::ACCEPTED
    );

    // Status by name; other users get 403, unknown jobs 404.
    assert_eq!(status(&c, &token, "unique-name").await["id"], id);
    assert_eq!(
        c.get(&format!("{JOBS}/{id}"), &bob).await.status,
        StatusCode::FORBIDDEN
    );
    let r = c
        .req(Method::DELETE, &format!("{JOBS}/{id}"), Some(&bob), &[], "")
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = c
        .get(
            &format!("{JOBS}/job-00000000-0000-0000-0000-000000000000"),
            &token,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.json()["error"],
        "no such job job-00000000-0000-0000-0000-000000000000"
    );
    assert_eq!(
        c.get(&format!("{JOBS}/{id}"), "bad-token").await.status,
        StatusCode::UNAUTHORIZED
    );

    // Life span.
    let path = format!("{JOBS}/{id}/max_run_time_minutes");
    let r = c
        .req(
            Method::PUT,
            &path,
            Some(&token),
            &[],
            r#"{"additional_max_run_time_minutes": 5}"#,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text());
    assert_eq!(status(&c, &token, &id).await["max_run_time_minutes"], 15);
    for bad in [r#"{}"#, r#"{"additional_max_run_time_minutes": 0}"#, "nope"] {
        let r = c.req(Method::PUT, &path, Some(&token), &[], bad).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }

    // Once it is finished, the name is free again.
    let r = c
        .req(
            Method::DELETE,
            &format!("{JOBS}/unique-name"),
            Some(&token),
            &[],
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let again = post(&c, &token, true, body).await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.text());
    assert_ne!(again.json()["id"], id);
    p.shutdown().await;
}

#[tokio::test]
async fn submission_errors() {
    let (p, c, token) = platform().await;
    let cases = [
        (
            true,
            json!({"preset_name": "nope", "image": "ubuntu"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            true,
            json!({"preset_name": "cpu-small", "image": "ubuntu", "cluster_name": "other"}),
            StatusCode::FORBIDDEN,
        ),
        (
            true,
            json!({"preset_name": "cpu-small", "image": "ubuntu", "org_name": "org"}),
            StatusCode::FORBIDDEN,
        ),
        (
            true,
            json!({"preset_name": "cpu-small", "image": "ubuntu", "name": "X"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            true,
            json!({"preset_name": "cpu-small"}),
            StatusCode::BAD_REQUEST,
        ),
        (
            false,
            json!({"cluster_name": "default", "container": {"image": "ubuntu"}}),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (from_preset, body, expected) in cases {
        let r = post(&c, &token, from_preset, body.clone()).await;
        assert_eq!(r.status, expected, "{body}: {}", r.text());
        assert!(r.json()["error"].is_string(), "{}", r.text());
    }
    let r = c
        .req(
            Method::POST,
            JOBS,
            None,
            &[("Content-Type", "application/json")],
            "{}",
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    p.shutdown().await;
}

#[tokio::test]
async fn pass_config_gives_the_job_a_working_login() {
    let (p, c, token) = platform().await;
    let job = start(
        &c,
        &token,
        "sh -c 'echo $NEURO_PASSED_CONFIG'",
        json!({"pass_config": true}),
    )
    .await;
    let id = job["id"].as_str().unwrap().to_owned();
    assert_eq!(job["pass_config"], true);
    let job = wait_for(&c, &token, &id, finished).await;
    assert_eq!(job["status"], "succeeded");
    assert!(job["container"].get("env").is_none());
    let log = std::fs::read_to_string(p.data_dir().join("jobs").join(&id).join("log")).unwrap();
    use base64::Engine as _;
    let config = base64::engine::general_purpose::STANDARD
        .decode(log.trim())
        .unwrap();
    let config: Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["cluster"], "default");
    assert_eq!(config["url"], p.api_url().as_str());
    let r = c
        .get("/api/v1/config", config["token"].as_str().unwrap())
        .await;
    assert_eq!(r.json()["authorized"], true);
    p.shutdown().await;
}
