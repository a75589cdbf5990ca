//! The Images API against neuro-local's registry (a test image built here and
//! pushed through the registry API), against real registry software (skopeo
//! copies to and from neuro-local; the SDK's calls against Debian's
//! `docker-registry`), and the registry's refusals.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::image::{basic_auth, busybox_image, push, v2, TestImage, MANIFEST_V2};
use common::Env;
use futures::TryStreamExt as _;
use neuro_sdk::http::Method;
use neuro_sdk::types::TagOption;
use neuro_sdk::{Action, Client, Permission, RemoteImage};
use url::Url;

fn test_image() -> TestImage {
    busybox_image(serde_json::json!({"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]}))
}

fn image(client: &Client, text: &str) -> RemoteImage {
    client
        .config()
        .image_context()
        .parse_remote(text, TagOption::Allow)
        .unwrap()
}

async fn tags_of(client: &Client, image: &RemoteImage) -> Vec<String> {
    client
        .images()
        .tags(image)
        .map_ok(|i| i.tag().unwrap_or_default().to_owned())
        .try_collect()
        .await
        .unwrap()
}

/// Every registry call of the SDK on an image pushed by the test.
async fn exercise_sdk(client: &Client, owner: &str) {
    let registry = client.config().registry_url().clone();
    let built = test_image();
    let digest = push(client, &registry, &format!("{owner}/busybox"), "v1", &built).await;
    push(client, &registry, &format!("{owner}/busybox"), "v2", &built).await;
    let other = busybox_image(serde_json::json!({"Cmd": ["/bin/true"]}));
    let other_digest = push(client, &registry, &format!("{owner}/busybox"), "v3", &other).await;
    assert_ne!(digest, other_digest);

    let images = client.images();
    let listed: Vec<String> = images
        .list(None)
        .map_ok(|i| i.to_string())
        .try_collect()
        .await
        .unwrap();
    let cluster = client.cluster_name();
    assert!(
        listed.contains(&format!("image://{cluster}/{owner}/busybox")),
        "{listed:?}"
    );

    let repo = image(client, &format!("image:/{owner}/busybox"));
    assert_eq!(repo.tag(), None);
    assert_eq!(tags_of(client, &repo).await, ["v1", "v2", "v3"]);

    let v1 = image(client, &format!("image:/{owner}/busybox:v1"));
    assert_eq!(images.digest(&v1).await.unwrap(), digest);
    assert_eq!(images.size(&v1).await.unwrap(), built.layers_size());
    let info = images.tag_info(&v1).await.unwrap();
    assert_eq!(info.name, "v1");
    assert_eq!(info.size, Some(built.layers_size()));

    // A tag that does not exist.
    let missing = image(client, &format!("image:/{owner}/busybox:nope"));
    let err = images.digest(&missing).await.unwrap_err();
    assert_eq!(err.status(), Some(404), "{err:?}");

    // rm by digest takes every tag of that manifest, and only those.
    images.rm(&v1, &digest).await.unwrap();
    assert_eq!(tags_of(client, &repo).await, ["v3"]);
    let err = images.digest(&v1).await.unwrap_err();
    assert_eq!(err.status(), Some(404), "{err:?}");
    assert_eq!(
        images
            .digest(&image(client, &format!("image:/{owner}/busybox:v3")))
            .await
            .unwrap(),
        other_digest
    );
}

#[tokio::test]
async fn registry_calls_against_neuro_local() {
    let env = Env::start().await;
    exercise_sdk(&env.client, env.client.username()).await;
}

#[tokio::test]
async fn images_of_others_are_private_until_shared() {
    let env = Env::start().await;
    let alice = env.user("alice").await;
    let bob = env.user("bob").await;
    let registry = alice.config().registry_url().clone();
    push(&alice, &registry, "alice/secret", "v1", &test_image()).await;

    let seen: Vec<RemoteImage> = bob.images().list(None).try_collect().await.unwrap();
    assert!(seen.is_empty(), "{seen:?}");
    let repo = image(&bob, "image:/alice/secret");
    let err = bob
        .images()
        .tags(&repo)
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(403), "{err:?}");
    // Bob cannot push into Alice's repositories either.
    let auth = basic_auth(&bob).await;
    let response = bob
        .config()
        .transport()
        .request(Method::POST, v2(&registry, "alice/secret/blobs/uploads/"))
        .authorization(auth)
        .send()
        .await;
    assert_eq!(common::http_status(response), 403);

    alice
        .users()
        .share(
            "bob",
            &Permission {
                uri: Url::parse("image://default/alice/secret").unwrap(),
                action: Action::Read,
            },
        )
        .await
        .unwrap();
    let seen: Vec<String> = bob
        .images()
        .list(None)
        .map_ok(|i| i.to_string())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(seen, ["image://default/alice/secret"]);
    assert_eq!(tags_of(&bob, &repo).await, ["v1"]);
}

#[tokio::test]
async fn registry_verifies_what_it_stores() {
    let env = Env::start().await;
    let client = &env.client;
    let user = client.username().to_owned();
    let registry = client.config().registry_url().clone();
    let transport = client.config().transport();
    let auth = basic_auth(client).await;

    // A blob whose digest does not match its content.
    let mut url = v2(&registry, &format!("{user}/x/blobs/uploads/"));
    let wrong = neuro_local::registry::digest::Digest::of(b"other");
    url.query_pairs_mut().append_pair("digest", wrong.as_str());
    let response = transport
        .request(Method::POST, url)
        .authorization(auth.clone())
        .body_bytes(&b"content"[..])
        .send()
        .await;
    let err = response.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(format!("{err:?}").contains("DIGEST_INVALID"), "{err:?}");

    // A manifest whose blobs were never pushed.
    let built = test_image();
    let response = transport
        .request(
            Method::PUT,
            v2(&registry, &format!("{user}/x/manifests/v1")),
        )
        .authorization(auth.clone())
        .header("content-type", MANIFEST_V2)
        .body_bytes(built.manifest.clone())
        .send()
        .await;
    let err = response.unwrap_err();
    assert_eq!(err.status(), Some(400));
    assert!(
        format!("{err:?}").contains("MANIFEST_BLOB_UNKNOWN"),
        "{err:?}"
    );

    // No credentials: the Basic challenge Docker clients answer.
    let response = transport
        .request(Method::GET, v2(&registry, ""))
        .no_auth()
        .send()
        .await;
    let err = response.unwrap_err();
    assert_eq!(err.status(), Some(401));

    // A blob is stored once however many repositories hold it.
    push(client, &registry, &format!("{user}/a"), "v1", &built).await;
    push(client, &registry, &format!("{user}/b"), "v1", &built).await;
    let blobs = env.platform.data_dir().join("registry/blobs/sha256");
    let count = std::fs::read_dir(&blobs).unwrap().count();
    assert_eq!(
        count,
        1 + built.layers.len() + 1,
        "config, layers, manifest"
    );

    // Catalog paging: `n` and a `Link` to the next page.
    let mut url = v2(&registry, "_catalog");
    url.query_pairs_mut().append_pair("n", "1");
    let response = transport
        .request(Method::GET, url)
        .authorization(auth.clone())
        .send()
        .await
        .unwrap();
    let link = response.header_str("link").unwrap().to_owned();
    assert_eq!(
        link,
        format!("</v2/_catalog?last={user}%2Fa&n=1>; rel=\"next\"")
    );
    let page: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        page["repositories"],
        serde_json::json!([format!("{user}/a")])
    );
}

/// Runs `program` with `args`, failing the test with its output if it fails.
async fn run(program: &str, args: &[&str]) -> String {
    let output = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("{program} is needed (tests/setup.sh installs it): {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn skopeo_copies_to_and_from_neuro_local() {
    let env = Env::start().await;
    let client = &env.client;
    let user = client.username().to_owned();
    let registry = client.config().registry_url().clone();
    let built = test_image();
    let digest = push(client, &registry, &format!("{user}/busybox"), "v1", &built).await;
    let host = format!(
        "{}:{}",
        registry.host_str().unwrap(),
        registry.port().unwrap()
    );
    let creds = format!("token:{}", client.config().token().await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"default": [{"type": "insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let policy = policy.to_str().unwrap();

    // skopeo reads what the test pushed.
    let inspected = run(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--creds",
            &creds,
            &format!("docker://{host}/{user}/busybox:v1"),
        ],
    )
    .await;
    let inspected: serde_json::Value = serde_json::from_str(&inspected).unwrap();
    assert_eq!(inspected["Digest"], digest);
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), 2);

    // skopeo pulls it to a directory, then pushes it back under another name,
    // once as Docker v2 schema 2 and once converted to OCI.
    let copy = dir.path().join("copy");
    let copy_ref = format!("dir:{}", copy.display());
    let source = format!("docker://{host}/{user}/busybox:v1");
    run(
        "skopeo",
        &[
            "--policy",
            policy,
            "copy",
            "--src-tls-verify=false",
            "--src-creds",
            &creds,
            &source,
            &copy_ref,
        ],
    )
    .await;
    assert!(Path::new(&copy).join("manifest.json").exists());
    for (name, format) in [("docker-copy", "v2s2"), ("oci-copy", "oci")] {
        let target = format!("docker://{host}/{user}/{name}:v1");
        run(
            "skopeo",
            &[
                "--policy",
                policy,
                "copy",
                "--dest-tls-verify=false",
                "--dest-creds",
                &creds,
                "--format",
                format,
                &copy_ref,
                &target,
            ],
        )
        .await;
        let inspected = run(
            "skopeo",
            &[
                "inspect",
                "--raw",
                "--tls-verify=false",
                "--creds",
                &creds,
                &target,
            ],
        )
        .await;
        let manifest: serde_json::Value = serde_json::from_str(&inspected).unwrap();
        assert_eq!(
            manifest["layers"].as_array().unwrap().len(),
            2,
            "{manifest}"
        );
        let copied = image(client, &format!("image:{name}:v1"));
        let size = client.images().size(&copied).await.unwrap();
        assert_eq!(size, built.layers_size());
    }
    let oci_manifest = run(
        "skopeo",
        &[
            "inspect",
            "--raw",
            "--tls-verify=false",
            "--creds",
            &creds,
            &format!("docker://{host}/{user}/oci-copy:v1"),
        ],
    )
    .await;
    assert!(
        oci_manifest.contains("application/vnd.oci.image.manifest.v1+json"),
        "{oci_manifest}"
    );

    // A wrong token is refused.
    let bad = run_status(
        "skopeo",
        &[
            "inspect",
            "--tls-verify=false",
            "--creds",
            "token:wrong",
            &source,
        ],
    )
    .await;
    assert!(!bad, "skopeo accepted a wrong token");
}

async fn run_status(program: &str, args: &[&str]) -> bool {
    tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
        .unwrap_or_else(|e| panic!("{program} is needed (tests/setup.sh installs it): {e}"))
        .success()
}

/// Debian's `docker-registry` on a free port with its own storage; killed and
/// reaped on drop, before its storage goes.
struct DockerRegistry {
    child: std::process::Child,
    url: Url,
    _dir: tempfile::TempDir,
}

impl DockerRegistry {
    async fn start() -> DockerRegistry {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = std::process::Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("docker-registry is needed (tests/setup.sh installs it): {e}")
            });
        let url = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "docker-registry did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        DockerRegistry {
            child,
            url,
            _dir: dir,
        }
    }
}

