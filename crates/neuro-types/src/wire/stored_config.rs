//! The Python CLI's local config database (`~/.neuro/db`, wire-protocol-core §4.2-4.3).
//!
//! A Rust client that reads and writes this SQLite file in the same format can
//! share a login with the Python CLI. The file has one row in table `main`:
//!
//! | column | content |
//! |---|---|
//! | `auth_config` | JSON [`StoredAuthConfig`] |
//! | `token`, `refresh_token` | text |
//! | `expiration_time` | REAL, Unix seconds |
//! | `url` | the API URL logged in to |
//! | `admin_url` | text or NULL |
//! | `version` | [`SDK_VERSION`] |
//! | `cluster_name`, `org_name` | text or NULL (NULL org = no org) |
//! | `clusters` | JSON array of [`StoredCluster`] |
//! | `timestamp` | REAL, Unix seconds of the save |
//!
//! Rows are read with `ORDER BY timestamp DESC LIMIT 1`; a save deletes all rows
//! and inserts one.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::serde_util::decimal_str;

/// The version string written to `main.version`.
///
/// The Python CLI compares this column with its own version at start-up and, when
/// they differ, fetches `/config` once to check that nothing changed. Writing the
/// exact version of the CLI we are compatible with (`neuro-sdk` 22.7.1) keeps a
/// shared config file from costing the Python CLI that extra request, and tells it
/// the data is in the 22.7.1 layout.
pub const SDK_VERSION: &str = "22.7.1";

/// `CREATE TABLE` statement of `main`. The Python CLI compares the stored SQL text
/// with this string byte for byte and calls the config malformed otherwise.
pub const MAIN_TABLE_SQL: &str = "CREATE TABLE main (auth_config TEXT, token TEXT, expiration_time REAL, refresh_token TEXT, url TEXT, admin_url TEXT, version TEXT, cluster_name TEXT, org_name TEXT, clusters TEXT, timestamp REAL)";

/// Replaces the row of `main` (after `DELETE FROM main`): parameters `?1`..`?11`
/// are the columns in table order, `timestamp` last.
pub const INSERT_MAIN_SQL: &str = "INSERT INTO main (auth_config, token, expiration_time, \
     refresh_token, url, admin_url, version, cluster_name, org_name, clusters, timestamp) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

/// `expires_in` the Python SDK gives a token that is never refreshed
/// (`login_with_token`): three years, in seconds.
pub const NON_EXPIRING_EXPIRES_IN: f64 = 94_608_000.0;

/// The `expiration_time` stored for a token obtained at `now` (Unix seconds) that
/// lives `expires_in` seconds: the SDK refreshes after three quarters of it.
///
/// ```
/// use neuro_types::wire::stored_config::{expiration_time, NON_EXPIRING_EXPIRES_IN};
/// assert_eq!(expiration_time(1000.0, 400.0), 1300.0);
/// assert!(expiration_time(0.0, NON_EXPIRING_EXPIRES_IN) > 7.0e7);
/// ```
pub fn expiration_time(now: f64, expires_in: f64) -> f64 {
    now + expires_in * 0.75
}

/// `CREATE TABLE` statement of `cookie_session` (saved `NEURO_*_SESSION` cookies).
pub const COOKIE_SESSION_TABLE_SQL: &str =
    "CREATE TABLE cookie_session (name TEXT, domain TEXT, path TEXT, cookie TEXT, timestamp REAL)";

/// The unique index on `cookie_session (name)`.
pub const COOKIE_SESSION_INDEX_SQL: &str =
    "CREATE UNIQUE INDEX cookie_session_index ON cookie_session (name)";

/// `CREATE TABLE` statement of `pypi` (the PyPI version-check cache).
pub const PYPI_TABLE_SQL: &str =
    "CREATE TABLE pypi (package TEXT, version TEXT, uploaded REAL, checked REAL)";

/// `auth_config` column: the OAuth settings from `/config`. Every key is always
/// written; `success_redirect_url` is `null` when there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredAuthConfig {
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
    /// Where the callback server redirects after receiving a code.
    #[serde(default)]
    pub success_redirect_url: Option<String>,
    /// Loopback URLs of the browser-login callback server; `[]` when absent.
    #[serde(default)]
    pub callback_urls: Vec<String>,
}

