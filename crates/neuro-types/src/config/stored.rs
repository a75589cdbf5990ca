//! Conversions between the model and the stored config (wire-protocol-core §4.3).

use super::{AuthConfig, Cluster, Preset};
use crate::error::{parse_url, ModelError};
use crate::uri::url_to_wire;
use crate::wire::{StoredAuthConfig, StoredCluster, StoredPreset};

impl Preset {
    /// The stored form of this preset (optional fields written as `null`).
    pub fn to_stored(&self, name: &str) -> StoredPreset {
        StoredPreset {
            name: name.to_owned(),
            credits_per_hour: self.credits_per_hour,
            cpu: self.cpu,
            memory: self.memory,
            gpu: self.gpu,
            gpu_model: self.gpu_model.clone(),
            tpu_type: self.tpu_type.clone(),
            tpu_software_version: self.tpu_software_version.clone(),
            scheduler_enabled: self.scheduler_enabled,
            preemptible_node: self.preemptible_node,
        }
    }

    /// A preset read back from the stored config.
    pub fn from_stored(stored: &StoredPreset) -> Self {
        Self {
            cpu: stored.cpu,
            memory: stored.memory,
            credits_per_hour: stored.credits_per_hour,
            gpu: stored.gpu,
            gpu_model: stored.gpu_model.clone(),
            scheduler_enabled: stored.scheduler_enabled,
            preemptible_node: stored.preemptible_node,
            tpu_type: stored.tpu_type.clone(),
            tpu_software_version: stored.tpu_software_version.clone(),
        }
    }
}

impl Cluster {
    /// The stored form of this cluster.
    ///
    /// ```
    /// use neuro_types::config::Cluster;
    /// use neuro_types::wire::{ClusterPayload, StoredCluster};
    ///
    /// let payload: ClusterPayload = serde_json::from_str(r#"{"name": "default",
    ///     "registry_url": "https://registry.example", "storage_url": "https://s.example",
    ///     "users_url": "https://u.example", "monitoring_url": "https://m.example",
    ///     "secrets_url": "https://se.example", "disks_url": "https://d.example",
    ///     "buckets_url": "https://b.example", "resource_presets": []}"#).unwrap();
    /// let cluster = Cluster::from_payload(&payload).unwrap();
    /// let stored = cluster.to_stored();
    /// assert_eq!(stored.orgs, vec![None]);
    /// assert_eq!(Cluster::from_stored(&stored).unwrap(), cluster);
    /// ```
    pub fn to_stored(&self) -> StoredCluster {
        StoredCluster {
            name: self.name.clone(),
            orgs: self.orgs.clone(),
            registry_url: url_to_wire(&self.registry_url),
            storage_url: url_to_wire(&self.storage_url),
            users_url: url_to_wire(&self.users_url),
            monitoring_url: url_to_wire(&self.monitoring_url),
            secrets_url: url_to_wire(&self.secrets_url),
            disks_url: url_to_wire(&self.disks_url),
            buckets_url: url_to_wire(&self.buckets_url),
            presets: self
                .presets
                .iter()
                .map(|(name, p)| p.to_stored(name))
                .collect(),
        }
    }

    /// A cluster read back from the stored config.
    pub fn from_stored(stored: &StoredCluster) -> Result<Self, ModelError> {
        Ok(Self {
            name: stored.name.clone(),
            orgs: stored.orgs.clone(),
            registry_url: parse_url("registry_url", &stored.registry_url)?,
            storage_url: parse_url("storage_url", &stored.storage_url)?,
            users_url: parse_url("users_url", &stored.users_url)?,
            monitoring_url: parse_url("monitoring_url", &stored.monitoring_url)?,
            secrets_url: parse_url("secrets_url", &stored.secrets_url)?,
            disks_url: parse_url("disks_url", &stored.disks_url)?,
            buckets_url: parse_url("buckets_url", &stored.buckets_url)?,
            presets: stored
                .presets
                .iter()
                .map(|p| (p.name.clone(), Preset::from_stored(p)))
                .collect(),
        })
    }
}

impl AuthConfig {
    /// The stored form (`success_redirect_url` written as `null` when absent).
    pub fn to_stored(&self) -> StoredAuthConfig {
        StoredAuthConfig {
            auth_url: url_to_wire(&self.auth_url),
            token_url: url_to_wire(&self.token_url),
            logout_url: url_to_wire(&self.logout_url),
            client_id: self.client_id.clone(),
            audience: self.audience.clone(),
            headless_callback_url: url_to_wire(&self.headless_callback_url),
            success_redirect_url: self.success_redirect_url.as_ref().map(url_to_wire),
            callback_urls: self.callback_urls.iter().map(url_to_wire).collect(),
        }
    }

    /// Settings read back from the stored config (an empty
    /// `success_redirect_url` means none).
    pub fn from_stored(stored: &StoredAuthConfig) -> Result<Self, ModelError> {
        let success_redirect_url = match stored.success_redirect_url.as_deref() {
            Some(u) if !u.is_empty() => Some(parse_url("success_redirect_url", u)?),
            _ => None,
        };
        Ok(Self {
            auth_url: parse_url("auth_url", &stored.auth_url)?,
            token_url: parse_url("token_url", &stored.token_url)?,
            logout_url: parse_url("logout_url", &stored.logout_url)?,
            client_id: stored.client_id.clone(),
            audience: stored.audience.clone(),
            headless_callback_url: parse_url(
                "headless_callback_url",
                &stored.headless_callback_url,
            )?,
            success_redirect_url,
            callback_urls: stored
                .callback_urls
                .iter()
                .map(|u| parse_url("callback_urls", u))
                .collect::<Result<_, _>>()?,
        })
    }
}
