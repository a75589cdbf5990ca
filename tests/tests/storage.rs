//! Storage through the SDK against a real neuro-local over TCP.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::ErrorKind;

use bytes::Bytes;
use common::files::content;
use common::proxy::behind_cutting_proxy;
use common::Env;
use futures::TryStreamExt;
use neuro_sdk::{FileStatusType, StorageError};

/// The error has the I/O kind `kind`.
fn assert_kind(err: &StorageError, kind: ErrorKind) {
    assert_eq!(err.io_error_kind(), Some(kind), "{err:?}");
}

async fn read_all(env: &Env, uri: &str, offset: u64, size: Option<u64>) -> Vec<u8> {
    let chunks: Vec<Bytes> = env
        .client
        .storage()
        .open(uri, offset, size)
        .try_collect()
        .await
        .unwrap();
    chunks.concat()
}

#[tokio::test]
async fn round_trip_of_a_64_mib_file() {
    let env = Env::start().await;
    let storage = env.client.storage();
    let data = content(64 << 20, 1);
    let src = env.dir.path().join("big.bin");
    std::fs::write(&src, &data).unwrap();

    storage.mkdir("storage:big", false, false).await.unwrap();
    storage
        .upload_file(&src, "storage:big/big.bin", &Default::default())
        .await
        .unwrap();
    let status = storage.stat("storage:big/big.bin").await.unwrap();
    assert_eq!(status.size, 64 << 20);
    assert!(status.is_file());
    assert_eq!(status.uri.as_str(), "storage://default/admin/big/big.bin");

    let dst = env.dir.path().join("big.back");
    storage
        .download_file("storage:big/big.bin", &dst, &Default::default())
        .await
        .unwrap();
    let back = std::fs::read(&dst).unwrap();
    assert!(back == data, "downloaded bytes differ");

    // Uploading over an existing file replaces it.
    let small = env.dir.path().join("small.bin");
    std::fs::write(&small, b"tiny").unwrap();
    storage
        .upload_file(&small, "storage:big/big.bin", &Default::default())
        .await
        .unwrap();
    assert_eq!(
        read_all(&env, "storage:big/big.bin", 0, None).await,
        b"tiny"
    );

    // Empty files travel too.
    let empty = env.dir.path().join("empty");
    std::fs::write(&empty, b"").unwrap();
    storage
        .upload_file(&empty, "storage:big/empty", &Default::default())
        .await
        .unwrap();
    let back = env.dir.path().join("empty.back");
    std::fs::write(&back, b"stale").unwrap();
    storage
        .download_file("storage:big/empty", &back, &Default::default())
        .await
        .unwrap();
    assert_eq!(std::fs::read(&back).unwrap(), b"");
}

#[tokio::test]
async fn create_write_and_ranged_reads() {
    let env = Env::start().await;
    let storage = env.client.storage();
    let chunks = vec![
        Ok(Bytes::from_static(b"0123")),
        Ok(Bytes::from_static(b"")),
        Ok(Bytes::from_static(b"456789")),
    ];
    storage
        .create("storage:f.txt", futures::stream::iter(chunks))
        .await
        .unwrap();
    assert_eq!(
        read_all(&env, "storage:f.txt", 0, None).await,
        b"0123456789"
    );
    assert_eq!(read_all(&env, "storage:f.txt", 3, Some(4)).await, b"3456");
    assert_eq!(read_all(&env, "storage:f.txt", 8, None).await, b"89");
    assert_eq!(read_all(&env, "storage:f.txt", 0, Some(3)).await, b"012");
    assert!(read_all(&env, "storage:f.txt", 4, Some(0)).await.is_empty());

    storage
        .write("storage:f.txt", Bytes::from_static(b"abc"), 2)
        .await
        .unwrap();
    assert_eq!(
        read_all(&env, "storage:f.txt", 0, None).await,
        b"01abc56789"
    );
    let err = storage
        .write("storage:f.txt", Bytes::new(), 0)
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::InvalidArgument(_)));

    // A range past the end is refused by the server (416).
    let err = storage
        .open("storage:f.txt", 100, Some(10))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(
        match &err {
            StorageError::Http(e) => e.status(),
            _ => None,
        },
        Some(416),
        "{err:?}"
    );
}

