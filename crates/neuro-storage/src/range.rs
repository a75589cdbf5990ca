//! `Range` and `Content-Range` for partial reads (wire-protocol-data §2.4.5).

use crate::StorageError;

/// The `Range` header for a read from `offset` of at most `size` bytes, or `None`
/// when the whole file is read. A range that ends past `u64::MAX` is refused.
pub(crate) fn range_header(offset: u64, size: Option<u64>) -> Result<Option<String>, StorageError> {
    Ok(match size {
        Some(size) if size > 0 => {
            let last = offset.checked_add(size - 1).ok_or_else(|| {
                StorageError::InvalidArgument(format!(
                    "a read of {size} bytes at offset {offset} ends past the largest offset"
                ))
            })?;
            Some(format!("bytes={offset}-{last}"))
        }
        _ if offset > 0 => Some(format!("bytes={offset}-")),
        _ => None,
    })
}

/// Checks a partial answer's `Content-Range: bytes a-b/total`: it must be present,
/// well formed, with `b >= a` and `a` equal to the requested offset.
pub(crate) fn check_content_range(value: Option<&str>, offset: u64) -> Result<(), StorageError> {
    let invalid =
        |what: &str| StorageError::InvalidResponse(format!("{what} header Content-Range"));
    let value = value.ok_or_else(|| invalid("Missed"))?;
    let rest = value
        .strip_prefix("bytes ")
        .ok_or_else(|| invalid("Invalid"))?;
    let (span, total) = rest.split_once('/').ok_or_else(|| invalid("Invalid"))?;
    let (start, end) = span.split_once('-').ok_or_else(|| invalid("Invalid"))?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(start) || !digits(end) || !(total == "*" || digits(total)) {
        return Err(invalid("Invalid"));
    }
    let start: u64 = start.parse().map_err(|_| invalid("Invalid"))?;
    let end: u64 = end.parse().map_err(|_| invalid("Invalid"))?;
    if end < start || start != offset {
        return Err(invalid("Invalid"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_header_table() {
        let h = |offset, size| range_header(offset, size).ok().flatten();
        assert_eq!(h(0, None), None);
        assert_eq!(h(5, None).as_deref(), Some("bytes=5-"));
        assert_eq!(h(0, Some(10)).as_deref(), Some("bytes=0-9"));
        assert_eq!(h(3, Some(4)).as_deref(), Some("bytes=3-6"));
        assert_eq!(
            h(u64::MAX - 1, Some(2)).as_deref(),
            Some("bytes=18446744073709551614-18446744073709551615")
        );
        // Used to overflow (a panic in debug builds).
        assert!(matches!(
            range_header(u64::MAX, Some(2)),
            Err(StorageError::InvalidArgument(_))
        ));
    }

    #[test]
    fn content_range_checks() {
        assert!(check_content_range(Some("bytes 3-5/10"), 3).is_ok());
        assert!(check_content_range(Some("bytes 3-5/*"), 3).is_ok());
        assert!(check_content_range(Some("bytes 4-5/10"), 3).is_err());
        assert!(check_content_range(Some("bytes 5-3/10"), 5).is_err());
        assert!(check_content_range(Some("bytes */10"), 0).is_err());
        assert!(check_content_range(Some("bytes 5-6"), 5).is_err());
        assert!(check_content_range(None, 0).is_err());
        assert!(check_content_range(Some("items 3-5/10"), 3).is_err());
    }
}
