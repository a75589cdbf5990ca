//! Round trips of captured wire examples: decode -> model -> encode must give the
//! captured JSON back (compared as `serde_json::Value`, numbers by value: Python
//! may send `60` where we send `60.0`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use neuro_types::wire::{
    DeleteEventPayload, FileStatusEnvelope, FileStatusPayload, FileStatusesEnvelope,
    FileStatusesList, JobPayload, JobRunRequest, JobStartRequest, ServerConfigPayload,
    StoredAuthConfig, StoredCluster,
};
use neuro_types::{
    Action, AuthConfig, Cluster, FileStatus, FileStatusType, ImageContext, JobDescription,
    JobPriority, JobRestartPolicy, JobRun, JobStart, JobStatus, ModelError, OrgSelection,
    ServerConfig, StorageDeleteEvent, UriContext,
};
use serde_json::Value;
use url::Url;

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(name: &str) -> Value {
    serde_json::from_str(&fixture(name)).unwrap()
}

/// Structural equality with numbers compared by value.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[track_caller]
fn assert_same(got: &Value, want: &Value) {
    assert!(
        same(got, want),
        "got:\n{}\nwant:\n{}",
        serde_json::to_string_pretty(got).unwrap(),
        serde_json::to_string_pretty(want).unwrap()
    );
}

fn ctx(user: &str, org: Option<&str>) -> ImageContext {
    ImageContext::new(
        UriContext::new(user, "default", org.map(str::to_owned)),
        vec![("default".into(), "registry.neu.ro".into())],
    )
}

#[test]
fn start_body_round_trip() {
    let want = json("job_start_body.json");
    let request: JobStartRequest = serde_json::from_value(want.clone()).unwrap();
    let ctx = ctx("user", Some("myorg"));
    let start = JobStart::from_request(&request, &ctx).unwrap();
    assert_eq!(start.preset_name, "cpu-small");
    assert!(start.shm && start.privileged);
    assert_eq!(start.options.life_span, Some(0.0));
    assert_eq!(start.options.priority, Some(JobPriority::Low));
    assert_eq!(start.options.org, OrgSelection::Org("myorg".into()));
    assert_eq!(start.image.owner(), Some("user"));
    let body = serde_json::to_value(start.to_request(&ctx.uri).unwrap()).unwrap();
    assert_same(&body, &want);
}

#[test]
fn run_body_round_trip() {
    let want = json("job_run_body.json");
    let request: JobRunRequest = serde_json::from_value(want.clone()).unwrap();
    let ctx = ctx("user", None);
    let run = JobRun::from_request(&request, &ctx).unwrap();
    assert_eq!(run.options.life_span, Some(3660.0));
    assert_eq!(run.options.restart_policy, JobRestartPolicy::OnFailure);
    assert_eq!(run.options.schedule_timeout, Some(60.0));
    assert_eq!(run.container.resources.gpu, Some(1));
    assert_eq!(run.options.org, OrgSelection::NoOrg);
    let body = serde_json::to_value(run.to_request(&ctx.uri).unwrap()).unwrap();
    assert_same(&body, &want);
}

#[test]
fn full_job_round_trip() {
    let mut want = json("job_full.json");
    let payload: JobPayload = serde_json::from_value(want.clone()).unwrap();
    let job = JobDescription::from_payload(payload, &ctx("alice", Some("myorg"))).unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.history.transitions.len(), 4);
    assert_eq!(job.history.changed_at(), job.history.finished_at);
    assert_eq!(job.life_span, Some(3600.0));
    assert_eq!(job.priority, JobPriority::High);
    assert_eq!(
        job.http_url.as_ref().map(Url::as_str),
        Some("https://train--alice.jobs.default.example/")
    );
    assert_eq!(job.container.image.org_name(), Some("myorg"));
    assert_eq!(job.container.image.owner(), Some("alice"));
    assert!(job.internal.materialized);

    let got = serde_json::to_value(job.to_payload()).unwrap();
    // The model keeps one HTTP URL (the named one, as the SDK does) and no
    // health-check path; everything else must come back unchanged.
    assert_eq!(got["http_url"], want["http_url_named"]);
    let mut got = got;
    for v in [&mut got, &mut want] {
        let obj = v.as_object_mut().unwrap();
        obj.remove("http_url");
        obj.remove("http_url_named");
    }
    want["container"]["http"]
        .as_object_mut()
        .unwrap()
        .remove("health_check_path");
    assert_same(&got, &want);
}