impl Drop for DockerRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn registry_calls_against_docker_registry() {
    let registry = DockerRegistry::start().await;
    let platform = neuro_local::LocalPlatform::builder()
        .external_registry(registry.url.clone())
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let factory = neuro_sdk::Factory::with_path(dir.path().join("config"));
    factory
        .login_with_token(platform.admin_token(), &platform.api_url())
        .await
        .unwrap();
    let client = factory.get().await.unwrap();
    assert_eq!(client.config().registry_url(), &registry.url);
    exercise_sdk(&client, client.username()).await;
}

/// Sends `method url` with the `Authorization` value `auth` (and `body`, with
/// its content type); the answer, whatever its status.
async fn exchange(
    client: &Client,
    method: Method,
    url: Url,
    auth: &str,
    body: Option<(&str, Vec<u8>)>,
) -> neuro_sdk::http::Response {
    let mut request = client
        .config()
        .transport()
        .request(method, url)
        .authorization(auth.to_owned());
    if let Some((content_type, bytes)) = body {
        request = request
            .header("content-type", content_type)
            .body_bytes(bytes);
    }
    request.send_raw().await.unwrap()
}

#[tokio::test]
async fn manifests_by_digest_blobs_mounts_and_auth() {
    use neuro_local::registry::digest::Digest;
    const OCI: &str = "application/vnd.oci.image.manifest.v1+json";

    let env = Env::start().await;
    let client = &env.client;
    let user = client.username().to_owned();
    let registry = client.config().registry_url().clone();
    let auth = basic_auth(client).await;
    let built = test_image();
    let digest = push(client, &registry, &format!("{user}/img"), "v1", &built).await;
    let at = |path: &str| v2(&registry, &format!("{user}/{path}"));

    // A manifest by tag and by digest: the same bytes, type and digest; HEAD
    // gives the digest and the length.
    for reference in ["v1", digest.as_str()] {
        let url = at(&format!("img/manifests/{reference}"));
        let got = exchange(client, Method::GET, url.clone(), &auth, None).await;
        assert_eq!(got.status().as_u16(), 200);
        assert_eq!(
            got.header_str("docker-content-digest"),
            Some(digest.as_str())
        );
        assert_eq!(got.content_type(), MANIFEST_V2);
        assert_eq!(got.bytes().await.unwrap(), built.manifest);
        let head = exchange(client, Method::HEAD, url, &auth, None).await;
        assert_eq!(head.status().as_u16(), 200);
        assert_eq!(
            head.header_str("docker-content-digest"),
            Some(digest.as_str())
        );
        assert_eq!(head.content_length(), Some(built.manifest.len() as u64));
    }

    // A blob: HEAD gives its length and digest, GET its bytes.
    let layer = &built.layers[0];
    let layer_digest = Digest::of(layer).to_string();
    let blob = at(&format!("img/blobs/{layer_digest}"));
    let head = exchange(client, Method::HEAD, blob.clone(), &auth, None).await;
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(head.content_length(), Some(layer.len() as u64));
    assert_eq!(
        head.header_str("docker-content-digest"),
        Some(layer_digest.as_str())
    );
    let got = exchange(client, Method::GET, blob, &auth, None).await;
    assert_eq!(got.bytes().await.unwrap(), layer[..]);

    // An OCI manifest of the same blobs, put by digest, then under a tag.
    let descriptor = |media_type: &str, blob: &[u8]| serde_json::json!({"mediaType": media_type, "size": blob.len(), "digest": Digest::of(blob).to_string()});
    let oci = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI,
        "config": descriptor("application/vnd.oci.image.config.v1+json", &built.config),
        "layers": built
            .layers
            .iter()
            .map(|l| descriptor("application/vnd.oci.image.layer.v1.tar+gzip", l))
            .collect::<Vec<_>>(),
    }))
    .unwrap();
    let oci_digest = Digest::of(&oci).to_string();
    for reference in [oci_digest.as_str(), "oci"] {
        let url = at(&format!("img/manifests/{reference}"));
        let put = exchange(client, Method::PUT, url, &auth, Some((OCI, oci.clone()))).await;
        assert_eq!(put.status().as_u16(), 201);
        assert_eq!(
            put.header_str("docker-content-digest"),
            Some(oci_digest.as_str())
        );
    }
    let got = exchange(client, Method::GET, at("img/manifests/oci"), &auth, None).await;
    assert_eq!(got.content_type(), OCI);
    assert_eq!(got.bytes().await.unwrap(), oci);
    assert_eq!(
        tags_of(client, &image(client, "image:img")).await,
        ["oci", "v1"]
    );
    // A digest reference must be the digest of the body.
    let url = at(&format!("img/manifests/{digest}"));
    let put = exchange(client, Method::PUT, url, &auth, Some((OCI, oci.clone()))).await;
    assert_eq!(put.status().as_u16(), 400);
    assert!(put.text().await.unwrap().contains("DIGEST_INVALID"));
    // Manifests are deleted by digest only.
    let delete = exchange(client, Method::DELETE, at("img/manifests/v1"), &auth, None).await;
    assert_eq!(delete.status().as_u16(), 405);
    assert!(delete.text().await.unwrap().contains("UNSUPPORTED"));

    // A chunk must start where the upload is.
    let started = exchange(client, Method::POST, at("img/blobs/uploads/"), &auth, None).await;
    assert_eq!(started.status().as_u16(), 202);
    let location = started
        .url()
        .join(started.header_str("location").unwrap())
        .unwrap();
    let misplaced = client
        .config()
        .transport()
        .request(Method::PATCH, location)
        .authorization(auth.clone())
        .header("content-range", "5-9")
        .body_bytes(&b"12345"[..])
        .send_raw()
        .await
        .unwrap();
    assert_eq!(misplaced.status().as_u16(), 416);

    // A blob of a repository the caller reads is mounted into another without
    // an upload; a repository sees only the blobs pushed or mounted into it.
    let mount = |into: &str, from: &str| {
        let mut url = v2(&registry, &format!("{into}/blobs/uploads/"));
        url.query_pairs_mut()
            .append_pair("mount", &layer_digest)
            .append_pair("from", from);
        url
    };
    let mounted = exchange(
        client,
        Method::POST,
        mount(&format!("{user}/other"), &format!("{user}/img")),
        &auth,
        None,
    )
    .await;
    assert_eq!(mounted.status().as_u16(), 201);
    assert_eq!(
        mounted.header_str("docker-content-digest"),
        Some(layer_digest.as_str())
    );
    let head = exchange(
        client,
        Method::HEAD,
        at(&format!("other/blobs/{layer_digest}")),
        &auth,
        None,
    )
    .await;
    assert_eq!(head.status().as_u16(), 200);
    let bob = env.user("bob").await;
    let bob_auth = basic_auth(&bob).await;
    let refused = exchange(
        &bob,
        Method::POST,
        mount("bob/stolen", &format!("{user}/img")),
        &bob_auth,
        None,
    )
    .await;
    // Not mounted: an ordinary upload starts instead.
    assert_eq!(refused.status().as_u16(), 202);
    let head = exchange(
        &bob,
        Method::HEAD,
        v2(&registry, &format!("bob/stolen/blobs/{layer_digest}")),
        &bob_auth,
        None,
    )
    .await;
    assert_eq!(head.status().as_u16(), 404);

    // Credentials: a Bearer token works; the token under another user's name
    // does not, and the answer is the Basic challenge.
    let token = client.config().token().await.unwrap();
    let bearer = exchange(
        client,
        Method::GET,
        v2(&registry, ""),
        &format!("Bearer {token}"),
        None,
    )
    .await;
    assert_eq!(bearer.status().as_u16(), 200);
    let wrong_user = {
        use base64::Engine as _;
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("bob:{token}"));
        format!("Basic {pair}")
    };
    let refused = exchange(client, Method::GET, at("img/tags/list"), &wrong_user, None).await;
    assert_eq!(refused.status().as_u16(), 401);
    assert_eq!(
        refused.header_str("www-authenticate"),
        Some(neuro_local::registry::error::CHALLENGE)
    );
}
