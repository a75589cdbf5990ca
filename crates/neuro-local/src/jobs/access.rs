//! Who may see and change which jobs, and use which secrets and disks in a job:
//! every decision goes through the permission tree ([`crate::permissions`]).
//! A user manages `job://<cluster>/<user>`; another user's job is `403` until it
//! (or an ancestor) is shared, and then allows exactly the shared action.

use neuro_types::permission::Action;
use neuro_types::wire::ContainerSpec;

use crate::db::Db;
use crate::error::ApiError;
use crate::permissions::{load_view, AccessView, ResourcePath};

use super::model::JobRecord;
use super::payload::job_uri;

/// The job's place in the permission tree.
fn job_path(job: &JobRecord) -> Result<ResourcePath, ApiError> {
    let uri = job_uri(job);
    ResourcePath::parse(&uri).ok_or_else(|| ApiError::internal(format!("invalid job URI {uri}")))
}

/// `Ok` if `user` may perform `action` on `job`, else `403` (the platform answers
/// 403 when the permission check fails). Reading a job's status needs
/// [`Action::Read`]; killing it or changing its life span needs [`Action::Write`].
pub async fn check(db: &Db, user: &str, job: &JobRecord, action: Action) -> Result<(), ApiError> {
    let view = load_view(db, user, &job.cluster_name).await?;
    view.require(&job_path(job)?, action)
}

/// The owners whose jobs `user` may find in a listing, narrowed to `requested`
/// when it is not empty, and the view that decides, job by job, which of
/// them are shown ([`visible`]).
pub async fn listable(
    db: &Db,
    cluster: &str,
    user: &str,
    requested: &[String],
) -> Result<(Vec<String>, AccessView), ApiError> {
    let view = load_view(db, user, cluster).await?;
    let reachable = |owner: &str| {
        view.level(&ResourcePath::in_cluster("job", cluster, owner))
            .is_some()
    };
    let owners: Vec<String> = if requested.is_empty() {
        let mut owners = vec![user.to_owned()];
        for grant in view.grants() {
            let segments = grant.path.segments();
            if grant.path.scheme() == "job" && segments.first().map(String::as_str) == Some(cluster)
            {
                if let Some(owner) = segments.get(1) {
                    if !owners.contains(owner) {
                        owners.push(owner.clone());
                    }
                }
            }
        }
        owners
    } else {
        requested.iter().filter(|o| reachable(o)).cloned().collect()
    };
    Ok((owners, view))
}

/// Whether a listing by the holder of `view` shows `job`.
pub fn visible(view: &AccessView, job: &JobRecord) -> bool {
    job_path(job).is_ok_and(|path| view.allows(&path, Action::Read))
}

/// `Ok` if `owner` may use every secret and disk `container` refers to: read for
/// secrets and read-only disks, write for writable disks; else `403`.
pub async fn check_resources(
    db: &Db,
    cluster: &str,
    owner: &str,
    container: &ContainerSpec,
) -> Result<(), ApiError> {
    let mut needed: Vec<(&str, Action)> = container
        .secret_env
        .values()
        .map(|uri| (uri.as_str(), Action::Read))
        .collect();
    needed.extend(
        container
            .secret_volumes
            .iter()
            .map(|v| (v.src_secret_uri.as_str(), Action::Read)),
    );
    needed.extend(container.disk_volumes.iter().map(|v| {
        let action = if v.read_only {
            Action::Read
        } else {
            Action::Write
        };
        (v.src_disk_uri.as_str(), action)
    }));
    if needed.is_empty() {
        return Ok(());
    }
    let view = load_view(db, owner, cluster).await?;
    for (uri, action) in needed {
        let path = ResourcePath::parse(uri)
            .ok_or_else(|| ApiError::bad_request(format!("Invalid resource URI {uri:?}")))?;
        view.require(&path, action)?;
    }
    Ok(())
}