#[test]
fn minimal_job_defaults() {
    let payload: JobPayload = serde_json::from_str(&fixture("job_minimal.json")).unwrap();
    let job = JobDescription::from_payload(payload, &ctx("alice", None)).unwrap();
    assert_eq!(job.status, JobStatus::Cancelled);
    assert_eq!(job.history.status, JobStatus::Unknown);
    assert_eq!(job.history.description, "");
    assert_eq!(job.history.changed_at(), None);
    assert_eq!(job.org_name, None);
    assert_eq!(job.name, None);
    assert_eq!(job.http_url, None);
    assert_eq!(job.life_span, None);
    assert_eq!(job.schedule_timeout, None);
    assert_eq!(job.restart_policy, JobRestartPolicy::Never);
    assert_eq!(job.priority, JobPriority::Normal);
    assert!(!job.preemptible_node && !job.privileged);
    assert!(job.container.resources.shm);
    assert_eq!(job.container.settings.http, None);
    assert!(job.container.settings.volumes.is_empty() && !job.container.settings.tty);
    assert_eq!(job.price_credits_per_hour.to_string(), "0.5");
    let back = serde_json::to_value(job.to_payload()).unwrap();
    assert_eq!(back["restart_policy"], "never");
    assert_eq!(back["priority"], "normal");
    assert_eq!(back["history"]["status"], "unknown");
    assert_eq!(back["container"]["image"], "ubuntu:20.04");
    assert_eq!(back["container"]["resources"]["memory_mb"], 100);
}

#[test]
fn unknown_status_and_bad_enums() {
    let mut value = json("job_minimal.json");
    value["status"] = "teleporting".into();
    value["history"]["status"] = "teleporting".into();
    value["statuses"] = serde_json::json!([{"transition_time": "2022-07-26T10:00:00+00:00"}]);
    let payload: JobPayload = serde_json::from_value(value.clone()).unwrap();
    let job = JobDescription::from_payload(payload, &ctx("alice", None)).unwrap();
    assert_eq!(job.status, JobStatus::Unknown);
    assert_eq!(job.history.transitions[0].status, JobStatus::Unknown);
    assert_eq!(
        job.history.changed_at(),
        Some(job.history.transitions[0].transition_time)
    );
    value["priority"] = "urgent".into();
    let payload: JobPayload = serde_json::from_value(value).unwrap();
    assert!(matches!(
        JobDescription::from_payload(payload, &ctx("alice", None)),
        Err(ModelError::InvalidValue(_))
    ));
}

#[test]
fn server_config_round_trip() {
    let want = json("server_config.json");
    let payload: ServerConfigPayload = serde_json::from_value(want.clone()).unwrap();
    let config = ServerConfig::from_payload(&payload).unwrap();
    let cluster = config.cluster("default").unwrap();
    assert_eq!(cluster.orgs, vec![None, Some("myorg".to_owned())]);
    let gpu = cluster.presets.get("gpu-k80").unwrap();
    assert_eq!(gpu.memory_mb(), 16384);
    assert_eq!(gpu.credits_per_hour.to_string(), "10");
    assert!(gpu.scheduler_enabled);
    let got = serde_json::to_value(config.to_payload(true)).unwrap();
    assert_same(&got, &want);
}

#[test]
fn stored_config_round_trip() {
    let want = json("stored_clusters.json");
    let stored = StoredCluster::list_from_json(&fixture("stored_clusters.json")).unwrap();
    let clusters: Vec<Cluster> = stored
        .iter()
        .map(|c| Cluster::from_stored(c).unwrap())
        .collect();
    let tpu = clusters[0].presets.get("tpu").unwrap();
    assert_eq!(tpu.tpu_software_version.as_deref(), Some("1.14"));
    let again: Vec<StoredCluster> = clusters.iter().map(Cluster::to_stored).collect();
    let got: Value = serde_json::from_str(&StoredCluster::list_to_json(&again).unwrap()).unwrap();
    assert_same(&got, &want);

    let want = json("stored_auth_config.json");
    let stored: StoredAuthConfig = serde_json::from_value(want.clone()).unwrap();
    let auth = AuthConfig::from_stored(&stored).unwrap();
    assert_same(&serde_json::to_value(auth.to_stored()).unwrap(), &want);

    // The /config example and the stored form describe the same cluster.
    let payload: ServerConfigPayload =
        serde_json::from_str(&fixture("server_config.json")).unwrap();
    let from_server = Cluster::from_payload(&payload.clusters[0]).unwrap();
    assert_eq!(from_server.name, clusters[0].name);
    assert_eq!(from_server.registry_url, clusters[0].registry_url);
}

