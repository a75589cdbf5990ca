//! LISTSTATUS, GETFILESTATUS and GETDISKUSAGE.

use std::fs::Metadata;
use std::path::{Path, PathBuf};

use axum::response::Response;
use futures::Stream;
use http::StatusCode;
use neuro_types::permission::Action;
use neuro_types::wire::{
    DiskUsagePayload, ErrorBody, FileStatusEnvelope, FileStatusPayload, FileStatusesEnvelope,
    FileStatusesList,
};
use serde::Serialize;

use super::error::{json_response, StorageError};
use super::paths::{permission_for, Parents, StoragePath};
use super::{brief, resolve, Call, UPLOAD_PREFIX};
use crate::ndjson::{accepts_ndjson, ndjson_response, LineEnd};

/// Capacity of the channel between the directory reader and the response.
const LIST_BUFFER: usize = 64;

/// The wire status of an entry whose `lstat` is `meta`.
pub(super) fn file_status(
    path: String,
    meta: &Metadata,
    permission: Action,
    target: Option<String>,
) -> FileStatusPayload {
    let file_type = meta.file_type();
    let (kind, length) = if file_type.is_dir() {
        ("DIRECTORY", 0)
    } else if file_type.is_file() {
        ("FILE", meta.len())
    } else if file_type.is_symlink() {
        ("SYMLINK", meta.len())
    } else {
        ("UNKNOWN", 0)
    };
    FileStatusPayload {
        path,
        length,
        file_type: kind.to_owned(),
        modification_time: mtime_secs(meta),
        permission: permission.as_str().to_owned(),
        target: if file_type.is_symlink() { target } else { None },
    }
}

/// Modification time in whole seconds since the epoch.
pub(super) fn mtime_secs(meta: &Metadata) -> i64 {
    use std::os::unix::fs::MetadataExt as _;
    meta.mtime()
}

/// Where the entry at `path` points, if `meta` (its `lstat`) says it is a
/// symlink.
fn link_target(path: &Path, meta: &std::fs::Metadata) -> Option<String> {
    if !meta.file_type().is_symlink() {
        return None;
    }
    std::fs::read_link(path)
        .ok()
        .map(|t| t.to_string_lossy().into_owned())
}

/// One entry of a listing, or a failure while reading the directory.
#[derive(Serialize)]
#[serde(untagged)]
enum ListLine {
    Entry(FileStatusEnvelope),
    Error(ErrorBody),
}

pub(super) async fn list_status(call: Call) -> Result<Response, StorageError> {
    let (dir, lister) = if call.path.is_cluster_root() {
        let storage = call.storage_dir().to_path_buf();
        let user = call.user.clone();
        // The caller's home always shows up in the cluster root.
        brief(|| Ok(super::paths::user_root(&storage, &user)?))?;
        (storage, lister(&call))
    } else {
        let target = resolve(&call, Parents::Lookup)?;
        let dir = brief(|| {
            let dir = target.follow()?;
            if std::fs::metadata(&dir)?.is_dir() {
                Ok(dir)
            } else {
                Err(StorageError::os("Not a directory", "ENOTDIR"))
            }
        })?;
        (dir, lister(&call))
    };
    let read_dir = brief(|| Ok(std::fs::read_dir(&dir)?))?;
    let entries = spawn_lister(dir, read_dir, lister);
    if accepts_ndjson(&call.headers) {
        use futures::StreamExt as _;
        let lines = entries.map(|entry| match entry {
            Ok(status) => ListLine::Entry(FileStatusEnvelope {
                file_status: status,
            }),
            Err(err) => ListLine::Error(err.to_error_body()),
        });
        return Ok(ndjson_response(lines, LineEnd::CrLf));
    }
    use futures::TryStreamExt as _;
    let file_status: Vec<FileStatusPayload> = entries.try_collect().await?;
    Ok(json_response(
        StatusCode::OK,
        &FileStatusesEnvelope {
            file_statuses: FileStatusesList { file_status },
        },
    ))
}

/// Which entries of a directory a listing shows, with which permission: those
/// the caller's permissions reach, each with its own permission.
struct Lister {
    view: std::sync::Arc<crate::permissions::AccessView>,
    cluster: String,
    dir: String,
}

fn lister(call: &Call) -> Lister {
    Lister {
        view: call.view.clone(),
        cluster: call.cluster().to_owned(),
        dir: call.path.display().trim_end_matches('/').to_owned(),
    }
}

fn spawn_lister(
    dir: PathBuf,
    read_dir: std::fs::ReadDir,
    lister: Lister,
) -> impl Stream<Item = Result<FileStatusPayload, StorageError>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel(LIST_BUFFER);
    tokio::task::spawn_blocking(move || {
        for entry in read_dir {
            let item = match entry {
                Ok(entry) => {
                    let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                        tracing::warn!(dir = %dir.display(), "skipping a non-UTF-8 file name");
                        continue;
                    };
                    if name.starts_with(UPLOAD_PREFIX) {
                        continue;
                    }
                    let Ok(path) = StoragePath::from_decoded(&format!("{}/{name}", lister.dir))
                    else {
                        continue;
                    };
                    let Some(permission) = permission_for(&lister.view, &lister.cluster, &path)
                    else {
                        continue;
                    };
                    // DirEntry::metadata does not follow symlinks.
                    match entry.metadata() {
                        Ok(meta) => {
                            let target = link_target(&entry.path(), &meta);
                            Ok(file_status(name, &meta, permission, target))
                        }
                        // Removed while listing.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => Err(StorageError::from(e)),
                    }
                }
                Err(e) => Err(StorageError::from(e)),
            };
            let stop = item.is_err();
            if tx.blocking_send(item).is_err() || stop {
                break;
            }
        }
    });
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

pub(super) async fn get_file_status(call: Call) -> Result<Response, StorageError> {
    let display = call.path.display();
    let permission = call.permission;
    let status = if call.path.is_cluster_root() {
        let storage = call.storage_dir();
        brief(|| {
            std::fs::create_dir_all(storage)?;
            let meta = std::fs::metadata(storage)?;
            Ok(file_status(display, &meta, permission, None))
        })?
    } else {
        let target = resolve(&call, Parents::Lookup)?;
        brief(|| {
            let path = target.path();
            let meta = std::fs::symlink_metadata(&path)?;
            Ok(file_status(
                display,
                &meta,
                permission,
                link_target(&path, &meta),
            ))
        })?
    };
    Ok(json_response(
        StatusCode::OK,
        &FileStatusEnvelope {
            file_status: status,
        },
    ))
}

pub(super) async fn get_disk_usage(call: Call) -> Result<Response, StorageError> {
    let storage = call.storage_dir().to_path_buf();
    // `statvfs` field types vary by platform; they are u64 on 64-bit Linux.
    #[allow(clippy::useless_conversion)]
    let usage = brief(|| {
        std::fs::create_dir_all(&storage)?;
        let st = nix::sys::statvfs::statvfs(&storage)
            .map_err(|e| StorageError::from(std::io::Error::from(e)))?;
        let frag = u64::from(st.fragment_size());
        let blocks = u64::from(st.blocks());
        let total = blocks.saturating_mul(frag);
        let free = u64::from(st.blocks_available()).saturating_mul(frag);
        let used = blocks
            .saturating_sub(u64::from(st.blocks_free()))
            .saturating_mul(frag);
        Ok(DiskUsagePayload { total, used, free })
    })?;
    Ok(json_response(StatusCode::OK, &usage))
}
