//! The buckets service under `{base}/api/v1/buckets` (wire-protocol-data §3)
//! and the S3 endpoint of this cluster's buckets ([`s3`]).
//!
//! A bucket created here has provider `minio`: its objects live under
//! `{data_dir}/buckets/<id>` and are reached with S3 on the platform's own
//! address, with temporary credentials scoped to the one bucket
//! (`make_tmp_credentials`; read-only for a user with read access only) or
//! persistent ones scoped to their buckets. An imported bucket only records
//! the external provider's credentials and hands them back. A bucket's URI is
//! `blob://<cluster>/<owner>/<id or name>`; the permission tree decides who may
//! see (read), use for writing or delete (write) it.

pub mod keys;
pub mod objects;
pub mod s3;
pub mod store;

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::StatusCode;
use neuro_types::endpoints;
use neuro_types::permission::Action;
use neuro_types::wire::serde_util::iso8601;
use neuro_types::wire::{
    BucketCredentialsPayload, CreateBucketRequest, CreatePersistentCredentialsRequest,
    ImportBucketRequest, PatchBucketRequest, PersistentCredentialsPayload, SignBlobUrlRequest,
    SignedUrlPayload,
};
use neuro_types::BucketProvider;
use rusqlite::{params, OptionalExtension as _};
use rusty_s3::actions::S3Action as _;

use crate::app::EndpointRoutes as _;
use crate::auth::AuthUser;
use crate::error::{json_response, ApiError};
use crate::ndjson::{accepts_ndjson, ndjson_response, LineEnd};
use crate::permissions::{load_view, store as grants, AccessView};
use crate::state::AppState;
use keys::AccessKey;
use store::BucketRow;

pub use store::migrate;

/// Region advertised to S3 clients.
const REGION: &str = "us-east-1";

/// Longest lifetime of a signed URL (S3's limit).
const MAX_SIGNED_URL_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// The routes (full paths, from the endpoint table).
pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(&endpoints::BUCKETS_LIST, list)
        .endpoint(&endpoints::BUCKETS_CREATE, create)
        .endpoint(&endpoints::BUCKETS_IMPORT_EXTERNAL, import_external)
        .endpoint(&endpoints::BUCKETS_FIND_BY_PATH, find_by_path)
        .endpoint(&endpoints::BUCKETS_GET, get_one)
        .endpoint(&endpoints::BUCKETS_DELETE, remove)
        .endpoint(&endpoints::BUCKETS_SET_PUBLIC, set_public)
        .endpoint(&endpoints::BUCKETS_TMP_CREDENTIALS, tmp_credentials)
        .endpoint(&endpoints::BUCKETS_SIGN_BLOB_URL, sign_blob_url)
        .endpoint(&endpoints::PERSISTENT_CREDENTIALS_LIST, persistent_list)
        .endpoint(&endpoints::PERSISTENT_CREDENTIALS_CREATE, persistent_create)
        .endpoint(&endpoints::PERSISTENT_CREDENTIALS_GET, persistent_get)
        .endpoint(&endpoints::PERSISTENT_CREDENTIALS_DELETE, persistent_remove)
}

fn now_iso() -> String {
    iso8601::format(time::OffsetDateTime::now_utc())
}

/// Whether `name` is a valid bucket name: a lower-case letter, then lower-case
/// letters, digits and single dashes, not ending with a dash; at most 40 bytes.
pub fn is_valid_name(name: &str) -> bool {
    crate::disks::is_valid_name(name)
}

fn allows(view: &AccessView, row: &BucketRow, cluster: &str, needed: Action) -> bool {
    row.paths(cluster).iter().any(|p| view.allows(p, needed))
}

fn require(
    view: &AccessView,
    row: &BucketRow,
    cluster: &str,
    needed: Action,
) -> Result<(), ApiError> {
    if allows(view, row, cluster, needed) {
        return Ok(());
    }
    let paths = row.paths(cluster);
    match paths.first() {
        Some(path) => view.require(path, needed),
        None => Err(ApiError::forbidden("Permission denied")),
    }
}

