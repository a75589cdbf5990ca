//! A test image built here: Debian's static busybox at `/bin/busybox` with its
//! applet links, in two layers (the second deletes a file of the first with a
//! whiteout and adds one), and its push through the registry API.

use std::io::Write as _;

use neuro_local::registry::digest::Digest;
use neuro_sdk::http::Method;
use neuro_sdk::Client;
use url::Url;

/// Where the test image's busybox comes from (Debian's `busybox-static`).
pub const BUSYBOX: &str = "/bin/busybox";
/// The Docker v2 schema 2 manifest media type.
pub const MANIFEST_V2: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The applets linked in `/bin`.
const APPLETS: [&str; 10] = [
    "sh", "ls", "cat", "echo", "env", "pwd", "find", "id", "test", "mount",
];

/// The blobs and manifest of an image.
pub struct TestImage {
    /// The configuration blob.
    pub config: Vec<u8>,
    /// The gzipped layers, base first.
    pub layers: Vec<Vec<u8>>,
    /// The manifest.
    pub manifest: Vec<u8>,
}

impl TestImage {
    /// The manifest's digest.
    pub fn digest(&self) -> String {
        Digest::of(&self.manifest).to_string()
    }

    /// The sum of the layer sizes.
    pub fn layers_size(&self) -> u64 {
        self.layers.iter().map(|l| l.len() as u64).sum()
    }
}

fn header(path: &str, kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_path(path).unwrap();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_mtime(1_700_000_000);
    h.set_uid(0);
    h.set_gid(0);
    h
}

fn dir(tar: &mut tar::Builder<Vec<u8>>, path: &str) {
    let mut h = header(path, tar::EntryType::Directory, 0o755, 0);
    h.set_cksum();
    tar.append(&h, std::io::empty()).unwrap();
}

fn file(tar: &mut tar::Builder<Vec<u8>>, path: &str, mode: u32, data: &[u8]) {
    let mut h = header(path, tar::EntryType::Regular, mode, data.len() as u64);
    h.set_cksum();
    tar.append(&h, data).unwrap();
}

fn link(tar: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
    let mut h = header(path, tar::EntryType::Symlink, 0o777, 0);
    h.set_link_name(target).unwrap();
    h.set_cksum();
    tar.append(&h, std::io::empty()).unwrap();
}

/// `(gzipped layer, diff id)` of the tar `build` writes.
fn layer(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> (Vec<u8>, String) {
    let mut tar = tar::Builder::new(Vec::new());
    build(&mut tar);
    let plain = tar.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&plain).unwrap();
    (gz.finish().unwrap(), Digest::of(&plain).to_string())
}

/// The busybox image with this runtime configuration (`config` of the image
/// configuration: `Cmd`, `Entrypoint`, `Env`, `WorkingDir`).
pub fn busybox_image(runtime: serde_json::Value) -> TestImage {
    let busybox = std::fs::read(BUSYBOX)
        .unwrap_or_else(|e| panic!("{BUSYBOX} (Debian package busybox-static) is needed: {e}"));
    let (base, base_id) = layer(|tar| {
        for d in ["bin", "etc", "tmp", "work", "data"] {
            dir(tar, d);
        }
        file(tar, "bin/busybox", 0o755, &busybox);
        for applet in APPLETS {
            link(tar, &format!("bin/{applet}"), "busybox");
        }
        file(tar, "etc/image-release", 0o644, b"busybox-test\n");
        file(tar, "etc/removed", 0o644, b"gone\n");
        dir(tar, "etc/opaque");
        file(tar, "etc/opaque/old", 0o644, b"old\n");
    });
    let (top, top_id) = layer(|tar| {
        dir(tar, "etc");
        file(tar, "etc/.wh.removed", 0o644, b"");
        dir(tar, "etc/opaque");
        file(tar, "etc/opaque/.wh..wh..opq", 0o644, b"");
        file(tar, "etc/opaque/new", 0o644, b"new\n");
        file(tar, "etc/added", 0o644, b"layer2\n");
    });
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "config": runtime,
        "rootfs": {"type": "layers", "diff_ids": [base_id, top_id]},
    }))
    .unwrap();
    let descriptor = |media_type: &str, blob: &[u8]| {
        serde_json::json!({
            "mediaType": media_type,
            "size": blob.len(),
            "digest": Digest::of(blob).to_string(),
        })
    };
    let layer_type = "application/vnd.docker.image.rootfs.diff.tar.gzip";
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_V2,
        "config": descriptor("application/vnd.docker.container.image.v1+json", &config),
        "layers": [descriptor(layer_type, &base), descriptor(layer_type, &top)],
    }))
    .unwrap();
    TestImage {
        config,
        layers: vec![base, top],
        manifest,
    }
}

