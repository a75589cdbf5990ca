//! Buckets and blobs through the SDK against a real neuro-local: the buckets
//! API, its S3 endpoint (s3s, SigV4) and transfers through the storage engine.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::files::{content, same_file, write_big_file, Recorder};
use common::Env;
use futures::TryStreamExt as _;
use neuro_local::LocalPlatform;
use neuro_sdk::blob::{BucketImport, EntryKind, TransferOptions};
use neuro_sdk::types::BucketProvider;
use neuro_sdk::{BucketCreate, BucketLookup, Buckets, Client};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use url::Url;

fn uri(text: &str) -> Url {
    text.parse().unwrap()
}

/// A GET by a plain HTTP/1.1 client with no credentials: status and body.
async fn plain_get(url: &Url) -> (u16, Vec<u8>) {
    let (status, _, body) = plain_exchange(url).await;
    (status, body)
}

/// A GET by a plain HTTP/1.1 client with no credentials: status, response
/// head and body.
async fn plain_exchange(url: &Url) -> (u16, String, Vec<u8>) {
    let host = url.host_str().unwrap();
    let port = url.port_or_known_default().unwrap();
    let mut stream = tokio::net::TcpStream::connect((host, port)).await.unwrap();
    let target = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let request =
        format!("GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&answer[..split]).to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = answer[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, head, body)
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).unwrap().trim(), 16)
                .unwrap();
        if size == 0 {
            return out;
        }
        let start = line_end + 2;
        out.extend_from_slice(&data[start..start + size]);
        data = &data[start + size + 2..];
    }
}

async fn keys(buckets: &Buckets, text: &str, recursive: bool) -> Vec<(String, EntryKind)> {
    buckets
        .list_blobs(&uri(text), recursive, None)
        .map_ok(|e| (e.key, e.kind))
        .try_collect()
        .await
        .unwrap()
}

async fn new_bucket(client: &Client, name: &str) -> neuro_sdk::types::Bucket {
    client
        .buckets()
        .create(BucketCreate::new().name(name))
        .await
        .unwrap()
}

#[tokio::test]
async fn buckets_api_permissions_and_credentials() {
    let env = Env::start().await;
    let buckets = env.client.buckets();
    let bucket = new_bucket(&env.client, "data").await;
    assert_eq!(bucket.provider, BucketProvider::Minio);
    assert_eq!(bucket.owner, "admin");
    let by_name = buckets.get("data", &BucketLookup::default()).await.unwrap();
    assert_eq!(by_name.id, bucket.id);
    let listed: Vec<_> = buckets.list(None).try_collect().await.unwrap();
    assert_eq!(listed.len(), 1);

    // Another user's bucket is 403 until shared, and then only readable.
    let bob = env.user("bob").await;
    let lookup = BucketLookup::owner("admin");
    let denied = bob.buckets().get("data", &lookup).await.unwrap_err();
    assert!(denied.is_forbidden(), "{denied:?}");
    let none: Vec<_> = bob.buckets().list(None).try_collect().await.unwrap();
    assert!(none.is_empty());
    env.client
        .users()
        .share(
            "bob",
            &neuro_sdk::Permission {
                uri: bucket.uri().unwrap(),
                action: neuro_sdk::Action::Read,
            },
        )
        .await
        .unwrap();
    let shared = bob.buckets().get("data", &lookup).await.unwrap();
    assert_eq!(shared.id, bucket.id);
    buckets
        .put_blob("data", "a.txt", "hello".into(), &BucketLookup::default())
        .await
        .unwrap();
    let seen = bob
        .buckets()
        .head_blob(&bucket.id, "a.txt", &BucketLookup::default())
        .await
        .unwrap();
    assert_eq!(seen.size, 5);
    // Read access gives read-only credentials.
    let refused = bob
        .buckets()
        .put_blob(&bucket.id, "b.txt", "x".into(), &BucketLookup::default())
        .await
        .unwrap_err();
    assert!(refused.is_forbidden(), "{refused:?}");

    // Temporary credentials: one bucket, a session token, an expiry.
    let tmp = buckets
        .request_tmp_credentials("data", &BucketLookup::default())
        .await
        .unwrap();
    for key in [
        "bucket_name",
        "endpoint_url",
        "access_key_id",
        "secret_access_key",
        "session_token",
        "expiration",
    ] {
        assert!(tmp.credentials.contains_key(key), "{key} in {tmp:?}");
    }
    assert!(!format!("{tmp:?}").contains(&tmp.credentials["secret_access_key"]));

    // Persistent credentials, read-only honoured.
    let creds = buckets
        .persistent_credentials_create([bucket.id.clone()], Some("reader"), true, None)
        .await
        .unwrap();
    assert!(creds.read_only);
    assert_eq!(creds.credentials.len(), 1);
    let got = buckets
        .persistent_credentials_get("reader", None)
        .await
        .unwrap();
    assert_eq!(got.id, creds.id);
    let all: Vec<_> = buckets
        .persistent_credentials_list(None)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(all.len(), 1);
    // Open the bucket with them, as an imported S3 bucket would be.
    let mut import =
        BucketImport::new(BucketProvider::Minio, bucket.id.clone()).name("via-persistent");
    for (k, v) in &creds.credentials[0].credentials {
        import = import.credential(k.clone(), v.clone());
    }
    buckets.import_external(import).await.unwrap();
    let read = keys(buckets, "blob:via-persistent/", false).await;
    assert_eq!(read, vec![("a.txt".to_owned(), EntryKind::Object)]);
    let write = buckets
        .put_blob(
            "via-persistent",
            "c.txt",
            "x".into(),
            &BucketLookup::default(),
        )
        .await
        .unwrap_err();
    assert!(write.is_forbidden(), "{write:?}");
    buckets
        .persistent_credentials_rm("reader", None)
        .await
        .unwrap();
    let revoked = keys_err(buckets, "blob:via-persistent/").await;
    assert!(revoked.is_forbidden(), "{revoked:?}");

    buckets.rm("data", &BucketLookup::default()).await.unwrap();
    let gone = buckets
        .get("data", &BucketLookup::default())
        .await
        .unwrap_err();
    assert!(gone.is_not_found(), "{gone:?}");
}

