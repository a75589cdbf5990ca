//! The request handlers of the registry, one per method; each parses the
//! path into a [`Target`], authenticates, checks the permission tree, then acts.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode};
use neuro_types::endpoints::query;
use neuro_types::permission::Action;
use serde_json::json;
use tokio::io::AsyncWriteExt as _;

use super::auth::caller;
use super::digest::Digest;
use super::error::{RegistryError, API_VERSION};
use super::image_path;
use super::manifest::{self, Manifest};
use super::route::{Reference, RouteError, Target};
use super::store::{self, BlobStore, StoredManifest};
use crate::permissions::load_view;
use crate::state::AppState;

/// The largest manifest accepted.
const MAX_MANIFEST: usize = 4 << 20;

type Result<T> = std::result::Result<T, RegistryError>;

/// An authenticated request on one target, with the caller's permission checked.
struct Call {
    state: AppState,
    user: String,
    target: Target,
    store: BlobStore,
}

impl Call {
    /// Authenticates, parses `path` and requires `action` on its repository.
    async fn new(state: AppState, headers: &HeaderMap, path: &str, action: Action) -> Result<Call> {
        let user = caller(headers, &state)?;
        let target = Target::parse(path).map_err(|e| match e {
            RouteError::Unknown => RegistryError::NotFound,
            RouteError::BadName(name) => RegistryError::name_invalid(&name),
            RouteError::BadReference(r) if r.contains(':') => RegistryError::digest_invalid(r),
            RouteError::BadReference(r) => RegistryError::spec(
                StatusCode::BAD_REQUEST,
                "TAG_INVALID",
                "manifest tag did not match URI",
                json!(r),
            ),
        })?;
        require(&state, &user, target.repo(), action).await?;
        let store = BlobStore::new(&state.settings.data_dir);
        Ok(Call {
            state,
            user,
            target,
            store,
        })
    }
}

/// Fails with `403` unless `user` may do `action` on `repo`.
async fn require(state: &AppState, user: &str, repo: &str, action: Action) -> Result<()> {
    let cluster = &state.settings.cluster_name;
    let view = load_view(&state.db, user, cluster).await?;
    if view.allows(&image_path(cluster, repo), action) {
        Ok(())
    } else {
        Err(RegistryError::Forbidden)
    }
}

/// A query parameter (decoded).
fn query_param(query: &Option<String>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A response with the API version header and `headers`.
fn answer(status: StatusCode, headers: &[(&str, String)], body: Body) -> Response {
    let mut response = (status, body).into_response();
    let map = response.headers_mut();
    map.insert(
        HeaderName::from_static("docker-distribution-api-version"),
        HeaderValue::from_static(API_VERSION),
    );
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::try_from(*name),
            HeaderValue::try_from(value.as_str()),
        ) {
            map.insert(name, value);
        }
    }
    response
}

/// `GET /v2/`: `{}` for a valid login.
pub(super) async fn base(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match caller(&headers, &state) {
        Ok(_) => answer(
            StatusCode::OK,
            &[("content-type", "application/json; charset=utf-8".into())],
            Body::from("{}"),
        ),
        Err(e) => e.into_response(),
    }
}

/// One page of the sorted `items` after `last`, at most `n`, and whether more follow.
fn page(items: Vec<String>, last: Option<&str>, n: Option<usize>) -> (Vec<String>, bool) {
    let mut rest: Vec<String> = items
        .into_iter()
        .filter(|item| last.is_none_or(|last| item.as_str() > last))
        .collect();
    match n {
        Some(n) if rest.len() > n => {
            rest.truncate(n);
            (rest, true)
        }
        _ => (rest, false),
    }
}

/// The `Link` header to the page after `items`.
fn next_link(path: &str, items: &[String], n: usize) -> Option<(&'static str, String)> {
    let last = items.last()?;
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair(query::LAST, last)
        .append_pair(query::N, &n.to_string())
        .finish();
    Some(("link", format!("<{path}?{query}>; rel=\"next\"")))
}

fn page_size(query: &Option<String>) -> Result<Option<usize>> {
    query_param(query, query::N)
        .map(|n| {
            n.parse::<usize>().map_err(|_| {
                RegistryError::spec(
                    StatusCode::BAD_REQUEST,
                    "PAGINATION_NUMBER_INVALID",
                    "invalid number of results requested",
                    json!(n),
                )
            })
        })
        .transpose()
}

