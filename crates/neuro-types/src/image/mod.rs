//! Docker image references: platform images (`image:` URIs and
//! `<registry>/<owner>/<name>`), external images (`ubuntu:latest`) and local images
//! (wire-protocol-core §6, `neuro_sdk._parsing_utils`).

mod parse;
#[cfg(test)]
mod tests;

use std::fmt;

use percent_encoding::utf8_percent_encode;
use url::Url;

pub use parse::ImageContext;

/// How a tag is handled when parsing a platform image (external images always
/// default to `latest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TagOption {
    /// A missing tag becomes `latest`.
    #[default]
    Default,
    /// A missing tag stays missing.
    Allow,
    /// A tag is an error; the image has no tag.
    Deny,
}

/// What is wrong with an image name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidImageReason {
    /// The empty string.
    Empty,
    /// The name starts with `-`.
    StartsWithDash,
    /// `image:latest` reads both as a local and as a remote name.
    Ambiguous,
    /// `ubuntu:` or `:latest`.
    EmptyNameOrTag,
    /// More colons than a `host:port/name:tag` form has.
    TooManyTags,
    /// No name after the registry or owner.
    NoImageName,
    /// The name does not follow Docker's rules.
    InvalidName,
    /// The tag is longer than 128 characters.
    TagTooLong,
    /// The tag does not follow Docker's rules.
    InvalidTag,
    /// A tag was given where [`TagOption::Deny`] forbids it.
    TagNotAllowed,
    /// An `image:` URI where a local image is expected.
    SchemeNotAllowed,
    /// A remote image that names no known registry and has no `image:` scheme.
    SchemeRequired,
    /// The `image:` URI has a fragment.
    Fragment,
    /// The `image:` URI has a query.
    Query,
    /// The `image:` URI has a user name or password.
    User,
    /// The `image:` URI has a port.
    Port,
}

impl fmt::Display for InvalidImageReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty image name",
            Self::StartsWithDash => "image cannot start with dash",
            Self::Ambiguous => "ambiguous value: valid as both local and remote image name",
            Self::EmptyNameOrTag => "empty name or empty tag",
            Self::TooManyTags => "too many tags",
            Self::NoImageName => "no image name specified",
            Self::InvalidName => {
                "invalid image name: name components may contain lowercase letters, digits \
                 and separators (a period, an underscore or dashes) and may not start or \
                 end with a separator"
            }
            Self::TagTooLong => "tag is too long",
            Self::InvalidTag => {
                "invalid tag: a tag may contain ASCII letters, digits, underscores, periods \
                 and dashes, may not start with a period or a dash and is at most 128 \
                 characters"
            }
            Self::TagNotAllowed => "tag is not allowed",
            Self::SchemeNotAllowed => "scheme 'image://' is not allowed for local images",
            Self::SchemeRequired => "scheme 'image:' is required for remote images",
            Self::Fragment => {
                "fragment part is not allowed in image URI; use '%23' to quote '#' in path"
            }
            Self::Query => "query part is not allowed in image URI; use '%3F' to quote '?' in path",
            Self::User => "user is not allowed in image URI",
            Self::Port => "port is not allowed in image URI",
        })
    }
}

/// Why an image reference was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The text is not a valid image reference.
    #[error("invalid {} image '{image}': {reason}", if *.remote { "remote" } else { "local" })]
    Invalid {
        /// The text as given.
        image: String,
        /// Whether it was parsed as a remote (`true`) or local image.
        remote: bool,
        /// What is wrong.
        reason: InvalidImageReason,
    },
    /// The image names a cluster the user has no access to (a `RuntimeError` in the
    /// Python SDK, which is not turned into `INVALID-IMAGE-NAME`).
    #[error("cluster {cluster} doesn't exist in the list of available clusters {known:?}; please logout and login again")]
    UnknownCluster {
        /// The cluster named.
        cluster: String,
        /// The clusters known.
        known: Vec<String>,
    },
    /// A registry URL without a host.
    #[error("empty hostname in registry URL '{url}': please consider updating configuration")]
    NoRegistryHost {
        /// The URL.
        url: String,
    },
    /// The fields of a [`RemoteImage`] contradict each other.
    #[error("inconsistent image reference: {0}")]
    Inconsistent(&'static str),
}

