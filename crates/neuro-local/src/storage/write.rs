//! MKDIRS, CREATE and WRITE.

use std::os::unix::fs::OpenOptionsExt as _;

use axum::body::Body;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::{Stream, StreamExt as _};
use http::{header, HeaderValue, StatusCode};

use super::error::StorageError;
use super::io::BlockWriter;
use super::paths::{Parents, Target};
use super::pending::PendingFile;
use super::{blocking, brief, resolve, Call, BRIEF_BYTES};
use crate::error::TEXT_PLAIN;

/// aiohttp's plain-text answer for a success status, e.g. `201: Created`.
fn text_ok(status: StatusCode) -> Response {
    crate::error::text_response(status)
}

pub(super) async fn mkdirs(call: Call) -> Result<Response, StorageError> {
    let target = resolve(&call, Parents::Create)?;
    brief(|| {
        if target.is_root() {
            return Ok(());
        }
        let path = target.path();
        match std::fs::create_dir(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let resolved = target.follow()?;
                if std::fs::metadata(resolved)?.is_dir() {
                    Ok(())
                } else {
                    Err(StorageError::os("File exists", "EEXIST"))
                }
            }
            Err(e) => Err(e.into()),
        }
    })?;
    Ok(text_ok(StatusCode::CREATED))
}

/// Copies `body` into the file behind `writer`, returning the number of bytes
/// written. With a `limit`, refuses (before writing them) bytes past it.
async fn copy_body(
    mut body: impl Stream<Item = Result<Bytes, axum::Error>> + Unpin,
    mut writer: BlockWriter,
    limit: Option<u64>,
) -> Result<u64, StorageError> {
    let mut written = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            StorageError::BadRequestText(format!("Cannot read the request body: {e}"))
        })?;
        let len = chunk.len() as u64;
        if limit.is_some_and(|limit| written + len > limit) {
            return Err(StorageError::BadRequestText(
                "Body is longer than the Content-Range".to_owned(),
            ));
        }
        writer.write(chunk).await?;
        written += len;
    }
    writer.finish().await?;
    Ok(written)
}

/// The body's announced length.
fn content_length(call: &Call) -> Option<u64> {
    call.headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

pub(super) async fn create(call: Call, body: Body) -> Result<Response, StorageError> {
    if content_length(&call).is_some_and(|len| len <= BRIEF_BYTES) {
        // A small file: receive it, then do everything on disk in one go.
        let data = axum::body::to_bytes(body, BRIEF_BYTES as usize)
            .await
            .map_err(|e| {
                StorageError::BadRequestText(format!("Cannot read the request body: {e}"))
            })?;
        let direct = call.path.owner().and_then(|owner| {
            PendingFile::create_direct(call.storage_dir(), owner, call.path.rest())
        });
        let (target, pending) = match direct {
            Some(direct) => direct,
            None => {
                let target = resolve(&call, Parents::Create)?;
                let pending = brief(|| PendingFile::create_unchecked(&target))?;
                (target, pending)
            }
        };
        let taken = brief(|| {
            std::io::Write::write_all(&mut &*pending.file(), &data)?;
            pending.commit_new(&target)
        })?;
        if let Some(pending) = taken {
            commit(pending, target).await?;
        }
        return Ok(text_ok(StatusCode::CREATED));
    }
    let target = resolve(&call, Parents::Create)?;
    let pending = brief(|| PendingFile::create(&target))?;
    // If the body fails or the request is dropped, `pending` is dropped and
    // the partial upload with it; the target is never touched.
    copy_body(
        body.into_data_stream(),
        BlockWriter::new(pending.file(), 0),
        None,
    )
    .await?;
    commit(pending, target).await?;
    Ok(text_ok(StatusCode::CREATED))
}

/// Puts a complete upload under its name: in place for a new name, on a
/// blocking thread when it replaces an entry (see [`blocking`]).
async fn commit(pending: PendingFile, target: Target) -> Result<(), StorageError> {
    if pending.replaces() {
        blocking(move || pending.commit(&target)).await
    } else {
        brief(|| pending.commit(&target))
    }
}

/// Parses `Content-Range: bytes <first>-<last>/<total or *>`.
fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let rest = value.trim().strip_prefix("bytes ")?;
    let (range, total) = rest.split_once('/')?;
    if total != "*" && total.parse::<u64>().is_err() {
        return None;
    }
    let (first, last) = range.split_once('-')?;
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(first) || !all_digits(last) {
        return None;
    }
    let (first, last): (u64, u64) = (first.parse().ok()?, last.parse().ok()?);
    (last >= first).then_some((first, last))
}

pub(super) async fn write(call: Call, body: Body) -> Result<Response, StorageError> {
    let Some(range) = call.headers.get(header::CONTENT_RANGE) else {
        return Err(StorageError::BadRequestText(
            "Required header Content-Range".to_owned(),
        ));
    };
    let (first, last) = range
        .to_str()
        .ok()
        .and_then(parse_content_range)
        .ok_or_else(|| StorageError::BadRequestText("Invalid header Content-Range".to_owned()))?;
    let expected = last - first + 1;
    if let Some(length) = content_length(&call) {
        if length != expected {
            return Err(StorageError::BadRequestText(
                "Content-Length does not match Content-Range".to_owned(),
            ));
        }
    }
    let target = resolve(&call, Parents::Existing)?;
    let file = brief(|| {
        let meta = target.symlink_metadata()?;
        if meta.is_dir() {
            return Err(StorageError::os("Is a directory", "EISDIR"));
        }
        if !meta.is_file() {
            return Err(StorageError::os("Not a regular file", "EINVAL"));
        }
        Ok(std::sync::Arc::new(
            std::fs::OpenOptions::new()
                .write(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(target.path())?,
        ))
    })?;
    let writer = BlockWriter::new(file, first);
    let written = copy_body(body.into_data_stream(), writer, Some(expected)).await?;
    if written != expected {
        return Err(StorageError::BadRequestText(
            "Body is shorter than the Content-Range".to_owned(),
        ));
    }
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_PLAIN))],
        "200: OK",
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range() {
        assert_eq!(parse_content_range("bytes 2-4/*"), Some((2, 4)));
        assert_eq!(parse_content_range("bytes 0-0/10"), Some((0, 0)));
        assert_eq!(parse_content_range("bytes 4-2/*"), None);
        assert_eq!(parse_content_range("bytes -2/*"), None);
        assert_eq!(parse_content_range("bytes 1-2"), None);
        assert_eq!(parse_content_range("bytes +1-2/*"), None);
        assert_eq!(parse_content_range("items 1-2/*"), None);
    }
}