async fn keys_err(buckets: &Buckets, text: &str) -> neuro_sdk::BlobError {
    buckets
        .list_blobs(&uri(text), false, None)
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err()
}

#[tokio::test]
async fn tmp_credentials_of_one_bucket_are_refused_on_another() {
    let env = Env::start().await;
    let buckets = env.client.buckets();
    let a = new_bucket(&env.client, "bucket-a").await;
    let b = new_bucket(&env.client, "bucket-b").await;
    buckets
        .put_blob(&b.id, "secret.txt", "b".into(), &BucketLookup::default())
        .await
        .unwrap();
    let creds_a = buckets
        .request_tmp_credentials(&a.id, &BucketLookup::default())
        .await
        .unwrap();
    // B's name with A's temporary keys: every request is refused.
    let mut import = BucketImport::new(BucketProvider::Minio, b.id.clone()).name("b-with-a-keys");
    for (k, v) in &creds_a.credentials {
        if k != "bucket_name" {
            import = import.credential(k.clone(), v.clone());
        }
    }
    buckets.import_external(import).await.unwrap();
    let err = keys_err(buckets, "blob:b-with-a-keys/").await;
    assert!(err.is_forbidden(), "{err:?}");
    let fetch: Result<Vec<_>, _> = buckets
        .fetch_blob("b-with-a-keys", "secret.txt", 0, &BucketLookup::default())
        .try_collect()
        .await;
    assert!(fetch.unwrap_err().is_forbidden());
}

