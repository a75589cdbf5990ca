//! Where the registry keeps things: blobs once by digest under
//! `{data_dir}/registry/blobs/sha256/<hex>` (manifests too, they are blobs),
//! uploads in progress under `{data_dir}/registry/uploads/<id>`, and in the
//! database which repository holds which blobs, manifests and tags.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension as _};

use super::digest::Digest;
use super::route::Reference;

/// Creates the registry's tables.
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS registry_blobs (
             repo TEXT NOT NULL,
             digest TEXT NOT NULL,
             PRIMARY KEY (repo, digest)
         );
         CREATE TABLE IF NOT EXISTS registry_manifests (
             repo TEXT NOT NULL,
             digest TEXT NOT NULL,
             media_type TEXT NOT NULL,
             size INTEGER NOT NULL,
             PRIMARY KEY (repo, digest)
         );
         CREATE TABLE IF NOT EXISTS registry_tags (
             repo TEXT NOT NULL,
             tag TEXT NOT NULL,
             digest TEXT NOT NULL,
             PRIMARY KEY (repo, tag)
         );
         CREATE TABLE IF NOT EXISTS registry_uploads (
             id TEXT PRIMARY KEY NOT NULL,
             repo TEXT NOT NULL
         );",
    )
}

/// The blob and upload directories of one platform.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

/// A stored manifest: its digest, media type and length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredManifest {
    /// Its digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: String,
    /// Its length in bytes.
    pub size: u64,
}

impl BlobStore {
    /// The store under `{data_dir}/registry`.
    pub fn new(data_dir: &Path) -> BlobStore {
        BlobStore {
            root: data_dir.join("registry"),
        }
    }

    /// The file of a stored blob.
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs").join("sha256").join(digest.hex())
    }

    /// The file of an upload in progress (`id` is checked by the router:
    /// letters, digits and `-` only).
    pub fn upload_path(&self, id: &str) -> PathBuf {
        self.root.join("uploads").join(id)
    }

    /// Creates an empty upload file (blocking).
    pub fn create_upload(&self, id: &str) -> std::io::Result<PathBuf> {
        let path = self.upload_path(id);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::File::create(&path)?;
        Ok(path)
    }

    /// Checks that the upload file `upload` has the digest `expected` and moves
    /// it into the store (blocking). `Ok(false)` when the digest differs (the
    /// upload is then discarded).
    pub fn commit(&self, upload: &Path, expected: &Digest) -> std::io::Result<bool> {
        let actual = Digest::of_file(upload)?;
        if &actual != expected {
            std::fs::remove_file(upload)?;
            return Ok(false);
        }
        let target = self.blob_path(expected);
        if target.exists() {
            std::fs::remove_file(upload)?;
        } else {
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::rename(upload, &target)?;
        }
        Ok(true)
    }

    /// Stores `data` (a manifest) under its digest (blocking).
    pub fn put(&self, data: &[u8]) -> std::io::Result<Digest> {
        let digest = Digest::of(data);
        let target = self.blob_path(&digest);
        if target.exists() {
            return Ok(digest);
        }
        let dir = target
            .parent()
            .ok_or_else(|| std::io::Error::other("blob path without parent"))?;
        std::fs::create_dir_all(dir)?;
        let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
        tmp.write_all(data)?;
        tmp.persist(&target).map_err(|e| e.error)?;
        Ok(digest)
    }
}

/// Records that `repo` holds the blob `digest`.
pub fn link_blob(conn: &Connection, repo: &str, digest: &Digest) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR IGNORE INTO registry_blobs (repo, digest) VALUES (?1, ?2)",
        params![repo, digest.as_str()],
    )?;
    Ok(())
}

/// Whether `repo` holds the blob `digest`.
pub fn has_blob(conn: &Connection, repo: &str, digest: &Digest) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT 1 FROM registry_blobs WHERE repo = ?1 AND digest = ?2",
        params![repo, digest.as_str()],
        |_| Ok(()),
    )
    .optional()
    .map(|row| row.is_some())
}

/// Removes `repo`'s link to the blob `digest`; whether there was one.
pub fn unlink_blob(conn: &Connection, repo: &str, digest: &Digest) -> rusqlite::Result<bool> {
    conn.execute(
        "DELETE FROM registry_blobs WHERE repo = ?1 AND digest = ?2",
        params![repo, digest.as_str()],
    )
    .map(|n| n > 0)
}

