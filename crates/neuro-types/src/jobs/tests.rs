#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};
use time::macros::datetime;
use url::Url;

use super::*;
use crate::error::ModelError;
use crate::image::{ImageContext, RemoteImage};
use crate::uri::UriContext;
use crate::wire::JobPayload;

fn uri_ctx(org: Option<&str>) -> UriContext {
    UriContext::new("alice", "default", org.map(str::to_owned))
}

fn image_ctx() -> ImageContext {
    ImageContext::new(
        uri_ctx(None),
        vec![
            ("default".into(), "registry.neu.ro".into()),
            ("other".into(), "registry.other.example".into()),
        ],
    )
}

fn minimal_job(image: &str) -> Value {
    json!({
        "id": "job-1", "owner": "alice", "cluster_name": "default", "status": "pending",
        "history": {}, "container": {"image": image, "resources": {"memory": 2097152, "cpu": 0.5}},
        "scheduler_enabled": false, "pass_config": false, "uri": "job://default/alice/job-1",
        "total_price_credits": "0", "price_credits_per_hour": "0"
    })
}

fn decode(value: Value) -> Result<JobDescription, ModelError> {
    let payload: JobPayload = serde_json::from_value(value).unwrap();
    JobDescription::from_payload(payload, &image_ctx())
}

#[test]
fn status_sets() {
    assert_eq!(JobStatus::items().len(), 6);
    assert!(JobStatus::active_items().iter().all(|s| !s.is_finished()));
    assert!(JobStatus::finished_items().iter().all(|s| s.is_finished()));
    assert!(JobStatus::Suspended.is_pending() && JobStatus::Pending.is_pending());
    assert!(JobStatus::Running.is_running() && !JobStatus::Running.is_pending());
    assert!(!JobStatus::items().contains(&JobStatus::Unknown));
    for s in JobStatus::items() {
        assert_eq!(s.as_str().parse::<JobStatus>(), Ok(*s));
    }
    assert_eq!("exploded".parse::<JobStatus>(), Ok(JobStatus::Unknown));
    assert_eq!(JobStatus::from_wire("RUNNING"), JobStatus::Unknown);
}

#[test]
fn strict_status_parse_refuses_unknown() {
    for s in JobStatus::items() {
        assert_eq!(JobStatus::parse_known(s.as_str()), Ok(*s));
    }
    for bad in ["unknown", "RUNNING", "", " running", "exploded"] {
        let err = JobStatus::parse_known(bad).unwrap_err();
        assert_eq!((err.kind, err.value.as_str()), ("job status", bad));
    }
}

#[test]
fn restart_policy_decides_restarts() {
    for code in [0, 1, -9, 137] {
        assert!(!JobRestartPolicy::Never.restarts_after(code));
        assert!(JobRestartPolicy::Always.restarts_after(code));
        assert_eq!(JobRestartPolicy::OnFailure.restarts_after(code), code != 0);
    }
}

#[test]
fn enums_parse_like_the_sdk() {
    assert_eq!("on-failure".parse(), Ok(JobRestartPolicy::OnFailure));
    assert!("on_failure".parse::<JobRestartPolicy>().is_err());
    assert!("Never".parse::<JobRestartPolicy>().is_err());
    assert_eq!("HIGH".parse(), Ok(JobPriority::High));
    assert_eq!("Low".parse(), Ok(JobPriority::Low));
    assert!("urgent".parse::<JobPriority>().is_err());
    assert!(JobPriority::Low < JobPriority::Normal && JobPriority::Normal < JobPriority::High);
}

#[test]
fn changed_at_picks_the_right_time() {
    let t1 = datetime!(2022-01-01 00:00 UTC);
    let t2 = datetime!(2022-01-02 00:00 UTC);
    let t3 = datetime!(2022-01-03 00:00 UTC);
    let mut h = JobStatusHistory {
        status: JobStatus::Pending,
        reason: String::new(),
        description: String::new(),
        restarts: 0,
        created_at: Some(t1),
        started_at: Some(t2),
        finished_at: Some(t3),
        run_time_seconds: None,
        exit_code: None,
        transitions: vec![],
    };
    assert_eq!(h.changed_at(), Some(t1));
    h.status = JobStatus::Running;
    assert_eq!(h.changed_at(), Some(t2));
    h.status = JobStatus::Suspended;
    assert_eq!(h.changed_at(), Some(t2));
    h.status = JobStatus::Cancelled;
    assert_eq!(h.changed_at(), Some(t3));
    h.status = JobStatus::Unknown;
    assert_eq!(h.changed_at(), None);
    h.started_at = None;
    h.status = JobStatus::Suspended;
    assert_eq!(h.changed_at(), None);
}

