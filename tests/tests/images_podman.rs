//! Push and pull through a real Docker-API engine: Podman's Docker-compatible
//! service (`podman system service`), run privately (own storage, own
//! registries.conf) against neuro-local's registry. A job then runs the image
//! Podman pushed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Mutex;
use std::time::Duration;

use common::image::{busybox_image, push};
use common::podman::Podman;
use common::{wait_finished, Env};
use futures::TryStreamExt as _;
use neuro_sdk::images::{DockerImageProgress, EngineAddress, ImageProgressStep, NoProgress};
use neuro_sdk::types::{LocalImage, TagOption};
use neuro_sdk::{ImagesError, JobStart, JobStatus, RemoteImage};

#[derive(Default)]
struct Steps(Mutex<Vec<ImageProgressStep>>);

impl DockerImageProgress for Steps {
    fn step(&self, data: &ImageProgressStep) {
        self.0.lock().unwrap().push(data.clone());
    }
}

fn remote(env: &Env, text: &str) -> RemoteImage {
    env.client
        .config()
        .image_context()
        .parse_remote(text, TagOption::Default)
        .unwrap()
}

/// `repository:tag` of every image in Podman's storage.
fn podman_images(podman: &Podman) -> Vec<String> {
    podman
        .cli(&["images", "--format", "{{.Repository}}:{{.Tag}}"])
        .lines()
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn pull_and_push_through_podman() {
    let env = Env::start().await;
    let client = &env.client;
    let registry_url = client.config().registry_url().clone();
    let registry = format!(
        "{}:{}",
        registry_url.host_str().unwrap(),
        registry_url.port().unwrap()
    );
    let built = busybox_image(serde_json::json!({
        "Cmd": ["/bin/sh", "-c", "cat /etc/image-release"],
        "Env": ["PATH=/bin"],
    }));
    push(
        client,
        &registry_url,
        &format!("{}/busybox", client.username()),
        "v1",
        &built,
    )
    .await;

    let podman = Podman::start(&registry).await;
    let images = client
        .images()
        .clone()
        .with_engine(EngineAddress::Unix(podman.socket.clone()));

    // Pull into Podman under a local name; Podman's stream names the layers.
    let source = remote(&env, "image:busybox:v1");
    let local = LocalImage::parse("busybox-local:v1").unwrap();
    let steps = Steps::default();
    let pulled = images
        .pull(&source, Some(&local), &steps)
        .await
        .unwrap_or_else(|e| panic!("pull failed: {e:?}\n{}", podman.log()));
    assert_eq!(pulled, local);
    let steps = steps.0.into_inner().unwrap();
    assert!(!steps.is_empty(), "no progress from Podman");
    assert!(
        steps
            .iter()
            .all(|s| s.message.starts_with(&format!("{}: ", s.layer_id))),
        "{steps:?}"
    );
    let remote_name = source.as_docker_url(false);
    let held = podman_images(&podman);
    // The compat API names local images as Docker does (docker.io/library/...).
    let is_local = |name: &String| name.ends_with("/busybox-local:v1");
    assert!(held.iter().any(is_local), "{held:?}");
    assert!(held.contains(&remote_name), "{held:?}");

    // Push it back under another name; the registry then has it.
    let target = remote(&env, "image:copied:v2");
    let pushed = images
        .push(&local, Some(&target), &NoProgress)
        .await
        .unwrap_or_else(|e| panic!("push failed: {e:?}\n{}", podman.log()));
    assert_eq!(pushed, target);
    let tags: Vec<RemoteImage> = images
        .tags(&remote(&env, "image:copied").with_tag(None))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(tags, std::slice::from_ref(&target));
    assert_eq!(
        images.size(&target).await.unwrap(),
        images.size(&source).await.unwrap()
    );

    // The image Podman pushed runs as a job, inside its root file system.
    let job = client
        .jobs()
        .start(JobStart::new(target.clone(), "cpu-small"))
        .await
        .unwrap();
    let done = wait_finished(client, &job.id, Duration::from_secs(120)).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.history);
    assert_eq!(common::job_logs(client, &job.id).await, "busybox-test\n");

    // Failures: a local image Podman does not have; an image the registry
    // lacks; a repository of another user, refused by the registry while
    // Podman's answer is already `200` (an error inside the stream).
    let err = images
        .push(
            &LocalImage::parse("nothing-here:v1").unwrap(),
            Some(&target),
            &NoProgress,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ImagesError::LocalImageNotFound(_)), "{err:?}");
    let err = images
        .pull(&remote(&env, "image:never-pushed:v1"), None, &NoProgress)
        .await
        .unwrap_err();
    // Docker answers 404 (RemoteImageNotFound); Podman reports it in its stream.
    assert!(
        matches!(err, ImagesError::Docker { status: 900, ref message } if message.contains("manifest unknown")),
        "{err:?}"
    );
    env.user("bob").await;
    let foreign = remote(&env, "image:/bob/stolen:v1");
    let err = images
        .push(&local, Some(&foreign), &NoProgress)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ImagesError::Docker { status: 900, ref message } if message.contains("403 (Forbidden)")),
        "{err:?}"
    );

    // close() removes the remote-named copy the pull left, not the local name.
    images.close().await;
    let held = podman_images(&podman);
    assert!(!held.contains(&remote_name), "{held:?}");
    assert!(held.iter().any(is_local), "{held:?}");
}
