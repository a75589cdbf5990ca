//! Images: optionally push a local image through the Docker engine, then list
//! the platform registry's images with their tags, sizes and digests.
//!
//! ```sh
//! cargo run -p neuro-sdk --example images                  # list only
//! cargo run -p neuro-sdk --example images -- hello:v1      # push hello:v1 first
//! ```
//!
//! A push needs a Docker engine: the socket of `DOCKER_HOST`, else
//! `/run/docker.sock` or `/var/run/docker.sock` (Podman's `podman system
//! service` works too). With no platform named, the example starts neuro-local
//! in-process, whose registry starts empty (see `examples/common`);
//! `NEURO_API_URL` + `NEURO_TOKEN` or `NEURO_USE_CONFIG=1` name another one.

mod common;

use futures::TryStreamExt as _;
use neuro_sdk::images::{DockerImageProgress, ImageProgressPush, ImageProgressStep};

use common::BoxError;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let work = tempfile::tempdir()?;
    let (client, _platform) = common::connect(work.path()).await?;
    let images = client.images();

    if let Some(name) = std::env::args().nth(1) {
        let local = client.config().image_context().parse_local(&name)?;
        // To image:<name>:<tag> of the current user and cluster.
        let remote = images.push(&local, None, &Print).await?;
        println!("pushed {local} as {remote}");
    }

    let repos: Vec<_> = images.list(None).try_collect().await?;
    if repos.is_empty() {
        println!("no images in the registry of {}", client.cluster_name());
    }
    for repo in &repos {
        println!("{repo}");
        let tags: Vec<_> = images.tags(repo).try_collect().await?;
        for tagged in &tags {
            let info = images.tag_info(tagged).await?;
            let digest = images.digest(tagged).await?;
            let size = info
                .size
                .map_or_else(|| "size unknown".to_owned(), |s| format!("{s} bytes"));
            println!("  :{} {size} {digest}", info.name);
        }
    }
    Ok(())
}

/// Prints the engine's progress, one line per event.
struct Print;

impl DockerImageProgress for Print {
    fn push(&self, data: &ImageProgressPush) {
        println!("pushing {} to {}", data.src, data.dst);
    }

    fn step(&self, data: &ImageProgressStep) {
        println!("  {}", data.message);
    }
}
