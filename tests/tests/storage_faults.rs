//! Transfers through a real TCP proxy that drops connections mid-upload and
//! mid-download: they end in a retried success or a clear error, never in a
//! corrupted file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::files::{content, read_tree};
use common::proxy::behind_cutting_proxy as faulty;
use neuro_sdk::storage::engine::TransferOptions;

#[tokio::test]
async fn uploads_survive_dropped_connections() {
    let f = faulty().await;
    let storage = f.client.storage();
    let data = content(10 << 20, 21);
    let src = f.dir.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();

    // Every connection drops after 3 MiB from the client; requests of 1 MiB
    // get through on a fresh connection when retried.
    f.proxy.cut_upload_after(3 << 20);
    let options = TransferOptions::new().chunk_size(1 << 20);
    storage
        .upload_file(&src, "storage:up.bin", &options)
        .await
        .unwrap();
    assert!(f.proxy.cuts() >= 2, "only {} cuts", f.proxy.cuts());

    // A tree too.
    let tree = f.dir.path().join("tree");
    for i in 0..60 {
        let dir = tree.join(format!("d{}", i % 7));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("f{i}")),
            content(40_000 + i * 1000, i as u64),
        )
        .unwrap();
    }
    f.proxy.cut_upload_after(300 << 10);
    storage
        .upload_dir(&tree, "storage:tree", &options.clone().concurrency(4))
        .await
        .unwrap();

    // Check through a clean path.
    f.proxy.cut_upload_after(0);
    let dst = f.dir.path().join("back.bin");
    storage
        .download_file("storage:up.bin", &dst, &TransferOptions::new())
        .await
        .unwrap();
    assert!(std::fs::read(&dst).unwrap() == data, "upload corrupted");
    let back = f.dir.path().join("back");
    storage
        .download_dir("storage:tree", &back, &TransferOptions::new())
        .await
        .unwrap();
    assert_eq!(read_tree(&back), read_tree(&tree));
}

#[tokio::test]
async fn an_upload_that_never_gets_through_fails_clearly_and_leaves_no_torn_file() {
    let f = faulty().await;
    let storage = f.client.storage();
    let src = f.dir.path().join("src.bin");
    std::fs::write(&src, content(4 << 20, 3)).unwrap();
    storage.mkdir("storage:d", false, false).await.unwrap();

    // Each connection drops long before a request body is through.
    f.proxy.cut_upload_after(256 << 10);
    let err = storage
        .upload_file(&src, "storage:d/new.bin", &TransferOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, neuro_sdk::StorageError::Http(e) if e.is_retryable_transport()),
        "{err:?}"
    );
    f.proxy.cut_upload_after(0);
    // The CREATE never completed: nothing under the final name, no leftovers.
    let err = storage.stat("storage:d/new.bin").await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    let listing: Vec<_> = futures::TryStreamExt::try_collect::<Vec<_>>(storage.list("storage:d"))
        .await
        .unwrap();
    assert!(listing.is_empty(), "{listing:?}");
}

#[tokio::test]
async fn downloads_of_trees_resume_after_dropped_connections() {
    let f = faulty().await;
    let storage = f.client.storage();
    let tree = f.dir.path().join("tree");
    for i in 0..40 {
        let dir = tree.join(format!("d{}", i % 5));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join(format!("f{i}")),
            content(100_000 + i * 3000, i as u64),
        )
        .unwrap();
    }
    std::fs::write(tree.join("big"), content(6 << 20, 99)).unwrap();
    storage
        .upload_dir(&tree, "storage:tree", &TransferOptions::new())
        .await
        .unwrap();

    f.proxy.cut_after(1 << 20);
    let back = f.dir.path().join("back");
    storage
        .download_dir(
            "storage:tree",
            &back,
            &TransferOptions::new().concurrency(3),
        )
        .await
        .unwrap();
    assert!(f.proxy.cuts() >= 2, "only {} cuts", f.proxy.cuts());
    assert_eq!(read_tree(&back), read_tree(&tree));
}