#[tokio::test]
async fn mkdir_list_stat_and_names() {
    let env = Env::start().await;
    let storage = env.client.storage();
    let names = ["plain", "with space", "100% sure", "ünïcødé ☃", "dot.file"];
    storage
        .mkdir("storage:tree/sub", true, false)
        .await
        .unwrap();
    for name in names {
        let uri = format!(
            "storage:tree/{}",
            percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
        );
        storage
            .create(
                uri.as_str(),
                futures::stream::iter([Ok(Bytes::from(name.to_owned()))]),
            )
            .await
            .unwrap();
        let status = storage.stat(uri.as_str()).await.unwrap();
        assert_eq!(status.name(), name);
        assert_eq!(status.size, name.len() as u64);
    }
    let mut listed: Vec<(String, FileStatusType)> = storage
        .list("storage:tree")
        .map_ok(|s| (s.name().to_owned(), s.file_type))
        .try_collect()
        .await
        .unwrap();
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected: Vec<(String, FileStatusType)> = names
        .iter()
        .map(|n| (n.to_string(), FileStatusType::File))
        .chain([("sub".to_string(), FileStatusType::Directory)])
        .collect();
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(listed, expected);

    // The home directory answers stat; missing things are not found.
    assert!(storage.stat("storage:").await.unwrap().is_dir());
    assert!(storage
        .stat("storage:nope")
        .await
        .unwrap_err()
        .is_not_found());
    let err = storage
        .list("storage:nope")
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");

    // mkdir rules.
    let err = storage
        .mkdir("storage:tree/sub", false, false)
        .await
        .unwrap_err();
    assert_kind(&err, ErrorKind::AlreadyExists);
    storage
        .mkdir("storage:tree/sub", false, true)
        .await
        .unwrap();
    let err = storage
        .mkdir("storage:a/b/c", false, false)
        .await
        .unwrap_err();
    assert_kind(&err, ErrorKind::NotFound);
    let err = storage
        .mkdir("storage:tree/plain", true, true)
        .await
        .unwrap_err();
    assert_kind(&err, ErrorKind::AlreadyExists);

    // Listing a file is an OS error carried over the wire.
    let err = storage
        .list("storage:tree/plain")
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_kind(&err, ErrorKind::NotADirectory);

    let usage = storage.disk_usage(None, None).await.unwrap();
    assert!(usage.total > 0 && usage.total >= usage.free);
    assert_eq!(usage.cluster_name, "default");
}

#[tokio::test]
async fn rm_and_mv() {
    let env = Env::start().await;
    let storage = env.client.storage();
    storage.mkdir("storage:d/e", true, false).await.unwrap();
    for f in ["storage:d/x", "storage:d/e/y"] {
        storage
            .create(f, futures::stream::iter([Ok(Bytes::from_static(b"1"))]))
            .await
            .unwrap();
    }
    let err = storage.rm("storage:d", false).await.unwrap_err();
    assert_kind(&err, ErrorKind::IsADirectory);

    storage.mv("storage:d/x", "storage:d/z").await.unwrap();
    assert!(storage
        .stat("storage:d/x")
        .await
        .unwrap_err()
        .is_not_found());
    assert!(storage.stat("storage:d/z").await.unwrap().is_file());
    let err = storage
        .mv("storage:d/z", "storage://elsewhere/admin/z")
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::InvalidArgument(_)), "{err:?}");

    let events: Vec<_> = storage
        .rm_events("storage:d", true)
        .try_collect()
        .await
        .unwrap();
    let uris: Vec<String> = events.iter().map(|e| e.uri.to_string()).collect();
    let pos = |u: &str| {
        uris.iter()
            .position(|x| x == u)
            .unwrap_or_else(|| panic!("{u} in {uris:?}"))
    };
    assert!(pos("storage://default/admin/d/e/y") < pos("storage://default/admin/d/e"));
    assert!(pos("storage://default/admin/d/e") < pos("storage://default/admin/d"));
    assert!(
        events
            .iter()
            .find(|e| e.uri.as_str().ends_with("/d"))
            .unwrap()
            .is_dir
    );
    assert!(storage.stat("storage:d").await.unwrap_err().is_not_found());
    assert!(storage
        .rm("storage:d", true)
        .await
        .unwrap_err()
        .is_not_found());
}

