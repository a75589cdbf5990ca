//! Server configuration model: clusters, presets and OAuth settings
//! (wire-protocol-core §2, `neuro_sdk._server_cfg`), with conversions from and to
//! the `/config` payload and the stored config (§4.3).

mod stored;
#[cfg(test)]
mod tests;

use rust_decimal::Decimal;
use url::Url;

use crate::error::{parse_url, ModelError};
use crate::uri::url_to_wire;
use crate::wire::{ClusterPayload, PresetPayload, ServerConfigPayload, TpuPayload};

/// A job resource preset of a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Preset {
    /// CPU cores (fractions allowed).
    pub cpu: f64,
    /// Memory in bytes.
    pub memory: u64,
    /// Price in credits per hour.
    pub credits_per_hour: Decimal,
    /// Number of GPUs.
    pub gpu: Option<u32>,
    /// GPU model.
    pub gpu_model: Option<String>,
    /// Whether jobs of this preset go through the scheduler (may be suspended).
    pub scheduler_enabled: bool,
    /// Whether jobs of this preset run on preemptible nodes.
    pub preemptible_node: bool,
    /// TPU type.
    pub tpu_type: Option<String>,
    /// TPU software version.
    pub tpu_software_version: Option<String>,
}

impl Preset {
    /// Memory in MiB, rounded down.
    pub fn memory_mb(&self) -> u64 {
        self.memory / (1 << 20)
    }

    /// The preset of a `/config` payload (a missing price reads as 0).
    pub fn from_payload(payload: &PresetPayload) -> Self {
        Self {
            cpu: payload.cpu,
            memory: payload.memory,
            credits_per_hour: payload.credits_per_hour,
            gpu: payload.gpu,
            gpu_model: payload.gpu_model.clone(),
            scheduler_enabled: payload.scheduler_enabled,
            preemptible_node: payload.preemptible_node,
            tpu_type: payload.tpu.as_ref().map(|t| t.tpu_type.clone()),
            tpu_software_version: payload.tpu.as_ref().map(|t| t.software_version.clone()),
        }
    }

    /// The `/config` payload of this preset. `tpu` is written only when both the
    /// type and the software version are set; `memory_mb` is not written.
    pub fn to_payload(&self, name: &str) -> PresetPayload {
        let tpu = match (&self.tpu_type, &self.tpu_software_version) {
            (Some(t), Some(v)) => Some(TpuPayload {
                tpu_type: t.clone(),
                software_version: v.clone(),
            }),
            _ => None,
        };
        PresetPayload {
            name: name.to_owned(),
            cpu: self.cpu,
            memory: self.memory,
            credits_per_hour: self.credits_per_hour,
            gpu: self.gpu,
            gpu_model: self.gpu_model.clone(),
            scheduler_enabled: self.scheduler_enabled,
            preemptible_node: self.preemptible_node,
            tpu,
            memory_mb: None,
        }
    }
}

/// Presets by name, in the server's order (a Python `dict`): inserting an existing
/// name replaces the preset in place.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Presets(Vec<(String, Preset)>);

impl Presets {
    /// No presets.
    pub fn new() -> Self {
        Self::default()
    }

    /// The preset called `name`.
    pub fn get(&self, name: &str) -> Option<&Preset> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, p)| p)
    }

    /// Adds a preset, replacing (in place) one with the same name.
    pub fn insert(&mut self, name: impl Into<String>, preset: Preset) {
        let name = name.into();
        match self.0.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = preset,
            None => self.0.push((name, preset)),
        }
    }

    /// `(name, preset)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Preset)> {
        self.0.iter().map(|(n, p)| (n.as_str(), p))
    }

    /// Preset names in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(n, _)| n.as_str())
    }

    /// Number of presets.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no presets.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<N: Into<String>> FromIterator<(N, Preset)> for Presets {
    fn from_iter<I: IntoIterator<Item = (N, Preset)>>(iter: I) -> Self {
        let mut presets = Presets::new();
        for (name, preset) in iter {
            presets.insert(name, preset);
        }
        presets
    }
}

impl IntoIterator for Presets {
    type Item = (String, Preset);
    type IntoIter = std::vec::IntoIter<(String, Preset)>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// A cluster the user may run jobs on, with its service URLs.
#[derive(Debug, Clone, PartialEq)]
pub struct Cluster {
    /// Cluster name.
    pub name: String,
    /// Orgs the user may act for on this cluster; `None` means "no org". Order
    /// matters: the first one is picked at login.
    pub orgs: Vec<Option<String>>,
    /// Docker registry URL (only scheme, host and port are used).
    pub registry_url: Url,
    /// Storage API base URL.
    pub storage_url: Url,
    /// Users API base URL.
    pub users_url: Url,
    /// Monitoring API base URL.
    pub monitoring_url: Url,
    /// Secrets API base URL.
    pub secrets_url: Url,
    /// Disks API base URL.
    pub disks_url: Url,
    /// Buckets API base URL.
    pub buckets_url: Url,
    /// Resource presets by name.
    pub presets: Presets,
}

impl Cluster {
    /// The cluster of a `/config` payload; `orgs` defaults to `[None]`.
    pub fn from_payload(payload: &ClusterPayload) -> Result<Self, ModelError> {
        Ok(Self {
            name: payload.name.clone(),
            orgs: payload.orgs.clone().unwrap_or_else(|| vec![None]),
            registry_url: parse_url("registry_url", &payload.registry_url)?,
            storage_url: parse_url("storage_url", &payload.storage_url)?,
            users_url: parse_url("users_url", &payload.users_url)?,
            monitoring_url: parse_url("monitoring_url", &payload.monitoring_url)?,
            secrets_url: parse_url("secrets_url", &payload.secrets_url)?,
            disks_url: parse_url("disks_url", &payload.disks_url)?,
            buckets_url: parse_url("buckets_url", &payload.buckets_url)?,
            presets: payload
                .resource_presets
                .iter()
                .map(|p| (p.name.clone(), Preset::from_payload(p)))
                .collect(),
        })
    }

