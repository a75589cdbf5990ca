//! Building the wire job object from a stored job.
//!
//! Keys follow the real platform-api response (wire-protocol-core §7.6): the
//! always-present ones always, the optional ones only when set.
//!
//! Host names, documented here because clients show them:
//! * `http_url` is `http://<job-id>.jobs.localhost:<port>` and `http_url_named` is
//!   `http://<name>--<owner>.jobs.localhost:<port>`, with the scheme and port of
//!   the server's base URL. Names under `localhost` resolve to the loopback address
//!   (RFC 6761), and the ingress on the server's own port routes by `Host`
//!   ([`super::ingress`]).
//! * `internal_hostname` is `<job-id>.platform-jobs` and `internal_hostname_named`
//!   is `<name>--<owner>.platform-jobs`, the platform's in-cluster forms.

use neuro_types::jobs::JobStatus;
use neuro_types::wire::{ContainerPayload, HistoryPayload, JobPayload, StatusItemPayload};

use crate::settings::Settings;

use super::ingress::HTTP_DOMAIN;
use super::model::{us_to_datetime, JobRecord, MIB};

/// Domain of the jobs' in-cluster host names.
const INTERNAL_DOMAIN: &str = "platform-jobs";
/// Separator between a job name and its owner in named host names.
pub(crate) const NAME_SEPARATOR: &str = "--";

/// `job://<cluster>/[<org>/]<owner>/<id>`.
pub fn job_uri(job: &JobRecord) -> String {
    match &job.spec.org_name {
        Some(org) => format!("job://{}/{org}/{}/{}", job.cluster_name, job.owner, job.id),
        None => format!("job://{}/{}/{}", job.cluster_name, job.owner, job.id),
    }
}

fn http_url(settings: &Settings, label: &str) -> String {
    let base = &settings.base_url;
    let port = base.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!("{}://{label}.{HTTP_DOMAIN}{port}", base.scheme())
}

fn named_label(job: &JobRecord) -> Option<String> {
    job.spec
        .name
        .as_ref()
        .map(|name| format!("{name}{NAME_SEPARATOR}{}", job.owner))
}