impl ImageError {
    /// Whether the error is an unknown cluster (which the job decoder lets through).
    pub fn is_unknown_cluster(&self) -> bool {
        matches!(self, ImageError::UnknownCluster { .. })
    }
}

/// The registry authority of a cluster: the host of `registry_url` plus `:port` when
/// the URL names a non-default port (`_get_url_authority`).
///
/// ```
/// use neuro_types::image::registry_authority;
/// use url::Url;
///
/// let url = Url::parse("https://registry.neu.ro").unwrap();
/// assert_eq!(registry_authority(&url).unwrap(), "registry.neu.ro");
/// let url = Url::parse("http://localhost:5000/v2/").unwrap();
/// assert_eq!(registry_authority(&url).unwrap(), "localhost:5000");
/// ```
pub fn registry_authority(url: &Url) -> Result<String, ImageError> {
    match url.host_str() {
        Some(host) if !host.is_empty() => Ok(match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }),
        _ => Err(ImageError::NoRegistryHost {
            url: url.to_string(),
        }),
    }
}

/// An image in a registry: either a platform image (`registry`, `owner` and
/// `cluster_name` all set) or an external one (`ubuntu`, `gcr.io/proj/img`).
///
/// The fields are private so that the §6.1 invariants always hold; build values
/// with [`RemoteImage::new_platform_image`], [`RemoteImage::new_external_image`] or
/// [`RemoteImage::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemoteImage {
    name: String,
    tag: Option<String>,
    owner: Option<String>,
    registry: Option<String>,
    cluster_name: Option<String>,
    org_name: Option<String>,
}

fn is_set(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|v| !v.is_empty())
}

impl RemoteImage {
    /// Any combination of fields, checked: an owner needs a cluster and a registry,
    /// a cluster needs an owner, and neither may be set without a registry.
    pub fn new(
        name: impl Into<String>,
        tag: Option<String>,
        owner: Option<String>,
        registry: Option<String>,
        cluster_name: Option<String>,
        org_name: Option<String>,
    ) -> Result<Self, ImageError> {
        if is_set(&registry) {
            if is_set(&owner) {
                if !is_set(&cluster_name) {
                    return Err(ImageError::Inconsistent("required cluster name"));
                }
            } else if is_set(&cluster_name) {
                return Err(ImageError::Inconsistent("required owner"));
            }
        } else if is_set(&owner) || is_set(&cluster_name) {
            return Err(ImageError::Inconsistent("required registry"));
        }
        Ok(Self {
            name: name.into(),
            tag,
            owner,
            registry,
            cluster_name,
            org_name,
        })
    }

    /// An image in the platform registry of `cluster_name`.
    ///
    /// ```
    /// use neuro_types::image::RemoteImage;
    ///
    /// let img = RemoteImage::new_platform_image(
    ///     "img", "registry.neu.ro", "alice", "default", Some("myorg".into()), Some("v1".into()),
    /// );
    /// assert_eq!(img.as_docker_url(false), "registry.neu.ro/myorg/alice/img:v1");
    /// assert_eq!(img.to_string(), "image://default/myorg/alice/img:v1");
    /// ```
    pub fn new_platform_image(
        name: impl Into<String>,
        registry: impl Into<String>,
        owner: impl Into<String>,
        cluster_name: impl Into<String>,
        org_name: Option<String>,
        tag: Option<String>,
    ) -> Self {
        Self {
            name: name.into(),
            tag,
            owner: Some(owner.into()),
            registry: Some(registry.into()),
            cluster_name: Some(cluster_name.into()),
            org_name,
        }
    }

    /// An image outside the platform registry. `registry` is informative only: it
    /// is not part of [`RemoteImage::as_docker_url`] (a Python SDK quirk).
    pub fn new_external_image(
        name: impl Into<String>,
        registry: Option<String>,
        tag: Option<String>,
    ) -> Self {
        Self {
            name: name.into(),
            tag,
            owner: None,
            registry,
            cluster_name: None,
            org_name: None,
        }
    }

