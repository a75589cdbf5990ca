//! [`Images::push`] and [`Images::pull`]: through the local Docker engine
//! (wire-protocol-core §10), which talks to the registry itself with the
//! credentials in `X-Registry-Auth`.

use base64::Engine as _;
use futures::TryStreamExt as _;
use http::Method;
use neuro_types::{LocalImage, RemoteImage};

use crate::engine::{path_name, progress_steps};
use crate::progress::{DockerImageProgress, ImageProgressPull, ImageProgressPush};
use crate::{Images, ImagesError};

/// `X-Registry-Auth`: `{"username": "token", "password": <token>,
/// "serveraddress": <registry host>}` as URL-safe base64 with padding (what
/// Docker decodes, and the only form Podman accepts).
pub(crate) fn registry_auth_header(token: &str, server_address: &str) -> String {
    let json = serde_json::json!({
        "username": "token",
        "password": token,
        "serveraddress": server_address,
    });
    base64::engine::general_purpose::URL_SAFE.encode(json.to_string())
}

/// `POST /images/<source>/tag?repo=<repo>&tag=<tag>`: the new name and its tag
/// as separate parameters, which both Docker and Podman accept (Podman refuses
/// a tag inside `repo`).
fn tag_request(source: &str, repo: &str, tag: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("repo", repo);
    if let Some(tag) = tag.filter(|t| !t.is_empty()) {
        query.append_pair("tag", tag);
    }
    format!("/images/{}/tag?{}", path_name(source), query.finish())
}

/// A `403` of the engine as [`ImagesError::AccessDenied`] to `remote`.
fn refusal(err: ImagesError, remote: &RemoteImage) -> ImagesError {
    match err {
        ImagesError::Docker { status: 403, .. } => ImagesError::AccessDenied(remote.to_string()),
        other => other,
    }
}

/// The registry host of a Docker reference: the part before the first `/`.
fn server_address(reference: &str) -> &str {
    reference.split('/').next().unwrap_or(reference)
}