/// `GET /v2/_catalog`: the repositories the caller may read.
pub(super) async fn catalog(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let user = caller(&headers, &state)?;
    let n = page_size(&query)?;
    let cluster = state.settings.cluster_name.clone();
    let view = load_view(&state.db, &user, &cluster).await?;
    let all = state.db.call(|conn| store::repositories(conn)).await?;
    let readable: Vec<String> = all
        .into_iter()
        .filter(|repo| view.allows(&image_path(&cluster, repo), Action::Read))
        .collect();
    let last = query_param(&query, query::LAST);
    let (repos, more) = page(readable, last.as_deref(), n);
    let mut extra = vec![("content-type", "application/json; charset=utf-8".to_owned())];
    if let (true, Some(n)) = (more, n) {
        extra.extend(next_link(
            neuro_types::endpoints::REGISTRY_CATALOG.route,
            &repos,
            n,
        ));
    }
    let body = json!({ "repositories": repos }).to_string();
    Ok(answer(StatusCode::OK, &extra, Body::from(body)))
}

/// `GET` (and `HEAD`) `/v2/<path>`: tags, a manifest, a blob, an upload's status.
pub(super) async fn get(
    State(state): State<AppState>,
    Path(path): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response> {
    let call = Call::new(state, &headers, &path, Action::Read).await?;
    match call.target.clone() {
        Target::Tags(repo) => tags(&call, &repo, &query).await,
        Target::Manifest(repo, reference) => get_manifest(&call, &repo, &reference).await,
        Target::Blob(repo, digest) => get_blob(&call, &repo, &digest).await,
        Target::Upload(repo, id) => {
            let size = upload_size(&call, &repo, &id).await?;
            Ok(upload_answer(StatusCode::NO_CONTENT, &repo, &id, size))
        }
        Target::NewUpload(_) => Err(RegistryError::NotFound),
    }
}

async fn tags(call: &Call, repo: &str, query: &Option<String>) -> Result<Response> {
    let n = page_size(query)?;
    let owned = repo.to_owned();
    let tags = call
        .state
        .db
        .call(move |conn| store::tags(conn, &owned))
        .await?
        .ok_or_else(|| RegistryError::name_unknown(repo))?;
    let last = query_param(query, query::LAST);
    let (tags, more) = page(tags, last.as_deref(), n);
    let mut extra = vec![("content-type", "application/json; charset=utf-8".to_owned())];
    if let (true, Some(n)) = (more, n) {
        let path = format!(
            "/{}",
            neuro_types::endpoints::paths::registry_get(&format!("{repo}/tags/list"))
        );
        extra.extend(next_link(&path, &tags, n));
    }
    let body = json!({ "name": repo, "tags": tags }).to_string();
    Ok(answer(StatusCode::OK, &extra, Body::from(body)))
}

async fn find_manifest(call: &Call, repo: &str, reference: &Reference) -> Result<StoredManifest> {
    let (owned, r) = (repo.to_owned(), reference.clone());
    call.state
        .db
        .call(move |conn| store::manifest(conn, &owned, &r))
        .await?
        .ok_or_else(|| match reference {
            Reference::Tag(tag) => RegistryError::manifest_unknown("Tag", tag),
            Reference::Digest(d) => RegistryError::manifest_unknown("Digest", d.as_str()),
        })
}

async fn get_manifest(call: &Call, repo: &str, reference: &Reference) -> Result<Response> {
    let found = find_manifest(call, repo, reference).await?;
    let body = tokio::fs::read(call.store.blob_path(&found.digest)).await?;
    Ok(answer(
        StatusCode::OK,
        &[
            ("content-type", found.media_type.clone()),
            ("docker-content-digest", found.digest.to_string()),
            ("etag", format!("\"{}\"", found.digest)),
        ],
        Body::from(body),
    ))
}

async fn linked(call: &Call, repo: &str, digest: &Digest) -> Result<bool> {
    let (owned, d) = (repo.to_owned(), digest.clone());
    Ok(call
        .state
        .db
        .call(move |conn| store::has_blob(conn, &owned, &d))
        .await?)
}

async fn get_blob(call: &Call, repo: &str, digest: &Digest) -> Result<Response> {
    if !linked(call, repo, digest).await? {
        return Err(RegistryError::blob_unknown(digest.as_str()));
    }
    let file = match tokio::fs::File::open(call.store.blob_path(digest)).await {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RegistryError::blob_unknown(digest.as_str()))
        }
        Err(e) => return Err(e.into()),
    };
    let len = file.metadata().await?.len();
    // Storage's block reader: recycled 1 MiB buffers, read on a blocking thread.
    let body = Body::from_stream(crate::storage::io::read_blocks(
        file.into_std().await,
        0,
        len,
    ));
    Ok(answer(
        StatusCode::OK,
        &[
            ("content-type", "application/octet-stream".into()),
            ("content-length", len.to_string()),
            ("docker-content-digest", digest.to_string()),
            ("etag", format!("\"{digest}\"")),
        ],
        body,
    ))
}

