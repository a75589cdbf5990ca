//! Who may see and change which jobs. The one place to extend when jobs can be
//! shared: today a user reaches only their own jobs.

use neuro_types::permission::Action;

use crate::error::ApiError;

use super::model::JobRecord;
use super::payload::job_uri;

/// `Ok` if `user` may perform `action` on `job`, else `403` (the platform answers
/// 403 when the permission check fails). Reading a job's status needs
/// [`Action::Read`]; killing it or changing its life span needs [`Action::Write`].
pub fn check(user: &str, job: &JobRecord, action: Action) -> Result<(), ApiError> {
    if job.owner == user {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "Permission denied: {user} has no {} access to {}",
            action.as_str(),
            job_uri(job)
        )))
    }
}

/// The owners whose jobs `user` may list, narrowed to `requested` when it is not
/// empty.
pub fn listable_owners(user: &str, requested: &[String]) -> Vec<String> {
    if requested.is_empty() || requested.iter().any(|o| o == user) {
        vec![user.to_owned()]
    } else {
        Vec::new()
    }
}
