//! Platform URIs (`storage:`, `image:`, `job:`, `secret:`, `disk:`, `blob:`, `flow:`,
//! `user:`, `role:` and local `file:`), built on [`url::Url`].
//!
//! The rules are those of `neuro_sdk._url_utils` (wire-protocol-core §5,
//! wire-protocol-data §1.8):
//!
//! * [`normalize_uri`] turns a short form such as `storage:data` into the long,
//!   cluster-bound form `storage://<cluster>/[<org>/]<user>/data`;
//! * [`short_uri`] does the reverse for display;
//! * [`uri_from_cli`] accepts what a user types on the command line, including plain
//!   local paths;
//! * the path helpers ([`join_uri`], [`parent`], [`storage_path`], ...) keep the
//!   percent-encoding intact, so names with spaces, `%` or non-ASCII characters
//!   round-trip.
//!
//! Differences from the Python SDK, all deliberate:
//!
//! * `.` and `..` segments are resolved by the URL parser when the long form is
//!   built (yarl does the same), but an already percent-encoded `%2F` stays inside
//!   its segment instead of becoming a separator. Use [`has_dot_segments`] or
//!   [`path_has_dot_segments`] to reject dot segments outright (servers should).
//! * The default port of `http`/`https` registry URLs is not remembered by
//!   [`url::Url`] (`https://h:443` is `https://h`).

mod error;
mod local;
mod path;
#[cfg(test)]
mod tests;

use std::fmt;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};
use url::Url;

pub use error::UriError;
pub use local::{
    local_path_to_uri, normalize_local_path_uri, uri_from_cli, uri_from_cli_in, uri_to_local_path,
    LocalPaths,
};
pub use path::{
    has_dot_segments, join_path, join_uri, parent, path_has_dot_segments, storage_path,
    uri_path_segments,
};

/// Who is asking and where: the defaults used to complete a short URI.
///
/// This is the `(username, cluster_name, org_name)` triple the Python SDK reads from
/// its config for every normalisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UriContext {
    /// The current user (from the token).
    pub username: String,
    /// The current cluster.
    pub cluster_name: String,
    /// The current org; `None` means the cluster is used directly.
    pub org_name: Option<String>,
}

impl UriContext {
    /// A context for `username` on `cluster_name`, optionally acting for an org.
    pub fn new(
        username: impl Into<String>,
        cluster_name: impl Into<String>,
        org_name: Option<String>,
    ) -> Self {
        Self {
            username: username.into(),
            cluster_name: cluster_name.into(),
            org_name,
        }
    }

    /// The same user and org on another cluster.
    pub fn with_cluster(&self, cluster_name: impl Into<String>) -> Self {
        Self {
            cluster_name: cluster_name.into(),
            ..self.clone()
        }
    }
}

/// The URI schemes the platform knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Scheme {
    /// `storage:` — files on the platform storage.
    Storage,
    /// `image:` — images in the platform registry.
    Image,
    /// `job:` — jobs.
    Job,
    /// `secret:` — secrets.
    Secret,
    /// `disk:` — persistent disks.
    Disk,
    /// `blob:` — objects in buckets.
    Blob,
    /// `flow:` — neuro-flow projects.
    Flow,
    /// `user:` — users (always absolute).
    User,
    /// `role:` — roles (always absolute).
    Role,
    /// `file:` — local files.
    File,
}

impl Scheme {
    /// The schemes whose short form takes the current cluster (`CLUSTER_SCHEMES`).
    pub const CLUSTER_BOUND: [Scheme; 7] = [
        Scheme::Storage,
        Scheme::Image,
        Scheme::Job,
        Scheme::Secret,
        Scheme::Disk,
        Scheme::Blob,
        Scheme::Flow,
    ];