/// Listing with and without delimiter over several pages, glob with `**`,
/// usage: against the bucket `name` (`blob:<name>/...`).
async fn suite_listing(buckets: &Buckets, name: &str, work: &Path) {
    let b = |rest: &str| uri(&format!("blob:{name}/{rest}"));
    let local = work.join("tree");
    for d in 0..5 {
        let dir = local.join(format!("d{d}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..500 {
            std::fs::write(dir.join(format!("f{f:03}.txt")), format!("{d}/{f}")).unwrap();
        }
    }
    std::fs::create_dir_all(local.join("d0/deep/er")).unwrap();
    std::fs::write(local.join("d0/deep/er/x.json"), "{}").unwrap();
    std::fs::write(local.join("top.json"), "[]").unwrap();
    buckets
        .upload_dir(&local, &b("up"), &TransferOptions::new())
        .await
        .unwrap();

    // With delimiter: the folders of `up/`, then its object.
    let top = keys(buckets, &format!("blob:{name}/up/"), false).await;
    let names: Vec<_> = top.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        names.contains(&"up/d0/") && names.contains(&"up/top.json"),
        "{names:?}"
    );
    assert_eq!(
        top.iter()
            .filter(|(_, k)| *k == EntryKind::CommonPrefix)
            .count(),
        5
    );
    // Without delimiter: every object, over several pages (1,000 per page).
    let all = keys(buckets, &format!("blob:{name}/up/"), true).await;
    let files = all.iter().filter(|(k, _)| !k.ends_with('/')).count();
    assert_eq!(files, 2_502);
    let limited: Vec<_> = buckets
        .list_blobs(&b("up/"), true, Some(1_500))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(limited.len(), 1_500);

    // `**` crosses folders; `*` does not.
    let json: Vec<String> = buckets
        .glob_blobs(&b("up/**/*.json"))
        .map_ok(|e| e.key)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        json,
        vec!["up/d0/deep/er/x.json".to_owned(), "up/top.json".to_owned()]
    );
    let one_level: Vec<String> = buckets
        .glob_blobs(&b("up/d*/f00%3F.txt"))
        .map_ok(|e| e.key)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(one_level.len(), 50);

    // Usage: a running total after every object.
    let usage: Vec<_> = buckets
        .get_disk_usage(name, &BucketLookup::default())
        .try_collect()
        .await
        .unwrap();
    let last = usage.last().unwrap();
    assert_eq!(last.object_count as usize, usage.len());
    let everything = keys(buckets, &format!("blob:{name}/"), true).await;
    assert_eq!(last.object_count, everything.len() as u64);
    let local_bytes: usize = (0..5)
        .flat_map(|d| (0..500).map(move |f| format!("{d}/{f}").len()))
        .sum::<usize>()
        + "{}".len()
        + "[]".len();
    assert_eq!(last.total_bytes, local_bytes as u64);
}

/// A 200 MiB multipart upload, a ranged fetch, a download and `update`.
async fn suite_multipart(buckets: &Buckets, name: &str, work: &Path) {
    let b = |rest: &str| uri(&format!("blob:{name}/{rest}"));
    let src = work.join("big.bin");
    let size: u64 = 200 << 20;
    write_big_file(&src, size, 7);
    let recorder = Arc::new(Recorder::default());
    let options = TransferOptions::new().progress(recorder.clone());
    buckets
        .upload_file(&src, &b("data/big.bin"), &options)
        .await
        .unwrap();
    let events = recorder.take();
    assert!(
        events.len() > 3,
        "start, steps per part, complete: {}",
        events.len()
    );
    let head = buckets
        .head_blob(name, "data/big.bin", &BucketLookup::default())
        .await
        .unwrap();
    assert_eq!(head.size, size);

    // A ranged fetch from an offset.
    let offset = size - 1000;
    let tail: Vec<u8> = buckets
        .fetch_blob(name, "data/big.bin", offset, &BucketLookup::default())
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .concat();
    let expected = std::fs::read(&src).unwrap();
    assert_eq!(tail, expected[offset as usize..]);

    // A stream of odd-sized chunks longer than one part goes as a multipart
    // upload of whole parts.
    let streamed = content(40 << 20, 9);
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = streamed
        .chunks(100_003)
        .map(|c| Ok(bytes::Bytes::copy_from_slice(c)))
        .collect();
    buckets
        .put_blob_stream(
            name,
            "data/streamed.bin",
            futures::stream::iter(chunks),
            &BucketLookup::default(),
        )
        .await
        .unwrap();
    let back: Vec<u8> = buckets
        .fetch_blob(name, "data/streamed.bin", 0, &BucketLookup::default())
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .concat();
    assert!(back == streamed, "the streamed object differs");

    let dst = work.join("back.bin");
    buckets
        .download_file(&b("data/big.bin"), &dst, &TransferOptions::new())
        .await
        .unwrap();
    assert!(same_file(&src, &dst));
    // `update` skips a local copy newer than the object.
    let later = std::time::SystemTime::now() + Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&dst)
        .unwrap()
        .set_modified(later)
        .unwrap();
    buckets
        .download_file(
            &b("data/big.bin"),
            &dst,
            &TransferOptions::new()
                .update(true)
                .progress(recorder.clone()),
        )
        .await
        .unwrap();
    assert!(recorder.take().is_empty());
}

