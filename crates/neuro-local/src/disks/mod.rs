//! The disks service under `{base}/api/v1/disk` (wire-protocol-data §6): a disk
//! is a directory `{data_dir}/disks/<id>` with an advertised capacity. Its
//! `used_bytes` is measured on every answer, `last_usage` is set when a job
//! mounts it ([`attach`]), and a disk unused for longer than its `life_span`
//! (`timeout_unused`) is deleted by the reaper ([`reap`], [`spawn_reaper`]).
//!
//! A disk's URI is `disk://<cluster>/<owner>/<id>`; the permission tree decides
//! who may see (read), mount read-write or delete (write) it.
//!
//! Where the machine allows it, a disk is a loop-mounted ext4 image of its
//! capacity, so a job writing past it gets `ENOSPC`; otherwise a plain
//! directory whose capacity is only advertised ([`volume`]). The status is
//! `Pending` while the image is made, `Ready` once mounted, and `Broken` when it
//! could not be made or mounted (e.g. its image is gone after a restart).
//! A disk used by an unfinished job is never reaped; its `last_usage` moves on
//! instead, as the real platform's usage tracking does.

pub mod volume;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::app::EndpointRoutes as _;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::StatusCode;
use neuro_types::endpoints;
use neuro_types::permission::Action;
use neuro_types::wire::serde_util::iso8601;
use neuro_types::wire::{CreateDiskRequest, DiskPayload};
use rusqlite::{params, Connection, OptionalExtension as _, Row};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::auth::AuthUser;
use crate::db::Db;
use crate::error::{json_response, ApiError};
use crate::permissions::{load_view, store as grants, AccessView, ResourcePath};
use crate::settings::Settings;
use crate::state::AppState;

/// How often the background reaper looks for expired disks.
pub const REAP_INTERVAL: Duration = Duration::from_secs(15);

/// Creates the `disks` table.
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS disks (
             id TEXT PRIMARY KEY NOT NULL,
             owner TEXT NOT NULL,
             name TEXT,
             org_name TEXT,
             storage INTEGER NOT NULL,
             created_at REAL NOT NULL,
             last_usage REAL,
             life_span REAL,
             UNIQUE (owner, name)
         );",
    )?;
    let has_status: bool = conn.query_row(
        "SELECT COUNT(*) > 0 FROM pragma_table_info('disks') WHERE name = 'status'",
        [],
        |row| row.get(0),
    )?;
    if !has_status {
        conn.execute_batch("ALTER TABLE disks ADD COLUMN status TEXT NOT NULL DEFAULT 'Ready';")?;
    }
    Ok(())
}

/// `Disk.Status` as the wire spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Pending,
    Ready,
    Broken,
}

impl Status {
    fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "Pending",
            Status::Ready => "Ready",
            Status::Broken => "Broken",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "Pending" => Status::Pending,
            "Ready" => Status::Ready,
            _ => Status::Broken,
        }
    }
}

/// The routes of `/api/v1/disk`, from the generated endpoint table.
pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(&endpoints::DISKS_LIST, list)
        .endpoint(&endpoints::DISKS_CREATE, create)
        .endpoint(&endpoints::DISKS_GET, get_one)
        .endpoint(&endpoints::DISKS_RM, remove)
}

/// A disk as stored.
#[derive(Debug, Clone, PartialEq)]
struct DiskRow {
    id: String,
    owner: String,
    name: Option<String>,
    org_name: Option<String>,
    storage: u64,
    created_at: f64,
    last_usage: Option<f64>,
    life_span: Option<f64>,
    status: Status,
}

const COLUMNS: &str =
    "id, owner, name, org_name, storage, created_at, last_usage, life_span, status";

impl DiskRow {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: row.get(0)?,
            owner: row.get(1)?,
            name: row.get(2)?,
            org_name: row.get(3)?,
            storage: row.get::<_, i64>(4)?.max(0) as u64,
            created_at: row.get(5)?,
            last_usage: row.get(6)?,
            life_span: row.get(7)?,
            status: Status::parse(&row.get::<_, String>(8)?),
        })
    }

    fn path(&self, cluster: &str) -> ResourcePath {
        disk_path(cluster, &self.owner, &self.id)
    }

    fn payload(&self, used_bytes: u64) -> DiskPayload {
        DiskPayload {
            id: self.id.clone(),
            storage: self.storage,
            used_bytes: Some(used_bytes),
            owner: self.owner.clone(),
            name: self.name.clone(),
            status: self.status.as_str().to_owned(),
            org_name: self.org_name.clone(),
            created_at: format_time(self.created_at),
            last_usage: self.last_usage.map(format_time),
            life_span: self.life_span,
        }
    }

    /// Whether it has gone unused for longer than its life span at `now`.
    fn expired(&self, now: f64) -> bool {
        let since = self
            .last_usage
            .unwrap_or(self.created_at)
            .max(self.created_at);
        self.life_span.is_some_and(|span| now - since > span)
    }
}