/// Finds a bucket by id, or by name among `owner`'s (default the caller), and
/// checks `needed` on it; returns the caller's view too.
async fn find(
    state: &AppState,
    user: &AuthUser,
    id_or_name: &str,
    query: Option<&str>,
    needed: Action,
) -> Result<(BucketRow, AccessView), ApiError> {
    let owner =
        crate::query::param(query, endpoints::query::OWNER).unwrap_or_else(|| user.name.clone());
    let key = id_or_name.to_owned();
    let row = state
        .db
        .call(move |conn| store::find(conn, &key, &owner))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Bucket {id_or_name:?} not found")))?;
    let cluster = &state.settings.cluster_name;
    let view = load_view(&state.db, &user.name, cluster).await?;
    require(&view, &row, cluster, needed)?;
    Ok((row, view))
}

/// `GET buckets`: every bucket the caller may read (NDJSON when asked for).
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let cluster = state.settings.cluster_name.clone();
    let view = load_view(&state.db, &user.name, &cluster).await?;
    let rows = state.db.call(|conn| store::all(conn)).await?;
    let visible: Vec<_> = rows
        .into_iter()
        .filter(|r| allows(&view, r, &cluster, Action::Read))
        .map(|r| r.payload())
        .collect();
    if accepts_ndjson(&headers) {
        Ok(ndjson_response(futures::stream::iter(visible), LineEnd::Lf))
    } else {
        Ok(json_response(StatusCode::OK, &visible))
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8], what: &str) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("Invalid {what}: {e}")))
}

/// Stores a new bucket, `409` when the name is taken.
async fn insert(state: &AppState, row: BucketRow) -> Result<(), ApiError> {
    let stored = row.clone();
    let inserted = state.db.call(move |conn| stored.insert(conn)).await?;
    if !inserted {
        return Err(ApiError::conflict(format!(
            "Bucket with name {:?} already exists",
            row.name.as_deref().unwrap_or_default()
        )));
    }
    Ok(())
}

fn check_name(name: Option<&str>) -> Result<(), ApiError> {
    match name {
        Some(name) if !is_valid_name(name) => Err(ApiError::bad_request(format!(
            "Invalid bucket name {name:?}"
        ))),
        _ => Ok(()),
    }
}

/// `POST buckets` `{"name", "org_name"}`: `201` with the bucket.
async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: CreateBucketRequest = parse(&body, "bucket request")?;
    check_name(request.name.as_deref())?;
    let id = format!("bucket-{}", uuid::Uuid::new_v4());
    let row = BucketRow {
        provider_bucket_name: id.clone(),
        id,
        owner: user.name.clone(),
        name: request.name,
        org_name: request.org_name,
        created_at: now_iso(),
        provider: BucketProvider::Minio.as_str().to_owned(),
        imported: false,
        public: false,
        credentials: BTreeMap::new(),
    };
    let dir = s3::buckets_dir(&state.settings).join(&row.id);
    insert(&state, row.clone()).await?;
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| ApiError::internal(format!("cannot create the bucket directory: {e}")))?;
    tracing::info!(bucket = %row.id, owner = %row.owner, "bucket created");
    Ok(json_response(StatusCode::CREATED, &row.payload()))
}

/// `POST buckets/import/external`: records an external bucket.
async fn import_external(
    State(state): State<AppState>,
    user: AuthUser,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: ImportBucketRequest = parse(&body, "import request")?;
    check_name(request.name.as_deref())?;
    let provider: BucketProvider = request
        .provider
        .parse()
        .map_err(|_| ApiError::bad_request(format!("Unknown provider {:?}", request.provider)))?;
    if request.provider_bucket_name.is_empty() {
        return Err(ApiError::bad_request("provider_bucket_name is required"));
    }
    let row = BucketRow {
        id: format!("bucket-{}", uuid::Uuid::new_v4()),
        owner: user.name.clone(),
        name: request.name,
        org_name: request.org_name,
        created_at: now_iso(),
        provider: provider.as_str().to_owned(),
        imported: true,
        public: false,
        provider_bucket_name: request.provider_bucket_name,
        credentials: request.credentials,
    };
    insert(&state, row.clone()).await?;
    tracing::info!(bucket = %row.id, owner = %row.owner, "bucket imported");
    Ok(json_response(StatusCode::CREATED, &row.payload()))
}