#[test]
fn minimal_job_gets_defaults() {
    let job = decode(minimal_job("image:img")).unwrap();
    assert_eq!(job.status, JobStatus::Pending);
    assert_eq!(job.history.status, JobStatus::Unknown);
    assert_eq!(job.history.reason, "");
    assert_eq!(job.history.restarts, 0);
    assert!(job.history.transitions.is_empty());
    assert_eq!(job.restart_policy, JobRestartPolicy::Never);
    assert_eq!(job.priority, JobPriority::Normal);
    assert_eq!(job.life_span, None);
    assert_eq!(job.http_url, None);
    assert!(job.tags.is_empty());
    assert_eq!(job.internal, JobInternal::default());
    assert!(job.container.resources.shm);
    assert_eq!(job.container.resources.memory_mb(), 2);
    assert!(job.container.settings.env.is_empty());
    assert_eq!(
        job.container.image.as_docker_url(false),
        "registry.neu.ro/alice/img:latest"
    );
}

#[test]
fn job_images_resolve_against_the_job_cluster() {
    let mut value = minimal_job("image:img");
    value["cluster_name"] = json!("other");
    let job = decode(value).unwrap();
    assert_eq!(
        job.container.image.as_docker_url(false),
        "registry.other.example/alice/img:latest"
    );
    let job = decode(minimal_job("NOT VALID")).unwrap();
    assert_eq!(job.container.image.name(), INVALID_IMAGE_NAME);
    assert_eq!(job.container.image.as_docker_url(false), INVALID_IMAGE_NAME);
    assert!(matches!(
        decode(minimal_job("image://elsewhere/bob/img")),
        Err(ModelError::Image(_))
    ));
}

#[test]
fn decoded_fields() {
    let mut value = minimal_job("ubuntu:20.04");
    value["status"] = json!("exploding");
    value["restart_policy"] = json!("always");
    value["priority"] = json!("HIGH");
    value["max_run_time_minutes"] = json!(90);
    value["http_url"] = json!("https://job-1.jobs.example");
    value["privileged"] = json!(true);
    value["container"]["http"] = json!({"port": 8080});
    value["container"]["volumes"] =
        json!([{"src_storage_uri": "storage://default/alice/x", "dst_path": "/x"}]);
    let job = decode(value.clone()).unwrap();
    assert_eq!(job.status, JobStatus::Unknown);
    assert_eq!(job.restart_policy, JobRestartPolicy::Always);
    assert_eq!(job.priority, JobPriority::High);
    assert_eq!(job.life_span, Some(5400.0));
    assert_eq!(
        job.http_url.as_ref().map(Url::as_str),
        Some("https://job-1.jobs.example/")
    );
    assert!(!job.privileged, "privileged is never read");
    assert_eq!(
        job.container.settings.http,
        Some(HttpPort {
            port: 8080,
            requires_auth: false
        })
    );
    assert!(
        job.container.settings.volumes[0].read_only,
        "read_only defaults to true"
    );
    value["http_url_named"] = json!("https://named.jobs.example");
    let job = decode(value.clone()).unwrap();
    assert_eq!(
        job.http_url.as_ref().map(Url::as_str),
        Some("https://named.jobs.example/")
    );
    value["http_url_named"] = json!("");
    let job = decode(value.clone()).unwrap();
    assert_eq!(
        job.http_url.as_ref().map(Url::as_str),
        Some("https://job-1.jobs.example/")
    );
    value["restart_policy"] = json!("sometimes");
    assert!(matches!(
        decode(value.clone()),
        Err(ModelError::InvalidValue(_))
    ));
    value["restart_policy"] = json!("never");
    value["priority"] = json!("urgent");
    assert!(matches!(decode(value), Err(ModelError::InvalidValue(_))));
}

fn container() -> Container {
    let image = RemoteImage::new_platform_image(
        "img",
        "registry.neu.ro",
        "alice",
        "default",
        None,
        Some("v1".into()),
    );
    Container::new(image, Resources::new(1 << 30, 1.0))
}

fn run_body(run: &JobRun, org: Option<&str>) -> Value {
    serde_json::to_value(run.to_request(&uri_ctx(org)).unwrap()).unwrap()
}

#[test]
fn run_request_sends_only_what_the_sdk_sends() {
    let run = JobRun::new(container());
    let body = run_body(&run, None);
    assert_eq!(
        body,
        json!({"pass_config": false, "cluster_name": "default", "scheduler_enabled": false,
               "container": {"image": "registry.neu.ro/alice/img:v1",
                             "resources": {"memory": 1073741824u64, "cpu": 1.0, "shm": true}}})
    );
    let mut run = JobRun::new(container());
    run.options = JobOptions {
        name: Some(String::new()),
        description: Some(String::new()),
        schedule_timeout: Some(0.0),
        life_span: Some(119.9),
        restart_policy: JobRestartPolicy::Never,
        ..JobOptions::default()
    };
    run.container.settings.entrypoint = Some(String::new());
    run.container.resources.gpu = Some(0);
    let body = run_body(&run, Some("myorg"));
    for absent in [
        "name",
        "description",
        "schedule_timeout",
        "restart_policy",
        "tags",
        "priority",
        "wait_for_jobs_quota",
        "privileged",
    ] {
        assert!(
            body.get(absent).is_none(),
            "{absent} must not be sent: {body}"
        );
    }
    assert_eq!(body["max_run_time_minutes"], 1);
    assert_eq!(body["org_name"], "myorg");
    assert!(body["container"].get("entrypoint").is_none());
    assert!(body["container"]["resources"].get("gpu").is_none());
    run.options.org = OrgSelection::NoOrg;
    assert!(run_body(&run, Some("myorg")).get("org_name").is_none());
    run.options.org = OrgSelection::Org("other".into());
    assert_eq!(run_body(&run, None)["org_name"], "other");
    run.options.life_span = Some(f64::INFINITY);
    assert!(matches!(
        run.to_request(&uri_ctx(None)),
        Err(ModelError::InvalidLifeSpan(_))
    ));
}