/// Records the manifest `manifest` in `repo`, and points `tag` at it.
pub fn put_manifest(
    conn: &mut Connection,
    repo: &str,
    manifest: &StoredManifest,
    tag: Option<&str>,
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT OR REPLACE INTO registry_manifests (repo, digest, media_type, size)
         VALUES (?1, ?2, ?3, ?4)",
        params![
            repo,
            manifest.digest.as_str(),
            manifest.media_type,
            manifest.size as i64
        ],
    )?;
    if let Some(tag) = tag {
        tx.execute(
            "INSERT OR REPLACE INTO registry_tags (repo, tag, digest) VALUES (?1, ?2, ?3)",
            params![repo, tag, manifest.digest.as_str()],
        )?;
    }
    tx.commit()
}

/// The manifest `reference` names in `repo`.
pub fn manifest(
    conn: &Connection,
    repo: &str,
    reference: &Reference,
) -> rusqlite::Result<Option<StoredManifest>> {
    let digest = match reference {
        Reference::Digest(d) => d.as_str().to_owned(),
        Reference::Tag(tag) => {
            let found: Option<String> = conn
                .query_row(
                    "SELECT digest FROM registry_tags WHERE repo = ?1 AND tag = ?2",
                    params![repo, tag],
                    |row| row.get(0),
                )
                .optional()?;
            match found {
                Some(d) => d,
                None => return Ok(None),
            }
        }
    };
    let row: Option<(String, String, i64)> = conn
        .query_row(
            "SELECT digest, media_type, size FROM registry_manifests WHERE repo = ?1 AND digest = ?2",
            params![repo, digest],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    Ok(row.and_then(|(digest, media_type, size)| {
        Some(StoredManifest {
            digest: Digest::parse(&digest)?,
            media_type,
            size: u64::try_from(size).ok()?,
        })
    }))
}

/// Deletes the manifest `digest` of `repo` and every tag pointing at it;
/// whether it existed.
pub fn delete_manifest(
    conn: &mut Connection,
    repo: &str,
    digest: &Digest,
) -> rusqlite::Result<bool> {
    let tx = conn.transaction()?;
    let n = tx.execute(
        "DELETE FROM registry_manifests WHERE repo = ?1 AND digest = ?2",
        params![repo, digest.as_str()],
    )?;
    tx.execute(
        "DELETE FROM registry_tags WHERE repo = ?1 AND digest = ?2",
        params![repo, digest.as_str()],
    )?;
    tx.commit()?;
    Ok(n > 0)
}

/// The tags of `repo`, sorted; `None` if the repository has no manifest.
pub fn tags(conn: &Connection, repo: &str) -> rusqlite::Result<Option<Vec<String>>> {
    let exists = conn
        .query_row(
            "SELECT 1 FROM registry_manifests WHERE repo = ?1 LIMIT 1",
            params![repo],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if !exists {
        return Ok(None);
    }
    let mut stmt = conn.prepare("SELECT tag FROM registry_tags WHERE repo = ?1 ORDER BY tag")?;
    let rows = stmt.query_map(params![repo], |row| row.get(0))?;
    rows.collect::<rusqlite::Result<Vec<String>>>().map(Some)
}

/// Every repository with at least one manifest, sorted.
pub fn repositories(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT DISTINCT repo FROM registry_manifests ORDER BY repo")?;
    let rows = stmt.query_map([], |row| row.get(0))?;
    rows.collect()
}

/// Records a new upload into `repo`.
pub fn start_upload(conn: &Connection, id: &str, repo: &str) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT INTO registry_uploads (id, repo) VALUES (?1, ?2)",
        params![id, repo],
    )?;
    Ok(())
}

/// The repository of the upload `id`, if it is in progress.
pub fn upload_repo(conn: &Connection, id: &str) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT repo FROM registry_uploads WHERE id = ?1",
        params![id],
        |row| row.get(0),
    )
    .optional()
}

/// Forgets the upload `id`.
pub fn end_upload(conn: &Connection, id: &str) -> rusqlite::Result<()> {
    conn.execute("DELETE FROM registry_uploads WHERE id = ?1", params![id])?;
    Ok(())
}
