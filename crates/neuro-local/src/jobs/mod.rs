//! Jobs service (placeholder until the jobs engineer's module lands).

use std::sync::Arc;

use crate::db::Db;
use crate::settings::Settings;
use crate::state::AppState;

/// Handle on the jobs service.
#[derive(Clone, Debug)]
pub struct JobService {
    _settings: Arc<Settings>,
}

impl JobService {
    /// Starts the jobs service.
    pub fn new(settings: Arc<Settings>, _db: Db) -> anyhow::Result<JobService> {
        Ok(JobService {
            _settings: settings,
        })
    }

    /// Stops every running job.
    pub async fn shutdown(&self) {}
}

/// Routes of the jobs API, nested at `/api/v1/jobs`.
pub fn router() -> axum::Router<AppState> {
    axum::Router::new()
}

/// Jobs tables.
pub mod store {
    /// Creates the jobs tables.
    pub fn migrate(_conn: &rusqlite::Connection) -> rusqlite::Result<()> {
        Ok(())
    }
}