/// `Basic base64(<user>:<token>)` of `client`.
pub async fn basic_auth(client: &Client) -> String {
    use base64::Engine as _;
    let token = client.config().token().await.unwrap();
    let credentials = format!("{}:{token}", client.username());
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

/// `registry` with the path `/v2/<path>`.
pub fn v2(registry: &Url, path: &str) -> Url {
    let mut url = registry.clone();
    url.set_path(&format!("/v2/{path}"));
    url
}

/// Pushes `image` to `repo:tag` of the registry at `registry` as `client`'s
/// user: the config in one request (`POST ?digest=`), each layer in chunks
/// (`POST`, two `PATCH`es, `PUT ?digest=`), then the manifest. Its digest.
pub async fn push(
    client: &Client,
    registry: &Url,
    repo: &str,
    tag: &str,
    image: &TestImage,
) -> String {
    let transport = client.config().transport();
    let auth = basic_auth(client).await;
    let config_digest = Digest::of(&image.config).to_string();
    let mut url = v2(registry, &format!("{repo}/blobs/uploads/"));
    url.query_pairs_mut().append_pair("digest", &config_digest);
    let response = transport
        .request(Method::POST, url)
        .authorization(auth.clone())
        .header("content-type", "application/octet-stream")
        .body_bytes(image.config.clone())
        .send()
        .await
        .unwrap();
    let response = if response.status().as_u16() == 202 {
        // A registry may ignore a monolithic POST and start an upload
        // (Docker's distribution does): finish it with a PUT.
        let mut location = response
            .url()
            .join(response.header_str("location").unwrap())
            .unwrap();
        location
            .query_pairs_mut()
            .append_pair("digest", &config_digest);
        transport
            .request(Method::PUT, location)
            .authorization(auth.clone())
            .header("content-type", "application/octet-stream")
            .body_bytes(image.config.clone())
            .send()
            .await
            .unwrap()
    } else {
        response
    };
    assert_eq!(response.status().as_u16(), 201);
    assert_eq!(
        response.header_str("docker-content-digest"),
        Some(config_digest.as_str())
    );
    for layer in &image.layers {
        let response = transport
            .request(
                Method::POST,
                v2(registry, &format!("{repo}/blobs/uploads/")),
            )
            .authorization(auth.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 202);
        let mut location = response
            .url()
            .join(response.header_str("location").unwrap())
            .unwrap();
        let half = layer.len() / 2;
        for (start, chunk) in [(0, &layer[..half]), (half, &layer[half..])] {
            let response = transport
                .request(Method::PATCH, location.clone())
                .authorization(auth.clone())
                .header("content-type", "application/octet-stream")
                .header(
                    "content-range",
                    format!("{start}-{}", start + chunk.len() - 1),
                )
                .body_bytes(chunk.to_vec())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 202);
            location = response
                .url()
                .join(response.header_str("location").unwrap())
                .unwrap();
        }
        location
            .query_pairs_mut()
            .append_pair("digest", Digest::of(layer).as_str());
        let response = transport
            .request(Method::PUT, location)
            .authorization(auth.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 201);
    }
    let response = transport
        .request(
            Method::PUT,
            v2(registry, &format!("{repo}/manifests/{tag}")),
        )
        .authorization(auth)
        .header("content-type", MANIFEST_V2)
        .body_bytes(image.manifest.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let digest = response
        .header_str("docker-content-digest")
        .unwrap()
        .to_owned();
    assert_eq!(digest, image.digest());
    digest
}
