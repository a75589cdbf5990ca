//! Errors of URI parsing and normalisation.

use super::Scheme;

/// Why a URI was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UriError {
    /// The URI has a fragment (or the text contains `#`).
    #[error("fragment part is not allowed in {scheme} URI; use '%23' to quote '#' in path")]
    Fragment {
        /// Scheme of the URI.
        scheme: String,
    },
    /// The URI has a query (or the text contains `?`).
    #[error("query part is not allowed in {scheme} URI; use '%3F' to quote '?' in path")]
    Query {
        /// Scheme of the URI.
        scheme: String,
    },
    /// The URI has a user name.
    #[error("user is not allowed in {scheme} URI")]
    User {
        /// Scheme of the URI.
        scheme: String,
    },
    /// The URI has a password.
    #[error("password is not allowed in {scheme} URI")]
    Password {
        /// Scheme of the URI.
        scheme: String,
    },
    /// The URI has a port.
    #[error("port is not allowed in {scheme} URI")]
    Port {
        /// Scheme of the URI.
        scheme: String,
    },
    /// The host or the first path segment starts with `~`.
    #[error("cannot expand user for {uri}")]
    ExpandUser {
        /// The offending URI.
        uri: String,
    },
    /// A scheme that is not cluster-bound was given without a host.
    #[error("absolute URI is required for scheme {scheme}")]
    AbsoluteRequired {
        /// Scheme of the URI.
        scheme: String,
    },
    /// The scheme is not one of those allowed here.
    #[error("invalid scheme '{scheme}:' (only {} allowed)", describe_allowed(.allowed))]
    SchemeNotAllowed {
        /// Scheme of the URI.
        scheme: String,
        /// The schemes that would have been accepted.
        allowed: Vec<Scheme>,
    },
    /// The text has no scheme and is not accepted as a local path.
    #[error("URI scheme not specified; please specify one of {}", describe_list(.allowed))]
    MissingScheme {
        /// The schemes that would have been accepted.
        allowed: Vec<Scheme>,
    },
    /// A `file:` URI names a host.
    #[error("host part is not allowed in file URI, found '{host}'")]
    HostInFileUri {
        /// The host found.
        host: String,
    },
    /// The text is not a URL at all.
    #[error("invalid URI {input:?}")]
    Parse {
        /// The text.
        input: String,
        /// What the URL parser said.
        #[source]
        source: url::ParseError,
    },
    /// A path segment to append is empty, `.` or `..`.
    #[error("invalid path segment {segment:?}")]
    InvalidSegment {
        /// The segment.
        segment: String,
    },
    /// The URI has no hierarchical path (such as `storage:data`), so segments cannot
    /// be added or removed; normalise it first.
    #[error("URI {uri} has no hierarchical path")]
    NotHierarchical {
        /// The URI.
        uri: String,
    },
    /// A relative local path needs the current directory, which is unknown.
    #[error("cannot determine the current directory")]
    CurrentDir(#[source] std::io::Error),
    /// `~` cannot be expanded (no home directory, or `~user`).
    #[error("cannot expand user for {path}")]
    ExpandHome {
        /// The path as given.
        path: String,
    },
}

impl UriError {
    pub(super) fn parse(input: &str, source: url::ParseError) -> Self {
        UriError::Parse {
            input: input.to_owned(),
            source,
        }
    }
}

fn describe_list(allowed: &[Scheme]) -> String {
    allowed
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe_allowed(allowed: &[Scheme]) -> String {
    let list = allowed
        .iter()
        .map(|s| format!("'{s}:'"))
        .collect::<Vec<_>>()
        .join(", ");
    if allowed.len() > 1 {
        format!("{list} are")
    } else {
        format!("{list} is")
    }
}