/// The job object for `job` as of `now_us` (which only matters while it runs).
pub fn job_payload(job: &JobRecord, settings: &Settings, now_us: i64) -> JobPayload {
    let spec = &job.spec;
    let current = job.current();
    let status = current.map_or(job.status, |t| t.status);
    let finished = status.is_finished();
    let history = HistoryPayload {
        status: status.as_str().to_owned(),
        reason: current.map(|t| t.reason.clone()).unwrap_or_default(),
        description: current.map(|t| t.description.clone()).unwrap_or_default(),
        restarts: job.restarts(),
        created_at: Some(us_to_datetime(job.created_us())),
        started_at: job.started_us().map(us_to_datetime),
        finished_at: if finished {
            current.map(|t| us_to_datetime(t.time_us))
        } else {
            None
        },
        run_time_seconds: Some(job.run_time_us(now_us) as f64 / 1e6),
        exit_code: current.and_then(|t| t.exit_code),
    };
    let statuses = job
        .transitions
        .iter()
        .map(|t| StatusItemPayload {
            status: t.status.as_str().to_owned(),
            transition_time: us_to_datetime(t.time_us),
            reason: t.reason.clone(),
            description: t.description.clone(),
            exit_code: t.exit_code,
        })
        .collect();
    let mut resources = spec.resources.clone();
    resources.memory_mb = Some(resources.memory / MIB);
    let has_http = spec.container.http.is_some();
    let label_named = named_label(job);
    JobPayload {
        id: job.id.clone(),
        owner: job.owner.clone(),
        cluster_name: job.cluster_name.clone(),
        org_name: spec.org_name.clone(),
        status: status.as_str().to_owned(),
        statuses,
        history,
        container: ContainerPayload {
            spec: spec.container.clone(),
            resources,
        },
        scheduler_enabled: spec.scheduler_enabled,
        preemptible_node: spec.preemptible_node,
        is_preemptible: spec.scheduler_enabled,
        is_preemptible_node_required: spec.preemptible_node,
        pass_config: spec.pass_config,
        name: spec.name.clone(),
        preset_name: spec.preset_name.clone(),
        description: spec.description.clone().filter(|d| !d.is_empty()),
        tags: spec.tags.clone(),
        http_url: has_http.then(|| http_url(settings, &job.id)),
        http_url_named: if has_http {
            label_named.as_deref().map(|l| http_url(settings, l))
        } else {
            None
        },
        internal_hostname: Some(format!("{}.{INTERNAL_DOMAIN}", job.id)),
        internal_hostname_named: label_named.map(|l| format!("{l}.{INTERNAL_DOMAIN}")),
        schedule_timeout: spec.schedule_timeout,
        max_run_time_minutes: job.max_run_time_minutes,
        uri: job_uri(job),
        restart_policy: spec.restart_policy.as_str().to_owned(),
        privileged: spec.privileged,
        materialized: job.materialized && status == JobStatus::Running,
        being_dropped: job.being_dropped,
        logs_removed: job.logs_removed,
        total_price_credits: job.total_price_credits(now_us),
        price_credits_per_hour: spec.price_credits_per_hour,
        priority: spec.priority.as_str().to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::PathBuf;

    use neuro_types::jobs::{JobPriority, JobRestartPolicy};
    use neuro_types::wire::{ContainerSpec, HttpPayload, ResourcesPayload};
    use rust_decimal::Decimal;

    use super::super::model::{reason, JobSpec, Transition};
    use super::*;

    fn settings() -> Settings {
        Settings::new(
            PathBuf::from("/tmp/x"),
            url::Url::parse("http://127.0.0.1:8080").unwrap(),
        )
    }

    fn record() -> JobRecord {
        let t0 = 1_658_829_600_000_000;
        JobRecord {
            seq: 1,
            id: "job-0b8c2f3e-1c3a-4a7e-9f55-3f7c1e2d4a5b".to_owned(),
            owner: "alice".to_owned(),
            cluster_name: "default".to_owned(),
            spec: JobSpec {
                container: ContainerSpec {
                    image: "ubuntu:latest".to_owned(),
                    command: Some("echo hi".to_owned()),
                    http: Some(HttpPayload {
                        port: 80,
                        requires_auth: true,
                        health_check_path: None,
                    }),
                    ..ContainerSpec::default()
                },
                resources: ResourcesPayload {
                    memory: 1 << 30,
                    cpu: 0.5,
                    shm: true,
                    gpu: None,
                    gpu_model: None,
                    tpu: None,
                    memory_mb: None,
                },
                name: Some("my-job".to_owned()),
                tags: vec!["a".to_owned(), "b".to_owned()],
                description: None,
                schedule_timeout: None,
                restart_policy: JobRestartPolicy::Never,
                priority: JobPriority::Normal,
                privileged: false,
                pass_config: false,
                wait_for_jobs_quota: false,
                scheduler_enabled: false,
                preemptible_node: false,
                preset_name: Some("cpu-small".to_owned()),
                org_name: None,
                price_credits_per_hour: Decimal::new(36, 1),
            },
            status: JobStatus::Failed,
            transitions: vec![
                Transition {
                    status: JobStatus::Pending,
                    time_us: t0,
                    reason: reason::CREATING.to_owned(),
                    description: String::new(),
                    exit_code: None,
                },
                Transition {
                    status: JobStatus::Running,
                    time_us: t0 + 1_000_000,
                    reason: String::new(),
                    description: String::new(),
                    exit_code: None,
                },
                Transition {
                    status: JobStatus::Failed,
                    time_us: t0 + 11_500_000,
                    reason: reason::ERROR.to_owned(),
                    description: "Exit code: 3".to_owned(),
                    exit_code: Some(3),
                },
            ],
            max_run_time_minutes: Some(10),
            materialized: false,
            being_dropped: false,
            logs_removed: false,
        }
    }

    #[test]
    fn finished_job_object() {
        let job = record();
        let v = serde_json::to_value(job_payload(&job, &settings(), 0)).unwrap();
        assert_eq!(v["status"], "failed");
        assert_eq!(v["uri"], format!("job://default/alice/{}", job.id));
        assert_eq!(v["history"]["created_at"], "2022-07-26T10:00:00+00:00");
        assert_eq!(v["history"]["started_at"], "2022-07-26T10:00:01+00:00");
        assert_eq!(
            v["history"]["finished_at"],
            "2022-07-26T10:00:11.500000+00:00"
        );
        assert_eq!(v["history"]["run_time_seconds"], 10.5);
        assert_eq!(v["history"]["exit_code"], 3);
        assert_eq!(v["history"]["reason"], "Error");
        assert_eq!(v["history"]["restarts"], 0);
        assert_eq!(v["statuses"].as_array().unwrap().len(), 3);
        assert_eq!(v["statuses"][2]["exit_code"], 3);
        assert!(v["statuses"][0].get("exit_code").is_none());
        assert_eq!(v["container"]["resources"]["memory_mb"], 1024);
        assert_eq!(
            v["http_url"],
            format!("http://{}.jobs.localhost:8080", job.id)
        );
        assert_eq!(
            v["http_url_named"],
            "http://my-job--alice.jobs.localhost:8080"
        );
        assert_eq!(v["internal_hostname"], format!("{}.platform-jobs", job.id));
        assert_eq!(v["internal_hostname_named"], "my-job--alice.platform-jobs");
        assert_eq!(v["price_credits_per_hour"], "3.6");
        // 3.6 credits/hour for 10.5 s.
        assert_eq!(v["total_price_credits"], "0.0105");
        assert_eq!(v["priority"], "normal");
        assert_eq!(v["restart_policy"], "never");
        assert_eq!(v["max_run_time_minutes"], 10);
        for key in [
            "scheduler_enabled",
            "preemptible_node",
            "is_preemptible",
            "is_preemptible_node_required",
            "pass_config",
            "privileged",
            "materialized",
            "being_dropped",
            "logs_removed",
        ] {
            assert_eq!(v[key], false, "{key}");
        }
        for absent in ["org_name", "description", "schedule_timeout"] {
            assert!(v.get(absent).is_none(), "{absent}");
        }
    }

    #[test]
    fn running_job_counts_time_until_now() {
        let mut job = record();
        job.transitions.pop();
        job.status = JobStatus::Running;
        job.materialized = true;
        job.spec.container.http = None;
        let now = job.transitions[1].time_us + 2_000_000;
        let v = serde_json::to_value(job_payload(&job, &settings(), now)).unwrap();
        assert_eq!(v["history"]["run_time_seconds"], 2.0);
        assert!(v["history"].get("finished_at").is_none());
        assert!(v["history"].get("exit_code").is_none());
        assert!(v.get("http_url").is_none());
        assert_eq!(v["materialized"], true);
    }
}