    /// Parses a reference (§6.3); shorthand for [`ImageContext::parse_remote`].
    pub fn parse(
        text: &str,
        ctx: &ImageContext,
        tag_option: TagOption,
    ) -> Result<Self, ImageError> {
        ctx.parse_remote(text, tag_option)
    }

    /// The repository name (may contain `/`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The owner (platform images only).
    pub fn owner(&self) -> Option<&str> {
        self.owner.as_deref()
    }

    /// The registry authority, `host[:port]`.
    pub fn registry(&self) -> Option<&str> {
        self.registry.as_deref()
    }

    /// The cluster (platform images only).
    pub fn cluster_name(&self) -> Option<&str> {
        self.cluster_name.as_deref()
    }

    /// The org (platform images only, optional).
    pub fn org_name(&self) -> Option<&str> {
        self.org_name.as_deref()
    }

    /// The same image with another tag.
    pub fn with_tag(mut self, tag: Option<String>) -> Self {
        self.tag = tag;
        self
    }

    /// Whether the image lives in a platform registry (`_is_in_neuro_registry`).
    pub fn is_platform_image(&self) -> bool {
        is_set(&self.registry) && is_set(&self.owner) && is_set(&self.cluster_name)
    }

    fn suffix(&self) -> String {
        match self.tag.as_deref() {
            Some(tag) if !tag.is_empty() => format!("{}:{tag}", self.name),
            _ => self.name.clone(),
        }
    }

    fn owner_prefix(&self) -> String {
        let owner = self.owner.as_deref().unwrap_or_default();
        match self.org_name.as_deref() {
            Some(org) if !org.is_empty() => format!("{org}/{owner}"),
            _ => owner.to_owned(),
        }
    }

    /// The reference Docker and the jobs API understand: `<registry>/[<org>/]<owner>/
    /// <name>[:<tag>]` for platform images, `<name>[:<tag>]` otherwise (the registry
    /// of an external image is dropped). `with_scheme` prefixes platform images with
    /// `https://`.
    pub fn as_docker_url(&self, with_scheme: bool) -> String {
        if self.is_platform_image() {
            let registry = self.registry.as_deref().unwrap_or_default();
            let scheme = if with_scheme { "https://" } else { "" };
            format!(
                "{scheme}{registry}/{}/{}",
                self.owner_prefix(),
                self.suffix()
            )
        } else {
            self.suffix()
        }
    }
}

/// `image://<cluster>/[<org>/]<owner>/<name>[:<tag>]` for platform images,
/// `<name>[:<tag>]` otherwise.
impl fmt::Display for RemoteImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_platform_image() {
            let path = format!("{}/{}", self.owner_prefix(), self.suffix());
            write!(
                f,
                "image://{}/{}",
                self.cluster_name.as_deref().unwrap_or_default(),
                utf8_percent_encode(&path, IMAGE_PATH)
            )
        } else {
            f.write_str(&self.suffix())
        }
    }
}

/// What yarl escapes when it builds the path of an `image:` URI.
const IMAGE_PATH: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// An image in the local Docker engine: `name[:tag]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LocalImage {
    /// Repository name, possibly with a registry prefix.
    pub name: String,
    /// Tag, if any.
    pub tag: Option<String>,
}

impl LocalImage {
    /// An image with the given name and tag.
    pub fn new(name: impl Into<String>, tag: Option<String>) -> Self {
        Self {
            name: name.into(),
            tag,
        }
    }

    /// Parses a local image name; a missing tag becomes `latest`.
    ///
    /// ```
    /// use neuro_types::image::LocalImage;
    ///
    /// let img = LocalImage::parse("ubuntu").unwrap();
    /// assert_eq!(img.to_string(), "ubuntu:latest");
    /// assert!(LocalImage::parse("image:ubuntu").is_err());
    /// ```
    pub fn parse(text: &str) -> Result<Self, ImageError> {
        parse::parse_local(text)
    }
}

impl fmt::Display for LocalImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tag.as_deref() {
            Some(tag) if !tag.is_empty() => write!(f, "{}:{tag}", self.name),
            _ => f.write_str(&self.name),
        }
    }
}