#[test]
fn resources_payload() {
    let mut r = Resources::new(1 << 20, 2.0);
    r.shm = false;
    r.gpu = Some(2);
    let v = serde_json::to_value(r.to_payload().unwrap()).unwrap();
    assert_eq!(
        v,
        json!({"memory": 1048576, "cpu": 2.0, "shm": false, "gpu": 2, "gpu_model": null})
    );
    r.tpu_type = Some("v2-8".into());
    assert!(matches!(
        r.to_payload(),
        Err(ModelError::MissingTpuSoftwareVersion { .. })
    ));
    r.tpu_software_version = Some("1.14".into());
    let v = serde_json::to_value(r.to_payload().unwrap()).unwrap();
    assert_eq!(
        v["tpu"],
        json!({"type": "v2-8", "software_version": "1.14"})
    );
    let v = serde_json::to_value(r.to_response_payload()).unwrap();
    assert_eq!(v["memory_mb"], 1);
}

#[test]
fn container_uris_are_normalised_and_checked() {
    let mut c = container();
    c.settings.volumes.push(Volume {
        storage_uri: Url::parse("storage:data").unwrap(),
        container_path: "/data".into(),
        read_only: false,
    });
    c.settings
        .secret_env
        .insert("S".into(), Url::parse("secret:/bob/k").unwrap());
    c.settings.secret_files.push(SecretFile {
        secret_uri: Url::parse("secret:key").unwrap(),
        container_path: "/k".into(),
    });
    c.settings.disk_volumes.push(DiskVolume {
        disk_uri: Url::parse("disk:disk-1").unwrap(),
        container_path: "/d".into(),
        read_only: true,
    });
    c.settings.tty = true;
    let spec = serde_json::to_value(c.to_spec(&uri_ctx(Some("myorg"))).unwrap()).unwrap();
    assert_eq!(
        spec,
        json!({"image": "registry.neu.ro/alice/img:v1",
               "volumes": [{"src_storage_uri": "storage://default/myorg/alice/data", "dst_path": "/data", "read_only": false}],
               "secret_env": {"S": "secret://default/myorg/bob/k"},
               "secret_volumes": [{"src_secret_uri": "secret://default/myorg/alice/key", "dst_path": "/k"}],
               "disk_volumes": [{"src_disk_uri": "disk://default/myorg/alice/disk-1", "dst_path": "/d", "read_only": true}],
               "tty": true})
    );
    c.settings.volumes[0].storage_uri = Url::parse("secret:data").unwrap();
    assert!(matches!(c.to_spec(&uri_ctx(None)), Err(ModelError::Uri(_))));
}

#[test]
fn request_and_response_specs_differ_only_in_empties_and_uris() {
    let c = container();
    let settings = ContainerOptions {
        command: Some(String::new()),
        volumes: vec![Volume::new(
            Url::parse("storage:data").unwrap(),
            "/data",
            true,
        )],
        ..c.settings.clone()
    };
    let request = settings.to_spec(&c.image, &uri_ctx(None)).unwrap();
    assert_eq!(request.command, None);
    assert_eq!(
        request.volumes[0].src_storage_uri,
        "storage://default/alice/data"
    );
    let response = settings.to_response_spec(&c.image);
    assert_eq!(response.command.as_deref(), Some(""));
    assert_eq!(response.volumes[0].src_storage_uri, "storage:data");
    let (image, back) = ContainerOptions::from_spec(&response, &image_ctx()).unwrap();
    assert_eq!((image, back), (c.image, settings));
}

#[test]
fn start_request_is_flat() {
    let image = RemoteImage::new_external_image("ubuntu", None, Some("latest".into()));
    let mut start = JobStart::new(image, "cpu-small");
    let body = serde_json::to_value(start.to_request(&uri_ctx(Some("o"))).unwrap()).unwrap();
    assert_eq!(
        body,
        json!({"pass_config": false, "preset_name": "cpu-small", "org_name": "o",
               "cluster_name": "default", "image": "ubuntu:latest"})
    );
    start.shm = true;
    start.privileged = true;
    start.cluster_name = Some("other".into());
    start.container.http = Some(HttpPort::new(80));
    let body = serde_json::to_value(start.to_request(&uri_ctx(None)).unwrap()).unwrap();
    assert_eq!(body["resources"], json!({"shm": true}));
    assert_eq!(body["privileged"], true);
    assert_eq!(body["cluster_name"], "other");
    assert_eq!(body["http"], json!({"port": 80, "requires_auth": true}));
    assert!(body.get("scheduler_enabled").is_none());
}
