//! The `buckets` table: buckets of this cluster (objects under
//! `{data_dir}/buckets/<id>`) and imported external ones.

use std::collections::BTreeMap;

use neuro_types::wire::BucketPayload;
use rusqlite::{params, Connection, OptionalExtension as _, Row};

use crate::permissions::ResourcePath;

/// Creates the bucket tables.
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS buckets (
             id TEXT PRIMARY KEY NOT NULL,
             owner TEXT NOT NULL,
             name TEXT,
             org_name TEXT,
             created_at TEXT NOT NULL,
             provider TEXT NOT NULL,
             imported INTEGER NOT NULL,
             public INTEGER NOT NULL,
             provider_bucket_name TEXT NOT NULL,
             credentials TEXT NOT NULL,
             UNIQUE (owner, name)
         );
         CREATE TABLE IF NOT EXISTS bucket_keys (
             access_key TEXT PRIMARY KEY NOT NULL,
             secret TEXT NOT NULL,
             session_token TEXT,
             bucket_ids TEXT NOT NULL,
             read_only INTEGER NOT NULL,
             expires_at REAL,
             owner TEXT NOT NULL
         );
         CREATE TABLE IF NOT EXISTS bucket_persistent_credentials (
             id TEXT PRIMARY KEY NOT NULL,
             owner TEXT NOT NULL,
             name TEXT,
             read_only INTEGER NOT NULL,
             bucket_ids TEXT NOT NULL,
             access_key TEXT NOT NULL,
             UNIQUE (owner, name)
         );",
    )
}

/// A bucket as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct BucketRow {
    /// `bucket-<uuid>`; also the S3 bucket name of a bucket of this cluster.
    pub id: String,
    /// Owner.
    pub owner: String,
    /// Optional name, unique per owner.
    pub name: Option<String>,
    /// The org.
    pub org_name: Option<String>,
    /// ISO 8601 creation time.
    pub created_at: String,
    /// `minio` for buckets of this cluster, the import's provider otherwise.
    pub provider: String,
    /// Whether it was imported.
    pub imported: bool,
    /// Whether anonymous reads are allowed.
    pub public: bool,
    /// The bucket's name at its provider.
    pub provider_bucket_name: String,
    /// Credentials of an imported bucket (empty otherwise).
    pub credentials: BTreeMap<String, String>,
}

impl std::fmt::Debug for BucketRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BucketRow")
            .field("id", &self.id)
            .field("owner", &self.owner)
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("imported", &self.imported)
            .finish_non_exhaustive()
    }
}

pub(crate) const COLUMNS: &str = "id, owner, name, org_name, created_at, provider, imported, \
                                  public, provider_bucket_name, credentials";

impl BucketRow {
    pub(crate) fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        let credentials: String = row.get(9)?;
        Ok(Self {
            id: row.get(0)?,
            owner: row.get(1)?,
            name: row.get(2)?,
            org_name: row.get(3)?,
            created_at: row.get(4)?,
            provider: row.get(5)?,
            imported: row.get(6)?,
            public: row.get(7)?,
            provider_bucket_name: row.get(8)?,
            credentials: serde_json::from_str(&credentials).unwrap_or_default(),
        })
    }

    /// The answer of the buckets API.
    pub fn payload(&self) -> BucketPayload {
        BucketPayload {
            id: self.id.clone(),
            owner: self.owner.clone(),
            name: self.name.clone(),
            created_at: self.created_at.clone(),
            provider: self.provider.clone(),
            imported: self.imported,
            public: self.public,
            org_name: self.org_name.clone(),
        }
    }

    /// The permission-tree paths naming it: `blob://<cluster>/<owner>/<id>`,
    /// and `.../<name>` when it has one (either grants access).
    pub fn paths(&self, cluster: &str) -> Vec<ResourcePath> {
        std::iter::once(&self.id)
            .chain(self.name.as_ref())
            .map(|last| {
                ResourcePath::in_cluster("blob", cluster, &format!("{}/{last}", self.owner))
            })
            .collect()
    }

    /// Inserts it; `false` when the owner already has a bucket of that name.
    pub(crate) fn insert(&self, conn: &Connection) -> rusqlite::Result<bool> {
        let credentials = serde_json::to_string(&self.credentials).unwrap_or_default();
        let inserted = conn.execute(
            &format!(
                "INSERT OR IGNORE INTO buckets ({COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ),
            params![
                self.id,
                self.owner,
                self.name,
                self.org_name,
                self.created_at,
                self.provider,
                self.imported,
                self.public,
                self.provider_bucket_name,
                credentials
            ],
        )?;
        Ok(inserted == 1)
    }
}

/// The bucket with id `id_or_name`, or `owner`'s bucket named so.
pub(crate) fn find(
    conn: &Connection,
    id_or_name: &str,
    owner: &str,
) -> rusqlite::Result<Option<BucketRow>> {
    let by_id = conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM buckets WHERE id = ?1"),
            [id_or_name],
            BucketRow::from_row,
        )
        .optional()?;
    match by_id {
        Some(row) => Ok(Some(row)),
        None => conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM buckets WHERE owner = ?1 AND name = ?2"),
                params![owner, id_or_name],
                BucketRow::from_row,
            )
            .optional(),
    }
}

/// Every bucket, oldest first.
pub(crate) fn all(conn: &Connection) -> rusqlite::Result<Vec<BucketRow>> {
    let mut stmt = conn.prepare(&format!(
        "SELECT {COLUMNS} FROM buckets ORDER BY created_at, id"
    ))?;
    let rows = stmt.query_map([], BucketRow::from_row)?;
    rows.collect()
}
