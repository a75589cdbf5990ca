//! `DOCKER_HOST` chooses the engine of push and pull: a unix socket or a TCP
//! address, each served by the in-process fake engine. Alone in its test
//! binary because it changes the process environment.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::fake_docker::{FakeEngine, Script};
use common::Env;
use neuro_sdk::images::NoProgress;
use neuro_sdk::types::{LocalImage, TagOption};
use neuro_sdk::{Images, ImagesError};

#[tokio::test]
async fn docker_host_names_the_engine() {
    let env = Env::start().await;
    let image = env
        .client
        .config()
        .image_context()
        .parse_remote("image:hello:v1", TagOption::Default)
        .unwrap();
    let script = Script {
        push: Vec::new(),
        pull: vec![r#"{"status":"Pull complete","progressDetail":{},"id":"5f70bf18a086"}"#.into()],
    };
    for engine in [
        FakeEngine::start(script.clone()).await,
        FakeEngine::start_tcp(script.clone()).await,
    ] {
        std::env::set_var("DOCKER_HOST", &engine.docker_host);
        // A fresh API finds its engine on first use.
        let images = Images::new(env.client.config().clone());
        let local = images.pull(&image, None, &NoProgress).await.unwrap();
        assert_eq!(local, LocalImage::parse("hello:v1").unwrap());
        let received = engine.received();
        assert_eq!(received[0].line, "GET /version", "{}", engine.docker_host);
        assert!(
            received[1].line.starts_with("POST /v1.41/images/create?"),
            "{received:?}"
        );
    }

    // What this client cannot speak is refused before anything is sent.
    let unavailable = || async {
        let err = Images::new(env.client.config().clone())
            .pull(&image, None, &NoProgress)
            .await
            .unwrap_err();
        assert!(matches!(err, ImagesError::DockerUnavailable(_)), "{err:?}");
    };
    std::env::set_var("DOCKER_HOST", "npipe:////./pipe/docker_engine");
    unavailable().await;
    let engine = FakeEngine::start_tcp(script).await;
    std::env::set_var("DOCKER_HOST", &engine.docker_host);
    std::env::set_var("DOCKER_TLS_VERIFY", "1");
    unavailable().await;
    assert!(engine.received().is_empty());
}
