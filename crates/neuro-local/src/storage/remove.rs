//! DELETE and RENAME.

use std::ffi::OsStr;
use std::path::Path;

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use neuro_types::permission::Action;
use neuro_types::wire::{DeleteEventPayload, ErrorBody};
use serde::Serialize;

use super::error::StorageError;
use super::paths::{permission_for, Parents, StoragePath};
use super::{blocking, brief, resolve, resolve_at, Call};
use crate::ndjson::{accepts_ndjson, ndjson_response, LineEnd};

/// Capacity of the channel between the deleting thread and the response.
const DELETE_BUFFER: usize = 64;

/// One NDJSON line of a DELETE answer.
#[derive(Serialize)]
#[serde(untagged)]
enum DeleteLine {
    Removed(DeleteEventPayload),
    Error(ErrorBody),
}

pub(super) async fn delete(call: Call) -> Result<Response, StorageError> {
    let recursive = match call.query.recursive.as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(StorageError::BadRequest(format!(
                "recursive must be true or false, not {other:?}"
            )))
        }
    };
    let target = resolve(&call, Parents::Lookup)?;
    if target.is_root() {
        return Err(StorageError::ForbiddenMsg(
            "Cannot delete a user's home directory".to_owned(),
        ));
    }
    let path = target.path();
    let is_dir = brief(|| Ok(std::fs::symlink_metadata(&path)?.is_dir()))?;
    if is_dir && !recursive {
        return Err(StorageError::os("Target is a directory", "EISDIR"));
    }
    let display = call.path.display();

    if !accepts_ndjson(&call.headers) {
        blocking(move || remove_entry(&path, &display, is_dir, &mut |_| {})).await?;
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    let (tx, rx) = tokio::sync::mpsc::channel(DELETE_BUFFER);
    tokio::task::spawn_blocking(move || {
        // The removal goes on even if the client stops reading.
        let mut emit = |event| {
            let _ = tx.blocking_send(DeleteLine::Removed(event));
        };
        if let Err(err) = remove_entry(&path, &display, is_dir, &mut emit) {
            let _ = tx.blocking_send(DeleteLine::Error(err.to_error_body()));
        }
    });
    let lines =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|l| (l, rx)) });
    Ok(ndjson_response(lines, LineEnd::CrLf))
}

/// Removes `path` (recursively if it is a directory), calling `emit` for every
/// removed entry, children before their parents. Symlinks are removed, never
/// followed.
fn remove_entry(
    path: &Path,
    display: &str,
    is_dir: bool,
    emit: &mut dyn FnMut(DeleteEventPayload),
) -> Result<(), StorageError> {
    if is_dir {
        for entry in std::fs::read_dir(path)? {
            let entry = entry?;
            let child_display = format!("{display}/{}", lossy(&entry.file_name()));
            let child_is_dir = entry.file_type()?.is_dir();
            match remove_entry(&entry.path(), &child_display, child_is_dir, emit) {
                Err(StorageError::NotFound) => {} // removed concurrently
                other => other?,
            }
        }
        std::fs::remove_dir(path)?;
    } else {
        std::fs::remove_file(path)?;
    }
    emit(DeleteEventPayload {
        path: display.to_owned(),
        is_dir,
    });
    Ok(())
}

fn lossy(name: &OsStr) -> String {
    name.to_string_lossy().into_owned()
}

pub(super) async fn rename(call: Call) -> Result<Response, StorageError> {
    let destination = call
        .query
        .destination
        .as_deref()
        .ok_or_else(|| StorageError::BadRequest("No destination".to_owned()))?;
    let destination = StoragePath::from_decoded(destination)?;
    let permission =
        permission_for(&call.view, call.cluster(), &destination).ok_or(StorageError::NotFound)?;
    if !permission.allows(Action::Write) {
        return Err(StorageError::Forbidden);
    }
    let source = resolve(&call, Parents::Lookup)?;
    if source.is_root() {
        return Err(StorageError::ForbiddenMsg(
            "Cannot move a user's home directory".to_owned(),
        ));
    }
    let dest = resolve_at(call.storage_dir(), &destination, Parents::Existing)?;
    if dest.is_root() {
        return Err(StorageError::os("File exists", "EEXIST"));
    }
    blocking(move || {
        std::fs::symlink_metadata(source.path())?;
        let to = dest.path();
        if !to.parent().is_some_and(Path::is_dir) {
            return Err(StorageError::NotFound);
        }
        std::fs::rename(source.path(), to)?;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
