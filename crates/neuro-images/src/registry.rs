//! The registry calls of [`Images`]: list, tags, digest, size, tag info, rm
//! (wire-protocol-core §9). Requests go to the cluster's `registry_url` with
//! its path replaced by `/v2/`, authenticated with
//! `Basic base64(<user>:<token>)`.

use base64::Engine as _;
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use neuro_http::{Method, Response};
use neuro_types::endpoints::{paths, query};
use neuro_types::{RemoteImage, TagOption};
use serde::Deserialize;
use url::Url;

use crate::{Images, ImagesError, Tag};

/// Repositories asked for per `_catalog` page.
pub const REPOS_PER_PAGE: usize = 30;
/// Tags asked for per `tags/list` page.
pub const TAGS_PER_PAGE: usize = 30;

/// The media type asked for when reading a manifest.
const MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

#[derive(Deserialize)]
struct CatalogPage {
    repositories: Vec<String>,
}

#[derive(Deserialize)]
struct TagsPage {
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct LayerSize {
    size: u64,
}

#[derive(Deserialize)]
struct ManifestLayers {
    layers: Vec<LayerSize>,
}

/// `url` with its path replaced by `/<path>` (a path of [`paths`]).
fn at(registry_url: &Url, path: &str) -> Url {
    let mut url = registry_url.clone();
    url.set_path(&format!("/{path}"));
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// `url` with `n=<n>` merged into its query (other parameters, e.g. `last`, kept).
fn with_page_size(mut url: Url, n: usize) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != query::N)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair(query::N, &n.to_string());
    url
}

/// The `rel="next"` target of a `Link` header, resolved against `base`.
pub(crate) fn next_link(response: &Response) -> Option<Url> {
    response
        .headers()
        .get_all(http::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|link| {
            let (target, params) = link.trim().split_once(';')?;
            let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
            let is_next = params.split(';').any(|p| {
                let p = p.trim().replace(' ', "");
                p == "rel=\"next\"" || p == "rel=next"
            });
            is_next.then(|| response.url().join(target).ok())?
        })
}

