//! The config database `<config dir>/db`, in the layout the Python CLI uses, so
//! that a login made by either client serves both.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use neuro_types::wire::stored_config::{INSERT_MAIN_SQL, MAIN_TABLE_SQL};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::token::AuthToken;
use crate::ConfigError;

/// File name of the config database inside the config directory.
pub const DB_FILE: &str = "db";

/// How long a writer waits for another process holding the database lock
/// (the Python CLI's `sqlite3` waits 5 s).
pub const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// One row of the `main` table, with its JSON columns still as text.
#[derive(Clone, PartialEq)]
pub struct StoredRow {
    /// `auth_config` column: JSON of the OAuth settings.
    pub auth_config: String,
    /// Token, expiry and refresh token.
    pub token: AuthToken,
    /// `url` column: the API URL logged in to.
    pub url: String,
    /// `admin_url` column.
    pub admin_url: Option<String>,
    /// `version` column: the client version that wrote the row.
    pub version: String,
    /// Current cluster.
    pub cluster_name: Option<String>,
    /// Current org (`None` = no org).
    pub org_name: Option<String>,
    /// `clusters` column: JSON array of the stored clusters.
    pub clusters: String,
}

impl std::fmt::Debug for StoredRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredRow")
            .field("token", &self.token)
            .field("url", &self.url)
            .field("admin_url", &self.admin_url)
            .field("version", &self.version)
            .field("cluster_name", &self.cluster_name)
            .field("org_name", &self.org_name)
            .finish_non_exhaustive()
    }
}

/// Path of the database file in `dir`.
pub fn db_path(dir: &Path) -> PathBuf {
    dir.join(DB_FILE)
}

/// Whether a config database exists in `dir` (anything named `db` counts, as for
/// the Python CLI, so a login never writes over it).
pub fn is_present(dir: &Path) -> bool {
    db_path(dir).exists()
}

/// Reads the newest row of the `main` table after the checks the Python CLI
/// makes: the directory is 0700, the file is 0600, the table's SQL matches.
pub fn load(dir: &Path) -> Result<StoredRow, ConfigError> {
    let file = db_path(dir);
    if !dir.exists() || !file.exists() {
        return Err(ConfigError::NotFound {
            path: dir.to_path_buf(),
        });
    }
    if !dir.is_dir() {
        return Err(ConfigError::malformed(
            dir,
            "the config path is not a directory",
        ));
    }
    if !file.is_file() {
        return Err(ConfigError::malformed(dir, "`db` is not a regular file"));
    }
    check_mode(dir, 0o700)?;
    check_mode(&file, 0o600)?;

    let conn = open_ro(dir)?;
    let corrupt = |e: rusqlite::Error| ConfigError::malformed(dir, e.to_string());
    let sql: Option<String> = conn
        .query_row(
            "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'main'",
            [],
            |row| row.get(0),
        )
        .optional()
        .map_err(corrupt)?;
    if sql.as_deref() != Some(MAIN_TABLE_SQL) {
        return Err(ConfigError::malformed(
            dir,
            "unexpected schema of table `main`",
        ));
    }
    let row = conn
        .query_row(
            "SELECT auth_config, token, expiration_time, refresh_token, url, admin_url, \
             version, cluster_name, org_name, clusters \
             FROM main ORDER BY timestamp DESC LIMIT 1",
            [],
            |row| {
                Ok(StoredRow {
                    auth_config: row.get(0)?,
                    token: AuthToken {
                        token: row.get(1)?,
                        expiration_time: row.get(2)?,
                        refresh_token: row.get::<_, Option<String>>(3)?.unwrap_or_default(),
                    },
                    url: row.get(4)?,
                    admin_url: row.get(5)?,
                    version: row.get::<_, Option<String>>(6)?.unwrap_or_default(),
                    cluster_name: row.get(7)?,
                    org_name: row.get(8)?,
                    clusters: row.get(9)?,
                })
            },
        )
        .optional()
        .map_err(corrupt)?;
    row.ok_or_else(|| ConfigError::malformed(dir, "table `main` is empty"))
}

