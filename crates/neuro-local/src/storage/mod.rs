//! The storage service: `{base}/api/v1/storage/<owner>/<path>?op=...`
//! (wire-protocol-data §2).
//!
//! [`router`] routes every method on the prefix to one handler, which
//! authenticates the caller, picks the operation from `op` (or the method),
//! validates the path ([`paths`]), checks access with
//! [`paths::permission_for`] and runs the operation: brief filesystem work
//! (a few system calls on one path, small files) in place, anything longer on
//! blocking threads. Answers mirror the real platform-storage-api byte for byte where the SDK
//! can observe it.

mod error;
pub(crate) mod io;
mod meta;
pub mod paths;
mod pending;
mod read;
mod remove;
mod write;

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use http::{HeaderMap, Method, Uri};
use neuro_types::endpoints::{self, query, Base, Endpoint};
use neuro_types::permission::Action;

pub use error::StorageError;
use paths::{permission_for, StoragePath};

use std::sync::Arc;

use crate::permissions::{load_view, AccessView};

use crate::auth::authenticate;
use crate::state::AppState;

/// Path prefix of the storage API.
pub const PREFIX: &str = "/api/v1/storage/";

/// Names of in-flight uploads (where the filesystem has no anonymous files);
/// hidden from listings.
pub(crate) const UPLOAD_PREFIX: &str = ".neuro-upload-";

/// Routes of the storage API, with their full paths.
/// Every operation is one route (`op=` selects it), at the storage base of the
/// endpoint table.
pub fn router() -> Router<AppState> {
    let base = Base::StorageUrl.local_path();
    Router::new()
        .route(&format!("{base}/"), any(handle))
        .route(&format!("{base}/{{*path}}"), any(handle))
}

/// A storage operation, as named by the `op` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Read a file (GET/HEAD).
    Open,
    /// Create or truncate a file and write the body (PUT).
    Create,
    /// Write the body at an offset (PATCH).
    Write,
    /// List a directory (GET).
    ListStatus,
    /// Stat one entry (GET).
    GetFileStatus,
    /// `mkdir -p` (PUT).
    Mkdirs,
    /// Remove an entry (DELETE).
    Delete,
    /// Move an entry (POST).
    Rename,
    /// Filesystem capacity (GET).
    GetDiskUsage,
}

impl Op {
    /// Parses the `op` query value; case-sensitive like the real service.
    pub fn parse(op: &str) -> Result<Op, StorageError> {
        Op::ALL
            .iter()
            .find(|(_, endpoint)| endpoint.op == Some(op))
            .map(|(op, _)| *op)
            .ok_or_else(|| {
                StorageError::BadRequest(format!("'{op}' is not a valid StorageOperation"))
            })
    }

    /// Every operation with its endpoint in the generated table (which names its
    /// `op` value and method).
    const ALL: [(Op, &'static Endpoint); 9] = [
        (Op::Open, &endpoints::STORAGE_OPEN),
        (Op::Create, &endpoints::STORAGE_CREATE),
        (Op::Write, &endpoints::STORAGE_WRITE),
        (Op::ListStatus, &endpoints::STORAGE_LIST),
        (Op::GetFileStatus, &endpoints::STORAGE_STAT),
        (Op::Mkdirs, &endpoints::STORAGE_MKDIRS),
        (Op::Delete, &endpoints::STORAGE_DELETE),
        (Op::Rename, &endpoints::STORAGE_RENAME),
        (Op::GetDiskUsage, &endpoints::STORAGE_DISK_USAGE),
    ];

    /// The operation of a request: the `op` parameter if present (which must fit
    /// the method), else the method's default.
    pub fn select(method: &Method, op: Option<&str>) -> Result<Op, StorageError> {
        let Some(op) = op else {
            return match *method {
                Method::GET | Method::HEAD => Ok(Op::Open),
                Method::PUT => Ok(Op::Create),
                Method::PATCH => Ok(Op::Write),
                Method::DELETE => Ok(Op::Delete),
                _ => Err(StorageError::MethodNotAllowed),
            };
        };
        let op = Op::parse(op)?;
        let allowed: &[Method] = match op {
            Op::Open | Op::ListStatus | Op::GetFileStatus | Op::GetDiskUsage => {
                &[Method::GET, Method::HEAD]
            }
            Op::Create | Op::Mkdirs => &[Method::PUT],
            Op::Write => &[Method::PATCH],
            Op::Delete => &[Method::DELETE],
            Op::Rename => &[Method::POST],
        };
        if allowed.contains(method) {
            Ok(op)
        } else {
            Err(StorageError::MethodNotAllowed)
        }
    }

    /// The access level the operation needs.
    pub fn required(self) -> Action {
        match self {
            Op::Open | Op::ListStatus | Op::GetFileStatus | Op::GetDiskUsage => Action::Read,
            Op::Create | Op::Write | Op::Mkdirs | Op::Delete | Op::Rename => Action::Write,
        }
    }
}

/// The query parameters the storage service reads.
#[derive(Debug, Default)]
struct Query {
    op: Option<String>,
    recursive: Option<String>,
    destination: Option<String>,
}

impl Query {
    fn parse(query: Option<&str>) -> Query {
        let mut q = Query::default();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let slot = match &*key {
                query::OP => &mut q.op,
                query::RECURSIVE => &mut q.recursive,
                query::DESTINATION => &mut q.destination,
                _ => continue,
            };
            slot.get_or_insert_with(|| value.into_owned());
        }
        q
    }
}