#[tokio::test]
async fn signed_urls_and_public_access_from_a_plain_http_client() {
    let env = Env::start().await;
    let buckets = env.client.buckets();
    let bucket = new_bucket(&env.client, "pub").await;
    buckets
        .put_blob(
            "pub",
            "dir/hello.txt",
            "hello, world".into(),
            &BucketLookup::default(),
        )
        .await
        .unwrap();

    let signed = buckets
        .make_signed_url(&uri("blob:pub/dir/hello.txt"), Duration::from_secs(600))
        .await
        .unwrap();
    let (status, body) = plain_get(&signed).await;
    assert_eq!(status, 200);
    assert_eq!(body, b"hello, world");

    // Anonymous reads only while the bucket is public.
    let mut plain = env.platform.api_url();
    plain.set_path(&format!("/{}/dir/hello.txt", bucket.id));
    plain.set_query(None);
    assert_eq!(plain_get(&plain).await.0, 403);
    let public = buckets
        .set_public_access("pub", true, &BucketLookup::default())
        .await
        .unwrap();
    assert!(public.public);
    let (status, body) = plain_get(&plain).await;
    assert_eq!((status, body.as_slice()), (200, &b"hello, world"[..]));
    buckets
        .set_public_access("pub", false, &BucketLookup::default())
        .await
        .unwrap();
    assert_eq!(plain_get(&plain).await.0, 403);

    // An expired signed URL is refused.
    let short = buckets
        .make_signed_url(&uri("blob:pub/dir/hello.txt"), Duration::from_secs(1))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(plain_get(&short).await.0, 403);
}

/// A recursive removal with progress events, and a directory download.
async fn suite_rm(buckets: &Buckets, name: &str, work: &Path) {
    let b = |rest: &str| uri(&format!("blob:{name}/{rest}"));
    let local = work.join("rm");
    std::fs::create_dir_all(local.join("a/b")).unwrap();
    std::fs::write(local.join("a/one.txt"), content(10, 1)).unwrap();
    std::fs::write(local.join("a/b/two.txt"), content(20, 2)).unwrap();
    std::fs::write(local.join("keep.txt"), content(5, 3)).unwrap();
    buckets
        .upload_dir(&local, &b("rm/"), &TransferOptions::new())
        .await
        .unwrap();
    assert!(buckets.blob_is_dir(&b("rm/a")).await.unwrap());
    assert!(!buckets.blob_is_dir(&b("rm/keep.txt")).await.unwrap());
    let not_recursive = buckets.blob_rm(&b("rm/a"), false, None).await.unwrap_err();
    assert!(
        matches!(not_recursive, neuro_sdk::BlobError::IsADirectory { .. }),
        "{not_recursive:?}"
    );

    let recorder = Arc::new(Recorder::default());
    buckets
        .blob_rm(&b("rm/a"), true, Some(recorder.clone()))
        .await
        .unwrap();
    let deleted = recorder.deleted.lock().unwrap().clone();
    let files: Vec<_> = deleted
        .iter()
        .filter(|d| !d.is_dir)
        .map(|d| d.uri.path().to_owned())
        .collect();
    let dirs: Vec<_> = deleted
        .iter()
        .filter(|d| d.is_dir)
        .map(|d| d.uri.path().to_owned())
        .collect();
    assert_eq!(files.len(), 2, "{deleted:?}");
    assert!(files.iter().any(|p| p.ends_with("/a/b/two.txt")));
    assert_eq!(dirs.len(), 2, "{deleted:?}");
    // The deepest folder is reported before its parent.
    assert!(
        dirs[0].ends_with("/a/b/") && dirs[1].ends_with("/a/"),
        "{dirs:?}"
    );
    let left: Vec<_> = keys(buckets, &format!("blob:{name}/rm/"), true)
        .await
        .into_iter()
        .filter(|(k, _)| !k.ends_with('/'))
        .collect();
    assert_eq!(left, vec![("rm/keep.txt".to_owned(), EntryKind::Object)]);

    // Download of what is left, through the engine.
    let back = work.join("back");
    buckets
        .download_dir(&b("rm/"), &back, &TransferOptions::new())
        .await
        .unwrap();
    assert!(same_file(&local.join("keep.txt"), &back.join("keep.txt")));
    assert!(!Path::new(&back.join("a")).exists());
}