impl Images {
    /// `Basic base64(<user>:<token>)`.
    async fn registry_auth(&self) -> Result<String, ImagesError> {
        let token = self.config.token().await?;
        let credentials = format!("{}:{token}", self.config.username());
        Ok(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        ))
    }

    /// The registry URL of `image`'s cluster (the current one if it has none).
    fn registry_url(&self, cluster_name: Option<&str>) -> Result<Url, ImagesError> {
        Ok(self.config.cluster(cluster_name)?.registry_url.clone())
    }

    /// `[<org>/]<owner>/<name>` of a platform image.
    fn repository(image: &RemoteImage) -> Result<String, ImagesError> {
        let owner = image.owner().filter(|o| !o.is_empty()).ok_or_else(|| {
            ImagesError::InvalidArgument(format!("Invalid image `{image}`: missing image owner"))
        })?;
        Ok(match image.org_name().filter(|o| !o.is_empty()) {
            Some(org) => format!("{org}/{owner}/{}", image.name()),
            None => format!("{owner}/{}", image.name()),
        })
    }

    fn manifest_url(&self, image: &RemoteImage, reference: &str) -> Result<Url, ImagesError> {
        let repo = Self::repository(image)?;
        Ok(at(
            &self.registry_url(image.cluster_name())?,
            &paths::registry_get(&format!("{repo}/manifests/{reference}")),
        ))
    }

    fn required_tag(image: &RemoteImage) -> Result<&str, ImagesError> {
        image.tag().filter(|t| !t.is_empty()).ok_or_else(|| {
            ImagesError::InvalidArgument(format!("Invalid image `{image}`: missing tag"))
        })
    }

    /// One page after another from `first`, each asking for `n` items, until a
    /// page is empty or has no `Link: <...>; rel="next"`.
    fn pages<T, F>(
        &self,
        first: Url,
        n: usize,
        items: F,
    ) -> impl Stream<Item = Result<Vec<String>, ImagesError>> + Send + 'static
    where
        T: for<'de> Deserialize<'de> + Send + 'static,
        F: Fn(T) -> Vec<String> + Send + Sync + 'static,
    {
        let this = self.clone();
        futures::stream::try_unfold(
            (Some(first), this, items),
            move |(url, this, items)| async move {
                let Some(url) = url else {
                    return Ok(None);
                };
                let auth = this.registry_auth().await?;
                let response = this
                    .config
                    .transport()
                    .request(Method::GET, with_page_size(url, n))
                    .authorization(auth)
                    .send()
                    .await?;
                let next = next_link(&response);
                let page = items(response.json::<T>().await?);
                let next = if page.is_empty() { None } else { next };
                Ok(Some((page, (next, this, items))))
            },
        )
    }

    /// The platform images (repositories, without tags) the user may read on
    /// `cluster_name` (default: the current cluster). Entries that do not parse
    /// as images are logged and skipped, as the Python SDK does.
    ///
    /// ```no_run
    /// # // no_run: needs images pushed to the registry first (tests/tests/images.rs lists them on neuro-local)
    /// # async fn demo(images: neuro_images::Images) -> Result<(), neuro_images::ImagesError> {
    /// use futures::TryStreamExt as _;
    ///
    /// let repos: Vec<_> = images.list(None).try_collect().await?;
    /// for repo in &repos {
    ///     let tags: Vec<_> = images.tags(repo).try_collect().await?;
    ///     println!("{repo}: {} tags", tags.len());
    /// }
    /// # Ok(()) }
    /// ```
    pub fn list(
        &self,
        cluster_name: Option<&str>,
    ) -> impl Stream<Item = Result<RemoteImage, ImagesError>> + Send + 'static {
        let this = self.clone();
        let cluster = cluster_name
            .map(str::to_owned)
            .unwrap_or_else(|| self.config.cluster_name().to_owned());
        let first = self
            .registry_url(Some(&cluster))
            .map(|url| at(&url, neuro_types::endpoints::REGISTRY_CATALOG.path));
        let context = self.config.image_context().with_cluster(cluster.clone());
        futures::stream::once(async move {
            let first = first?;
            Ok::<_, ImagesError>(
                this.pages(first, REPOS_PER_PAGE, |p: CatalogPage| p.repositories)
                    .map_ok(move |repos| {
                        let parsed: Vec<Result<RemoteImage, ImagesError>> = repos
                            .into_iter()
                            .filter_map(|repo| {
                                let uri = format!("image://{cluster}/{repo}");
                                match context.parse_remote(&uri, TagOption::Deny) {
                                    Ok(image) => Some(Ok(image)),
                                    Err(err) => {
                                        tracing::warn!(%uri, error = %err, "skipping an unparsable repository");
                                        None
                                    }
                                }
                            })
                            .collect();
                        futures::stream::iter(parsed)
                    })
                    .try_flatten(),
            )
        })
        .try_flatten()
        .boxed()
    }

    /// The tags of `image` (which must have an owner and a name and no tag), as
    /// images with their tag.
    pub fn tags(
        &self,
        image: &RemoteImage,
    ) -> impl Stream<Item = Result<RemoteImage, ImagesError>> + Send + 'static {
        let this = self.clone();
        let image = image.clone();
        futures::stream::once(async move {
            let invalid =
                |why: &str| ImagesError::InvalidArgument(format!("Invalid image `{image}`: {why}"));
            if image.tag().is_some() {
                return Err(invalid("tag is not allowed"));
            }
            if image.owner().is_none_or(str::is_empty) {
                return Err(invalid("missing image owner"));
            }
            if image.name().is_empty() {
                return Err(invalid("missing image name"));
            }
            let repo = Self::repository(&image)?;
            let first = at(
                &this.registry_url(image.cluster_name())?,
                &paths::registry_get(&format!("{repo}/tags/list")),
            );
            let base = image.clone();
            Ok(this
                .pages(first, TAGS_PER_PAGE, |p: TagsPage| p.tags)
                .map_ok(move |tags| {
                    let images: Vec<Result<RemoteImage, ImagesError>> = tags
                        .into_iter()
                        .map(|tag| Ok(base.clone().with_tag(Some(tag))))
                        .collect();
                    futures::stream::iter(images)
                })
                .try_flatten())
        })
        .try_flatten()
        .boxed()
    }

    /// `method` on the manifest of `image`'s tag, asking for a Docker v2 manifest.
    async fn manifest_request(
        &self,
        method: Method,
        image: &RemoteImage,
    ) -> Result<Response, ImagesError> {
        let url = self.manifest_url(image, Self::required_tag(image)?)?;
        Ok(self
            .config
            .transport()
            .request(method, url)
            .authorization(self.registry_auth().await?)
            .header(http::header::ACCEPT, MANIFEST_V2)
            .send()
            .await?)
    }

    /// The digest (`sha256:...`) of the manifest `image`'s tag points at.
    pub async fn digest(&self, image: &RemoteImage) -> Result<String, ImagesError> {
        let response = self.manifest_request(Method::HEAD, image).await?;
        response
            .header_str("Docker-Content-Digest")
            .map(str::to_owned)
            .ok_or_else(|| ImagesError::Protocol("no Docker-Content-Digest header".into()))
    }

    /// The tag of `image` and the size of its layers.
    pub async fn tag_info(&self, image: &RemoteImage) -> Result<Tag, ImagesError> {
        let tag = Self::required_tag(image)?;
        let manifest: ManifestLayers = self
            .manifest_request(Method::GET, image)
            .await?
            .json()
            .await?;
        Ok(Tag {
            name: tag.to_owned(),
            size: Some(manifest.layers.iter().map(|l| l.size).sum()),
        })
    }

    /// The size in bytes of `image`'s layers.
    pub async fn size(&self, image: &RemoteImage) -> Result<u64, ImagesError> {
        self.tag_info(image)
            .await?
            .size
            .ok_or_else(|| ImagesError::Protocol("the manifest has no layers".into()))
    }

    /// Deletes the manifest `digest` of `image`'s repository (every tag
    /// pointing at it goes with it).
    ///
    /// ```no_run
    /// # // no_run: deletes a pushed image (tests/tests/images.rs runs digest, size and rm on neuro-local)
    /// # async fn demo(images: neuro_images::Images, image: neuro_types::RemoteImage) -> Result<(), neuro_images::ImagesError> {
    /// let digest = images.digest(&image).await?;
    /// println!("{} bytes of layers", images.size(&image).await?);
    /// images.rm(&image, &digest).await?;
    /// # Ok(()) }
    /// ```
    pub async fn rm(&self, image: &RemoteImage, digest: &str) -> Result<(), ImagesError> {
        if digest.is_empty() || digest.contains('/') {
            return Err(ImagesError::InvalidArgument(format!(
                "invalid digest {digest:?}"
            )));
        }
        let url = self.manifest_url(image, digest)?;
        self.config
            .transport()
            .request(Method::DELETE, url)
            .authorization(self.registry_auth().await?)
            .send()
            .await?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn page_size_is_merged_into_next_links() {
        let url = Url::parse("http://h/v2/_catalog?last=alice%2Fimg&n=5").unwrap();
        assert_eq!(
            with_page_size(url, 30).as_str(),
            "http://h/v2/_catalog?last=alice%2Fimg&n=30"
        );
        let base = Url::parse("https://h/registry").unwrap();
        assert_eq!(at(&base, "v2/_catalog").as_str(), "https://h/v2/_catalog");
    }
}
