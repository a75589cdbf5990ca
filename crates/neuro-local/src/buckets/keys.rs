//! S3 access keys of this cluster's object storage: temporary ones (one
//! bucket, short-lived, with a session token) and those behind persistent
//! credentials (a set of buckets, optionally read-only).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::distributions::{Alphanumeric, DistString as _};
use rusqlite::{params, Connection, OptionalExtension as _};

use crate::db::Db;
use crate::error::ApiError;

/// Lifetime of temporary credentials.
pub const TMP_CREDENTIALS_TTL: Duration = Duration::from_secs(3600);

/// One access key and what it opens.
#[derive(Clone, PartialEq)]
pub struct AccessKey {
    /// The access key id.
    pub access_key: String,
    /// The secret it signs with.
    pub secret: String,
    /// The session token that must come with it (temporary keys).
    pub session_token: Option<String>,
    /// The buckets it opens.
    pub bucket_ids: Vec<String>,
    /// Whether it only allows reading.
    pub read_only: bool,
    /// Seconds since the epoch after which it is refused.
    pub expires_at: Option<f64>,
    /// The user it was issued to.
    pub owner: String,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key", &self.access_key)
            .field("bucket_ids", &self.bucket_ids)
            .field("read_only", &self.read_only)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Seconds since the epoch.
pub fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn random(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rngs::OsRng, len)
}

impl AccessKey {
    /// A new key for `bucket_ids`, expiring after `ttl` when given (then with
    /// a session token).
    pub fn issue(
        owner: &str,
        bucket_ids: Vec<String>,
        read_only: bool,
        ttl: Option<Duration>,
    ) -> Self {
        Self {
            access_key: format!("NL{}", random(18).to_uppercase()),
            secret: random(40),
            session_token: ttl.map(|_| random(64)),
            bucket_ids,
            read_only,
            expires_at: ttl.map(|t| now() + t.as_secs_f64()),
            owner: owner.to_owned(),
        }
    }

    /// Whether it is past its expiry.
    pub fn expired(&self) -> bool {
        self.expires_at.is_some_and(|at| now() > at)
    }

    /// Whether it opens `bucket` for an operation that writes (`write`) or not.
    pub fn opens(&self, bucket: &str, write: bool) -> bool {
        self.bucket_ids.iter().any(|b| b == bucket) && !(write && self.read_only)
    }

    /// Stores it, dropping keys that expired more than a day ago.
    pub fn insert(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.execute(
            "DELETE FROM bucket_keys WHERE expires_at IS NOT NULL AND expires_at < ?1",
            [now() - 86_400.0],
        )?;
        conn.execute(
            "INSERT INTO bucket_keys (access_key, secret, session_token, bucket_ids, read_only, \
             expires_at, owner) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                self.access_key,
                self.secret,
                self.session_token,
                serde_json::to_string(&self.bucket_ids).unwrap_or_default(),
                self.read_only,
                self.expires_at,
                self.owner
            ],
        )?;
        Ok(())
    }

    /// The key `access_key`, if any.
    pub fn load(conn: &Connection, access_key: &str) -> rusqlite::Result<Option<Self>> {
        conn.query_row(
            "SELECT access_key, secret, session_token, bucket_ids, read_only, expires_at, owner \
             FROM bucket_keys WHERE access_key = ?1",
            [access_key],
            |row| {
                let ids: String = row.get(3)?;
                Ok(Self {
                    access_key: row.get(0)?,
                    secret: row.get(1)?,
                    session_token: row.get(2)?,
                    bucket_ids: serde_json::from_str(&ids).unwrap_or_default(),
                    read_only: row.get(4)?,
                    expires_at: row.get(5)?,
                    owner: row.get(6)?,
                })
            },
        )
        .optional()
    }

    /// Revokes `access_key`.
    pub fn delete(conn: &Connection, access_key: &str) -> rusqlite::Result<()> {
        conn.execute(
            "DELETE FROM bucket_keys WHERE access_key = ?1",
            [access_key],
        )?;
        Ok(())
    }
}

/// How long a key read from the database is used without reading it again.
const CACHE_TTL: Duration = Duration::from_secs(5);

/// Keys cache entries above which the stale ones are dropped.
const CACHE_PRUNE_AT: usize = 4_096;

/// Access keys read from the database, kept for a few seconds so the S3
/// endpoint does not read the same row twice for every request (the
/// signature check and the access check each need it). Only keys found are
/// kept, and only while the database is unchanged ([`Db::epoch`]), so a
/// revoked key is refused at once; expiry is checked by the caller on every
/// use.
#[derive(Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, CachedKey>>,
}

struct CachedKey {
    key: AccessKey,
    read_at: Instant,
    epoch: u64,
}

impl CachedKey {
    fn fresh(&self, epoch: u64) -> bool {
        self.epoch == epoch && self.read_at.elapsed() < CACHE_TTL
    }
}

impl KeyCache {
    /// The key `access_key`: from the cache if read recently and the
    /// database has not changed since, otherwise from `db`.
    pub async fn get(&self, db: &Db, access_key: &str) -> Result<Option<AccessKey>, ApiError> {
        let epoch = db.epoch();
        let cached = self.entries.lock().ok().and_then(|entries| {
            let entry = entries.get(access_key)?;
            entry.fresh(epoch).then(|| entry.key.clone())
        });
        if cached.is_some() {
            return Ok(cached);
        }
        let wanted = access_key.to_owned();
        let found = db.read(move |conn| AccessKey::load(conn, &wanted)).await?;
        if let (Some(key), Ok(mut entries)) = (&found, self.entries.lock()) {
            if entries.len() >= CACHE_PRUNE_AT {
                entries.retain(|_, e| e.fresh(epoch));
            }
            let read_at = Instant::now();
            let key = key.clone();
            entries.insert(
                access_key.to_owned(),
                CachedKey {
                    key,
                    read_at,
                    epoch,
                },
            );
        }
        Ok(found)
    }
}
