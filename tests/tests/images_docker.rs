//! Push and pull through a Docker engine, with Docker's own progress streams:
//! an in-process fake engine replays them (no Docker daemon can run here; the
//! engine API itself is exercised against Podman in `images_podman.rs`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Mutex;

use base64::Engine as _;
use common::fake_docker::{FakeEngine, Script};
use common::Env;
use neuro_sdk::images::{
    DockerImageProgress, EngineAddress, ImageProgressPull, ImageProgressPush, ImageProgressStep,
    NoProgress,
};
use neuro_sdk::types::{LocalImage, TagOption};
use neuro_sdk::{Images, ImagesError, RemoteImage};

/// Everything a progress receiver was told, in order.
#[derive(Default)]
struct Recorded(Mutex<Vec<String>>);

impl Recorded {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

impl DockerImageProgress for Recorded {
    fn push(&self, data: &ImageProgressPush) {
        self.0
            .lock()
            .unwrap()
            .push(format!("push {} -> {}", data.src, data.dst));
    }
    fn pull(&self, data: &ImageProgressPull) {
        self.0
            .lock()
            .unwrap()
            .push(format!("pull {} -> {}", data.src, data.dst));
    }
    fn step(&self, data: &ImageProgressStep) {
        self.0.lock().unwrap().push(format!(
            "step {} [{}] {:?}/{:?}",
            data.message, data.layer_id, data.current, data.total
        ));
    }
}

const DIGEST: &str = "sha256:4f1d8a3c6b1f9c2e7a5d0b8e3f6a9c2d5e8b1f4a7c0d3e6b9f2a5c8d1e4b7a0c";

fn lines(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn docker_push_stream(registry: &str, repo: &str) -> Vec<String> {
    let mut out = lines(&[
        &format!(r#"{{"status":"The push refers to repository [{registry}/{repo}]"}}"#),
        r#"{"status":"Preparing","progressDetail":{},"id":"5f70bf18a086"}"#,
        r#"{"status":"Waiting","progressDetail":{},"id":"5f70bf18a086"}"#,
        r#"{"status":"Pushing","progressDetail":{"current":512,"total":2048},"progress":"[============>                                      ]     512B/2.048kB","id":"5f70bf18a086"}"#,
        r#"{"status":"Pushing","progressDetail":{"current":2048,"total":2048},"progress":"[==================================================>]  2.048kB","id":"5f70bf18a086"}"#,
        r#"{"status":"Pushed","progressDetail":{},"id":"5f70bf18a086"}"#,
    ]);
    out.push(format!(r#"{{"status":"v1: digest: {DIGEST} size: 528"}}"#));
    out.push(format!(
        r#"{{"progressDetail":{{}},"aux":{{"Tag":"v1","Digest":"{DIGEST}","Size":528}}}}"#
    ));
    out
}

fn docker_pull_stream(reference: &str) -> Vec<String> {
    let mut out = lines(&[
        r#"{"status":"Pulling from admin/hello","id":"v1"}"#,
        r#"{"status":"Pulling fs layer","progressDetail":{},"id":"5f70bf18a086"}"#,
        r#"{"status":"Downloading","progressDetail":{"current":1024,"total":2048},"progress":"[=========================>                         ]  1.024kB/2.048kB","id":"5f70bf18a086"}"#,
        r#"{"status":"Verifying Checksum","progressDetail":{},"id":"5f70bf18a086"}"#,
        r#"{"status":"Pull complete","progressDetail":{},"id":"5f70bf18a086"}"#,
    ]);
    out.push(format!(r#"{{"status":"Digest: {DIGEST}"}}"#));
    out.push(format!(
        r#"{{"status":"Status: Downloaded newer image for {reference}"}}"#
    ));
    out
}

fn remote(images_of: &Env, text: &str) -> RemoteImage {
    images_of
        .client
        .config()
        .image_context()
        .parse_remote(text, TagOption::Default)
        .unwrap()
}

fn images_with(env: &Env, engine: &FakeEngine) -> Images {
    env.client
        .images()
        .clone()
        .with_engine(EngineAddress::Unix(engine.socket.clone()))
}

fn decoded_auth(header: &str) -> serde_json::Value {
    let json = base64::engine::general_purpose::URL_SAFE
        .decode(header)
        .unwrap();
    serde_json::from_slice(&json).unwrap()
}

#[tokio::test]
async fn push_reports_docker_progress() {
    let env = Env::start().await;
    let user = env.client.username().to_owned();
    let registry_url = env.client.config().registry_url().clone();
    let registry = format!(
        "{}:{}",
        registry_url.host_str().unwrap(),
        registry_url.port().unwrap()
    );
    let engine = FakeEngine::start(Script {
        push: docker_push_stream(&registry, &format!("{user}/hello")),
        pull: Vec::new(),
    })
    .await;
    let images = images_with(&env, &engine);
    let progress = Recorded::default();
    let local = LocalImage::parse("hello:v1").unwrap();
    let pushed = images.push(&local, None, &progress).await.unwrap();
    assert_eq!(
        pushed.to_string(),
        format!("image://default/{user}/hello:v1")
    );
    let reference = format!("{registry}/{user}/hello:v1");
    assert_eq!(
        progress.take(),
        [
            format!("push hello:v1 -> image://default/{user}/hello:v1"),
            "step 5f70bf18a086: Preparing [5f70bf18a086] None/None".to_owned(),
            "step 5f70bf18a086: Waiting [5f70bf18a086] None/None".to_owned(),
            "step 5f70bf18a086: Pushing [============>                                      ]     512B/2.048kB [5f70bf18a086] Some(512)/Some(2048)".to_owned(),
            "step 5f70bf18a086: Pushing [==================================================>]  2.048kB [5f70bf18a086] Some(2048)/Some(2048)".to_owned(),
            "step 5f70bf18a086: Pushed [5f70bf18a086] None/None".to_owned(),
        ]
    );
    let received = engine.received();
    let requests: Vec<&str> = received.iter().map(|r| r.line.as_str()).collect();
    let untagged = format!("{registry}/{user}/hello")
        .replace(':', "%3A")
        .replace('/', "%2F");
    assert_eq!(
        requests,
        [
            "GET /version".to_owned(),
            format!("POST /v1.41/images/hello:v1/tag?repo={untagged}&tag=v1"),
            format!("POST /v1.41/images/{reference}/push?tlsVerify=false"),
        ]
    );
    let auth = decoded_auth(received[2].registry_auth.as_deref().unwrap());
    assert_eq!(auth["username"], "token");
    assert_eq!(auth["password"], env.client.config().token().await.unwrap());
    assert_eq!(auth["serveraddress"], registry);
}

#[tokio::test]
async fn an_error_inside_a_200_stream_is_an_error() {
    let env = Env::start().await;
    let engine = FakeEngine::start(Script {
        push: lines(&[
            r#"{"status":"Preparing","progressDetail":{},"id":"5f70bf18a086"}"#,
            r#"{"errorDetail":{"message":"denied: requested access to the resource is denied"},"error":"denied: requested access to the resource is denied"}"#,
            r#"{"status":"Pushed","progressDetail":{},"id":"5f70bf18a086"}"#,
        ]),
        pull: lines(&[r#"{"error":"unexpected EOF"}"#]),
    })
    .await;
    let images = images_with(&env, &engine);
    let progress = Recorded::default();
    let local = LocalImage::parse("hello:v1").unwrap();
    let err = images.push(&local, None, &progress).await.unwrap_err();
    match err {
        ImagesError::Docker { status, message } => {
            assert_eq!(status, 900);
            assert_eq!(
                message,
                "denied: requested access to the resource is denied"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    // Nothing after the error line was reported.
    assert_eq!(progress.take().len(), 2);
    let err = images
        .pull(&remote(&env, "image:hello:v1"), None, &NoProgress)
        .await
        .unwrap_err();
    assert!(
        matches!(err, ImagesError::Docker { status: 900, ref message } if message == "Unknown error"),
        "{err:?}"
    );
}

#[tokio::test]
async fn pull_reports_docker_progress_and_close_cleans_up() {
    let env = Env::start().await;
    let image = remote(&env, "image:hello:v1");
    let reference = image.as_docker_url(false);
    let engine = FakeEngine::start(Script {
        push: Vec::new(),
        pull: docker_pull_stream(&reference),
    })
    .await;
    let images = images_with(&env, &engine);
    let progress = Recorded::default();
    let local = images.pull(&image, None, &progress).await.unwrap();
    assert_eq!(local.to_string(), "hello:v1");
    let steps = progress.take();
    assert_eq!(steps[0], format!("pull {image} -> hello:v1"));
    // The line about the tag itself ("Pulling from ...", id v1) is no step.
    assert_eq!(
        steps[1..],
        [
            "step 5f70bf18a086: Pulling fs layer [5f70bf18a086] None/None",
            "step 5f70bf18a086: Downloading [=========================>                         ]  1.024kB/2.048kB [5f70bf18a086] Some(1024)/Some(2048)",
            "step 5f70bf18a086: Verifying Checksum [5f70bf18a086] None/None",
            "step 5f70bf18a086: Pull complete [5f70bf18a086] None/None",
        ]
    );
    images.close().await;
    let received = engine.received();
    let requests: Vec<&str> = received.iter().map(|r| r.line.as_str()).collect();
    let encoded = reference.replace(':', "%3A").replace('/', "%2F");
    assert_eq!(
        requests,
        [
            "GET /version".to_owned(),
            format!("POST /v1.41/images/create?fromImage={encoded}&repo={encoded}&tlsVerify=false"),
            format!("POST /v1.41/images/{reference}/tag?repo=hello&tag=v1"),
            format!("DELETE /v1.41/images/{reference}?force=0&noprune=0"),
        ]
    );
    assert!(received[1].registry_auth.is_some());
}

#[tokio::test]
async fn missing_images_are_named() {
    let env = Env::start().await;
    let engine = FakeEngine::start(Script::default()).await;
    let images = images_with(&env, &engine);
    let err = images
        .push(
            &LocalImage::parse("missing:latest").unwrap(),
            None,
            &NoProgress,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ImagesError::LocalImageNotFound(ref name) if name == "missing:latest"),
        "{err:?}"
    );
    let missing = RemoteImage::new_external_image("missing", None, Some("v1".into()));
    let err = images.pull(&missing, None, &NoProgress).await.unwrap_err();
    assert!(
        matches!(err, ImagesError::RemoteImageNotFound(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn engine_refusals_are_access_denied() {
    let env = Env::start().await;
    let engine = FakeEngine::start(Script::default()).await;
    let images = images_with(&env, &engine);
    let forbidden = remote(&env, "image:forbidden:v1");
    let err = images
        .push(
            &LocalImage::parse("hello:v1").unwrap(),
            Some(&forbidden),
            &NoProgress,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, ImagesError::AccessDenied(ref image) if image == &forbidden.to_string()),
        "{err:?}"
    );
    assert_eq!(err.to_string(), format!("Access denied {forbidden}"));
    let err = images
        .pull(&forbidden, None, &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(err, ImagesError::AccessDenied(_)), "{err:?}");
}

#[tokio::test]
async fn no_engine_is_a_clear_error() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let images = env
        .client
        .images()
        .clone()
        .with_engine(EngineAddress::Unix(dir.path().join("nothing.sock")));
    let err = images
        .push(&LocalImage::parse("hello:v1").unwrap(), None, &NoProgress)
        .await
        .unwrap_err();
    assert!(matches!(err, ImagesError::DockerUnavailable(_)), "{err:?}");
    assert!(err.to_string().contains("Docker engine is not available"));
}