    /// The scheme name without the colon, e.g. `"storage"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Storage => "storage",
            Scheme::Image => "image",
            Scheme::Job => "job",
            Scheme::Secret => "secret",
            Scheme::Disk => "disk",
            Scheme::Blob => "blob",
            Scheme::Flow => "flow",
            Scheme::User => "user",
            Scheme::Role => "role",
            Scheme::File => "file",
        }
    }

    /// Looks a scheme name up (lower case, as [`Url::scheme`] returns it).
    pub fn from_name(name: &str) -> Option<Scheme> {
        Some(match name {
            "storage" => Scheme::Storage,
            "image" => Scheme::Image,
            "job" => Scheme::Job,
            "secret" => Scheme::Secret,
            "disk" => Scheme::Disk,
            "blob" => Scheme::Blob,
            "flow" => Scheme::Flow,
            "user" => Scheme::User,
            "role" => Scheme::Role,
            "file" => Scheme::File,
            _ => return None,
        })
    }

    /// The scheme of a URL, if it is one of ours.
    pub fn of(url: &Url) -> Option<Scheme> {
        Scheme::from_name(url.scheme())
    }

    /// Whether a URI of this scheme may omit the cluster.
    pub fn is_cluster_bound(self) -> bool {
        Scheme::CLUSTER_BOUND.contains(&self)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A URI given either as text (what a user typed, a wire string) or as a parsed URL.
///
/// Text gets a few extra checks that a parsed URL can no longer show: a `#` or `?`
/// anywhere is rejected, as the Python SDK does with the raw string.
#[derive(Debug, Clone, Copy)]
pub enum UriInput<'a> {
    /// Unparsed text.
    Str(&'a str),
    /// An already parsed URL.
    Url(&'a Url),
}

impl<'a> From<&'a str> for UriInput<'a> {
    fn from(value: &'a str) -> Self {
        UriInput::Str(value)
    }
}

impl<'a> From<&'a String> for UriInput<'a> {
    fn from(value: &'a String) -> Self {
        UriInput::Str(value)
    }
}

impl<'a> From<&'a Url> for UriInput<'a> {
    fn from(value: &'a Url) -> Self {
        UriInput::Url(value)
    }
}

/// Characters escaped when user, org or cluster names are put into a URI path: the
/// URL path set plus `%`, so that the names are taken literally.
const NAME_IN_PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'%');

/// Escapes a user, org or cluster name for use inside a URI path (slashes kept).
pub(crate) fn escape_name(name: &str) -> String {
    utf8_percent_encode(name, NAME_IN_PATH).to_string()
}

/// Splits `text` into a URL scheme and the rest, the way Python's `urlsplit` does:
/// the scheme starts with an ASCII letter and has at least two characters (a single
/// letter is a Windows drive). The scheme is returned in lower case.
pub(crate) fn split_scheme(text: &str) -> Option<(String, &str)> {
    let colon = text.find(':')?;
    let scheme = &text[..colon];
    let mut chars = scheme.chars();
    let first = chars.next()?;
    if !first.is_ascii_alphabetic() || scheme.len() < 2 {
        return None;
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) {
        return None;
    }
    Some((scheme.to_ascii_lowercase(), &text[colon + 1..]))
}

/// Rejects text containing `#` or `?` (they must be quoted as `%23` / `%3F`).
pub(crate) fn check_uri_text(text: &str, scheme: &str) -> Result<(), UriError> {
    if text.contains('#') {
        return Err(UriError::Fragment {
            scheme: scheme.to_owned(),
        });
    }
    if text.contains('?') {
        return Err(UriError::Query {
            scheme: scheme.to_owned(),
        });
    }
    Ok(())
}

/// Parses text as a URL, escaping what the WHATWG parser would otherwise drop or keep
/// ambiguous: spaces (trailing ones would be stripped), backslashes, other control
/// characters, and `%` not followed by two hex digits (yarl encodes it as `%25`). A host given
/// in upper case is lowered, as yarl does.
pub(crate) fn parse_text(text: &str) -> Result<Url, UriError> {
    let mut escaped = String::with_capacity(text.len());
    let bytes = text.as_bytes();
    for (i, ch) in text.char_indices() {
        match ch {
            '%' => {
                let is_escape = bytes.len() > i + 2
                    && bytes[i + 1].is_ascii_hexdigit()
                    && bytes[i + 2].is_ascii_hexdigit();
                escaped.push_str(if is_escape { "%" } else { "%25" });
            }
            '\t' | '\n' | '\r' => {}
            c if c == ' ' || c == '\\' || c.is_ascii_control() => {
                escaped.push_str(&format!("%{:02X}", c as u32));
            }
            c => escaped.push(c),
        }
    }
    let mut url = Url::parse(&escaped).map_err(|e| UriError::parse(text, e))?;
    if let Some(host) = url.host_str() {
        if host.bytes().any(|b| b.is_ascii_uppercase()) {
            let lowered = host.to_ascii_lowercase();
            url.set_host(Some(&lowered))
                .map_err(|e| UriError::parse(text, e))?;
        }
    }
    Ok(url)
}