#[tokio::test]
async fn paths_stay_inside_the_callers_root() {
    let env = Env::start().await;
    let storage = env.client.storage();
    storage
        .create(
            "storage:mine.txt",
            futures::stream::iter([Ok(Bytes::from_static(b"secret"))]),
        )
        .await
        .unwrap();
    let attempts = [
        "storage:../../etc/passwd",
        "storage:%2e%2e/%2e%2e/etc/passwd",
        "storage:..%2f..%2fetc%2fpasswd",
        "storage:%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "storage:/../etc/passwd",
        "storage://default/../../etc/passwd",
        "storage:a/%2e%2e%2f%2e%2e%2f..%2fetc%2fpasswd",
        "storage:..%5c..%5cetc%5cpasswd",
    ];
    for uri in attempts {
        let read = storage.open(uri, 0, None).try_collect::<Vec<_>>().await;
        match read {
            Ok(chunks) => panic!("{uri} returned {} bytes", chunks.concat().len()),
            Err(err) => {
                let kind = err.io_error_kind();
                let ok = matches!(
                    kind,
                    Some(ErrorKind::NotFound) | Some(ErrorKind::PermissionDenied)
                ) || matches!(err, StorageError::Uri(_))
                    || matches!(&err, StorageError::Http(e) if e.status() == Some(403));
                assert!(ok, "{uri}: unexpected error {err:?}");
            }
        }
        assert!(storage.stat(uri).await.is_err(), "{uri} answered stat");
    }

    // Another user cannot see or write the admin's files.
    let bob = env.user("bob").await;
    let err = bob
        .storage()
        .stat("storage://default/admin/mine.txt")
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let err = bob
        .storage()
        .create(
            "storage://default/admin/planted.txt",
            futures::stream::iter([Ok(Bytes::from_static(b"x"))]),
        )
        .await
        .unwrap_err();
    assert!(
        err.is_not_found() || matches!(&err, StorageError::Http(e) if e.status() == Some(403)),
        "{err:?}"
    );
    assert!(storage.stat("storage:planted.txt").await.is_err());
}

/// Symlinks in a tree (only a job can make them) are followed inside the
/// caller's root and never out of it, whether the server takes its one-call
/// way (no symlink on the path) or walks the path.
#[tokio::test]
async fn symlinks_are_followed_only_inside_the_root() {
    let env = Env::start().await;
    let storage = env.client.storage();
    let one = |b: &'static [u8]| futures::stream::iter([Ok(Bytes::from_static(b))]);
    storage.mkdir("storage:inside", false, false).await.unwrap();
    storage
        .create("storage:inside/f", one(b"in"))
        .await
        .unwrap();
    let home = env.platform.settings().storage_dir().join("admin");
    let outside = env.dir.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::fs::write(outside.join("secret"), b"secret").unwrap();
    std::os::unix::fs::symlink(&outside, home.join("out")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), home.join("sec")).unwrap();
    std::os::unix::fs::symlink(home.join("inside"), home.join("in")).unwrap();
    std::os::unix::fs::symlink("inside/f", home.join("flink")).unwrap();

    // Out of the root: absent for reads, refused for writes, nothing written.
    for uri in ["storage:out/secret", "storage:sec"] {
        let err = storage
            .open(uri, 0, None)
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        assert!(err.is_not_found(), "{uri}: {err:?}");
    }
    assert!(storage
        .create("storage:out/planted", one(b"x"))
        .await
        .is_err());
    assert!(!outside.join("planted").exists());
    assert_eq!(std::fs::read(outside.join("secret")).unwrap(), b"secret");

    // Inside the root: followed both ways.
    assert_eq!(read_all(&env, "storage:in/f", 0, None).await, b"in");
    assert_eq!(read_all(&env, "storage:flink", 0, None).await, b"in");
    storage.create("storage:in/new", one(b"new")).await.unwrap();
    assert_eq!(std::fs::read(home.join("inside/new")).unwrap(), b"new");
    assert_eq!(read_all(&env, "storage:inside/new", 0, None).await, b"new");

    // Missing parents are created by the walk the one-call way leaves them to.
    storage
        .create("storage:deep/er/f", one(b"deep"))
        .await
        .unwrap();
    assert_eq!(read_all(&env, "storage:deep/er/f", 0, None).await, b"deep");
}

#[tokio::test]
async fn download_resumes_after_dropped_connections() {
    let faulty = behind_cutting_proxy().await;
    let (proxy, dir) = (&faulty.proxy, &faulty.dir);
    let storage = faulty.client.storage();

    let data = content(12 << 20, 7);
    let src = dir.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();
    storage
        .upload_file(&src, "storage:resume.bin", &Default::default())
        .await
        .unwrap();

    // From now on every new connection is cut after 3 MiB sent to the client.
    proxy.cut_after(3 << 20);
    let dst = dir.path().join("dst.bin");
    storage
        .download_file("storage:resume.bin", &dst, &Default::default())
        .await
        .unwrap();
    assert!(proxy.cuts() >= 3, "only {} cuts", proxy.cuts());
    let back = std::fs::read(&dst).unwrap();
    assert_eq!(back.len(), data.len());
    assert!(back == data, "resumed download differs");

    // A stream read through the same faults fails loudly rather than silently short.
    let result: Result<Vec<Bytes>, _> = storage
        .open("storage:resume.bin", 0, None)
        .try_collect()
        .await;
    assert!(result.is_err(), "a cut body must be an error");
}