/// Opens an existing database (never creates one: a config removed by a logout
/// meanwhile must stay removed).
fn open_ro(dir: &Path) -> Result<Connection, ConfigError> {
    let file = db_path(dir);
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(&file, flags).map_err(|e| ConfigError::db(&file, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| ConfigError::db(&file, e))?;
    Ok(conn)
}

/// The stored token alone (another process may have refreshed it).
pub fn load_token(dir: &Path) -> Result<AuthToken, ConfigError> {
    let file = db_path(dir);
    let conn = open_ro(dir)?;
    conn.query_row(
        "SELECT token, expiration_time, refresh_token FROM main ORDER BY timestamp DESC LIMIT 1",
        [],
        |row| {
            Ok(AuthToken {
                token: row.get(0)?,
                expiration_time: row.get(1)?,
                refresh_token: row.get::<_, Option<String>>(2)?.unwrap_or_default(),
            })
        },
    )
    .map_err(|e| ConfigError::db(&file, e))
}

/// Stores a refreshed token in the existing row (`_save_auth_token`), in one
/// write transaction so that concurrent clients never see half a token.
pub fn save_token(dir: &Path, token: &AuthToken) -> Result<(), ConfigError> {
    update(
        dir,
        "UPDATE main SET token = ?1, expiration_time = ?2, refresh_token = ?3",
        params![token.token, token.expiration_time, token.refresh_token],
    )
}

/// Stores the current cluster and org in the existing row.
pub fn save_selection(
    dir: &Path,
    cluster_name: &str,
    org_name: Option<&str>,
) -> Result<(), ConfigError> {
    update(
        dir,
        "UPDATE main SET cluster_name = ?1, org_name = ?2",
        params![cluster_name, org_name],
    )
}

fn update(dir: &Path, sql: &str, params: impl rusqlite::Params) -> Result<(), ConfigError> {
    let file = db_path(dir);
    let mut conn = open_ro(dir)?;
    let result = (|| -> rusqlite::Result<()> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(sql, params)?;
        tx.commit()
    })();
    result.map_err(|e| ConfigError::db(&file, e))
}

/// Replaces the stored config with `row`, creating the directory (0700) and the
/// database (0600) as needed.
pub fn save(dir: &Path, row: &StoredRow) -> Result<(), ConfigError> {
    let mut conn = open_rw(dir)?;
    let file = db_path(dir);
    let result = (|| -> rusqlite::Result<()> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute("DELETE FROM main", [])?;
        tx.execute(
            INSERT_MAIN_SQL,
            params![
                row.auth_config,
                row.token.token,
                row.token.expiration_time,
                row.token.refresh_token,
                row.url,
                row.admin_url,
                row.version,
                row.cluster_name,
                row.org_name,
                row.clusters,
                crate::token::unix_now(),
            ],
        )?;
        tx.commit()
    })();
    result.map_err(|e| ConfigError::db(&file, e))
}

/// Deletes the config database (and its WAL files), then the directory if it is
/// left empty. Missing files are not an error.
pub fn remove(dir: &Path) -> Result<(), ConfigError> {
    for name in [DB_FILE, "db-wal", "db-shm"] {
        let path = dir.join(name);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ConfigError::io(path, e)),
        }
    }
    if dir.is_file() {
        // The 2019 single-file format.
        fs::remove_file(dir).map_err(|e| ConfigError::io(dir, e))?;
    } else if dir.is_dir() {
        // Only removed when empty; other files (user.toml, logs) keep it alive.
        let _ = fs::remove_dir(dir);
    }
    Ok(())
}

fn open_rw(dir: &Path) -> Result<Connection, ConfigError> {
    // Created 0700 at once (no window with the umask's bits), then fixed in case
    // it already existed.
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| ConfigError::io(dir, e))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(|e| ConfigError::io(dir, e))?;
    let file = db_path(dir);
    let conn = Connection::open(&file).map_err(|e| ConfigError::db(&file, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| ConfigError::db(&file, e))?;
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600))
        .map_err(|e| ConfigError::io(&file, e))?;
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| ConfigError::db(&file, e))?;
    let exists: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'main'",
            [],
            |row| row.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(|e| ConfigError::db(&file, e))?;
    if !exists {
        conn.execute(MAIN_TABLE_SQL, [])
            .map_err(|e| ConfigError::db(&file, e))?;
    }
    Ok(conn)
}