/// The client suite against neuro-local's own S3 endpoint.
#[tokio::test]
async fn client_suite_against_neuro_local() {
    let env = Env::start().await;
    new_bucket(&env.client, "suite").await;
    let buckets = env.client.buckets();
    let work = env.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    suite_listing(buckets, "suite", &work).await;
    suite_rm(buckets, "suite", &work).await;
    suite_multipart(buckets, "suite", &work).await;
    multipart_etag(buckets, "suite", &work).await;
}

/// The multipart object `suite_multipart` left is served with S3's ETag of a
/// multipart upload: the MD5 of its parts' MD5s, then `-` and their count.
/// (The parts' MD5s are hashed by neuro-local as it writes them.)
async fn multipart_etag(buckets: &Buckets, name: &str, work: &Path) {
    use md5::{Digest as _, Md5};

    let data = std::fs::read(work.join("big.bin")).unwrap();
    let parts: Vec<&[u8]> = data.chunks(neuro_sdk::blob::PART_SIZE as usize).collect();
    let mut of_parts = Md5::new();
    for part in &parts {
        of_parts.update(Md5::digest(part));
    }
    let hex = neuro_local::hex::lower_hex(&of_parts.finalize());
    let expected = format!("etag: \"{hex}-{}\"", parts.len());
    let url = buckets
        .make_signed_url(
            &uri(&format!("blob:{name}/data/big.bin")),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let (status, head, body) = plain_exchange(&url).await;
    assert_eq!(status, 200, "{head}");
    assert!(body == data, "the object's bytes");
    assert!(
        head.to_ascii_lowercase().contains(&expected),
        "{expected} in {head}"
    );
}

/// The same suite against SeaweedFS (an S3 server nobody here wrote),
/// imported as a MinIO bucket.
#[tokio::test]
async fn client_suite_against_seaweedfs() {
    let env = Env::start().await;
    let weed = common::seaweed::Seaweed::start(env.dir.path()).await;
    let bucket = weed.create_bucket("suite").await;
    let import = BucketImport::new(BucketProvider::Minio, bucket)
        .credential("endpoint_url", weed.s3_url())
        .credential("access_key_id", common::seaweed::ACCESS_KEY)
        .credential("secret_access_key", common::seaweed::SECRET_KEY)
        .credential("region_name", "us-east-1")
        .name("weed");
    let buckets = env.client.buckets();
    let imported = buckets.import_external(import).await.unwrap();
    assert!(imported.imported);
    let work = env.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    suite_listing(buckets, "weed", &work).await;
    suite_rm(buckets, "weed", &work).await;
    suite_multipart(buckets, "weed", &work).await;
}

/// Temporary credentials that expire in the middle of a listing are renewed
/// with `make_tmp_credentials`, and the expired ones are refused.
#[tokio::test]
async fn expiring_credentials_are_refreshed_during_a_listing() {
    let ttl = Duration::from_secs(3);
    let env = Env::start_with(LocalPlatform::builder().bucket_credentials_ttl(ttl)).await;
    let buckets = env.client.buckets();
    new_bucket(&env.client, "short").await;
    let local = env.dir.path().join("many");
    std::fs::create_dir_all(&local).unwrap();
    for i in 0..1_100 {
        std::fs::write(local.join(format!("f{i:04}")), b"x").unwrap();
    }
    buckets
        .upload_dir(&local, &uri("blob:short/many"), &TransferOptions::new())
        .await
        .unwrap();
    let old = buckets
        .request_tmp_credentials("short", &BucketLookup::default())
        .await
        .unwrap();

    // The first page (1,000 keys) with the first credentials; the next one
    // only after they expired.
    let mut listing = Box::pin(buckets.list_blobs(&uri("blob:short/many/"), true, None));
    let mut seen = 0;
    while seen < 1_000 {
        listing.try_next().await.unwrap().unwrap();
        seen += 1;
    }
    tokio::time::sleep(ttl + Duration::from_secs(1)).await;
    while listing.try_next().await.unwrap().is_some() {
        seen += 1;
    }
    assert_eq!(seen, 1_100);

    // The expired credentials themselves no longer open the bucket.
    let mut import = BucketImport::new(
        BucketProvider::Minio,
        old.credentials["bucket_name"].clone(),
    )
    .name("expired-keys");
    for (k, v) in &old.credentials {
        if k != "expiration" {
            import = import.credential(k.clone(), v.clone());
        }
    }
    buckets.import_external(import).await.unwrap();
    let refused = keys_err(buckets, "blob:expired-keys/").await;
    assert!(
        matches!(&refused, neuro_sdk::BlobError::Provider { code, .. } if code == "ExpiredToken"),
        "{refused:?}"
    );
}

/// Small objects (stored by neuro-local in one piece) replace their
/// predecessor whole, create their folders, leave no temporary file behind
/// and are served with the MD5 of their content as ETag.
#[tokio::test]
async fn small_objects_are_written_whole() {
    let env = Env::start().await;
    let buckets = env.client.buckets();
    let bucket = new_bucket(&env.client, "small").await;
    let lookup = BucketLookup::default();
    let steps = [
        ("a.txt", "one"),
        ("a.txt", "a longer second version"),
        ("new/deep/b.txt", "three"),
        ("a.txt", ""),
    ];
    for (key, body) in steps {
        buckets
            .put_blob("small", key, body.to_owned().into(), &lookup)
            .await
            .unwrap();
        let got: Vec<bytes::Bytes> = buckets
            .fetch_blob("small", key, 0, &lookup)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(got.concat(), body.as_bytes(), "{key}");
    }
    let all = keys(buckets, "blob:small/", true).await;
    let names: Vec<_> = all.iter().map(|(k, _)| k.as_str()).collect();
    assert!(
        names.contains(&"a.txt") && names.contains(&"new/deep/b.txt"),
        "{names:?}"
    );

    // A plain GET of a signed URL: the ETag is the content's MD5.
    let url = buckets
        .make_signed_url(&uri("blob:small/new/deep/b.txt"), Duration::from_secs(60))
        .await
        .unwrap();
    let (status, head, _) = plain_exchange(&url).await;
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("etag: \"35d6d33467aae9a2e3dccb4b6b027878\""),
        "{head}"
    );

    // Nothing but the bucket's own files is left in its directory.
    let dir = env.platform.data_dir().join("buckets").join(&bucket.id);
    let mut found = Vec::new();
    let mut pending = vec![dir.clone()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path.strip_prefix(&dir).unwrap().to_owned());
            }
        }
    }
    found.sort();
    assert_eq!(found, [Path::new("a.txt"), Path::new("new/deep/b.txt")]);
}

