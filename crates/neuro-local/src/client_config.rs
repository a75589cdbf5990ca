//! A ready-to-use client configuration (`<dir>/db`) for the Python CLI and our
//! SDK, as `neuro config login-with-token` would write it
//! (wire-protocol-core §4.2-§4.3).

use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use neuro_types::config::Preset;
use neuro_types::wire::stored_config::{
    expiration_time, StoredAuthConfig, StoredCluster, INSERT_MAIN_SQL, MAIN_TABLE_SQL,
    NON_EXPIRING_EXPIRES_IN, SDK_VERSION,
};

use crate::settings::Settings;

/// Why the client configuration could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientConfigError {
    /// Creating the directory or the file failed.
    #[error("cannot write client config in {path}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// SQLite failed.
    #[error("cannot write client config database")]
    Db(#[from] rusqlite::Error),
    /// A stored JSON column could not be serialised.
    #[error("cannot serialise client config")]
    Json(#[from] serde_json::Error),
}

/// Writes `<dir>/db` logged in to this platform with `token`, unless a `db`
/// already exists there. Returns whether it wrote one. The directory gets mode
/// 0700 and the file 0600, as the SDK demands.
pub fn write_client_config(
    dir: &Path,
    settings: &Settings,
    token: &str,
) -> Result<bool, ClientConfigError> {
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| ClientConfigError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io_err(dir))?;
    let db_path = dir.join("db");
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&db_path)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(io_err(&db_path)(e)),
    }
    let result = fill(&db_path, settings, token);
    if result.is_err() {
        let _ = std::fs::remove_file(&db_path);
    }
    result.map(|()| true)
}

fn fill(db_path: &Path, settings: &Settings, token: &str) -> Result<(), ClientConfigError> {
    let mut conn = rusqlite::Connection::open(db_path)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let auth_config = auth_config_json(settings)?;
    let clusters = clusters_json(settings)?;
    let tx = conn.transaction()?;
    tx.execute_batch(MAIN_TABLE_SQL)?;
    tx.execute(
        INSERT_MAIN_SQL,
        rusqlite::params![
            auth_config,
            token,
            expiration_time(now, NON_EXPIRING_EXPIRES_IN),
            "",
            settings.api_url().to_string(),
            None::<String>,
            SDK_VERSION,
            settings.cluster_name,
            settings.orgs.first().cloned().flatten(),
            clusters,
            now,
        ],
    )?;
    tx.commit()?;
    Ok(())
}

/// The stored `auth_config` JSON; every key present.
fn auth_config_json(settings: &Settings) -> Result<String, ClientConfigError> {
    let cfg = crate::config_api::server_config(settings, false);
    let stored = StoredAuthConfig {
        auth_url: cfg.auth_url,
        token_url: cfg.token_url,
        logout_url: cfg.logout_url,
        client_id: cfg.client_id,
        audience: cfg.audience,
        headless_callback_url: cfg.headless_callback_url,
        success_redirect_url: cfg.success_redirect_url,
        callback_urls: cfg.callback_urls.unwrap_or_default(),
    };
    Ok(stored.to_json()?)
}

/// The stored `clusters` JSON array; presets under `presets` with flat TPU keys.
fn clusters_json(settings: &Settings) -> Result<String, ClientConfigError> {
    let stored: Vec<StoredCluster> = crate::config_api::clusters(settings)
        .into_iter()
        .map(stored_cluster)
        .collect();
    Ok(StoredCluster::list_to_json(&stored)?)
}

fn stored_cluster(cluster: neuro_types::wire::ClusterPayload) -> StoredCluster {
    let presets = cluster
        .resource_presets
        .iter()
        .map(|p| Preset::from_payload(p).to_stored(&p.name))
        .collect();
    StoredCluster {
        name: cluster.name,
        orgs: cluster.orgs.unwrap_or_else(|| vec![None]),
        registry_url: cluster.registry_url,
        storage_url: cluster.storage_url,
        users_url: cluster.users_url,
        monitoring_url: cluster.monitoring_url,
        secrets_url: cluster.secrets_url,
        disks_url: cluster.disks_url,
        buckets_url: cluster.buckets_url,
        presets,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt as _;

    #[test]
    fn writes_once_with_modes() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("cfg");
        let settings = Settings::new(
            dir.path().join("data"),
            url::Url::parse("http://127.0.0.1:1234").unwrap(),
        );
        assert!(write_client_config(&cfg, &settings, "tok").unwrap());
        assert!(!write_client_config(&cfg, &settings, "other").unwrap());
        assert_eq!(std::fs::metadata(&cfg).unwrap().mode() & 0o777, 0o700);
        assert_eq!(
            std::fs::metadata(cfg.join("db")).unwrap().mode() & 0o777,
            0o600
        );
        let conn = rusqlite::Connection::open(cfg.join("db")).unwrap();
        let sql: String = conn
            .query_row("SELECT sql FROM sqlite_master WHERE name='main'", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(sql, MAIN_TABLE_SQL);
        let version: String = conn
            .query_row("SELECT version FROM main", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, "22.7.1");
        let (token, url, clusters): (String, String, String) = conn
            .query_row("SELECT token, url, clusters FROM main", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(token, "tok");
        assert_eq!(url, "http://127.0.0.1:1234/api/v1");
        let clusters = StoredCluster::list_from_json(&clusters).unwrap();
        assert_eq!(clusters[0].name, "default");
        assert_eq!(clusters[0].presets[0].name, "cpu-small");
    }
}
