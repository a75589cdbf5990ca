//! Image reference parsing (`_ImageNameParser`).

use percent_encoding::percent_decode_str;

use super::{
    registry_authority, ImageError, InvalidImageReason, LocalImage, RemoteImage, TagOption,
};
use crate::config::Cluster;
use crate::uri::UriContext;

use InvalidImageReason as Why;

/// Everything image parsing depends on: the current user, cluster and org, and the
/// registry authority of every known cluster (in the config's cluster order, which
/// decides between clusters sharing a registry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageContext {
    /// The current user, cluster and org.
    pub uri: UriContext,
    /// `(cluster name, registry authority)` pairs; see
    /// [`registry_authority`](super::registry_authority).
    pub registries: Vec<(String, String)>,
}

impl ImageContext {
    /// A context from explicit registry authorities.
    pub fn new(uri: UriContext, registries: Vec<(String, String)>) -> Self {
        Self { uri, registries }
    }

    /// A context from the clusters of the config. Fails if a registry URL has no
    /// host.
    ///
    /// ```
    /// use neuro_types::image::{ImageContext, TagOption};
    /// use neuro_types::uri::UriContext;
    ///
    /// let ctx = ImageContext::new(
    ///     UriContext::new("alice", "default", None),
    ///     vec![("default".into(), "registry.neu.ro".into())],
    /// );
    /// let img = ctx.parse_remote("image:img", TagOption::Default).unwrap();
    /// assert_eq!(img.as_docker_url(false), "registry.neu.ro/alice/img:latest");
    /// ```
    pub fn from_clusters<'a>(
        uri: UriContext,
        clusters: impl IntoIterator<Item = &'a Cluster>,
    ) -> Result<Self, ImageError> {
        let registries = clusters
            .into_iter()
            .map(|c| Ok((c.name.clone(), registry_authority(&c.registry_url)?)))
            .collect::<Result<_, ImageError>>()?;
        Ok(Self { uri, registries })
    }

    /// The same context with another default cluster (job images are parsed with
    /// the job's cluster as the default).
    pub fn with_cluster(&self, cluster_name: impl Into<String>) -> Self {
        Self {
            uri: self.uri.with_cluster(cluster_name),
            registries: self.registries.clone(),
        }
    }

    /// The registry authority of a cluster.
    pub fn registry_of(&self, cluster_name: &str) -> Option<&str> {
        self.registries
            .iter()
            .find(|(c, _)| c == cluster_name)
            .map(|(_, r)| r.as_str())
    }

    /// Parses a remote image reference (`Parser.remote_image`, §6.3).
    ///
    /// `image:...` and `<known registry>/...` are platform images; anything else is
    /// an external image, which always defaults to the tag `latest`.
    pub fn parse_remote(
        &self,
        text: &str,
        tag_option: TagOption,
    ) -> Result<RemoteImage, ImageError> {
        if text.starts_with("image:") || self.find_by_registry(text).is_some() {
            return self.parse_platform(text, tag_option);
        }
        let local = parse_local(text)?;
        let (registry, name) = if local.name.contains(':') {
            match local.name.split_once('/') {
                Some((registry, name)) => (Some(registry.to_owned()), name.to_owned()),
                None => return Err(invalid(text, false, Why::NoImageName)),
            }
        } else {
            (None, local.name)
        };
        Ok(RemoteImage::new_external_image(name, registry, local.tag))
    }

    /// Parses a local image name; shorthand for [`LocalImage::parse`].
    pub fn parse_local(&self, text: &str) -> Result<LocalImage, ImageError> {
        parse_local(text)
    }

    /// The default push target of a local image (`_local_to_remote_image`): the
    /// current cluster, org and user, unless the name starts with a known registry.
    pub fn local_to_remote(&self, image: &LocalImage) -> Result<RemoteImage, ImageError> {
        let mut cluster = self.uri.cluster_name.clone();
        let mut owner = self.uri.username.clone();
        let mut name = image.name.clone();
        if let Some((found, path)) = self.find_by_registry(&image.name) {
            cluster = found.to_owned();
            if !path.is_empty() {
                match path.split_once('/') {
                    Some((o, n)) if !n.is_empty() => {
                        owner = o.to_owned();
                        name = n.to_owned();
                    }
                    _ => name = path.to_owned(),
                }
            }
        }
        let registry = self.registry_or_err(&cluster)?.to_owned();
        Ok(RemoteImage::new_platform_image(
            name,
            registry,
            owner,
            cluster,
            self.uri.org_name.clone(),
            image.tag.clone(),
        ))
    }

    /// The default pull target of a remote image (`_remote_to_local_image`).
    pub fn remote_to_local(&self, image: &RemoteImage) -> LocalImage {
        LocalImage::new(image.name(), image.tag().map(str::to_owned))
    }

    /// Whether a platform image reference carries a tag (`has_tag`).
    pub fn has_tag(&self, text: &str) -> Result<bool, ImageError> {
        let path = if text.starts_with("image:") {
            let url = parse_image_url(text).map_err(|w| invalid(text, true, w))?;
            let path = url.path;
            path.strip_prefix('/').map(str::to_owned).unwrap_or(path)
        } else {
            text.to_owned()
        };
        let (_, tag) = split_image_name(&path, None).map_err(|w| invalid(text, true, w))?;
        Ok(tag.is_some())
    }

    fn find_by_registry<'t>(&self, text: &'t str) -> Option<(&str, &'t str)> {
        self.registries.iter().find_map(|(cluster, registry)| {
            let rest = text.strip_prefix(registry.as_str())?.strip_prefix('/')?;
            Some((cluster.as_str(), rest.trim_start_matches('/')))
        })
    }

    fn registry_or_err(&self, cluster: &str) -> Result<&str, ImageError> {
        self.registry_of(cluster)
            .ok_or_else(|| ImageError::UnknownCluster {
                cluster: cluster.to_owned(),
                known: self.registries.iter().map(|(c, _)| c.clone()).collect(),
            })
    }

    /// `parse_as_neuro_image`.
    fn parse_platform(&self, text: &str, tag_option: TagOption) -> Result<RemoteImage, ImageError> {
        validate(text).map_err(|w| invalid(text, true, w))?;
        let default_tag = match tag_option {
            TagOption::Default => Some("latest"),
            TagOption::Deny if self.has_tag(text)? => {
                return Err(invalid(text, true, Why::TagNotAllowed))
            }
            TagOption::Deny | TagOption::Allow => None,
        };
        let url = if text.starts_with("image:") {
            parse_image_url(text).map_err(|w| invalid(text, true, w))?
        } else {
            let Some((cluster, path)) = self.find_by_registry(text) else {
                return Err(invalid(text, true, Why::SchemeRequired));
            };
            if path.contains('#') {
                return Err(invalid(text, true, Why::Fragment));
            }
            if path.contains('?') {
                return Err(invalid(text, true, Why::Query));
            }
            ImageUrl {
                host: Some(cluster.to_owned()),
                path: format!("/{}", decode(path)),
            }
        };
        if url.path.is_empty() || url.path == "/" {
            return Err(invalid(text, true, Why::NoImageName));
        }
        let (mut name, tag) = split_image_name(url.path.trim_start_matches('/'), default_tag)
            .map_err(|w| invalid(text, true, w))?;
        let (cluster, mut org) = match &url.host {
            None => (self.uri.cluster_name.clone(), self.uri.org_name.clone()),
            Some(host) => (host.clone(), None),
        };
        let owner = if url.path.starts_with('/') {
            let (mut owner, mut rest) = partition(&name);
            if url.host.is_some() && self.uri.org_name.as_deref() == Some(owner.as_str()) {
                org = Some(owner);
                (owner, rest) = partition(&rest);
            }
            if rest.is_empty() {
                return Err(invalid(text, true, Why::NoImageName));
            }
            name = rest;
            owner
        } else {
            self.uri.username.clone()
        };
        let registry = self.registry_or_err(&cluster)?.to_owned();
        Ok(RemoteImage::new_platform_image(
            name, registry, owner, cluster, org, tag,
        ))
    }
}