/// A key that was used is refused at once when it expires or is revoked
/// (the S3 endpoint keeps recently read keys for a few seconds).
#[tokio::test]
async fn used_keys_are_refused_at_once_when_expired_or_revoked() {
    let ttl = Duration::from_secs(3);
    let env = Env::start_with(LocalPlatform::builder().bucket_credentials_ttl(ttl)).await;
    let buckets = env.client.buckets();
    let bucket = new_bucket(&env.client, "keys").await;
    let lookup = BucketLookup::default();
    buckets
        .put_blob("keys", "a.txt", "a".into(), &lookup)
        .await
        .unwrap();
    // Opened as an imported bucket with the given credentials; the client
    // is told they last an hour, so it sends them as they are until the end.
    let import = |name: &str, credentials: &std::collections::BTreeMap<String, String>| {
        let mut import = BucketImport::new(BucketProvider::Minio, bucket.id.clone()).name(name);
        for (k, v) in credentials {
            import = import.credential(k.clone(), v.clone());
        }
        if credentials.contains_key("expiration") {
            let later = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
            let later = neuro_sdk::types::wire::serde_util::iso8601::format(later);
            import = import.credential("expiration", later);
        }
        import
    };

    // Temporary credentials: used, then refused right after they expire.
    let tmp = buckets
        .request_tmp_credentials("keys", &lookup)
        .await
        .unwrap();
    buckets
        .import_external(import("tmp-keys", &tmp.credentials))
        .await
        .unwrap();
    assert_eq!(keys(buckets, "blob:tmp-keys/", false).await.len(), 1);
    let expires = tmp.credentials["expiration"].clone();
    let expires = neuro_sdk::types::wire::serde_util::iso8601::parse(&expires).unwrap();
    let left = expires - time::OffsetDateTime::now_utc() + time::Duration::seconds(1);
    tokio::time::sleep(left.try_into().unwrap_or_default()).await;
    let expired = keys_err(buckets, "blob:tmp-keys/").await;
    assert!(
        matches!(&expired, neuro_sdk::BlobError::Provider { code, .. } if code == "ExpiredToken"),
        "{expired:?}"
    );

    // Persistent credentials: used for a write, refused right after removal.
    let creds = buckets
        .persistent_credentials_create([bucket.id.clone()], Some("writer"), false, None)
        .await
        .unwrap();
    buckets
        .import_external(import("persistent-keys", &creds.credentials[0].credentials))
        .await
        .unwrap();
    buckets
        .put_blob("persistent-keys", "b.txt", "b".into(), &lookup)
        .await
        .unwrap();
    buckets
        .persistent_credentials_rm("writer", None)
        .await
        .unwrap();
    let revoked = buckets
        .put_blob("persistent-keys", "c.txt", "c".into(), &lookup)
        .await
        .unwrap_err();
    assert!(revoked.is_forbidden(), "{revoked:?}");
}

