#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;
use crate::wire::{ServerConfigPayload, StoredCluster};

fn config_payload() -> ServerConfigPayload {
    serde_json::from_value(json!({
        "auth_url": "https://auth.example/authorize", "token_url": "https://auth.example/oauth/token",
        "logout_url": "https://auth.example/v2/logout", "client_id": "CID", "audience": "AUD",
        "headless_callback_url": "https://platform.example/oauth/show-code",
        "success_redirect_url": "",
        "clusters": [
            {"name": "a", "registry_url": "https://registry.a.example", "storage_url": "https://a.example/storage",
             "users_url": "https://a.example/users", "monitoring_url": "https://a.example/jobs",
             "secrets_url": "https://a.example/secrets", "disks_url": "https://a.example/disk",
             "buckets_url": "https://a.example/buckets",
             "resource_presets": [
                {"name": "p1", "cpu": 1.0, "memory": 1073741824u64},
                {"name": "tpu", "cpu": 2.0, "memory": 2147483648u64, "credits_per_hour": "0.25",
                 "tpu": {"type": "v2-8", "software_version": "1.14"}, "preemptible_node": true},
                {"name": "p1", "cpu": 4.0, "memory": 1073741824u64}]},
            {"name": "b", "orgs": ["x", null], "registry_url": "http://localhost:5000", "storage_url": "https://b/s",
             "users_url": "https://b/u", "monitoring_url": "https://b/m", "secrets_url": "https://b/se",
             "disks_url": "https://b/d", "buckets_url": "https://b/b", "resource_presets": []}]
    }))
    .unwrap()
}

#[test]
fn server_config_defaults() {
    let cfg = ServerConfig::from_payload(&config_payload()).unwrap();
    assert_eq!(cfg.auth.callback_urls.len(), 3);
    assert_eq!(
        cfg.auth.callback_urls[0].as_str(),
        "http://127.0.0.1:54540/"
    );
    assert_eq!(cfg.auth.success_redirect_url, None);
    assert_eq!(cfg.admin_url, None);
    let a = cfg.cluster("a").unwrap();
    assert_eq!(a.orgs, vec![None]);
    // A repeated preset name replaces the first one in place, like a Python dict.
    assert_eq!(a.presets.names().collect::<Vec<_>>(), ["p1", "tpu"]);
    assert_eq!(a.presets.get("p1").unwrap().cpu, 4.0);
    let tpu = a.presets.get("tpu").unwrap();
    assert_eq!(tpu.credits_per_hour.to_string(), "0.25");
    assert_eq!(tpu.memory_mb(), 2048);
    assert_eq!(tpu.tpu_type.as_deref(), Some("v2-8"));
    assert!(tpu.preemptible_node && !tpu.scheduler_enabled);
    assert_eq!(
        a.presets.get("p1").unwrap().credits_per_hour.to_string(),
        "0"
    );
    assert_eq!(cfg.cluster("b").unwrap().orgs, vec![Some("x".into()), None]);
    // Round trip through the payload keeps the presets' TPU object.
    let again = ServerConfig::from_payload(&cfg.to_payload(true)).unwrap();
    assert_eq!(again, cfg);
}

#[test]
fn stored_round_trip() {
    let cfg = ServerConfig::from_payload(&config_payload()).unwrap();
    let stored: Vec<StoredCluster> = cfg.clusters.iter().map(Cluster::to_stored).collect();
    let text = StoredCluster::list_to_json(&stored).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value[0]["presets"][1]["tpu_type"], "v2-8");
    assert_eq!(value[0]["presets"][0]["gpu"], json!(null));
    assert_eq!(value[0]["presets"][0]["credits_per_hour"], "0");
    assert_eq!(value[0]["registry_url"], "https://registry.a.example");
    assert_eq!(value[1]["orgs"], json!(["x", null]));
    let back: Vec<Cluster> = StoredCluster::list_from_json(&text)
        .unwrap()
        .iter()
        .map(|c| Cluster::from_stored(c).unwrap())
        .collect();
    assert_eq!(back, cfg.clusters);
    let auth = AuthConfig::from_stored(&cfg.auth.to_stored()).unwrap();
    assert_eq!(auth, cfg.auth);
    let stored_auth = serde_json::to_value(cfg.auth.to_stored()).unwrap();
    assert_eq!(stored_auth["success_redirect_url"], json!(null));
    assert_eq!(stored_auth["callback_urls"][2], "http://127.0.0.1:54542");
}

#[test]
fn bad_urls_are_reported_by_field() {
    let mut payload = config_payload();
    payload.clusters[0].storage_url = "not a url".into();
    let err = ServerConfig::from_payload(&payload).unwrap_err();
    assert!(matches!(
        err,
        ModelError::InvalidUrl {
            field: "storage_url",
            ..
        }
    ));
}
