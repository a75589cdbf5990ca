//! Local `file:` URIs and the command-line entry point [`uri_from_cli`].

use std::path::{Component, Path, PathBuf};

use percent_encoding::{percent_decode_str, AsciiSet, NON_ALPHANUMERIC};
use url::Url;

use super::{
    check_scheme, check_uri_text, check_url_parts, normalize_uri, split_scheme, Scheme, UriContext,
    UriError, UriInput,
};

/// What Python's `pathlib.Path.as_uri` leaves unescaped: letters, digits and `-._~`
/// (the `/` separators are added between segments).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The local directories a relative or `~` path is resolved against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPaths {
    /// The current directory.
    pub cwd: PathBuf,
    /// The user's home directory, for `~` expansion.
    pub home: Option<PathBuf>,
}

impl LocalPaths {
    /// The process's current directory and `$HOME` (`%USERPROFILE%` on Windows).
    pub fn from_env() -> Result<Self, UriError> {
        let cwd = std::env::current_dir().map_err(UriError::CurrentDir)?;
        let home = std::env::var_os("HOME")
            .or_else(|| std::env::var_os("USERPROFILE"))
            .filter(|h| !h.is_empty())
            .map(PathBuf::from);
        Ok(Self { cwd, home })
    }
}

/// A local path as an absolute `file:` URI (`pathlib.Path.as_uri`), resolved against
/// `cwd` when relative. `.` and `..` components are resolved lexically.
///
/// ```
/// use neuro_types::uri::local_path_to_uri;
/// use std::path::Path;
///
/// let url = local_path_to_uri(Path::new("data/a b"), Path::new("/home/alice")).unwrap();
/// assert_eq!(url.as_str(), "file:///home/alice/data/a%20b");
/// ```
pub fn local_path_to_uri(path: &Path, cwd: &Path) -> Result<Url, UriError> {
    let full = if path.has_root() {
        path.to_path_buf()
    } else {
        cwd.join(path)
    };
    let mut text = String::from("file://");
    let mut any = false;
    for component in full.components() {
        let segment = match component {
            Component::Prefix(_) | Component::RootDir | Component::CurDir => continue,
            Component::ParentDir => "..".to_owned(),
            Component::Normal(name) => encode_os_segment(name),
        };
        text.push('/');
        text.push_str(&segment);
        any = true;
    }
    if !any {
        text.push('/');
    }
    Url::parse(&text).map_err(|e| UriError::Parse {
        input: full.display().to_string(),
        source: e,
    })
}

fn encode_os_segment(name: &std::ffi::OsStr) -> String {
    let bytes = name.as_encoded_bytes();
    percent_encoding::percent_encode(bytes, PATH_SEGMENT).to_string()
}

/// The local path of a `file:` URI (`Parser.uri_to_path`).
pub fn uri_to_local_path(url: &Url) -> Result<PathBuf, UriError> {
    if url.scheme() != "file" {
        return Err(UriError::SchemeNotAllowed {
            scheme: url.scheme().to_owned(),
            allowed: vec![Scheme::File],
        });
    }
    Ok(decoded_path(url.path()))
}

#[cfg(unix)]
fn decoded_path(path: &str) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let bytes: Vec<u8> = percent_decode_str(path).collect();
    PathBuf::from(std::ffi::OsStr::from_bytes(&bytes))
}

#[cfg(not(unix))]
fn decoded_path(path: &str) -> PathBuf {
    PathBuf::from(percent_decode_str(path).decode_utf8_lossy().into_owned())
}

/// Makes a `file:` URI absolute against `cwd` (`normalize_local_path_uri`).
///
/// The URI must not have a host, query, fragment, user or port, and its path must
/// not start with `~` (no expansion happens here). A relative path such as
/// `file:data/x` (only possible as text) is joined to `cwd`.
///
/// ```
/// use neuro_types::uri::normalize_local_path_uri;
/// use std::path::Path;
///
/// let url = normalize_local_path_uri("file:data/x", Path::new("/work")).unwrap();
/// assert_eq!(url.as_str(), "file:///work/data/x");
/// assert!(normalize_local_path_uri("file://host/x", Path::new("/")).is_err());
/// ```
pub fn normalize_local_path_uri<'a>(
    uri: impl Into<UriInput<'a>>,
    cwd: &Path,
) -> Result<Url, UriError> {
    match uri.into() {
        UriInput::Url(url) => {
            check_scheme(url.scheme(), &[Scheme::File])?;
            check_url_parts(url)?;
            if let Some(host) = url.host_str().filter(|h| !h.is_empty()) {
                return Err(UriError::HostInFileUri {
                    host: host.to_owned(),
                });
            }
            normalize_file_path(url.path(), cwd)
        }
        UriInput::Str(text) => {
            let Some((scheme, rest)) = split_scheme(text) else {
                return Err(UriError::MissingScheme {
                    allowed: vec![Scheme::File],
                });
            };
            check_scheme(&scheme, &[Scheme::File])?;
            check_uri_text(text, "file")?;
            let path = match rest.strip_prefix("//") {
                Some(after) => {
                    let end = after.find('/').unwrap_or(after.len());
                    let authority = &after[..end];
                    if authority.contains('@') {
                        return Err(UriError::User { scheme });
                    }
                    if !authority.is_empty() {
                        return Err(UriError::HostInFileUri {
                            host: authority.to_owned(),
                        });
                    }
                    &after[end..]
                }
                None => rest,
            };
            normalize_file_path(path, cwd)
        }
    }
}