/// One element of the `clusters` column (note `presets`, not `resource_presets`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredCluster {
    /// Cluster name.
    pub name: String,
    /// Orgs the user may act for; `null` means no org. `[null]` when absent.
    #[serde(default = "no_org")]
    pub orgs: Vec<Option<String>>,
    /// Docker registry URL.
    pub registry_url: String,
    /// Storage API base URL.
    pub storage_url: String,
    /// Users API base URL.
    pub users_url: String,
    /// Monitoring API base URL.
    pub monitoring_url: String,
    /// Secrets API base URL.
    pub secrets_url: String,
    /// Disks API base URL.
    pub disks_url: String,
    /// Buckets API base URL.
    pub buckets_url: String,
    /// Resource presets, in order; `[]` when absent.
    #[serde(default)]
    pub presets: Vec<StoredPreset>,
}

fn no_org() -> Vec<Option<String>> {
    vec![None]
}

/// A stored preset: flat TPU fields, and every optional field written as `null`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredPreset {
    /// Preset name.
    pub name: String,
    /// Price in credits per hour, a decimal string; required on read.
    #[serde(with = "decimal_str")]
    pub credits_per_hour: Decimal,
    /// CPU cores.
    pub cpu: f64,
    /// Memory in bytes.
    pub memory: u64,
    /// Number of GPUs.
    #[serde(default)]
    pub gpu: Option<u32>,
    /// GPU model.
    #[serde(default)]
    pub gpu_model: Option<String>,
    /// TPU type.
    #[serde(default)]
    pub tpu_type: Option<String>,
    /// TPU software version.
    #[serde(default)]
    pub tpu_software_version: Option<String>,
    /// Whether jobs of this preset go through the scheduler.
    #[serde(default)]
    pub scheduler_enabled: bool,
    /// Whether jobs of this preset run on preemptible nodes.
    #[serde(default)]
    pub preemptible_node: bool,
}

impl StoredCluster {
    /// Reads the `clusters` column.
    pub fn list_from_json(text: &str) -> Result<Vec<StoredCluster>, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Writes the `clusters` column, formatted as Python's `json.dumps` formats it.
    pub fn list_to_json(clusters: &[StoredCluster]) -> Result<String, serde_json::Error> {
        super::pyjson::to_string(clusters)
    }
}

impl StoredAuthConfig {
    /// Reads the `auth_config` column.
    pub fn from_json(text: &str) -> Result<StoredAuthConfig, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Writes the `auth_config` column, formatted as Python's `json.dumps` formats it.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        super::pyjson::to_string(self)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use serde_json::json;

    #[test]
    fn preset_writes_every_key() {
        let preset = StoredPreset {
            name: "cpu-small".into(),
            credits_per_hour: "1.5".parse().unwrap(),
            cpu: 1.0,
            memory: 2147483648,
            gpu: None,
            gpu_model: None,
            tpu_type: None,
            tpu_software_version: None,
            scheduler_enabled: false,
            preemptible_node: false,
        };
        assert_eq!(
            serde_json::to_value(&preset).unwrap(),
            json!({"name": "cpu-small", "credits_per_hour": "1.5", "cpu": 1.0, "memory": 2147483648u64,
                   "gpu": null, "gpu_model": null, "tpu_type": null, "tpu_software_version": null,
                   "scheduler_enabled": false, "preemptible_node": false})
        );
    }

    #[test]
    fn read_defaults_and_requirements() {
        let cluster: StoredCluster = serde_json::from_value(json!({
            "name": "c", "registry_url": "https://r", "storage_url": "https://s",
            "users_url": "https://u", "monitoring_url": "https://m", "secrets_url": "https://se",
            "disks_url": "https://d", "buckets_url": "https://b"}))
        .unwrap();
        assert_eq!(cluster.orgs, vec![None]);
        assert!(cluster.presets.is_empty());
        // credits_per_hour is required in stored presets.
        let missing =
            serde_json::from_value::<StoredPreset>(json!({"name": "p", "cpu": 1.0, "memory": 1}));
        assert!(missing.is_err());
        let auth: StoredAuthConfig = serde_json::from_value(json!({
            "auth_url": "a", "token_url": "t", "logout_url": "l", "client_id": "c",
            "audience": "au", "headless_callback_url": "h"}))
        .unwrap();
        assert_eq!(auth.callback_urls, Vec::<String>::new());
        assert_eq!(
            serde_json::to_value(&auth).unwrap()["success_redirect_url"],
            json!(null)
        );
    }
}