/// The answer about an upload in progress of `size` bytes.
fn upload_answer(status: StatusCode, repo: &str, id: &str, size: u64) -> Response {
    let location = format!(
        "/{}",
        neuro_types::endpoints::paths::registry_patch(&format!("{repo}/blobs/uploads/{id}"))
    );
    answer(
        status,
        &[
            ("location", location),
            ("range", format!("0-{}", size.saturating_sub(1))),
            ("docker-upload-uuid", id.to_owned()),
            ("content-length", "0".into()),
        ],
        Body::empty(),
    )
}

/// The answer to a stored blob.
fn blob_created(repo: &str, digest: &Digest) -> Response {
    let location = format!(
        "/{}",
        neuro_types::endpoints::paths::registry_get(&format!("{repo}/blobs/{digest}"))
    );
    answer(
        StatusCode::CREATED,
        &[
            ("location", location),
            ("docker-content-digest", digest.to_string()),
            ("content-length", "0".into()),
        ],
        Body::empty(),
    )
}

/// The size of the upload `id` into `repo`, which must be in progress.
async fn upload_size(call: &Call, repo: &str, id: &str) -> Result<u64> {
    let owned = id.to_owned();
    let owner = call
        .state
        .db
        .call(move |conn| store::upload_repo(conn, &owned))
        .await?;
    if owner.as_deref() != Some(repo) {
        return Err(RegistryError::upload_unknown(id));
    }
    match tokio::fs::metadata(call.store.upload_path(id)).await {
        Ok(meta) => Ok(meta.len()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(RegistryError::upload_unknown(id))
        }
        Err(e) => Err(e.into()),
    }
}

/// Appends `body` to the upload file of `id`; the new size.
async fn append(store: &BlobStore, id: &str, body: Body) -> Result<u64> {
    let mut file = tokio::fs::OpenOptions::new()
        .append(true)
        .open(store.upload_path(id))
        .await?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            RegistryError::spec(
                StatusCode::BAD_REQUEST,
                "BLOB_UPLOAD_INVALID",
                "blob upload invalid",
                json!(e.to_string()),
            )
        })?;
        file.write_all(&chunk).await?;
    }
    file.flush().await?;
    Ok(file.metadata().await?.len())
}

/// Verifies and stores the upload `id` as `digest`, linked into `repo`.
async fn finish_upload(
    call: &Call,
    repo: &str,
    id: &str,
    digest: Option<String>,
) -> Result<Response> {
    let end = |call: &Call| {
        let owned = id.to_owned();
        let db = call.state.db.clone();
        async move { db.call(move |conn| store::end_upload(conn, &owned)).await }
    };
    let Some(digest) = digest.as_deref().and_then(Digest::parse) else {
        let _ = tokio::fs::remove_file(call.store.upload_path(id)).await;
        end(call).await?;
        return Err(RegistryError::digest_invalid(digest.unwrap_or_default()));
    };
    let (blobs, upload, expected) = (
        call.store.clone(),
        call.store.upload_path(id),
        digest.clone(),
    );
    let matched = tokio::task::spawn_blocking(move || blobs.commit(&upload, &expected))
        .await
        .map_err(|e| RegistryError::internal(e.to_string()))??;
    end(call).await?;
    if !matched {
        return Err(RegistryError::digest_invalid(digest.as_str()));
    }
    let (owned, d) = (repo.to_owned(), digest.clone());
    call.state
        .db
        .call(move |conn| store::link_blob(conn, &owned, &d))
        .await?;
    Ok(blob_created(repo, &digest))
}

