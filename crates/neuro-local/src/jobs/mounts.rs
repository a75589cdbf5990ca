//! Resolves a job's requested mounts into [`JobMounts`]: today the storage
//! `volumes`; secret files and disks add their resolvers here.

use neuro_types::permission::Action;

use super::model::JobRecord;
use super::sandbox::{BindMount, JobMounts};
use crate::settings::Settings;
use crate::storage::paths::{permission_for, resolve, user_root, Parents, StoragePath};

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
pub fn resolve_volumes(job: &JobRecord, settings: &Settings) -> Result<JobMounts, MountError> {
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
            Some(owner) if permission_for(&job.owner, &path).is_some_and(|a| a.allows(needed)) => {
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
        let root = user_root(&settings.storage_dir(), owner).map_err(|e| fail(e.to_string()))?;
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