fn format_time(secs: f64) -> String {
    let nanos = (secs * 1e9) as i128;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .map(iso8601::format)
        .unwrap_or_default()
}

fn now_secs_f64() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `disk://<cluster>/<owner>/<id>`.
pub fn disk_path(cluster: &str, owner: &str, id: &str) -> ResourcePath {
    let base = ResourcePath::in_cluster("disk", cluster, owner);
    ResourcePath::new(
        "disk",
        base.segments().iter().cloned().chain([id.to_owned()]),
    )
}

/// The directory of disk `id`.
pub fn disk_dir(settings: &Settings, id: &str) -> PathBuf {
    settings.data_dir.join("disks").join(id)
}

/// Whether `name` is a valid disk name: a lower-case letter, then lower-case
/// letters, digits and single dashes, not ending with a dash; at most 40 bytes.
pub fn is_valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    (1..=40).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && !name.ends_with('-')
        && !name.contains("--")
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

/// Bytes used by the files under `dir` (symlinks are not followed).
pub fn used_bytes(dir: &Path) -> u64 {
    let mut total = 0u64;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&current) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                stack.push(entry.path());
            } else if meta.is_file() {
                total = total.saturating_add(meta.len());
            }
        }
    }
    total
}

async fn payloads(settings: &Settings, rows: Vec<DiskRow>) -> Result<Vec<DiskPayload>, ApiError> {
    let dirs: Vec<PathBuf> = rows.iter().map(|r| disk_dir(settings, &r.id)).collect();
    let used =
        tokio::task::spawn_blocking(move || dirs.iter().map(|d| used_bytes(d)).collect::<Vec<_>>())
            .await
            .map_err(|e| ApiError::internal(format!("disk usage task failed: {e}")))?;
    Ok(rows.iter().zip(used).map(|(r, u)| r.payload(u)).collect())
}

/// `GET disk`: every disk the caller may read.
async fn list(State(state): State<AppState>, user: AuthUser) -> Result<Response, ApiError> {
    reap(&state.db, &state.settings).await?;
    let cluster = state.settings.cluster_name.clone();
    let view = load_view(&state.db, &user.name, &cluster).await?;
    let rows = state
        .db
        .call(|conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {COLUMNS} FROM disks ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([], DiskRow::from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?;
    let visible = rows
        .into_iter()
        .filter(|r| view.allows(&r.path(&cluster), Action::Read))
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &payloads(&state.settings, visible).await?,
    ))
}

/// `POST disk` `{"storage", "life_span", "name", "org_name"}`: `201` with the disk.
async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: CreateDiskRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("Invalid disk request: {e}")))?;
    if request.storage == 0 {
        return Err(ApiError::bad_request(
            "storage must be a positive number of bytes",
        ));
    }
    if let Some(span) = request.life_span {
        if !span.is_finite() || span <= 0.0 {
            return Err(ApiError::bad_request(
                "life_span must be a positive number of seconds",
            ));
        }
    }
    if let Some(name) = &request.name {
        if !is_valid_name(name) {
            return Err(ApiError::bad_request(format!("Invalid disk name {name:?}")));
        }
    }
    let row = DiskRow {
        id: format!("disk-{}", uuid::Uuid::new_v4()),
        owner: user.name.clone(),
        name: request.name,
        org_name: request.org_name,
        storage: request.storage,
        created_at: now_secs_f64(),
        last_usage: None,
        life_span: request.life_span,
        status: Status::Pending,
    };
    let cluster = state.settings.cluster_name.clone();
    load_view(&state.db, &user.name, &cluster)
        .await?
        .require(&row.path(&cluster), Action::Write)?;
    let dir = disk_dir(&state.settings, &row.id);
    let stored = row.clone();
    let inserted = state
        .db
        .call(move |conn| {
            conn.execute(
                &format!("INSERT OR IGNORE INTO disks ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"),
                params![
                    stored.id,
                    stored.owner,
                    stored.name,
                    stored.org_name,
                    stored.storage as i64,
                    stored.created_at,
                    stored.last_usage,
                    stored.life_span,
                    stored.status.as_str()
                ],
            )
        })
        .await?;
    if inserted == 0 {
        return Err(ApiError::conflict(format!(
            "Disk with name {:?} already exists",
            row.name.as_deref().unwrap_or_default()
        )));
    }
    let storage = row.storage;
    let made = blocking(move || volume::create(&dir, storage)).await?;
    let mut row = row;
    row.status = match made {
        Ok(()) => Status::Ready,
        Err(err) => {
            tracing::warn!(disk = %row.id, error = %err, "cannot make the disk");
            Status::Broken
        }
    };
    set_status(&state.db, &row.id, row.status).await?;
    tracing::info!(disk = %row.id, owner = %row.owner, status = row.status.as_str(), "disk created");
    Ok(json_response(StatusCode::CREATED, &row.payload(0)))
}

