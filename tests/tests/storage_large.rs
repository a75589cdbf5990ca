//! One 1 GiB file (every block written, no sparse regions) uploaded and
//! downloaded through the SDK, compared byte for byte without holding it in
//! memory.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::files::{same_file, write_big_file};
use common::Env;
use neuro_sdk::storage::engine::TransferOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_gib_round_trip() {
    let env = Env::start().await;
    let storage = env.client.storage();
    let src = env.dir.path().join("big.bin");
    write_big_file(&src, 1 << 30, 2024);

    let options = TransferOptions::new();
    storage
        .upload_file(&src, "storage:big.bin", &options)
        .await
        .unwrap();
    assert_eq!(storage.stat("storage:big.bin").await.unwrap().size, 1 << 30);
    let back = env.dir.path().join("back.bin");
    storage
        .download_file("storage:big.bin", &back, &options)
        .await
        .unwrap();
    assert!(same_file(&src, &back), "the 1 GiB file came back different");
}
