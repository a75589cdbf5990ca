//! OPEN (and plain GET / HEAD): streaming a file, whole or a byte range.

use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use rustix::fs::OFlags;

use super::error::StorageError;
use super::io::read_blocks;
use super::paths::{self, Parents};
use super::{brief, resolve, Call, BRIEF_BYTES};

/// A requested byte range, inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RangeSpec {
    /// `bytes=a-` or `bytes=a-b`.
    From { start: u64, end: Option<u64> },
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

/// Parses a single-range `Range` header. Anything else is ignored (`None`).
fn parse_range(headers: &HeaderMap) -> Option<RangeSpec> {
    let value = headers.get(header::RANGE)?.to_str().ok()?.trim();
    let spec = value.strip_prefix("bytes=")?.trim();
    if spec.contains(',') {
        return None;
    }
    let (start, end) = spec.split_once('-')?;
    let (start, end) = (start.trim(), end.trim());
    if start.is_empty() {
        return end.parse().ok().map(RangeSpec::Suffix);
    }
    let start = start.parse().ok()?;
    let end = if end.is_empty() {
        None
    } else {
        Some(end.parse().ok()?)
    };
    Some(RangeSpec::From { start, end })
}

/// The inclusive `(first, last)` byte positions of `range` in a file of `total`
/// bytes, or `None` if it is unsatisfiable.
fn satisfy(range: RangeSpec, total: u64) -> Option<(u64, u64)> {
    match range {
        RangeSpec::From { start, end } => {
            if start >= total || end.is_some_and(|e| e < start) {
                return None;
            }
            let last = end.map_or(total - 1, |e| e.min(total - 1));
            Some((start, last))
        }
        RangeSpec::Suffix(n) => {
            if n == 0 || total == 0 {
                return None;
            }
            Some((total.saturating_sub(n), total - 1))
        }
    }
}

/// Where the answer starts and how long it is.
fn span(range: Option<(u64, u64)>, total: u64) -> (u64, u64) {
    match range {
        Some((first, last)) => (first, last - first + 1),
        None => (0, total),
    }
}

fn header_value(value: impl ToString) -> HeaderValue {
    HeaderValue::from_str(&value.to_string()).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// What OPEN found on disk, in one blocking call.
struct Opened {
    file: std::fs::File,
    meta: std::fs::Metadata,
    /// `(first, last)` of a satisfiable `Range`.
    range: Option<(u64, u64)>,
    /// The bytes to send, when few enough to read in place.
    small: Option<Bytes>,
}

/// Opens the file OPEN reads: in one system call when no symlink is on the
/// way ([`paths::open_entry_direct`]); otherwise after resolving the path, a
/// final symlink followed if it stays in the user's root.
fn open_file(call: &Call) -> Result<std::fs::File, StorageError> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC;
    let direct = call.path.owner().and_then(|owner| {
        paths::open_entry_direct(call.storage_dir(), owner, call.path.rest(), flags)
    });
    if let Some((_, fd)) = direct {
        return Ok(std::fs::File::from(fd));
    }
    let target = resolve(call, Parents::Lookup)?;
    brief(|| {
        let open = |path: &std::path::Path| {
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(path)
        };
        // A symlink (`ELOOP` with `O_NOFOLLOW`) is followed if it stays in
        // the user's root.
        match open(&target.path()) {
            Err(e) if e.raw_os_error() == Some(libc::ELOOP) => Ok(open(&target.follow()?)?),
            opened => Ok(opened?),
        }
    })
}

pub(super) async fn open(call: Call) -> Result<Response, StorageError> {
    let file = open_file(&call)?;
    let spec = parse_range(&call.headers);
    let want_body = call.method != Method::HEAD;
    let Opened {
        file,
        meta,
        range,
        small,
    } = brief(|| {
        let meta = file.metadata()?;
        if meta.is_dir() {
            return Err(StorageError::os("Is a directory", "EISDIR"));
        }
        let total = meta.len();
        let range = match spec {
            Some(spec) => {
                Some(satisfy(spec, total).ok_or(StorageError::RangeNotSatisfiable { total })?)
            }
            None => None,
        };
        let (first, length) = span(range, total);
        let small = match usize::try_from(length) {
            Ok(len) if want_body && len > 0 && length <= BRIEF_BYTES => {
                let mut data = vec![0u8; len];
                file.read_exact_at(&mut data, first)?;
                Some(Bytes::from(data))
            }
            _ => None,
        };
        Ok(Opened {
            file,
            meta,
            range,
            small,
        })
    })?;
    let total = meta.len();
    let (first, length) = span(range, total);

    let mut builder = Response::builder()
        .status(if range.is_some() {
            StatusCode::PARTIAL_CONTENT
        } else {
            StatusCode::OK
        })
        .header(header::CONTENT_LENGTH, length)
        .header("X-File-Type", "FILE")
        // The real service reports the action OPEN needs, not the caller's level.
        .header("X-File-Permission", "read")
        .header("Accept-Range", "bytes")
        .header(header::ACCEPT_RANGES, "bytes")
        .header("X-File-Length", total)
        .header(header::CONTENT_TYPE, "application/octet-stream");
    if let Ok(modified) = meta.modified() {
        builder = builder.header(header::LAST_MODIFIED, httpdate::fmt_http_date(modified));
    }
    if let Some((first, last)) = range {
        builder = builder.header(
            header::CONTENT_RANGE,
            header_value(format!("bytes {first}-{last}/{total}")),
        );
    }

    let body = match small {
        Some(data) => Body::from(data),
        None if !want_body || length == 0 => Body::empty(),
        None => Body::from_stream(read_blocks(file, first, length)),
    };
    builder
        .body(body)
        .map_err(|e| StorageError::Internal(format!("cannot build response: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: &'static str) -> Option<RangeSpec> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_static(v));
        parse_range(&h)
    }

    #[test]
    fn ranges() {
        assert_eq!(
            spec("bytes=3-5"),
            Some(RangeSpec::From {
                start: 3,
                end: Some(5)
            })
        );
        assert_eq!(
            spec("bytes=8-"),
            Some(RangeSpec::From {
                start: 8,
                end: None
            })
        );
        assert_eq!(spec("bytes=-2"), Some(RangeSpec::Suffix(2)));
        assert_eq!(spec("bytes=1-2,4-5"), None);
        assert_eq!(spec("items=1-2"), None);
        assert_eq!(spec("bytes=x-"), None);
    }

    #[test]
    fn satisfiable() {
        let from = |start, end| RangeSpec::From { start, end };
        assert_eq!(satisfy(from(3, Some(5)), 10), Some((3, 5)));
        assert_eq!(satisfy(from(8, None), 10), Some((8, 9)));
        assert_eq!(satisfy(from(8, Some(100)), 10), Some((8, 9)));
        assert_eq!(satisfy(from(100, Some(200)), 10), None);
        assert_eq!(satisfy(from(10, None), 10), None);
        assert_eq!(satisfy(from(0, None), 0), None);
        assert_eq!(satisfy(from(5, Some(4)), 10), None);
        assert_eq!(satisfy(RangeSpec::Suffix(3), 10), Some((7, 9)));
        assert_eq!(satisfy(RangeSpec::Suffix(30), 10), Some((0, 9)));
    }
}
