//! The platform's SQLite database, `{data_dir}/state.db`, shared by every service.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};

use std::os::unix::fs::OpenOptionsExt as _;

use anyhow::Context as _;
use rusqlite::Connection;

use crate::error::ApiError;

/// A cheap-to-clone handle on the one SQLite connection of the platform (WAL
/// mode), with what is derived from it and reused between requests.
#[derive(Clone)]
pub struct Db {
    conn: Arc<Mutex<Connection>>,
    /// Rows inserted, updated or deleted through the connection so far.
    epoch: Arc<AtomicU64>,
    views: Arc<crate::permissions::cache::ViewCache>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

impl Db {
    /// Opens (creating if needed) the database at `path` and runs every module's
    /// migrations.
    pub fn open(path: &Path) -> anyhow::Result<Db> {
        // Create the file 0600 first: SQLite gives its -wal and -shm files the
        // database file's mode.
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("cannot create database {}", path.display()))?;
        let mut conn = Connection::open(path)
            .with_context(|| format!("cannot open database {}", path.display()))?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        enable_wal(&conn).context("cannot enable WAL mode")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // Another process (the server, or a `neuro-local token` command next
        // to it) may open the same database at the same moment: the
        // migrations' checks and changes go in one write transaction, so the
        // second process waits and then finds everything in place.
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .context("cannot start the migration transaction")?;
        migrate(&tx).context("database migration failed")?;
        crate::jobs::store::migrate(&tx).context("jobs database migration failed")?;
        crate::oauth::migrate(&tx).context("oauth database migration failed")?;
        crate::permissions::store::migrate(&tx).context("grants migration failed")?;
        crate::secrets::migrate(&tx).context("secrets migration failed")?;
        crate::disks::migrate(&tx).context("disks migration failed")?;
        crate::service_accounts::migrate(&tx).context("service accounts migration failed")?;
        crate::registry::migrate(&tx).context("registry migration failed")?;
        crate::buckets::migrate(&tx).context("buckets migration failed")?;
        tx.commit().context("cannot commit the migrations")?;
        let epoch = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&epoch);
        conn.update_hook(Some(
            move |_: rusqlite::hooks::Action, _: &str, _: &str, _: i64| {
                counter.fetch_add(1, Ordering::Release);
            },
        ));
        Ok(Db {
            conn: Arc::new(Mutex::new(conn)),
            epoch,
            views: Arc::default(),
        })
    }

    /// How many rows were inserted, updated or deleted through this connection
    /// (including rolled back changes and foreign-key cascades): whatever is
    /// derived from the database at one epoch is still valid while it holds.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Permission views loaded recently (see [`crate::permissions::cache`]).
    pub fn views(&self) -> &crate::permissions::cache::ViewCache {
        &self.views
    }

    /// Runs `f` on a blocking thread with the connection locked.
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, ApiError> {
        let db = self.clone();
        tokio::task::spawn_blocking(move || db.call_blocking(f))
            .await
            .map_err(|e| ApiError::internal(format!("database task failed: {e}")))?
            .map_err(ApiError::from)
    }

    /// Runs the short read `f` (a few indexed lookups, such as a permission
    /// view) on the current thread when the connection is free, which spares
    /// the request two thread switches; on a blocking thread, as [`Db::call`]
    /// does, when another call holds the connection.
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, ApiError> {
        match self.try_now(f) {
            Ok(result) => result.map_err(ApiError::from),
            Err(f) => self.call(f).await,
        }
    }

    /// Runs `f` here if the connection is free; gives it back otherwise.
    fn try_now<R, F>(&self, f: F) -> Result<rusqlite::Result<R>, F>
    where
        F: FnOnce(&mut Connection) -> rusqlite::Result<R>,
    {
        match self.conn.try_lock() {
            Ok(mut conn) => Ok(f(&mut conn)),
            // A panic while holding the lock leaves the connection itself usable.
            Err(TryLockError::Poisoned(poisoned)) => Ok(f(&mut poisoned.into_inner())),
            Err(TryLockError::WouldBlock) => Err(f),
        }
    }

    /// Runs `f` on the current thread with the connection locked.
    pub fn call_blocking<R>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<R>,
    ) -> rusqlite::Result<R> {
        f(&mut self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves the connection itself usable.
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Switches the database to WAL mode. The switch needs the database to
/// itself, and SQLite answers "busy" at once (no busy timeout) while another
/// process is opening it: try again for a few seconds.
fn enable_wal(conn: &Connection) -> rusqlite::Result<()> {
    let started = std::time::Instant::now();
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && started.elapsed() < std::time::Duration::from_secs(10) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// Tables owned by the core: users and issued tokens.
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS users (
             name TEXT PRIMARY KEY NOT NULL,
             created_at INTEGER NOT NULL
         );
         CREATE TABLE IF NOT EXISTS tokens (
             jti TEXT PRIMARY KEY NOT NULL,
             user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
             issued_at INTEGER NOT NULL
         );
         CREATE INDEX IF NOT EXISTS tokens_user ON tokens(user_name);",
    )
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::Db;

    /// The server and a `neuro-local token` command may open a new data dir's
    /// database at the same moment; each must find the schema complete.
    #[test]
    fn concurrent_opens_of_a_new_database_all_migrate() {
        for round in 0..20 {
            let dir = tempfile::tempdir().expect("temp dir");
            let path = dir.path().join("state.db");
            let start = std::sync::Arc::new(std::sync::Barrier::new(8));
            let openers: Vec<_> = (0..8)
                .map(|_| {
                    let path = path.clone();
                    let start = start.clone();
                    std::thread::spawn(move || {
                        start.wait();
                        Db::open(&path).map(drop)
                    })
                })
                .collect();
            for opener in openers {
                let opened = opener.join().expect("opener thread");
                assert!(opened.is_ok(), "round {round}: {opened:?}");
            }
        }
    }
}