/// Starts an upload into `repo`; its id.
async fn new_upload(call: &Call, repo: &str) -> Result<String> {
    let id = uuid::Uuid::new_v4().to_string();
    let blobs = call.store.clone();
    let file_id = id.clone();
    tokio::task::spawn_blocking(move || blobs.create_upload(&file_id))
        .await
        .map_err(|e| RegistryError::internal(e.to_string()))??;
    let (owned_id, owned_repo) = (id.clone(), repo.to_owned());
    call.state
        .db
        .call(move |conn| store::start_upload(conn, &owned_id, &owned_repo))
        .await?;
    Ok(id)
}

/// `POST /v2/<repo>/blobs/uploads/`: starts an upload, uploads at once with
/// `digest`, or mounts a blob from another repository.
pub(super) async fn post(
    State(state): State<AppState>,
    Path(path): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response> {
    let call = Call::new(state, &headers, &path, Action::Write).await?;
    let Target::NewUpload(repo) = call.target.clone() else {
        return Err(RegistryError::NotFound);
    };
    if let (Some(mount), Some(from)) = (
        query_param(&query, query::MOUNT),
        query_param(&query, query::FROM),
    ) {
        if let Some(digest) = Digest::parse(&mount) {
            if super::route::is_valid_repo(&from)
                && require(&call.state, &call.user, &from, Action::Read)
                    .await
                    .is_ok()
                && linked(&call, &from, &digest).await?
            {
                let (owned, d) = (repo.clone(), digest.clone());
                call.state
                    .db
                    .call(move |conn| store::link_blob(conn, &owned, &d))
                    .await?;
                return Ok(blob_created(&repo, &digest));
            }
        }
    }
    let id = new_upload(&call, &repo).await?;
    if let Some(digest) = query_param(&query, query::DIGEST) {
        append(&call.store, &id, body).await?;
        return finish_upload(&call, &repo, &id, Some(digest)).await;
    }
    Ok(upload_answer(StatusCode::ACCEPTED, &repo, &id, 0))
}

/// The start offset of a `Content-Range: <start>-<end>` header.
fn range_start(headers: &HeaderMap) -> Option<u64> {
    let value = headers.get(header::CONTENT_RANGE)?.to_str().ok()?;
    let value = value
        .trim()
        .trim_start_matches("bytes")
        .trim_start_matches([' ', '=']);
    value.split_once('-')?.0.trim().parse().ok()
}

/// `PATCH /v2/<repo>/blobs/uploads/<id>`: appends a chunk.
pub(super) async fn patch(
    State(state): State<AppState>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let call = Call::new(state, &headers, &path, Action::Write).await?;
    let Target::Upload(repo, id) = call.target.clone() else {
        return Err(RegistryError::NotFound);
    };
    let size = upload_size(&call, &repo, &id).await?;
    if let Some(start) = range_start(&headers) {
        if start != size {
            return Ok(answer(
                StatusCode::RANGE_NOT_SATISFIABLE,
                &[("range", format!("0-{}", size.saturating_sub(1)))],
                Body::empty(),
            ));
        }
    }
    let size = append(&call.store, &id, body).await?;
    Ok(upload_answer(StatusCode::ACCEPTED, &repo, &id, size))
}

/// `PUT`: completes an upload, or stores a manifest.
pub(super) async fn put(
    State(state): State<AppState>,
    Path(path): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Result<Response> {
    let call = Call::new(state, &headers, &path, Action::Write).await?;
    match call.target.clone() {
        Target::Upload(repo, id) => {
            upload_size(&call, &repo, &id).await?;
            append(&call.store, &id, body).await?;
            finish_upload(&call, &repo, &id, query_param(&query, query::DIGEST)).await
        }
        Target::Manifest(repo, reference) => {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = axum::body::to_bytes(body, MAX_MANIFEST)
                .await
                .map_err(|e| RegistryError::manifest_invalid(e.to_string()))?;
            put_manifest(&call, &repo, &reference, content_type.as_deref(), bytes).await
        }
        _ => Err(RegistryError::NotFound),
    }
}

async fn put_manifest(
    call: &Call,
    repo: &str,
    reference: &Reference,
    content_type: Option<&str>,
    bytes: bytes::Bytes,
) -> Result<Response> {
    let (parsed, media_type) = Manifest::parse(&bytes, content_type)
        .map_err(|e| RegistryError::manifest_invalid(e.to_string()))?;
    let digest = Digest::of(&bytes);
    if let Reference::Digest(expected) = reference {
        if expected != &digest {
            return Err(RegistryError::digest_invalid(expected.as_str()));
        }
    }
    if manifest::is_index(&media_type) {
        let children = parsed
            .children()
            .map_err(|e| RegistryError::manifest_invalid(e.to_string()))?;
        for child in children {
            find_manifest(call, repo, &Reference::Digest(child.clone()))
                .await
                .map_err(|_| {
                    RegistryError::spec(
                        StatusCode::BAD_REQUEST,
                        "MANIFEST_BLOB_UNKNOWN",
                        "blob unknown to registry",
                        json!(child.as_str()),
                    )
                })?;
        }
    } else {
        let blobs = parsed
            .blobs()
            .map_err(|e| RegistryError::manifest_invalid(e.to_string()))?;
        for blob in blobs {
            if !linked(call, repo, &blob).await? {
                return Err(RegistryError::spec(
                    StatusCode::BAD_REQUEST,
                    "MANIFEST_BLOB_UNKNOWN",
                    "blob unknown to registry",
                    json!(blob.as_str()),
                ));
            }
        }
    }
    let blobs = call.store.clone();
    let data = bytes.clone();
    tokio::task::spawn_blocking(move || blobs.put(&data))
        .await
        .map_err(|e| RegistryError::internal(e.to_string()))??;
    let stored = StoredManifest {
        digest: digest.clone(),
        media_type,
        size: bytes.len() as u64,
    };
    let tag = match reference {
        Reference::Tag(tag) => Some(tag.clone()),
        Reference::Digest(_) => None,
    };
    let owned = repo.to_owned();
    call.state
        .db
        .call(move |conn| store::put_manifest(conn, &owned, &stored, tag.as_deref()))
        .await?;
    let location = format!(
        "/{}",
        neuro_types::endpoints::paths::registry_get(&format!("{repo}/manifests/{digest}"))
    );
    Ok(answer(
        StatusCode::CREATED,
        &[
            ("location", location),
            ("docker-content-digest", digest.to_string()),
            ("content-length", "0".into()),
        ],
        Body::empty(),
    ))
}

/// `DELETE`: a manifest by digest (with its tags), a blob link, or an upload.
pub(super) async fn delete(
    State(state): State<AppState>,
    Path(path): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let call = Call::new(state, &headers, &path, Action::Write).await?;
    match call.target.clone() {
        Target::Manifest(_, Reference::Tag(_)) => Err(RegistryError::spec(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "The operation is unsupported.",
            json!("delete a manifest by its digest"),
        )),
        Target::Manifest(repo, Reference::Digest(digest)) => {
            let d = digest.clone();
            let deleted = call
                .state
                .db
                .call(move |conn| store::delete_manifest(conn, &repo, &d))
                .await?;
            if deleted {
                Ok(answer(
                    StatusCode::ACCEPTED,
                    &[("content-length", "0".into())],
                    Body::empty(),
                ))
            } else {
                Err(RegistryError::manifest_unknown("Digest", digest.as_str()))
            }
        }
        Target::Blob(repo, digest) => {
            let d = digest.clone();
            let deleted = call
                .state
                .db
                .call(move |conn| store::unlink_blob(conn, &repo, &d))
                .await?;
            if deleted {
                Ok(answer(
                    StatusCode::ACCEPTED,
                    &[("content-length", "0".into())],
                    Body::empty(),
                ))
            } else {
                Err(RegistryError::blob_unknown(digest.as_str()))
            }
        }
        Target::Upload(repo, id) => {
            upload_size(&call, &repo, &id).await?;
            let _ = tokio::fs::remove_file(call.store.upload_path(&id)).await;
            let owned = id.clone();
            call.state
                .db
                .call(move |conn| store::end_upload(conn, &owned))
                .await?;
            Ok(answer(StatusCode::NO_CONTENT, &[], Body::empty()))
        }
        _ => Err(RegistryError::NotFound),
    }
}
