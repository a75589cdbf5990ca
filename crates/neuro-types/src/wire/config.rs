//! `GET {api_url}/config`: the server configuration (wire-protocol-core §2).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::serde_util::{decimal_str, is_false};

/// The body of `GET {api_url}/config`.
///
/// Without a token the server answers with the auth settings and usually no
/// clusters; with a valid token it adds `"authorized": true` and the clusters the
/// user may use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerConfigPayload {
    /// Whether the bearer token sent with the request was accepted.
    #[serde(default)]
    pub authorized: bool,
    /// OAuth2 authorize endpoint.
    pub auth_url: String,
    /// OAuth2 token endpoint.
    pub token_url: String,
    /// Browser logout endpoint.
    pub logout_url: String,
    /// OAuth2 client id.
    pub client_id: String,
    /// `audience` parameter of the authorize request.
    pub audience: String,
    /// `redirect_uri` of the headless login flow.
    pub headless_callback_url: String,
    /// Loopback URLs the browser-login callback server may listen on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_urls: Option<Vec<String>>,
    /// Where the callback server redirects after receiving a code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_redirect_url: Option<String>,
    /// Base URL of the admin API, if the platform has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_url: Option<String>,
    /// Clusters available to the caller, in the server's order.
    #[serde(default)]
    pub clusters: Vec<ClusterPayload>,
}

/// One cluster of [`ServerConfigPayload::clusters`] (wire-protocol-core §2.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClusterPayload {
    /// Cluster name.
    pub name: String,
    /// Docker registry URL; only scheme, host and port are used.
    pub registry_url: String,
    /// Storage API base URL.
    pub storage_url: String,
    /// Users API base URL (unused by the SDK, which uses `api_url/users`).
    pub users_url: String,
    /// Monitoring API base URL (logs, top, exec, ...).
    pub monitoring_url: String,
    /// Secrets API base URL.
    pub secrets_url: String,
    /// Disks API base URL.
    pub disks_url: String,
    /// Buckets API base URL.
    pub buckets_url: String,
    /// Resource presets of the cluster.
    pub resource_presets: Vec<PresetPayload>,
    /// Orgs the user may act for; `None` in the list means "no org". Absent means
    /// `[null]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orgs: Option<Vec<Option<String>>>,
}

/// A resource preset as sent by `/config` (wire-protocol-core §2.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresetPayload {
    /// Preset name.
    pub name: String,
    /// CPU cores.
    pub cpu: f64,
    /// Memory in bytes.
    pub memory: u64,
    /// Price in credits per hour, sent as a decimal string.
    #[serde(with = "decimal_str", default)]
    pub credits_per_hour: Decimal,
    /// Number of GPUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<u32>,
    /// GPU model name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_model: Option<String>,
    /// Whether jobs of this preset go through the scheduler.
    #[serde(default, skip_serializing_if = "is_false")]
    pub scheduler_enabled: bool,
    /// Whether jobs of this preset run on preemptible nodes.
    #[serde(default, skip_serializing_if = "is_false")]
    pub preemptible_node: bool,
    /// TPU settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpu: Option<TpuPayload>,
    /// Memory in MiB; sent by the real server, ignored by the SDK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
}

/// TPU part of a preset or of job resources.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TpuPayload {
    /// TPU type, e.g. `v2-8`.
    #[serde(rename = "type")]
    pub tpu_type: String,
    /// TPU software version.
    pub software_version: String,
}
