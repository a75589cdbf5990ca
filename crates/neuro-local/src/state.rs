//! The state shared by every request handler.

use std::path::Path;
use std::sync::Arc;

use crate::auth::TokenIssuer;
use crate::db::Db;
use crate::jobs::JobService;
use crate::settings::Settings;

/// Cheap-to-clone handles on the platform's services.
#[derive(Clone)]
pub struct AppState {
    /// Static settings.
    pub settings: Arc<Settings>,
    /// The storage directory ([`Settings::storage_dir`]) as a canonical path,
    /// resolved once at start-up: every storage request confines its path
    /// below it without resolving it again.
    pub storage_root: Arc<Path>,
    /// The database.
    pub db: Db,
    /// Token issuer and verifier.
    pub tokens: Arc<TokenIssuer>,
    /// The jobs service.
    pub jobs: JobService,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}