async fn set_status(db: &Db, id: &str, status: Status) -> Result<(), ApiError> {
    let id = id.to_owned();
    db.call(move |conn| {
        conn.execute(
            "UPDATE disks SET status = ?1 WHERE id = ?2",
            params![status.as_str(), id],
        )
    })
    .await?;
    Ok(())
}

async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("disk task failed: {e}")))
}

/// Finds a disk by id, or by name among `owner`'s, and checks `needed` on it.
async fn find(
    state: &AppState,
    user: &AuthUser,
    id_or_name: &str,
    owner: Option<String>,
    needed: Action,
) -> Result<DiskRow, ApiError> {
    let (key, owner) = (
        id_or_name.to_owned(),
        owner.unwrap_or_else(|| user.name.clone()),
    );
    let row = state
        .db
        .call(move |conn| {
            let by_id = conn
                .query_row(
                    &format!("SELECT {COLUMNS} FROM disks WHERE id = ?1"),
                    [&key],
                    DiskRow::from_row,
                )
                .optional()?;
            match by_id {
                Some(row) => Ok(Some(row)),
                None => conn
                    .query_row(
                        &format!("SELECT {COLUMNS} FROM disks WHERE owner = ?1 AND name = ?2"),
                        params![owner, key],
                        DiskRow::from_row,
                    )
                    .optional(),
            }
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Disk {id_or_name:?} not found")))?;
    let cluster = &state.settings.cluster_name;
    load_view(&state.db, &user.name, cluster)
        .await?
        .require(&row.path(cluster), needed)?;
    Ok(row)
}

/// `GET disk/<id or name>[?owner=]`.
async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    UrlPath(id_or_name): UrlPath<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    reap(&state.db, &state.settings).await?;
    let owner = crate::query::param(query.as_deref(), endpoints::query::OWNER);
    let row = find(&state, &user, &id_or_name, owner, Action::Read).await?;
    let mut answer = payloads(&state.settings, vec![row]).await?;
    Ok(json_response(StatusCode::OK, &answer.pop()))
}

/// `DELETE disk/<id or name>[?owner=]`: `204`.
async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    UrlPath(id_or_name): UrlPath<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let owner = crate::query::param(query.as_deref(), endpoints::query::OWNER);
    let row = find(&state, &user, &id_or_name, owner, Action::Write).await?;
    delete_disk(&state.db, &state.settings, &row).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Deletes the disk's row, the grants on it and its directory.
async fn delete_disk(db: &Db, settings: &Settings, row: &DiskRow) -> Result<(), ApiError> {
    let (id, path) = (row.id.clone(), row.path(&settings.cluster_name));
    db.call(move |conn| {
        conn.execute("DELETE FROM disks WHERE id = ?1", [&id])?;
        grants::delete_grants_under(conn, &path)
    })
    .await?;
    let dir = disk_dir(settings, &row.id);
    if let Err(e) = blocking(move || volume::remove(&dir)).await? {
        tracing::warn!(disk = %row.id, error = %e, "cannot remove the disk's files");
    }
    tracing::info!(disk = %row.id, owner = %row.owner, "disk deleted");
    Ok(())
}

/// Deletes every disk unused for longer than its life span. Returns how many.
pub async fn reap(db: &Db, settings: &Settings) -> Result<usize, ApiError> {
    let now = now_secs_f64();
    let expired: Vec<DiskRow> = db
        .call(|conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {COLUMNS} FROM disks WHERE life_span IS NOT NULL"
            ))?;
            let rows = stmt.query_map([], DiskRow::from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?
        .into_iter()
        .filter(|r| r.expired(now))
        .collect();
    let mut reaped = 0;
    for row in &expired {
        let (id, now) = (row.id.clone(), now_secs_f64());
        // A disk an unfinished job mounts is in use: it is not unused, however
        // long the job runs.
        let in_use = db
            .call(move |conn| {
                conn.execute(
                    "UPDATE disks SET last_usage = ?1 WHERE id = ?2 AND EXISTS (
                         SELECT 1 FROM jobs WHERE status IN ('pending', 'suspended', 'running')
                         AND instr(spec, ?2) > 0)",
                    params![now, id],
                )
            })
            .await?;
        if in_use == 0 {
            delete_disk(db, settings, row).await?;
            reaped += 1;
        }
    }
    Ok(reaped)
}