fn invalid(image: &str, remote: bool, reason: InvalidImageReason) -> ImageError {
    ImageError::Invalid {
        image: image.to_owned(),
        remote,
        reason,
    }
}

/// Python's `str.partition("/")`: head and tail (empty when there is no `/`).
fn partition(text: &str) -> (String, String) {
    match text.split_once('/') {
        Some((head, tail)) => (head.to_owned(), tail.to_owned()),
        None => (text.to_owned(), String::new()),
    }
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// The parts of an `image:` URI that matter: the host (lower case) and the
/// percent-decoded path.
struct ImageUrl {
    host: Option<String>,
    path: String,
}

fn parse_image_url(text: &str) -> Result<ImageUrl, InvalidImageReason> {
    if text.contains('#') {
        return Err(Why::Fragment);
    }
    if text.contains('?') {
        return Err(Why::Query);
    }
    let rest = text.strip_prefix("image:").unwrap_or(text);
    match rest.strip_prefix("//") {
        Some(after) => {
            let end = after.find('/').unwrap_or(after.len());
            let authority = &after[..end];
            if authority.contains('@') {
                return Err(Why::User);
            }
            if authority.contains(':') {
                return Err(Why::Port);
            }
            let host = (!authority.is_empty()).then(|| decode(authority).to_ascii_lowercase());
            Ok(ImageUrl {
                host,
                path: decode(&after[end..]),
            })
        }
        None => Ok(ImageUrl {
            host: None,
            path: decode(rest),
        }),
    }
}

fn validate(image: &str) -> Result<(), InvalidImageReason> {
    if image.is_empty() {
        return Err(Why::Empty);
    }
    if image.starts_with('-') {
        return Err(Why::StartsWithDash);
    }
    if image == "image:latest" {
        return Err(Why::Ambiguous);
    }
    Ok(())
}

/// `parse_as_local_image`.
pub(super) fn parse_local(text: &str) -> Result<LocalImage, ImageError> {
    let parsed = validate(text).and_then(|()| {
        if text.starts_with("image:") {
            return Err(Why::SchemeNotAllowed);
        }
        split_image_name(text, Some("latest"))
    });
    let (name, tag) = parsed.map_err(|w| invalid(text, false, w))?;
    Ok(LocalImage { name, tag })
}

/// `_split_image_name`: splits `name[:tag]` (where the name may start with
/// `host:port/`) and checks both parts against Docker's rules.
fn split_image_name(
    image: &str,
    default_tag: Option<&str>,
) -> Result<(String, Option<String>), InvalidImageReason> {
    if image.starts_with(':') || image.ends_with(':') {
        return Err(Why::EmptyNameOrTag);
    }
    let default = default_tag.map(str::to_owned);
    let (name, tag) = match image.matches(':').count() {
        0 => (image.to_owned(), default),
        1 => match image.split_once(':') {
            Some((_, tag)) if tag.contains('/') => (image.to_owned(), default),
            Some((name, tag)) => (name.to_owned(), Some(tag.to_owned())),
            None => (image.to_owned(), default),
        },
        2 if image.contains('/') => match image.rsplit_once(':') {
            Some((name, tag)) => (name.to_owned(), Some(tag.to_owned())),
            None => return Err(Why::TooManyTags),
        },
        _ => return Err(Why::TooManyTags),
    };
    let without_repo = name.split_once('/').map_or(name.as_str(), |(_, rest)| rest);
    if without_repo.is_empty() {
        return Err(Why::NoImageName);
    }
    if !without_repo.split('/').all(is_name_component) {
        return Err(Why::InvalidName);
    }
    if let Some(tag) = tag.as_deref().filter(|t| !t.is_empty()) {
        if tag.chars().count() > 128 {
            return Err(Why::TagTooLong);
        }
        if !is_valid_tag(tag) {
            return Err(Why::InvalidTag);
        }
    }
    Ok((name, tag))
}

/// `[a-z0-9]+(?:[._-][a-z0-9]+)*`.
fn is_name_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let sep = |b: u8| matches!(b, b'.' | b'_' | b'-');
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) if alnum(first) && alnum(last) => {}
        _ => return false,
    }
    bytes.iter().all(|&b| alnum(b) || sep(b)) && bytes.windows(2).all(|w| !(sep(w[0]) && sep(w[1])))
}

/// `[a-zA-Z0-9_]+[a-zA-Z0-9_.-]*`.
fn is_valid_tag(tag: &str) -> bool {
    let bytes = tag.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    match bytes.first() {
        Some(&first) if word(first) => bytes.iter().all(|&b| word(b) || matches!(b, b'.' | b'-')),
        _ => false,
    }
}