impl Images {
    /// The query telling the engine that the registry speaks plain HTTP
    /// (Podman reads `tlsVerify`; Docker ignores it and uses its own
    /// insecure-registries setting).
    fn tls_query(&self, image: &RemoteImage) -> &'static str {
        let plain = self
            .config
            .cluster(image.cluster_name())
            .is_ok_and(|c| c.registry_url.scheme() == "http");
        if plain {
            "tlsVerify=false"
        } else {
            ""
        }
    }

    async fn auth_header(&self, reference: &str) -> Result<(&'static str, String), ImagesError> {
        let token = self.config.token().await?;
        Ok((
            "X-Registry-Auth",
            registry_auth_header(&token, server_address(reference)),
        ))
    }

    /// Pushes the local image `local` to `remote` (default: the same name and
    /// tag under the user's platform registry) through the Docker engine, and
    /// returns where it went. An error line in the engine's progress stream is
    /// an error.
    ///
    /// ```no_run
    /// # // no_run: needs a Docker engine (tests/tests/images_podman.rs pushes through Podman's Docker-compatible service)
    /// # async fn demo(images: neuro_images::Images) -> Result<(), neuro_images::ImagesError> {
    /// use neuro_images::{DockerImageProgress, ImageProgressStep};
    /// use neuro_types::LocalImage;
    ///
    /// struct Print;
    /// impl DockerImageProgress for Print {
    ///     fn step(&self, data: &ImageProgressStep) {
    ///         println!("{}", data.message);
    ///     }
    /// }
    ///
    /// let local = LocalImage::parse("hello:v1")?;
    /// let remote = images.push(&local, None, &Print).await?;
    /// println!("pushed to {remote}");
    /// # Ok(()) }
    /// ```
    pub async fn push(
        &self,
        local: &LocalImage,
        remote: Option<&RemoteImage>,
        progress: &dyn DockerImageProgress,
    ) -> Result<RemoteImage, ImagesError> {
        let remote = match remote {
            Some(r) => r.clone(),
            None => self.config.image_context().local_to_remote(local)?,
        };
        progress.push(&ImageProgressPush {
            src: local.clone(),
            dst: remote.clone(),
        });
        let repo = remote.as_docker_url(false);
        let engine = self.engine()?;
        let untagged = remote.clone().with_tag(None).as_docker_url(false);
        let tag_path = tag_request(&local.to_string(), &untagged, remote.tag());
        match engine.call(Method::POST, &tag_path, &[]).await {
            Ok(_) => {}
            Err(ImagesError::Docker { status: 404, .. }) => {
                return Err(ImagesError::LocalImageNotFound(local.to_string()))
            }
            Err(e) => return Err(e),
        }
        let auth = self.auth_header(&repo).await?;
        let mut push_path = format!("/images/{}/push", path_name(&repo));
        let tls = self.tls_query(&remote);
        if !tls.is_empty() {
            push_path = format!("{push_path}?{tls}");
        }
        let response = engine
            .call(Method::POST, &push_path, &[auth])
            .await
            .map_err(|e| refusal(e, &remote))?;
        let mut steps = std::pin::pin!(progress_steps(response, remote.tag().map(str::to_owned)));
        while let Some(step) = steps.try_next().await? {
            progress.step(&step);
        }
        Ok(remote)
    }

    /// Pulls `remote` through the Docker engine and tags it `local` (default:
    /// the same name and tag); returns the local image. The engine keeps the
    /// image under its remote name too until [`Images::close`].
    ///
    /// ```no_run
    /// # // no_run: needs a Docker engine (tests/tests/images_podman.rs pulls through Podman's Docker-compatible service)
    /// # async fn demo(images: neuro_images::Images) -> Result<(), neuro_images::ImagesError> {
    /// use neuro_images::NoProgress;
    /// use neuro_types::{LocalImage, RemoteImage};
    ///
    /// let remote =
    ///     RemoteImage::new_platform_image("hello", "registry.neu.ro", "alice", "default", None, Some("v1".into()));
    /// let local = images
    ///     .pull(&remote, Some(&LocalImage::parse("hello-copy:v1")?), &NoProgress)
    ///     .await?;
    /// assert_eq!(local.to_string(), "hello-copy:v1");
    /// images.close().await;
    /// # Ok(()) }
    /// ```
    pub async fn pull(
        &self,
        remote: &RemoteImage,
        local: Option<&LocalImage>,
        progress: &dyn DockerImageProgress,
    ) -> Result<LocalImage, ImagesError> {
        let local = match local {
            Some(l) => l.clone(),
            None => self.config.image_context().remote_to_local(remote),
        };
        progress.pull(&ImageProgressPull {
            src: remote.clone(),
            dst: local.clone(),
        });
        let repo = remote.as_docker_url(false);
        let engine = self.engine()?;
        let auth = self.auth_header(&repo).await?;
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("fromImage", &repo)
            .append_pair("repo", &repo);
        let tls = self.tls_query(remote);
        let mut path = format!("/images/create?{}", query.finish());
        if !tls.is_empty() {
            path = format!("{path}&{tls}");
        }
        let response = engine
            .call(Method::POST, &path, &[auth])
            .await
            .map_err(|e| match e {
                ImagesError::Docker { status: 404, .. } => {
                    ImagesError::RemoteImageNotFound(remote.to_string())
                }
                other => refusal(other, remote),
            })?;
        self.remember_temporary(&repo);
        let mut steps = std::pin::pin!(progress_steps(response, remote.tag().map(str::to_owned)));
        while let Some(step) = steps.try_next().await? {
            progress.step(&step);
        }
        let tag_path = tag_request(&repo, &local.name, local.tag.as_deref());
        engine.call(Method::POST, &tag_path, &[]).await?;
        Ok(local)
    }

    /// Removes from the engine the remote-named images this client pulled
    /// (errors are ignored, as the Python SDK's `Client.close` does).
    pub async fn close(&self) {
        let pulled = self.take_temporary();
        let Ok(engine) = self.engine() else {
            return;
        };
        for repo in pulled {
            let path = format!("/images/{}?force=0&noprune=0", path_name(&repo));
            if let Err(err) = engine.call(Method::DELETE, &path, &[]).await {
                tracing::debug!(image = %repo, error = %err, "cannot remove a pulled image");
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn registry_auth_is_url_safe_base64_with_padding() {
        let header = registry_auth_header("t?k>", "localhost:5000");
        let json = base64::engine::general_purpose::URL_SAFE
            .decode(&header)
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(value["username"], "token");
        assert_eq!(value["password"], "t?k>");
        assert_eq!(value["serveraddress"], "localhost:5000");
        assert!(!header.contains(['+', '/']));
        assert_eq!(header.len() % 4, 0);
        assert_eq!(
            server_address("localhost:5000/alice/img:v1"),
            "localhost:5000"
        );
    }
}