/// Mounts the image of every disk when the platform starts: `Ready` when it
/// mounts, `Broken` when it cannot (its image is gone or damaged). A disk left
/// `Pending` by a crash while it was being made is made again.
pub async fn restore(db: &Db, settings: &Settings) -> Result<(), ApiError> {
    let rows: Vec<DiskRow> = db
        .call(|conn| {
            let mut stmt = conn.prepare(&format!("SELECT {COLUMNS} FROM disks"))?;
            let rows = stmt.query_map([], DiskRow::from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?;
    for row in rows {
        let dir = disk_dir(settings, &row.id);
        let (pending, storage) = (row.status == Status::Pending, row.storage);
        let result = blocking(move || {
            if pending {
                volume::remove(&dir)?;
                volume::create(&dir, storage)
            } else {
                volume::mount(&dir)
            }
        })
        .await?;
        let status = match result {
            Ok(()) => Status::Ready,
            Err(err) => {
                tracing::warn!(disk = %row.id, error = %err, "disk is broken");
                Status::Broken
            }
        };
        if status != row.status {
            set_status(db, &row.id, status).await?;
        }
    }
    Ok(())
}

/// Unmounts every disk of the platform (when it stops). Blocking.
pub fn release_all(settings: &Settings) {
    volume::release_all(&settings.data_dir.join("disks"));
}

/// Runs [`reap`] every [`REAP_INTERVAL`] until `cancel` fires.
pub fn spawn_reaper(db: Db, settings: std::sync::Arc<Settings>, cancel: CancellationToken) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(REAP_INTERVAL) => {}
            }
            if let Err(err) = reap(&db, &settings).await {
                tracing::warn!(error = %err, "disk reaper failed");
            }
        }
    });
}

/// Resolves the disk at `uri` (`disk://<cluster>/<owner>/<id>`) for a job whose
/// owner has `view`, checking read (read-only mount) or write access, and
/// records the use. Returns the disk's directory.
pub async fn attach(
    db: &Db,
    settings: &Settings,
    view: &AccessView,
    uri: &str,
    read_only: bool,
) -> Result<PathBuf, ApiError> {
    let path = ResourcePath::parse(uri)
        .filter(|p| p.scheme() == "disk" && p.segments().len() >= 3)
        .ok_or_else(|| ApiError::bad_request(format!("Invalid disk URI {uri:?}")))?;
    let needed = if read_only {
        Action::Read
    } else {
        Action::Write
    };
    view.require(&path, needed)?;
    let id = path.segments().last().cloned().unwrap_or_default();
    let owner = path
        .segments()
        .get(1..path.segments().len() - 1)
        .unwrap_or(&[])
        .join("/");
    let (key, now) = (id.clone(), now_secs_f64());
    let status = db
        .call(move |conn| {
            let status: Option<String> = conn
                .query_row(
                    "SELECT status FROM disks WHERE id = ?1 AND owner = ?2",
                    params![key, owner],
                    |row| row.get(0),
                )
                .optional()?;
            if status.as_deref() == Some(Status::Ready.as_str()) {
                conn.execute(
                    "UPDATE disks SET last_usage = ?1 WHERE id = ?2",
                    params![now, key],
                )?;
            }
            Ok(status)
        })
        .await?;
    match status.as_deref().map(Status::parse) {
        None => Err(ApiError::not_found(format!("Disk {uri} not found"))),
        Some(Status::Ready) => Ok(disk_dir(settings, &id)),
        Some(other) => Err(ApiError::bad_request(format!(
            "Disk {uri} is {}",
            other.as_str()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_expiry() {
        for ok in ["data", "a1", "my-disk-2"] {
            assert!(is_valid_name(ok), "{ok}");
        }
        for bad in ["", "1a", "A", "a-", "a--b", "a_b", "disk/x"] {
            assert!(!is_valid_name(bad), "{bad}");
        }
        let mut row = DiskRow {
            id: "disk-1".into(),
            owner: "alice".into(),
            name: None,
            org_name: None,
            storage: 1,
            created_at: 100.0,
            last_usage: None,
            life_span: Some(10.0),
            status: Status::Ready,
        };
        assert!(!row.expired(105.0));
        assert!(row.expired(111.0));
        row.last_usage = Some(108.0);
        assert!(!row.expired(111.0));
        row.life_span = None;
        assert!(!row.expired(1e12));
        assert_eq!(format_time(0.5), "1970-01-01T00:00:00.500000+00:00");
    }
}