fn check_mode(path: &Path, expected: u32) -> Result<(), ConfigError> {
    let meta = fs::metadata(path).map_err(|e| ConfigError::io(path, e))?;
    if meta.permissions().mode() & 0o777 != expected {
        return Err(ConfigError::Permissions {
            path: path.to_path_buf(),
            expected,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn row(cluster: &str) -> StoredRow {
        StoredRow {
            auth_config: "{}".into(),
            token: AuthToken {
                token: "t".into(),
                expiration_time: 1.5e9,
                refresh_token: String::new(),
            },
            url: "http://h/api/v1".into(),
            admin_url: None,
            version: "22.7.1".into(),
            cluster_name: Some(cluster.into()),
            org_name: None,
            clusters: "[]".into(),
        }
    }

    #[test]
    fn load_checks_modes_schema_and_takes_the_newest_row() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cfg");
        save(&dir, &row("saved")).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&db_path(&dir)), 0o600);
        assert!(is_present(&dir));
        assert_eq!(load(&dir).unwrap(), row("saved"));

        // Rows are read by timestamp, not by insertion order.
        let conn = Connection::open(db_path(&dir)).unwrap();
        conn.execute(
            "INSERT INTO main (auth_config, token, expiration_time, refresh_token, url, \
             version, cluster_name, clusters, timestamp) \
             VALUES ('{}', 't', 0, '', 'u', 'v', 'older', '[]', 1.0)",
            [],
        )
        .unwrap();
        assert_eq!(load(&dir).unwrap().cluster_name.as_deref(), Some("saved"));
        conn.execute(
            "UPDATE main SET timestamp = 1e12 WHERE cluster_name = 'older'",
            [],
        )
        .unwrap();
        assert_eq!(load(&dir).unwrap().cluster_name.as_deref(), Some("older"));

        // Loose permission bits are refused, on the directory and on the file.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o750)).unwrap();
        assert!(matches!(
            load(&dir),
            Err(ConfigError::Permissions {
                expected: 0o700,
                ..
            })
        ));
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
        fs::set_permissions(db_path(&dir), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            load(&dir),
            Err(ConfigError::Permissions {
                expected: 0o600,
                ..
            })
        ));
        fs::set_permissions(db_path(&dir), fs::Permissions::from_mode(0o600)).unwrap();

        // Any other `main` schema is malformed.
        conn.execute_batch(
            "DROP TABLE main; CREATE TABLE main (auth_config TEXT, token TEXT, \
             expiration_time REAL, refresh_token TEXT, url TEXT, admin_url TEXT, version TEXT, \
             cluster_name TEXT, clusters TEXT, timestamp REAL)",
        )
        .unwrap();
        assert!(matches!(load(&dir), Err(ConfigError::Malformed { .. })));

        remove(&dir).unwrap();
        assert!(!dir.exists());
        assert!(matches!(load(&dir), Err(ConfigError::NotFound { .. })));
    }

    #[test]
    fn token_and_selection_updates_keep_the_row_and_never_create_a_db() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("cfg");
        save(&dir, &row("first")).unwrap();
        let fresh = AuthToken {
            token: "new".into(),
            expiration_time: 2e9,
            refresh_token: "r".into(),
        };
        save_token(&dir, &fresh).unwrap();
        save_selection(&dir, "second", Some("org")).unwrap();
        let loaded = load(&dir).unwrap();
        assert_eq!(loaded.token, fresh);
        assert_eq!(loaded.cluster_name.as_deref(), Some("second"));
        assert_eq!(loaded.org_name.as_deref(), Some("org"));
        assert_eq!(load_token(&dir).unwrap(), fresh);

        // After a logout, a late refresh does not bring a `db` back.
        remove(&dir).unwrap();
        assert!(save_token(&dir, &fresh).is_err());
        assert!(!is_present(&dir));
    }
}