#[test]
fn file_status_list_round_trip() {
    let listed = Url::parse("storage://default/alice/folder").unwrap();
    let text = fixture("file_status_list.ndjson");
    let mut names = Vec::new();
    for line in text.lines() {
        let want: Value = serde_json::from_str(line).unwrap();
        let envelope: FileStatusEnvelope = serde_json::from_value(want.clone()).unwrap();
        let status = FileStatus::from_list_payload(&envelope.file_status, &listed).unwrap();
        names.push((status.name().to_owned(), status.uri.to_string()));
        let got = serde_json::to_value(FileStatusEnvelope {
            file_status: status.to_payload(),
        })
        .unwrap();
        assert_same(&got, &want);
    }
    assert_eq!(
        names,
        [
            ("foo", "storage://default/alice/folder/foo"),
            ("my dir", "storage://default/alice/folder/my%20dir"),
            ("100%.txt", "storage://default/alice/folder/100%25.txt"),
            ("link", "storage://default/alice/folder/link"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );

    let want = json("file_statuses_legacy.json");
    let legacy: FileStatusesEnvelope = serde_json::from_value(want.clone()).unwrap();
    let statuses: Vec<FileStatus> = legacy
        .file_statuses
        .file_status
        .iter()
        .map(|p| FileStatus::from_list_payload(p, &listed).unwrap())
        .collect();
    assert!(statuses[1].is_dir() && statuses[1].permission == Action::Manage);
    let got = serde_json::to_value(FileStatusesEnvelope {
        file_statuses: FileStatusesList {
            file_status: statuses.iter().map(FileStatus::to_payload).collect(),
        },
    })
    .unwrap();
    assert_same(&got, &want);
}

#[test]
fn file_status_stat_round_trip() {
    let want = json("file_status_stat.json");
    let envelope: FileStatusEnvelope = serde_json::from_value(want.clone()).unwrap();
    let status = FileStatus::from_stat_payload(&envelope.file_status, "default").unwrap();
    assert_eq!(
        status.uri.as_str(),
        "storage://default/myorg/alice/folder/my%20file"
    );
    assert_eq!(status.name(), "my file");
    assert_eq!(status.size, 42);
    assert_eq!(status.permission, Action::Write);
    let got = serde_json::to_value(FileStatusEnvelope {
        file_status: status.to_payload(),
    })
    .unwrap();
    assert_same(&got, &want);
}

#[test]
fn file_status_odd_values() {
    let listed = Url::parse("storage://default/alice").unwrap();
    let parse = |text: &str| serde_json::from_str::<FileStatusPayload>(text).unwrap();
    // A float modification time is truncated; an unknown type is tolerated.
    let st = FileStatus::from_list_payload(
        &parse(r#"{"path": "x", "length": 1, "type": "SOCKET", "modificationTime": 1658829600.9, "permission": "read"}"#),
        &listed,
    )
    .unwrap();
    assert_eq!(st.file_type, FileStatusType::Unknown);
    assert_eq!(st.modification_time, 1658829600);
    // An unknown permission fails.
    let err = FileStatus::from_list_payload(
        &parse(r#"{"path": "x", "length": 1, "type": "FILE", "modificationTime": 1, "permission": "owner"}"#),
        &listed,
    )
    .unwrap_err();
    assert!(matches!(err, ModelError::InvalidValue(ref e) if e.value == "owner"));
}

#[test]
fn delete_lines_round_trip() {
    let text = fixture("delete_lines.ndjson");
    let mut uris = Vec::new();
    for line in text.lines() {
        let want: Value = serde_json::from_str(line).unwrap();
        let payload: DeleteEventPayload = serde_json::from_value(want.clone()).unwrap();
        let event = StorageDeleteEvent::from_payload(&payload, "default").unwrap();
        uris.push(event.uri.to_string());
        assert_same(&serde_json::to_value(event.to_payload()).unwrap(), &want);
    }
    assert_eq!(
        uris,
        [
            "storage://default/alice/folder/file",
            "storage://default/alice/folder/sub%20dir",
            "storage://default/alice/folder",
        ]
    );
}