fn normalize_file_path(encoded_path: &str, cwd: &Path) -> Result<Url, UriError> {
    let path = decoded_path(encoded_path);
    if path.as_os_str().as_encoded_bytes().starts_with(b"~") {
        return Err(UriError::ExpandUser {
            uri: format!("file:{encoded_path}"),
        });
    }
    local_path_to_uri(&path, cwd)
}

/// [`uri_from_cli_in`] with the process's current and home directories (read only
/// when a local path needs them).
pub fn uri_from_cli(text: &str, ctx: &UriContext, allowed: &[Scheme]) -> Result<Url, UriError> {
    uri_from_cli_impl(text, ctx, allowed, None)
}

/// A URI as typed on the command line (`uri_from_cli`).
///
/// * With `file` allowed, `~/x` is expanded and a plain path (`data/x`, `/tmp/x`,
///   `123`) becomes a `file:` URI.
/// * Text with a scheme is checked against `allowed` (an empty slice accepts any
///   scheme but no plain paths) and normalised: [`normalize_local_path_uri`] for
///   `file:`, [`normalize_uri`] otherwise.
///
/// ```
/// use neuro_types::uri::{uri_from_cli_in, LocalPaths, Scheme, UriContext};
///
/// let ctx = UriContext::new("alice", "default", None);
/// let local = LocalPaths { cwd: "/work".into(), home: Some("/home/alice".into()) };
/// let both = [Scheme::File, Scheme::Storage];
/// let url = uri_from_cli_in("data/x", &ctx, &both, &local).unwrap();
/// assert_eq!(url.as_str(), "file:///work/data/x");
/// let url = uri_from_cli_in("~/x", &ctx, &both, &local).unwrap();
/// assert_eq!(url.as_str(), "file:///home/alice/x");
/// let url = uri_from_cli_in("storage:123", &ctx, &both, &local).unwrap();
/// assert_eq!(url.as_str(), "storage://default/alice/123");
/// assert!(uri_from_cli_in("data/x", &ctx, &[Scheme::Storage], &local).is_err());
/// ```
pub fn uri_from_cli_in(
    text: &str,
    ctx: &UriContext,
    allowed: &[Scheme],
    local: &LocalPaths,
) -> Result<Url, UriError> {
    uri_from_cli_impl(text, ctx, allowed, Some(local))
}

fn uri_from_cli_impl(
    text: &str,
    ctx: &UriContext,
    allowed: &[Scheme],
    local: Option<&LocalPaths>,
) -> Result<Url, UriError> {
    let file_allowed = allowed.contains(&Scheme::File);
    let env = LazyPaths(std::cell::OnceCell::new());
    let local = || resolve_paths(local, &env);
    if file_allowed && text.starts_with('~') {
        let rest = &text[1..];
        if !(rest.is_empty() || rest.starts_with('/')) {
            return Err(UriError::ExpandHome {
                path: text.to_owned(),
            });
        }
        let paths = local()?;
        let Some(home) = &paths.home else {
            return Err(UriError::ExpandHome {
                path: text.to_owned(),
            });
        };
        let path = home.join(rest.trim_start_matches('/'));
        return local_path_to_uri(&path, &paths.cwd);
    }
    match split_scheme(text) {
        Some((scheme, _)) => {
            check_scheme(&scheme, allowed)?;
            if scheme == "file" {
                normalize_local_path_uri(text, &local()?.cwd)
            } else {
                normalize_uri(text, allowed, ctx)
            }
        }
        None if looks_like_scheme_and_port(text) => Err(UriError::MissingScheme {
            allowed: allowed.to_vec(),
        }),
        None if file_allowed => {
            let paths = local()?;
            local_path_to_uri(Path::new(text), &paths.cwd)
        }
        None => Err(UriError::MissingScheme {
            allowed: allowed.to_vec(),
        }),
    }
}

/// `[a-zA-Z0-9+\-.]{2,}:[0-9]+`: text Python treats as `scheme:number`; reaching
/// here means the "scheme" was not a valid one (it starts with a digit, say).
fn looks_like_scheme_and_port(text: &str) -> bool {
    let Some((head, tail)) = text.split_once(':') else {
        return false;
    };
    head.len() >= 2
        && head
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        && !tail.is_empty()
        && tail.bytes().all(|b| b.is_ascii_digit())
}

fn resolve_paths<'a>(
    given: Option<&'a LocalPaths>,
    env: &'a LazyPaths,
) -> Result<&'a LocalPaths, UriError> {
    match given {
        Some(paths) => Ok(paths),
        None => env.get_or_init_paths(),
    }
}

/// Lazily read [`LocalPaths::from_env`].
struct LazyPaths(std::cell::OnceCell<LocalPaths>);

impl LazyPaths {
    fn get_or_init_paths(&self) -> Result<&LocalPaths, UriError> {
        if let Some(paths) = self.0.get() {
            return Ok(paths);
        }
        let paths = LocalPaths::from_env()?;
        Ok(self.0.get_or_init(|| paths))
    }
}