/// Everything an operation needs about its request.
struct Call {
    state: AppState,
    user: String,
    path: StoragePath,
    permission: Action,
    /// The caller's permissions, for listings and rename destinations.
    view: Arc<AccessView>,
    method: Method,
    headers: HeaderMap,
    query: Query,
}

impl Call {
    /// The canonical storage directory.
    fn storage_dir(&self) -> &std::path::Path {
        &self.state.storage_root
    }

    fn cluster(&self) -> &str {
        &self.state.settings.cluster_name
    }
}

async fn handle(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match dispatch(state, method, uri, headers, body).await {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

async fn dispatch(
    state: AppState,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, StorageError> {
    let user = authenticate(&headers, &state).ok_or(StorageError::Unauthorized)?;
    let raw = uri
        .path()
        .strip_prefix(PREFIX)
        .ok_or(StorageError::NotFound)?;
    let query = Query::parse(uri.query());
    let op = Op::select(&method, query.op.as_deref())?;
    let path = StoragePath::from_encoded(raw)?;
    let view = load_view(&state.db, &user.name, &state.settings.cluster_name)
        .await
        .map_err(|e| StorageError::Internal(e.body.error))?;
    let permission =
        permission_for(&view, &state.settings.cluster_name, &path).ok_or(StorageError::NotFound)?;
    if !permission.allows(op.required()) {
        return Err(StorageError::Forbidden);
    }
    tracing::debug!(user = %user.name, ?op, path = %path, "storage request");
    let call = Call {
        state,
        user: user.name,
        path,
        permission,
        view: Arc::new(view),
        method,
        headers,
        query,
    };
    match op {
        Op::ListStatus => meta::list_status(call).await,
        Op::GetFileStatus => meta::get_file_status(call).await,
        Op::GetDiskUsage => meta::get_disk_usage(call).await,
        Op::Open => read::open(call).await,
        Op::Mkdirs => write::mkdirs(call).await,
        Op::Create => write::create(call, body).await,
        Op::Write => write::write(call, body).await,
        Op::Delete => remove::delete(call).await,
        Op::Rename => remove::rename(call).await,
    }
}

/// Runs filesystem work whose length depends on the data (listings,
/// recursive deletes, large bodies, removing or replacing a file, whose freed
/// blocks the disk may discard synchronously) off the async threads.
async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, StorageError> + Send + 'static,
) -> Result<R, StorageError> {
    tokio::task::spawn_blocking(f).await?
}

/// The most data [`brief`] work reads or writes.
const BRIEF_BYTES: u64 = 64 << 10;

/// Runs brief filesystem work in place: a few system calls on one path, with
/// at most [`BRIEF_BYTES`] of data. Served from the page cache, that takes
/// microseconds, less than the two thread switches of a trip to a blocking
/// thread, which were most of the time of a small request (thousands of small
/// files per second on two cores).
fn brief<R>(f: impl FnOnce() -> Result<R, StorageError>) -> Result<R, StorageError> {
    f()
}

/// Resolves the call's path inside its owner's root (creating the root).
fn resolve(call: &Call, parents: paths::Parents) -> Result<paths::Target, StorageError> {
    resolve_at(call.storage_dir(), &call.path, parents)
}

/// Resolves `path` inside its owner's root (creating the root) below the
/// canonical `storage` directory, in place (see [`brief`]).
fn resolve_at(
    storage: &std::path::Path,
    path: &StoragePath,
    parents: paths::Parents,
) -> Result<paths::Target, StorageError> {
    let owner = path.owner().ok_or(StorageError::Forbidden)?;
    if let Some(target) = paths::resolve_direct(storage, owner, path.rest()) {
        return Ok(target);
    }
    brief(|| {
        let root = paths::user_root(storage, owner)?;
        paths::resolve(&root, path.rest(), parents)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn op_selection() {
        assert_eq!(Op::select(&Method::GET, None).unwrap(), Op::Open);
        assert_eq!(Op::select(&Method::HEAD, None).unwrap(), Op::Open);
        assert_eq!(
            Op::select(&Method::PUT, Some("MKDIRS")).unwrap(),
            Op::Mkdirs
        );
        assert_eq!(
            Op::select(&Method::GET, Some("BOGUS")),
            Err(StorageError::BadRequest(
                "'BOGUS' is not a valid StorageOperation".into()
            ))
        );
        assert_eq!(
            Op::select(&Method::GET, Some("MKDIRS")),
            Err(StorageError::MethodNotAllowed)
        );
    }

    #[test]
    fn query() {
        let q = Query::parse(Some("op=RENAME&destination=/alice/a+b%2Fc&x=1"));
        assert_eq!(q.op.as_deref(), Some("RENAME"));
        assert_eq!(q.destination.as_deref(), Some("/alice/a b/c"));
    }
}
