//! Path helpers for hierarchical platform URIs. They work on the percent-encoded
//! path, so a name is encoded exactly once whatever characters it contains.

use percent_encoding::percent_decode_str;
use url::Url;

use super::UriError;

/// The decoded, non-empty path segments of a URI.
///
/// `storage://default/alice/my%20dir/` gives `["alice", "my dir"]`. A short URI
/// (`storage:data/x`) gives the segments of its relative path.
///
/// ```
/// use neuro_types::uri::uri_path_segments;
/// use url::Url;
///
/// let url = Url::parse("storage://default/alice/my%20dir/").unwrap();
/// assert_eq!(uri_path_segments(&url), ["alice", "my dir"]);
/// ```
pub fn uri_path_segments(url: &Url) -> Vec<String> {
    url.path()
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_decode_str(s).decode_utf8_lossy().into_owned())
        .collect()
}

/// The path of a URI without its leading slashes, still percent-encoded: the part
/// that goes after the cluster's `storage_url` (wire-protocol-data §2.1).
///
/// ```
/// use neuro_types::uri::storage_path;
/// use url::Url;
///
/// let url = Url::parse("storage://default/myorg/alice/a%20b").unwrap();
/// assert_eq!(storage_path(&url), "myorg/alice/a%20b");
/// ```
pub fn storage_path(url: &Url) -> String {
    url.path().trim_start_matches('/').to_owned()
}

fn check_segment(segment: &str) -> Result<(), UriError> {
    if segment.is_empty() || segment == "." || segment == ".." {
        return Err(UriError::InvalidSegment {
            segment: segment.to_owned(),
        });
    }
    Ok(())
}

/// Appends one name to a URI, percent-encoding it (`/` included), as yarl's
/// `uri / name` does for a bare name. A trailing slash on `base` is not doubled.
///
/// The name must not be empty, `.` or `..`.
///
/// ```
/// use neuro_types::uri::join_uri;
/// use url::Url;
///
/// let dir = Url::parse("storage://default/alice/dir/").unwrap();
/// let file = join_uri(&dir, "100% sure.txt").unwrap();
/// assert_eq!(file.as_str(), "storage://default/alice/dir/100%25%20sure.txt");
/// assert!(join_uri(&dir, "..").is_err());
/// ```
pub fn join_uri(base: &Url, name: &str) -> Result<Url, UriError> {
    check_segment(name)?;
    let mut url = base.clone();
    {
        let mut segments = url
            .path_segments_mut()
            .map_err(|()| not_hierarchical(base))?;
        segments.pop_if_empty().push(name);
    }
    Ok(url)
}

/// Appends a relative `/`-separated path to a URI, percent-encoding each segment.
/// Empty segments (leading, trailing or doubled slashes) are skipped; `.` and `..`
/// are refused.
///
/// ```
/// use neuro_types::uri::join_path;
/// use url::Url;
///
/// let root = Url::parse("storage://default").unwrap();
/// let url = join_path(&root, "/alice/my dir/x").unwrap();
/// assert_eq!(url.as_str(), "storage://default/alice/my%20dir/x");
/// ```
pub fn join_path(base: &Url, path: &str) -> Result<Url, UriError> {
    let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    for part in &parts {
        check_segment(part)?;
    }
    let mut url = base.clone();
    {
        let mut segments = url
            .path_segments_mut()
            .map_err(|()| not_hierarchical(base))?;
        segments.pop_if_empty();
        segments.extend(parts);
    }
    if url.path().is_empty() {
        url.set_path("/");
    }
    Ok(url)
}

fn not_hierarchical(url: &Url) -> UriError {
    UriError::NotHierarchical {
        uri: url.to_string(),
    }
}

/// The parent of a hierarchical URI: trailing slashes are ignored, then the last
/// segment is removed. The parent of `storage://default/alice` is the cluster root
/// `storage://default/`, which itself has no parent.
///
/// ```
/// use neuro_types::uri::parent;
/// use url::Url;
///
/// let url = Url::parse("storage://default/alice/dir/").unwrap();
/// assert_eq!(parent(&url).unwrap().as_str(), "storage://default/alice");
/// let root = Url::parse("storage://default/").unwrap();
/// assert_eq!(parent(&root), None);
/// ```
pub fn parent(url: &Url) -> Option<Url> {
    if url.cannot_be_a_base() {
        return None;
    }
    let path = url.path().trim_end_matches('/');
    if path.is_empty() {
        return None;
    }
    let cut = path.rfind('/').unwrap_or(0);
    let mut out = url.clone();
    let new_path = &path[..cut];
    out.set_path(if new_path.is_empty() { "/" } else { new_path });
    out.set_query(None);
    out.set_fragment(None);
    Some(out)
}

/// Whether any path segment of the URI is `.` or `..`, also when written
/// percent-encoded (`%2e%2E`).
///
/// Hierarchical URLs have their dot segments resolved by the parser already, so
/// this mostly catches short URIs (`storage:../x`); servers should check the raw
/// request path with [`path_has_dot_segments`].
pub fn has_dot_segments(url: &Url) -> bool {
    path_has_dot_segments(url.path())
}

/// Whether a raw, possibly percent-encoded path contains a `.` or `..` segment.
///
/// ```
/// use neuro_types::uri::path_has_dot_segments;
///
/// assert!(path_has_dot_segments("/alice/../bob"));
/// assert!(path_has_dot_segments("alice/%2e%2E/bob"));
/// assert!(path_has_dot_segments("./x"));
/// assert!(!path_has_dot_segments("/alice/..x/.hidden/%252e%252e"));
/// ```
pub fn path_has_dot_segments(path: &str) -> bool {
    path.split('/').any(|segment| {
        let decoded = percent_decode_str(segment).decode_utf8_lossy();
        decoded == "." || decoded == ".."
    })
}