    /// The `/config` payload of this cluster (`orgs` always written).
    pub fn to_payload(&self) -> ClusterPayload {
        ClusterPayload {
            name: self.name.clone(),
            registry_url: url_to_wire(&self.registry_url),
            storage_url: url_to_wire(&self.storage_url),
            users_url: url_to_wire(&self.users_url),
            monitoring_url: url_to_wire(&self.monitoring_url),
            secrets_url: url_to_wire(&self.secrets_url),
            disks_url: url_to_wire(&self.disks_url),
            buckets_url: url_to_wire(&self.buckets_url),
            resource_presets: self
                .presets
                .iter()
                .map(|(name, p)| p.to_payload(name))
                .collect(),
            orgs: Some(self.orgs.clone()),
        }
    }
}

/// The default loopback URLs of the browser-login callback server.
pub const DEFAULT_CALLBACK_URLS: [&str; 3] = [
    "http://127.0.0.1:54540",
    "http://127.0.0.1:54541",
    "http://127.0.0.1:54542",
];

/// OAuth2 settings of the platform (`_AuthConfig`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Authorize endpoint.
    pub auth_url: Url,
    /// Token endpoint.
    pub token_url: Url,
    /// Browser logout endpoint.
    pub logout_url: Url,
    /// OAuth2 client id.
    pub client_id: String,
    /// `audience` parameter of the authorize request.
    pub audience: String,
    /// `redirect_uri` of the headless flow.
    pub headless_callback_url: Url,
    /// Where the callback server redirects after receiving a code.
    pub success_redirect_url: Option<Url>,
    /// Loopback URLs the callback server may listen on, tried in order.
    pub callback_urls: Vec<Url>,
}

/// The answer of `GET {api_url}/config`, as a model.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// OAuth2 settings.
    pub auth: AuthConfig,
    /// Admin API base URL, if the platform has one.
    pub admin_url: Option<Url>,
    /// Clusters in the server's order (names are unique; a repeated name replaces
    /// the earlier cluster in place).
    pub clusters: Vec<Cluster>,
}

impl ServerConfig {
    /// Decodes `/config`: `callback_urls` defaults to [`DEFAULT_CALLBACK_URLS`], an
    /// empty `success_redirect_url` means none.
    pub fn from_payload(payload: &ServerConfigPayload) -> Result<Self, ModelError> {
        let callback_urls = match &payload.callback_urls {
            Some(urls) => urls
                .iter()
                .map(|u| parse_url("callback_urls", u))
                .collect::<Result<_, _>>()?,
            None => DEFAULT_CALLBACK_URLS
                .iter()
                .map(|u| parse_url("callback_urls", u))
                .collect::<Result<_, _>>()?,
        };
        let success_redirect_url = match payload.success_redirect_url.as_deref() {
            Some(u) if !u.is_empty() => Some(parse_url("success_redirect_url", u)?),
            _ => None,
        };
        let auth = AuthConfig {
            auth_url: parse_url("auth_url", &payload.auth_url)?,
            token_url: parse_url("token_url", &payload.token_url)?,
            logout_url: parse_url("logout_url", &payload.logout_url)?,
            client_id: payload.client_id.clone(),
            audience: payload.audience.clone(),
            headless_callback_url: parse_url(
                "headless_callback_url",
                &payload.headless_callback_url,
            )?,
            success_redirect_url,
            callback_urls,
        };
        let admin_url = payload
            .admin_url
            .as_deref()
            .map(|u| parse_url("admin_url", u))
            .transpose()?;
        let mut clusters: Vec<Cluster> = Vec::with_capacity(payload.clusters.len());
        for item in &payload.clusters {
            let cluster = Cluster::from_payload(item)?;
            match clusters.iter_mut().find(|c| c.name == cluster.name) {
                Some(slot) => *slot = cluster,
                None => clusters.push(cluster),
            }
        }
        Ok(Self {
            auth,
            admin_url,
            clusters,
        })
    }

    /// Encodes the config as a server sends it; `authorized` says whether the
    /// request's token was accepted.
    pub fn to_payload(&self, authorized: bool) -> ServerConfigPayload {
        ServerConfigPayload {
            authorized,
            auth_url: url_to_wire(&self.auth.auth_url),
            token_url: url_to_wire(&self.auth.token_url),
            logout_url: url_to_wire(&self.auth.logout_url),
            client_id: self.auth.client_id.clone(),
            audience: self.auth.audience.clone(),
            headless_callback_url: url_to_wire(&self.auth.headless_callback_url),
            callback_urls: Some(self.auth.callback_urls.iter().map(url_to_wire).collect()),
            success_redirect_url: self.auth.success_redirect_url.as_ref().map(url_to_wire),
            admin_url: self.admin_url.as_ref().map(url_to_wire),
            clusters: self.clusters.iter().map(Cluster::to_payload).collect(),
        }
    }

    /// The cluster called `name`.
    pub fn cluster(&self, name: &str) -> Option<&Cluster> {
        self.clusters.iter().find(|c| c.name == name)
    }
}