fn check_scheme(scheme: &str, allowed: &[Scheme]) -> Result<(), UriError> {
    if allowed.is_empty() || allowed.iter().any(|s| s.as_str() == scheme) {
        Ok(())
    } else {
        Err(UriError::SchemeNotAllowed {
            scheme: scheme.to_owned(),
            allowed: allowed.to_vec(),
        })
    }
}

/// Rejects a fragment, query, user, password or port (`_check_uri`).
pub(crate) fn check_url_parts(url: &Url) -> Result<(), UriError> {
    let scheme = url.scheme().to_owned();
    if url.fragment().is_some() {
        return Err(UriError::Fragment { scheme });
    }
    if url.query().is_some() {
        return Err(UriError::Query { scheme });
    }
    if !url.username().is_empty() {
        return Err(UriError::User { scheme });
    }
    if url.password().is_some() {
        return Err(UriError::Password { scheme });
    }
    if url.port().is_some() {
        return Err(UriError::Port { scheme });
    }
    Ok(())
}

/// Completes a platform URI (§5.2): a short form gets the current cluster, org and
/// user; a URI that names a host is returned unchanged.
///
/// `allowed` lists the acceptable schemes; an empty slice accepts any. Cluster-bound
/// schemes (`storage image job secret disk blob flow`) may omit the host; every other
/// scheme must be absolute. `file:` URIs are made absolute against the current
/// directory (see [`normalize_local_path_uri`]).
///
/// ```
/// use neuro_types::uri::{normalize_uri, Scheme, UriContext};
///
/// let ctx = UriContext::new("alice", "default", None);
/// let url = normalize_uri("storage:data/my file", &[Scheme::Storage], &ctx).unwrap();
/// assert_eq!(url.as_str(), "storage://default/alice/data/my%20file");
///
/// let org = UriContext::new("alice", "default", Some("myorg".into()));
/// let url = normalize_uri("storage:/bob/data", &[], &org).unwrap();
/// assert_eq!(url.as_str(), "storage://default/myorg/bob/data");
///
/// assert!(normalize_uri("storage:data?x", &[], &ctx).is_err());
/// assert!(normalize_uri("user:bob", &[], &ctx).is_err());
/// ```
pub fn normalize_uri<'a>(
    uri: impl Into<UriInput<'a>>,
    allowed: &[Scheme],
    ctx: &UriContext,
) -> Result<Url, UriError> {
    let input = uri.into();
    let scheme = match input {
        UriInput::Str(text) => match split_scheme(text) {
            Some((scheme, _)) => scheme,
            None => {
                return Err(UriError::MissingScheme {
                    allowed: allowed.to_vec(),
                })
            }
        },
        UriInput::Url(url) => url.scheme().to_owned(),
    };
    check_scheme(&scheme, allowed)?;
    if scheme == "file" {
        let cwd = std::env::current_dir().map_err(UriError::CurrentDir)?;
        return normalize_local_path_uri(input, &cwd);
    }
    let parsed;
    let url = match input {
        UriInput::Str(text) => {
            check_uri_text(text, &scheme)?;
            parsed = parse_text(text)?;
            &parsed
        }
        UriInput::Url(url) => url,
    };
    normalize_parsed(url, ctx)
}