/// `GET buckets/find/by_path?path=[org/]owner/bucket/key`: the bucket the
/// path belongs to.
async fn find_by_path(
    State(state): State<AppState>,
    user: AuthUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let path = crate::query::param(query.as_deref(), endpoints::query::PATH)
        .ok_or_else(|| ApiError::bad_request("path is required"))?;
    let parts: Vec<String> = path.split('/').map(str::to_owned).collect();
    // `owner/bucket/...`, or `org/owner/bucket/...` with an org.
    let candidates: Vec<(String, String)> = [0usize, 1]
        .iter()
        .filter_map(|skip| Some((parts.get(*skip)?.clone(), parts.get(skip + 1)?.clone())))
        .collect();
    let row = state
        .db
        .call(move |conn| {
            for (owner, bucket) in candidates {
                if let Some(row) = store::find(conn, &bucket, &owner)? {
                    if row.owner == owner {
                        return Ok(Some(row));
                    }
                }
            }
            Ok(None)
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No bucket found for path {path:?}")))?;
    let cluster = &state.settings.cluster_name;
    let view = load_view(&state.db, &user.name, cluster).await?;
    require(&view, &row, cluster, Action::Read)?;
    Ok(json_response(StatusCode::OK, &row.payload()))
}

/// `GET buckets/<id or name>[?owner=]`.
async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    UrlPath(id_or_name): UrlPath<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (row, _) = find(&state, &user, &id_or_name, query.as_deref(), Action::Read).await?;
    Ok(json_response(StatusCode::OK, &row.payload()))
}

/// `DELETE buckets/<id or name>[?owner=]`: `204`; the objects of a bucket of
/// this cluster go with it.
async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    UrlPath(id_or_name): UrlPath<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (row, _) = find(&state, &user, &id_or_name, query.as_deref(), Action::Write).await?;
    let cluster = state.settings.cluster_name.clone();
    let (id, paths) = (row.id.clone(), row.paths(&cluster));
    state
        .db
        .call(move |conn| {
            conn.execute("DELETE FROM buckets WHERE id = ?1", [&id])?;
            for path in &paths {
                grants::delete_grants_under(conn, path)?;
            }
            Ok(())
        })
        .await?;
    if !row.imported {
        let dir = s3::buckets_dir(&state.settings).join(&row.id);
        match tokio::fs::remove_dir_all(&dir).await {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(bucket = %row.id, error = %e, "cannot remove the bucket directory")
            }
        }
    }
    tracing::info!(bucket = %row.id, "bucket deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `PATCH buckets/<id or name>` `{"public": bool}`.
async fn set_public(
    State(state): State<AppState>,
    user: AuthUser,
    UrlPath(id_or_name): UrlPath<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: PatchBucketRequest = parse(&body, "bucket patch")?;
    let (mut row, _) = find(&state, &user, &id_or_name, query.as_deref(), Action::Write).await?;
    let id = row.id.clone();
    state
        .db
        .call(move |conn| {
            conn.execute(
                "UPDATE buckets SET public = ?1 WHERE id = ?2",
                params![request.public, id],
            )
        })
        .await?;
    row.public = request.public;
    Ok(json_response(StatusCode::OK, &row.payload()))
}

/// The S3 credentials of `key` for the local bucket `bucket_id`.
fn local_credentials(
    state: &AppState,
    bucket_id: &str,
    key: &AccessKey,
) -> BucketCredentialsPayload {
    let mut credentials = BTreeMap::from([
        ("bucket_name".to_owned(), bucket_id.to_owned()),
        (
            "endpoint_url".to_owned(),
            state
                .settings
                .base_url
                .as_str()
                .trim_end_matches('/')
                .to_owned(),
        ),
        ("region_name".to_owned(), REGION.to_owned()),
        ("access_key_id".to_owned(), key.access_key.clone()),
        ("secret_access_key".to_owned(), key.secret.clone()),
    ]);
    if let (Some(token), Some(expires)) = (&key.session_token, key.expires_at) {
        credentials.insert("session_token".to_owned(), token.clone());
        let expires = time::OffsetDateTime::from_unix_timestamp(expires as i64)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        credentials.insert("expiration".to_owned(), iso8601::format(expires));
    }
    BucketCredentialsPayload {
        bucket_id: bucket_id.to_owned(),
        provider: BucketProvider::Minio.as_str().to_owned(),
        credentials,
    }
}

/// `POST buckets/<id or name>/make_tmp_credentials`: for a bucket of this
/// cluster a fresh key for it alone, read-only unless the caller may write;
/// for an imported bucket the credentials recorded with it.
async fn tmp_credentials(
    State(state): State<AppState>,
    user: AuthUser,
    UrlPath(id_or_name): UrlPath<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (row, view) = find(&state, &user, &id_or_name, query.as_deref(), Action::Read).await?;
    if row.imported {
        let mut credentials = row.credentials.clone();
        credentials.insert("bucket_name".to_owned(), row.provider_bucket_name.clone());
        return Ok(json_response(
            StatusCode::OK,
            &BucketCredentialsPayload {
                bucket_id: row.id,
                provider: row.provider,
                credentials,
            },
        ));
    }
    let writable = allows(&view, &row, &state.settings.cluster_name, Action::Write);
    let key = AccessKey::issue(
        &user.name,
        vec![row.id.clone()],
        !writable,
        Some(state.settings.bucket_credentials_ttl),
    );
    let stored = key.clone();
    state.db.call(move |conn| stored.insert(conn)).await?;
    Ok(json_response(
        StatusCode::OK,
        &local_credentials(&state, &row.id, &key),
    ))
}

/// `POST buckets/<id>/sign_blob_url` `{"key", "expires_in_sec"}`: a presigned
/// `GetObject` URL, signed with a read-only key of the same lifetime.
async fn sign_blob_url(
    State(state): State<AppState>,
    user: AuthUser,
    UrlPath(id_or_name): UrlPath<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: SignBlobUrlRequest = parse(&body, "sign request")?;
    let (row, _) = find(&state, &user, &id_or_name, query.as_deref(), Action::Read).await?;
    if row.imported {
        return Err(ApiError::bad_request(
            "Signed URLs of imported buckets are made by their provider",
        ));
    }
    let seconds = u64::try_from(request.expires_in_sec)
        .ok()
        .filter(|s| *s > 0)
        .ok_or_else(|| ApiError::bad_request("expires_in_sec must be positive"))?;
    let ttl = Duration::from_secs(seconds).min(MAX_SIGNED_URL_TTL);
    let key = AccessKey::issue(&user.name, vec![row.id.clone()], true, Some(ttl));
    let stored = key.clone();
    state.db.call(move |conn| stored.insert(conn)).await?;
    let bucket = rusty_s3::Bucket::new(
        state.settings.base_url.clone(),
        rusty_s3::UrlStyle::Path,
        row.id.clone(),
        REGION,
    )
    .map_err(|e| ApiError::internal(format!("cannot sign: {e}")))?;
    let credentials = rusty_s3::Credentials::new_with_token(
        key.access_key.clone(),
        key.secret.clone(),
        key.session_token.clone().unwrap_or_default(),
    );
    let url = bucket
        .get_object(Some(&credentials), &request.key)
        .sign(ttl);
    Ok(json_response(
        StatusCode::OK,
        &SignedUrlPayload {
            url: url.to_string(),
        },
    ))
}

/// Persistent credentials as stored.
struct PersistentRow {
    id: String,
    owner: String,
    name: Option<String>,
    read_only: bool,
    bucket_ids: Vec<String>,
    access_key: String,
}

const PERSISTENT_COLUMNS: &str = "id, owner, name, read_only, bucket_ids, access_key";

fn persistent_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PersistentRow> {
    let ids: String = row.get(4)?;
    Ok(PersistentRow {
        id: row.get(0)?,
        owner: row.get(1)?,
        name: row.get(2)?,
        read_only: row.get(3)?,
        bucket_ids: serde_json::from_str(&ids).unwrap_or_default(),
        access_key: row.get(5)?,
    })
}

async fn persistent_payload(
    state: &AppState,
    row: PersistentRow,
) -> Result<PersistentCredentialsPayload, ApiError> {
    let access_key = row.access_key.clone();
    let key = state
        .db
        .call(move |conn| AccessKey::load(conn, &access_key))
        .await?
        .ok_or_else(|| ApiError::internal("persistent credentials lost their key"))?;
    Ok(PersistentCredentialsPayload {
        credentials: row
            .bucket_ids
            .iter()
            .map(|id| local_credentials(state, id, &key))
            .collect(),
        id: row.id,
        owner: row.owner,
        name: row.name,
        read_only: row.read_only,
    })
}

/// `GET persistent_credentials`: the caller's.
async fn persistent_list(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let owner = user.name.clone();
    let rows = state
        .db
        .call(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {PERSISTENT_COLUMNS} FROM bucket_persistent_credentials \
                 WHERE owner = ?1 ORDER BY id"
            ))?;
            let rows = stmt.query_map([owner], persistent_from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?;
    let mut payloads = Vec::new();
    for row in rows {
        payloads.push(persistent_payload(&state, row).await?);
    }
    if accepts_ndjson(&headers) {
        Ok(ndjson_response(
            futures::stream::iter(payloads),
            LineEnd::Lf,
        ))
    } else {
        Ok(json_response(StatusCode::OK, &payloads))
    }
}

/// `POST persistent_credentials` `{"name", "bucket_ids", "read_only"}`: the
/// caller needs read access to every bucket, write access unless read-only.
async fn persistent_create(
    State(state): State<AppState>,
    user: AuthUser,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: CreatePersistentCredentialsRequest = parse(&body, "credentials request")?;
    check_name(request.name.as_deref())?;
    if request.bucket_ids.is_empty() {
        return Err(ApiError::bad_request("bucket_ids must not be empty"));
    }
    let needed = if request.read_only {
        Action::Read
    } else {
        Action::Write
    };
    let mut ids = Vec::new();
    for id in &request.bucket_ids {
        let (row, _) = find(&state, &user, id, None, needed).await?;
        if row.imported {
            return Err(ApiError::bad_request(format!(
                "Bucket {id:?} is imported: use its provider's credentials"
            )));
        }
        ids.push(row.id);
    }
    let key = AccessKey::issue(&user.name, ids.clone(), request.read_only, None);
    let row = PersistentRow {
        id: format!("bucket-credentials-{}", uuid::Uuid::new_v4()),
        owner: user.name.clone(),
        name: request.name,
        read_only: request.read_only,
        bucket_ids: ids,
        access_key: key.access_key.clone(),
    };
    let (stored_key, id, owner, name, read_only, bucket_ids) = (
        key.clone(),
        row.id.clone(),
        row.owner.clone(),
        row.name.clone(),
        row.read_only,
        serde_json::to_string(&row.bucket_ids).unwrap_or_default(),
    );
    let inserted = state
        .db
        .call(move |conn| {
            let tx = conn.transaction()?;
            let n = tx.execute(
                &format!(
                    "INSERT OR IGNORE INTO bucket_persistent_credentials ({PERSISTENT_COLUMNS}) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ),
                params![
                    id,
                    owner,
                    name,
                    read_only,
                    bucket_ids,
                    stored_key.access_key
                ],
            )?;
            if n == 1 {
                stored_key.insert(&tx)?;
            }
            tx.commit()?;
            Ok(n == 1)
        })
        .await?;
    if !inserted {
        return Err(ApiError::conflict(format!(
            "Credentials with name {:?} already exist",
            row.name.as_deref().unwrap_or_default()
        )));
    }
    Ok(json_response(
        StatusCode::CREATED,
        &persistent_payload(&state, row).await?,
    ))
}

async fn find_persistent(
    state: &AppState,
    user: &AuthUser,
    id_or_name: &str,
) -> Result<PersistentRow, ApiError> {
    let (key, owner) = (id_or_name.to_owned(), user.name.clone());
    state
        .db
        .call(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {PERSISTENT_COLUMNS} FROM bucket_persistent_credentials \
                     WHERE owner = ?1 AND (id = ?2 OR name = ?2)"
                ),
                params![owner, key],
                persistent_from_row,
            )
            .optional()
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Credentials {id_or_name:?} not found")))
}

/// `GET persistent_credentials/<id or name>`.
async fn persistent_get(
    State(state): State<AppState>,
    user: AuthUser,
    UrlPath(id_or_name): UrlPath<String>,
) -> Result<Response, ApiError> {
    let row = find_persistent(&state, &user, &id_or_name).await?;
    Ok(json_response(
        StatusCode::OK,
        &persistent_payload(&state, row).await?,
    ))
}

/// `DELETE persistent_credentials/<id or name>`: `204`, the key is revoked.
async fn persistent_remove(
    State(state): State<AppState>,
    user: AuthUser,
    UrlPath(id_or_name): UrlPath<String>,
) -> Result<Response, ApiError> {
    let row = find_persistent(&state, &user, &id_or_name).await?;
    state
        .db
        .call(move |conn| {
            conn.execute(
                "DELETE FROM bucket_persistent_credentials WHERE id = ?1",
                [&row.id],
            )?;
            AccessKey::delete(conn, &row.access_key)
        })
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
