//! Buckets and blobs: create a bucket, upload a folder into it, list and glob
//! its objects, read one back by range, make a signed URL, download the folder
//! again and compare, then remove everything.
//!
//! ```sh
//! cargo run -p neuro-sdk --example blob_transfer
//! ```
//!
//! Objects travel straight between this process and the bucket's provider
//! (on neuro-local, its S3 endpoint) with short-lived credentials from the
//! platform; folders go through the same transfer engine as storage. With no
//! platform named, the example starts neuro-local in-process (see
//! `examples/common`); `NEURO_API_URL` + `NEURO_TOKEN` or `NEURO_USE_CONFIG=1`
//! name another one.

mod common;

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt as _;
use neuro_sdk::storage::engine::TransferOptions;
use neuro_sdk::storage::progress::{
    FileProgress, RecursiveFileProgress, StorageProgressComplete, StorageProgressFail,
};
use neuro_sdk::{BucketCreate, BucketLookup};
use url::Url;

use common::BoxError;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let work = tempfile::tempdir()?;
    let (client, _platform) = common::connect(work.path()).await?;

    // A small tree to send: text files in two folders and one larger binary.
    let src = work.path().join("results");
    write_tree(&src)?;

    let buckets = client.buckets();
    let name = format!("example-{}", std::process::id());
    let bucket = buckets.create(BucketCreate::new().name(&name)).await?;
    println!(
        "created bucket {} ({}, provider {})",
        bucket.id, name, bucket.provider
    );

    let result = transfer(&client, &name, &src, work.path()).await;
    // Clean up whatever happened above: the objects, then the bucket.
    let all = Url::parse(&format!("blob:{name}/"))?;
    buckets.blob_rm(&all, true, None).await?;
    buckets.rm(&bucket.id, &BucketLookup::default()).await?;
    println!("removed the objects and bucket {name}");
    result
}

async fn transfer(
    client: &neuro_sdk::Client,
    name: &str,
    src: &Path,
    work: &Path,
) -> Result<(), BoxError> {
    let buckets = client.buckets();
    let lookup = BucketLookup::default();

    // 1. Upload the folder (several files at a time), counting what went.
    let dst = Url::parse(&format!("blob:{name}/run-1"))?;
    let counter = Arc::new(Counter::default());
    let options = TransferOptions::new().progress(counter.clone());
    buckets.upload_dir(src, &dst, &options).await?;
    println!(
        "uploaded {} files, {} bytes into {dst}",
        counter.files.load(Ordering::Relaxed),
        counter.bytes.load(Ordering::Relaxed)
    );

    // 2. What is there: one level (folders as common prefixes), then a glob.
    let top = Url::parse(&format!("blob:{name}/run-1/"))?;
    for entry in buckets
        .list_blobs(&top, false, None)
        .try_collect::<Vec<_>>()
        .await?
    {
        let kind = if entry.is_dir() { "folder" } else { "object" };
        println!("  {kind:6} {} ({} bytes)", entry.key, entry.size);
    }
    let pattern = Url::parse(&format!("blob:{name}/run-1/**/*.txt"))?;
    let texts: Vec<_> = buckets.glob_blobs(&pattern).try_collect().await?;
    println!("{} text objects match {pattern}", texts.len());

    // 3. A ranged read: the object from byte 6 on.
    let chunks: Vec<_> = buckets
        .fetch_blob(name, "run-1/logs/first.txt", 6, &lookup)
        .try_collect()
        .await?;
    println!(
        "run-1/logs/first.txt from byte 6: {:?}",
        String::from_utf8_lossy(&chunks.concat())
    );

    // 4. A URL any HTTP client can fetch for the next ten minutes.
    let object = Url::parse(&format!("blob:{name}/run-1/weights.bin"))?;
    let signed = buckets
        .make_signed_url(&object, Duration::from_secs(600))
        .await?;
    println!(
        "signed URL for weights.bin: {}://{}{}?...",
        signed.scheme(),
        signed.authority(),
        signed.path()
    );

    // 5. Back down, and the copy is the same.
    let copy = work.join("copy");
    buckets
        .download_dir(&dst, &copy, &TransferOptions::new())
        .await?;
    for file in ["logs/first.txt", "logs/second.txt", "weights.bin"] {
        if std::fs::read(src.join(file))? != std::fs::read(copy.join(file))? {
            return Err(format!("{file} differs after the round trip").into());
        }
    }
    println!("downloaded {dst} again: every file is identical");
    Ok(())
}

/// The tree the example uploads.
fn write_tree(root: &Path) -> Result<(), BoxError> {
    std::fs::create_dir_all(root.join("logs"))?;
    std::fs::write(root.join("logs/first.txt"), "epoch 1: loss 0.93\n")?;
    std::fs::write(root.join("logs/second.txt"), "epoch 2: loss 0.41\n")?;
    // 3 MiB of a repeating pattern stands in for model weights.
    let weights: Vec<u8> = (0..3u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(root.join("weights.bin"), weights)?;
    Ok(())
}

/// Counts the files and bytes a transfer completed, and reports failures.
#[derive(Default)]
struct Counter {
    files: AtomicU64,
    bytes: AtomicU64,
}

impl FileProgress for Counter {
    fn complete(&self, event: &StorageProgressComplete) {
        self.files.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(event.size, Ordering::Relaxed);
    }
}

impl RecursiveFileProgress for Counter {
    fn fail(&self, event: &StorageProgressFail) {
        eprintln!("failed {}: {}", event.src, event.message);
    }
}