/// `_normalize_uri` on an already parsed URL whose scheme has been checked.
fn normalize_parsed(url: &Url, ctx: &UriContext) -> Result<Url, UriError> {
    check_url_parts(url)?;
    let host = url.host_str().filter(|h| !h.is_empty());
    let path = url.path();
    let first = host.unwrap_or_else(|| path.trim_start_matches('/'));
    if percent_decode_str(first)
        .decode_utf8_lossy()
        .starts_with('~')
    {
        return Err(UriError::ExpandUser {
            uri: url.to_string(),
        });
    }
    if host.is_some() {
        return Ok(url.clone());
    }
    let scheme = url.scheme();
    if !Scheme::from_name(scheme).is_some_and(Scheme::is_cluster_bound) {
        return Err(UriError::AbsoluteRequired {
            scheme: scheme.to_owned(),
        });
    }
    let user = escape_name(&ctx.username);
    let mut full = if path.starts_with('/') {
        path.trim_start_matches('/').to_owned()
    } else if path.is_empty() {
        user
    } else {
        format!("{user}/{path}")
    };
    if let Some(org) = &ctx.org_name {
        full = format!("{}/{full}", escape_name(org));
    }
    let text = format!("{scheme}://{}/{full}", escape_name(&ctx.cluster_name));
    Url::parse(&text).map_err(|e| UriError::parse(&text, e))
}

/// The short display form of a URI (§5.3, `Parser._short`).
///
/// A URI on the current cluster under the current user (and org, if one is set)
/// loses that prefix: `storage://default/alice/data/` becomes `storage:data`. Any
/// other URI only loses its trailing slashes (the path `/` is kept).
///
/// ```
/// use neuro_types::uri::{short_uri, UriContext};
/// use url::Url;
///
/// let ctx = UriContext::new("alice", "default", None);
/// let url = Url::parse("storage://default/alice/data/").unwrap();
/// assert_eq!(short_uri(&url, &ctx), "storage:data");
/// let url = Url::parse("storage://default/bob/data/").unwrap();
/// assert_eq!(short_uri(&url, &ctx), "storage://default/bob/data");
/// ```
pub fn short_uri(url: &Url, ctx: &UriContext) -> String {
    if url.query().is_some() || url.fragment().is_some() {
        return url.to_string();
    }
    let mut text = None;
    if url.scheme() != "file" && url.host_str() == Some(ctx.cluster_name.as_str()) {
        if let Some(segments) = url.path_segments() {
            let segments: Vec<&str> = segments.collect();
            let mut prefix: Vec<&str> = Vec::new();
            if let Some(org) = &ctx.org_name {
                prefix.push(org);
            }
            prefix.push(&ctx.username);
            let matches = segments.len() >= prefix.len()
                && segments
                    .iter()
                    .zip(&prefix)
                    .all(|(seg, want)| percent_decode_str(seg).decode_utf8_lossy() == *want);
            if matches {
                text = Some(format!(
                    "{}:{}",
                    url.scheme(),
                    segments[prefix.len()..].join("/")
                ));
            }
        }
    }
    let mut text = text.unwrap_or_else(|| url.to_string());
    let path_start = path_offset(&text);
    while text.ends_with('/') && text.len() > path_start + 1 {
        text.pop();
    }
    text
}

/// Byte offset where the path of a serialized URL starts.
fn path_offset(text: &str) -> usize {
    let Some(colon) = text.find(':') else {
        return 0;
    };
    let rest = &text[colon + 1..];
    if let Some(after) = rest.strip_prefix("//") {
        colon + 3 + after.find('/').unwrap_or(after.len())
    } else {
        colon + 1
    }
}

/// A URL as the Python SDK would write it: yarl prints `https://h` (no trailing
/// slash) when the text had none, while [`Url`] always adds `/` to the empty path
/// of an `http(s)`/`ws(s)` URL.
/// This drops that lone `/`, so URLs read from the wire are written back unchanged
/// in the usual case (servers send base URLs without the slash).
///
/// ```
/// use neuro_types::uri::url_to_wire;
/// use url::Url;
///
/// let url = Url::parse("https://registry.example").unwrap();
/// assert_eq!(url.as_str(), "https://registry.example/");
/// assert_eq!(url_to_wire(&url), "https://registry.example");
/// let url = Url::parse("https://example/api/v1/").unwrap();
/// assert_eq!(url_to_wire(&url), "https://example/api/v1/");
/// ```
pub fn url_to_wire(url: &Url) -> String {
    let text = url.as_str();
    let forced_slash = matches!(url.scheme(), "http" | "https" | "ws" | "wss" | "ftp");
    if forced_slash && url.path() == "/" && url.query().is_none() && url.fragment().is_none() {
        text.strip_suffix('/').unwrap_or(text).to_owned()
    } else {
        text.to_owned()
    }
}
