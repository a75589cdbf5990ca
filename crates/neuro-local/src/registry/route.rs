//! What a `/v2/<path>` request names: a repository and an operation on it.
//!
//! Repository names have slashes (`[org/]owner/name`), so the operation is
//! found from the end of the path, as Docker's distribution does.

use super::digest::Digest;

/// The target of a request under `/v2/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `<repo>/tags/list`.
    Tags(String),
    /// `<repo>/manifests/<reference>`.
    Manifest(String, Reference),
    /// `<repo>/blobs/<digest>`.
    Blob(String, Digest),
    /// `<repo>/blobs/uploads/`: a new upload.
    NewUpload(String),
    /// `<repo>/blobs/uploads/<id>`: an upload in progress.
    Upload(String, String),
}

/// A manifest reference: a tag or a digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reference {
    /// A tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`).
    Tag(String),
    /// A content digest.
    Digest(Digest),
}

/// Why a path names nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// Not a registry operation at all (`404: Not Found`).
    Unknown,
    /// A repository name that breaks the naming rules (`NAME_INVALID`).
    BadName(String),
    /// A tag or digest that breaks its rules (`TAG_INVALID` / `DIGEST_INVALID`).
    BadReference(String),
}

impl Target {
    /// Parses the part of the path after `/v2/`.
    ///
    /// ```
    /// use neuro_local::registry::route::{Reference, Target};
    /// let t = Target::parse("alice/hello/manifests/v1").unwrap();
    /// assert_eq!(t, Target::Manifest("alice/hello".into(), Reference::Tag("v1".into())));
    /// ```
    pub fn parse(path: &str) -> Result<Target, RouteError> {
        let target = if let Some(repo) = path.strip_suffix("/tags/list") {
            Target::Tags(repo.to_owned())
        } else if let Some(repo) = path.strip_suffix("/blobs/uploads/") {
            Target::NewUpload(repo.to_owned())
        } else if let Some((repo, id)) = path.rsplit_once("/blobs/uploads/") {
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(RouteError::Unknown);
            }
            Target::Upload(repo.to_owned(), id.to_owned())
        } else if let Some((repo, digest)) = path.rsplit_once("/blobs/") {
            let digest =
                Digest::parse(digest).ok_or_else(|| RouteError::BadReference(digest.to_owned()))?;
            Target::Blob(repo.to_owned(), digest)
        } else if let Some((repo, reference)) = path.rsplit_once("/manifests/") {
            Target::Manifest(repo.to_owned(), Reference::parse(reference)?)
        } else {
            return Err(RouteError::Unknown);
        };
        let repo = target.repo();
        if !is_valid_repo(repo) {
            return Err(RouteError::BadName(repo.to_owned()));
        }
        Ok(target)
    }

    /// The repository.
    pub fn repo(&self) -> &str {
        match self {
            Target::Tags(r)
            | Target::Manifest(r, _)
            | Target::Blob(r, _)
            | Target::NewUpload(r)
            | Target::Upload(r, _) => r,
        }
    }
}

impl Reference {
    /// A digest if the text has `:`, otherwise a tag.
    pub fn parse(text: &str) -> Result<Reference, RouteError> {
        if text.contains(':') {
            return Digest::parse(text)
                .map(Reference::Digest)
                .ok_or_else(|| RouteError::BadReference(text.to_owned()));
        }
        if is_valid_tag(text) {
            Ok(Reference::Tag(text.to_owned()))
        } else {
            Err(RouteError::BadReference(text.to_owned()))
        }
    }
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
pub fn is_valid_tag(tag: &str) -> bool {
    tag.len() <= 128
        && tag.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && tag
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// At least two `/`-separated components (an owner and a name), each
/// `[a-z0-9]+([._-][a-z0-9]+)*`; at most 255 characters.
pub fn is_valid_repo(repo: &str) -> bool {
    let parts: Vec<&str> = repo.split('/').collect();
    repo.len() <= 255 && parts.len() >= 2 && parts.iter().all(|p| is_valid_component(p))
}

fn is_valid_component(part: &str) -> bool {
    let bytes = part.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
        && bytes.windows(2).all(|w| alnum(&w[0]) || alnum(&w[1]))
        && bytes
            .iter()
            .all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_found_from_the_end() {
        let d = format!("sha256:{}", "0".repeat(64));
        assert_eq!(
            Target::parse(&format!("org/alice/img/blobs/{d}")).unwrap(),
            Target::Blob("org/alice/img".into(), Digest::parse(&d).unwrap())
        );
        assert_eq!(
            Target::parse("alice/img/blobs/uploads/").unwrap(),
            Target::NewUpload("alice/img".into())
        );
        assert_eq!(
            Target::parse("alice/img/blobs/uploads/abc-1").unwrap(),
            Target::Upload("alice/img".into(), "abc-1".into())
        );
        assert_eq!(
            Target::parse("alice/img/tags/list").unwrap(),
            Target::Tags("alice/img".into())
        );
        assert_eq!(
            Target::parse(&format!("alice/img/manifests/{d}")).unwrap(),
            Target::Manifest(
                "alice/img".into(),
                Reference::Digest(Digest::parse(&d).unwrap())
            )
        );
    }

    #[test]
    fn bad_names_and_references_are_refused() {
        assert_eq!(Target::parse("alice/x/y"), Err(RouteError::Unknown));
        assert!(matches!(
            Target::parse("img/manifests/v1"),
            Err(RouteError::BadName(_))
        ));
        assert!(matches!(
            Target::parse("Alice/img/manifests/v1"),
            Err(RouteError::BadName(_))
        ));
        assert!(matches!(
            Target::parse("alice/../img/manifests/v1"),
            Err(RouteError::BadName(_))
        ));
        assert!(matches!(
            Target::parse("alice/img/manifests/-x"),
            Err(RouteError::BadReference(_))
        ));
        assert!(matches!(
            Target::parse("alice/img/blobs/sha256:zz"),
            Err(RouteError::BadReference(_))
        ));
        assert!(matches!(
            Target::parse("alice/img/blobs/uploads/../x"),
            Err(RouteError::Unknown)
        ));
    }
}
