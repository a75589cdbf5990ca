//! The SDK's model objects as JSON, keyed by the attribute names of the Python
//! SDK's classes (`neuro_sdk.JobDescription`, `FileStatus`, `Preset`, ...), so
//! the conformance suite can compare both clients field by field.
//!
//! Values use one plain form per kind: enums as their wire strings
//! (`JobPriority` by lower-case name), URLs as strings, datetimes as RFC 3339 in
//! UTC, decimals as strings, life spans and durations as numbers of seconds.

use neuro_sdk::config::Config;
use neuro_sdk::types::config::{Cluster, Preset, Presets};
use neuro_sdk::types::jobs::{JobInternal, JobStatusItem};
use neuro_sdk::{
    Container, FileStatus, HttpPort, JobDescription, JobStatusHistory, RemoteImage, Resources,
};
use serde_json::{json, Map, Value};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};

/// `neuro_sdk.Client.config`: the properties both SDKs expose.
pub fn config(config: &Config) -> Value {
    let cluster = config.current_cluster();
    json!({
        "username": config.username(),
        "cluster_name": config.cluster_name(),
        "org_name": config.org_name(),
        "api_url": config.api_url().as_str(),
        "admin_url": config.admin_url().map(|u| u.as_str()),
        "storage_url": config.storage_url().as_str(),
        "monitoring_url": config.monitoring_url().as_str(),
        "registry_url": config.registry_url().as_str(),
        "secrets_url": cluster.secrets_url.as_str(),
        "disk_api_url": cluster.disks_url.as_str(),
        "bucket_api_url": cluster.buckets_url.as_str(),
        "cluster_orgs": cluster.orgs,
        "presets": presets(config.presets()),
        "clusters": config
            .clusters()
            .iter()
            .map(|c| (c.name.clone(), self::cluster(c)))
            .collect::<Map<_, _>>(),
    })
}

/// `neuro_sdk.Cluster`.
fn cluster(cluster: &Cluster) -> Value {
    json!({
        "name": cluster.name,
        "orgs": cluster.orgs,
        "registry_url": cluster.registry_url.as_str(),
        "storage_url": cluster.storage_url.as_str(),
        "users_url": cluster.users_url.as_str(),
        "monitoring_url": cluster.monitoring_url.as_str(),
        "secrets_url": cluster.secrets_url.as_str(),
        "disks_url": cluster.disks_url.as_str(),
        "buckets_url": cluster.buckets_url.as_str(),
        "presets": presets(&cluster.presets),
    })
}

fn presets(presets: &Presets) -> Value {
    presets
        .iter()
        .map(|(name, p)| (name.to_owned(), preset(p)))
        .collect::<Map<_, _>>()
        .into()
}

/// `neuro_sdk.Preset`.
fn preset(preset: &Preset) -> Value {
    json!({
        "credits_per_hour": preset.credits_per_hour.to_string(),
        "cpu": preset.cpu,
        "memory": preset.memory,
        "scheduler_enabled": preset.scheduler_enabled,
        "preemptible_node": preset.preemptible_node,
        "gpu": preset.gpu,
        "gpu_model": preset.gpu_model,
        "tpu_type": preset.tpu_type,
        "tpu_software_version": preset.tpu_software_version,
    })
}

/// `neuro_sdk.FileStatus`.
pub fn file_status(status: &FileStatus) -> Value {
    json!({
        "path": status.path,
        "size": status.size,
        "type": status.file_type.as_str(),
        "modification_time": status.modification_time,
        "permission": status.permission.as_str(),
        "uri": status.uri.as_str(),
        "target": status.target,
    })
}

