//! Resolves a job's requested mounts into [`JobMounts`]: the storage
//! `volumes`, the `disk_volumes` and the `secret_volumes` (secret files), each
//! checked against the job owner's permissions ([`AccessView`]).

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
use std::path::Path;

use neuro_types::permission::Action;

use super::model::JobRecord;
use super::sandbox::{BindMount, JobMounts};
use crate::db::Db;
use crate::permissions::AccessView;
use crate::settings::Settings;
use crate::storage::paths::{permission_for, resolve, user_root, Parents, StoragePath};

/// The directory, inside a job's private directory, that holds its decrypted
/// secret files while it runs.
pub const SECRETS_DIR: &str = "secrets";

/// Why a job's mounts cannot be prepared.
#[derive(Debug, thiserror::Error)]
#[error("cannot mount {uri} at {container}: {reason}")]
pub struct MountError {
    /// The source URI as requested.
    pub uri: String,
    /// The container path.
    pub container: String,
    /// What is wrong.
    pub reason: String,
}

/// The bind mounts of `job`'s storage volumes, checked against the owner's
/// storage permissions. A read-write volume's directory is created when
/// missing; a read-only one must exist.
pub fn resolve_volumes(
    job: &JobRecord,
    settings: &Settings,
    view: &AccessView,
) -> Result<JobMounts, MountError> {
    let mut mounts = JobMounts::default();
    for volume in &job.spec.container.volumes {
        let fail = |reason: String| MountError {
            uri: volume.src_storage_uri.clone(),
            container: volume.dst_path.clone(),
            reason,
        };
        let url = url::Url::parse(&volume.src_storage_uri).map_err(|e| fail(e.to_string()))?;
        if url.scheme() != "storage" || url.host_str() != Some(settings.cluster_name.as_str()) {
            return Err(fail(format!(
                "only storage://{}/ URIs can be mounted",
                settings.cluster_name
            )));
        }
        let path = StoragePath::from_encoded(url.path()).map_err(|e| fail(e.to_string()))?;
        let needed = if volume.read_only {
            Action::Read
        } else {
            Action::Write
        };
        let owner = match path.owner() {
            Some(owner)
                if permission_for(view, &settings.cluster_name, &path)
                    .is_some_and(|a| a.allows(needed)) =>
            {
                owner
            }
            _ => {
                return Err(fail(format!(
                    "{} has no {} access to it",
                    job.owner,
                    needed.as_str()
                )))
            }
        };
        let root = settings
            .storage_dir()
            .canonicalize()
            .and_then(|storage| user_root(&storage, owner))
            .map_err(|e| fail(e.to_string()))?;
        let parents = if volume.read_only {
            Parents::Existing
        } else {
            Parents::Create
        };
        let target = resolve(&root, path.rest(), parents).map_err(|e| fail(e.to_string()))?;
        let host = target.path();
        if !volume.read_only && !host.exists() {
            std::fs::create_dir(&host).map_err(|e| fail(e.to_string()))?;
        }
        let host = target.follow().map_err(|e| fail(e.to_string()))?;
        mounts.binds.push(BindMount {
            host,
            container: volume.dst_path.clone(),
            read_only: volume.read_only,
        });
    }
    Ok(mounts)
}

/// The bind mounts of `job`'s disks, in request order: read access for a
/// read-only mount, write access otherwise. Each disk's `last_usage` is set.
pub async fn resolve_disks(
    db: &Db,
    settings: &Settings,
    view: &AccessView,
    job: &JobRecord,
) -> Result<Vec<BindMount>, MountError> {
    let mut binds = Vec::with_capacity(job.spec.container.disk_volumes.len());
    for volume in &job.spec.container.disk_volumes {
        let host = crate::disks::attach(db, settings, view, &volume.src_disk_uri, volume.read_only)
            .await
            .map_err(|e| MountError {
                uri: volume.src_disk_uri.clone(),
                container: volume.dst_path.clone(),
                reason: e.body.error,
            })?;
        binds.push(BindMount {
            host,
            container: volume.dst_path.clone(),
            read_only: volume.read_only,
        });
    }
    Ok(binds)
}

/// Decrypts each of `job`'s secret files into a 0600 file under
/// `job_dir/secrets` (0700) and returns their read-only bind mounts, in request
/// order. [`remove_secret_files`] deletes them when the job has ended.
pub async fn resolve_secret_files(
    db: &Db,
    settings: &Settings,
    view: &AccessView,
    job: &JobRecord,
    job_dir: &Path,
) -> Result<Vec<BindMount>, MountError> {
    let volumes = &job.spec.container.secret_volumes;
    if volumes.is_empty() {
        return Ok(Vec::new());
    }
    let dir = job_dir.join(SECRETS_DIR);
    let mut binds = Vec::with_capacity(volumes.len());
    for (index, volume) in volumes.iter().enumerate() {
        let fail = |reason: String| MountError {
            uri: volume.src_secret_uri.clone(),
            container: volume.dst_path.clone(),
            reason,
        };
        let value = crate::secrets::resolve(db, settings, view, &volume.src_secret_uri)
            .await
            .map_err(|e| fail(e.body.error))?;
        let host = dir.join(format!("secret-{index}"));
        let (file_dir, file) = (dir.clone(), host.clone());
        tokio::task::spawn_blocking(move || write_private(&file_dir, &file, &value))
            .await
            .map_err(|e| fail(e.to_string()))?
            .map_err(|e| fail(e.to_string()))?;
        binds.push(BindMount {
            host,
            container: volume.dst_path.clone(),
            read_only: true,
        });
    }
    Ok(binds)
}

/// Writes `value` to `file` (0600) in `dir` (0700, created if missing).
fn write_private(dir: &Path, file: &Path, value: &[u8]) -> std::io::Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(file)?;
    out.write_all(value)?;
    out.sync_all()
}

/// Deletes the decrypted secret files of a job that has ended.
pub fn remove_secret_files(job_dir: &Path) {
    match std::fs::remove_dir_all(job_dir.join(SECRETS_DIR)) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(dir = %job_dir.display(), error = %e, "cannot remove a job's secret files")
        }
    }
}