/// The same suite against Azurite (Microsoft's Azure Storage emulator, which
/// checks SAS signatures), imported as an Azure container opened with a SAS
/// token, as the Python client opens one.
#[tokio::test]
async fn client_suite_against_azurite() {
    let env = Env::start().await;
    let azurite = common::azurite::Azurite::start(env.dir.path()).await;
    let container = azurite.create_container("suite").await;
    let valid = time::OffsetDateTime::now_utc() + time::Duration::hours(4);
    let import = BucketImport::new(BucketProvider::Azure, container.clone())
        .credential("storage_endpoint", azurite.endpoint())
        .credential("credential", azurite.sas(valid))
        .name("azure");
    let buckets = env.client.buckets();
    let imported = buckets.import_external(import).await.unwrap();
    assert_eq!(imported.provider, BucketProvider::Azure);
    let work = env.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    suite_listing(buckets, "azure", &work).await;
    suite_rm(buckets, "azure", &work).await;
    suite_multipart(buckets, "azure", &work).await;

    // A SAS token past its expiry is refused by the emulator.
    let expired = time::OffsetDateTime::now_utc() - time::Duration::minutes(5);
    let import = BucketImport::new(BucketProvider::Azure, container)
        .credential("storage_endpoint", azurite.endpoint())
        .credential("credential", azurite.sas(expired))
        .name("azure-expired");
    buckets.import_external(import).await.unwrap();
    let refused = keys_err(buckets, "blob:azure-expired/").await;
    assert!(refused.is_forbidden(), "{refused:?}");
}

/// The same suite against fake-gcs-server (a Google Cloud Storage emulator),
/// imported as a GCP bucket opened with an access token.
#[tokio::test]
async fn client_suite_against_fake_gcs() {
    let env = Env::start().await;
    let gcs = common::fake_gcs::FakeGcs::start(env.dir.path()).await;
    let bucket = gcs.create_bucket("suite").await;
    let expires = time::OffsetDateTime::now_utc() + time::Duration::hours(4);
    let import = BucketImport::new(BucketProvider::Gcp, bucket)
        .credential("endpoint_url", gcs.endpoint())
        .credential("access_token", "ya29.neuro-test-token")
        .credential(
            "expire_time",
            expires
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap(),
        )
        .name("gcs");
    let buckets = env.client.buckets();
    let imported = buckets.import_external(import).await.unwrap();
    assert_eq!(imported.provider, BucketProvider::Gcp);
    let work = env.dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    suite_listing(buckets, "gcs", &work).await;
    suite_rm(buckets, "gcs", &work).await;
    suite_multipart(buckets, "gcs", &work).await;
}