/// `neuro_sdk.JobDescription`.
pub fn job(job: &JobDescription) -> Value {
    json!({
        "id": job.id,
        "owner": job.owner,
        "cluster_name": job.cluster_name,
        "org_name": job.org_name,
        "status": job.status.as_str(),
        "history": history(&job.history),
        "container": container(&job.container),
        "scheduler_enabled": job.scheduler_enabled,
        "pass_config": job.pass_config,
        "uri": job.uri.as_str(),
        "total_price_credits": job.total_price_credits.to_string(),
        "price_credits_per_hour": job.price_credits_per_hour.to_string(),
        "name": job.name,
        "tags": job.tags,
        "description": job.description,
        // The Python SDK's "no URL" is the empty `URL()`.
        "http_url": job.http_url.as_ref().map_or("", |u| u.as_str()),
        "internal_hostname": job.internal_hostname,
        "internal_hostname_named": job.internal_hostname_named,
        "restart_policy": job.restart_policy.as_str(),
        "life_span": job.life_span,
        "schedule_timeout": job.schedule_timeout,
        "preset_name": job.preset_name,
        "preemptible_node": job.preemptible_node,
        "privileged": job.privileged,
        "priority": job.priority.as_str(),
        "_internal": internal(&job.internal),
    })
}

fn internal(internal: &JobInternal) -> Value {
    json!({
        "materialized": internal.materialized,
        "being_dropped": internal.being_dropped,
        "logs_removed": internal.logs_removed,
    })
}

/// `neuro_sdk.JobStatusHistory`.
fn history(history: &JobStatusHistory) -> Value {
    json!({
        "status": history.status.as_str(),
        "reason": history.reason,
        "description": history.description,
        "restarts": history.restarts,
        "created_at": history.created_at.map(datetime),
        "started_at": history.started_at.map(datetime),
        "finished_at": history.finished_at.map(datetime),
        "run_time_seconds": history.run_time_seconds,
        "exit_code": history.exit_code,
        "transitions": history.transitions.iter().map(transition).collect::<Vec<_>>(),
    })
}

/// `neuro_sdk.JobStatusItem`.
fn transition(item: &JobStatusItem) -> Value {
    json!({
        "status": item.status.as_str(),
        "transition_time": datetime(item.transition_time),
        "reason": item.reason,
        "description": item.description,
        "exit_code": item.exit_code,
    })
}

/// `neuro_sdk.Container`: the Rust model keeps the options in `settings`, the
/// Python one flat.
fn container(container: &Container) -> Value {
    let s = &container.settings;
    json!({
        "image": image(&container.image),
        "resources": resources(&container.resources),
        "entrypoint": s.entrypoint,
        "command": s.command,
        "working_dir": s.working_dir,
        "http": s.http.as_ref().map(http),
        "env": s.env,
        "volumes": s.volumes.iter().map(|v| json!({
            "storage_uri": v.storage_uri.as_str(),
            "container_path": v.container_path,
            "read_only": v.read_only,
        })).collect::<Vec<_>>(),
        "secret_env": s.secret_env.iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
            .collect::<Map<_, _>>(),
        "secret_files": s.secret_files.iter().map(|f| json!({
            "secret_uri": f.secret_uri.as_str(),
            "container_path": f.container_path,
        })).collect::<Vec<_>>(),
        "disk_volumes": s.disk_volumes.iter().map(|d| json!({
            "disk_uri": d.disk_uri.as_str(),
            "container_path": d.container_path,
            "read_only": d.read_only,
        })).collect::<Vec<_>>(),
        "tty": s.tty,
    })
}

/// `neuro_sdk.RemoteImage`.
fn image(image: &RemoteImage) -> Value {
    json!({
        "name": image.name(),
        "tag": image.tag(),
        "owner": image.owner(),
        "registry": image.registry(),
        "cluster_name": image.cluster_name(),
        "org_name": image.org_name(),
    })
}

/// `neuro_sdk.Resources`.
fn resources(resources: &Resources) -> Value {
    json!({
        "memory": resources.memory,
        "cpu": resources.cpu,
        "gpu": resources.gpu,
        "gpu_model": resources.gpu_model,
        "shm": resources.shm,
        "tpu_type": resources.tpu_type,
        "tpu_software_version": resources.tpu_software_version,
    })
}

/// `neuro_sdk.HTTPPort`.
fn http(port: &HttpPort) -> Value {
    json!({ "port": port.port, "requires_auth": port.requires_auth })
}

/// RFC 3339 in UTC; a time that cannot be formatted (out of range) becomes
/// `null`, which the comparison reports as a difference.
fn datetime(at: OffsetDateTime) -> Value {
    at.to_offset(UtcOffset::UTC)
        .format(&Rfc3339)
        .map_or(Value::Null, Value::from)
}
