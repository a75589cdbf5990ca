//! Push and pull through a real Docker-API engine: Podman's Docker-compatible
//! service (`podman system service`), run privately (own storage, own
//! registries.conf) against neuro-local's registry. A job then runs the image
//! Podman pushed.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use common::image::{busybox_image, push};
use common::{wait_finished, Env};
use futures::TryStreamExt as _;
use neuro_sdk::images::{DockerImageProgress, EngineAddress, ImageProgressStep, NoProgress};
use neuro_sdk::types::{LocalImage, TagOption};
use neuro_sdk::{ImagesError, JobStart, JobStatus, RemoteImage};

/// Podman's service on a private socket, storage and configuration; stopped
/// when dropped.
struct Podman {
    child: tokio::process::Child,
    socket: PathBuf,
    dir: tempfile::TempDir,
}

impl Podman {
    /// Starts the service trusting the plain-HTTP registry `registry` (`host:port`).
    async fn start(registry: &str) -> Podman {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join("registries.conf");
        std::fs::write(
            &conf,
            format!(
                "unqualified-search-registries = []\n\n\
                 [[registry]]\nlocation = \"localhost\"\ninsecure = true\n\n\
                 [[registry]]\nlocation = \"{registry}\"\ninsecure = true\n"
            ),
        )
        .unwrap();
        let socket = dir.path().join("podman.sock");
        let arg = |p: &Path| p.to_str().unwrap().to_owned();
        let child = tokio::process::Command::new("podman")
            .args(["--root", &arg(&dir.path().join("root"))])
            .args(["--runroot", &arg(&dir.path().join("run"))])
            .args(["--storage-driver", "vfs", "system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .env("CONTAINERS_REGISTRIES_CONF", &conf)
            .env("XDG_RUNTIME_DIR", dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("podman.log")).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("podman is needed (tests/setup.sh installs it): {e}"));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        while tokio::net::UnixStream::connect(&socket).await.is_err() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "podman system service did not start: {}",
                std::fs::read_to_string(dir.path().join("podman.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Podman { child, socket, dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("podman.log")).unwrap_or_default()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

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

    // Pull into Podman under a local name.
    let source = remote(&env, "image:busybox:v1");
    let local = LocalImage::parse("busybox-local:v1").unwrap();
    let steps = Steps::default();
    let pulled = images
        .pull(&source, Some(&local), &steps)
        .await
        .unwrap_or_else(|e| panic!("pull failed: {e:?}\n{}", podman.log()));
    assert_eq!(pulled, local);

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
    assert!(images.digest(&target).await.unwrap().starts_with("sha256:"));

    // The image Podman pushed runs as a job, inside its root file system.
    let job = client
        .jobs()
        .start(JobStart::new(target.clone(), "cpu-small"))
        .await
        .unwrap();
    let done = wait_finished(client, &job.id, Duration::from_secs(120)).await;
    assert_eq!(done.status, JobStatus::Succeeded, "{:?}", done.history);
    assert_eq!(common::job_logs(client, &job.id).await, "busybox-test\n");

    // Failures: a local image Podman does not have, an image the registry lacks.
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
    assert!(
        matches!(
            err,
            ImagesError::Docker { .. } | ImagesError::RemoteImageNotFound(_)
        ),
        "{err:?}"
    );
    images.close().await;
}
