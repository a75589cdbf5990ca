//! `blob-upload-1g`, `blob-download-1g`, `blob-upload-tree`,
//! `blob-download-tree`: transfers between the local disk and a bucket of
//! neuro-local (its S3 endpoint), the same data as the storage scenarios.
//!
//! Set-up (untimed): the bucket `bench-blobs` is created if missing; the data
//! are those of [`super::storage_data`]; for downloads the object(s) are
//! uploaded first if missing, for tree uploads the remote tree is removed
//! first. As in the storage scenarios, 1 GiB uploads go to new keys and
//! downloads to new local paths ([`fresh`]), and dirty pages are written back
//! before the clock starts ([`flush`]). Timed: one
//! `upload_file`, `download_file`, `upload_dir` or `download_dir` with default
//! options. Afterwards (untimed) the 1 GiB copy is removed. The Python
//! counterparts (`xtask/bench/py/blob_*.py`) do the same with
//! `neuro-sdk==22.7.1` under their own keys.

use std::time::Instant;

use futures::TryStreamExt as _;
use neuro_sdk::storage::engine::TransferOptions;
use neuro_sdk::{BucketCreate, BucketLookup, Buckets};
use url::Url;

use crate::env::BenchEnv;
use crate::measure::{peak_rss_kb, Measurement};
use crate::runtime;

use super::job_setup::login;
use super::storage_data::{big_file, flush, fresh, remove, tree, BIG, TREE_BYTES, TREE_FILES};

const BUCKET: &str = "bench-blobs";
const BIG_KEY: &str = "rust/big.bin";

#[derive(Clone, Copy)]
enum Transfer {
    UploadBig,
    DownloadBig,
    UploadTree,
    DownloadTree,
}

pub(crate) fn upload_1g(env: &BenchEnv, _args: &[String]) -> anyhow::Result<Measurement> {
    run(env, Transfer::UploadBig)
}

pub(crate) fn download_1g(env: &BenchEnv, _args: &[String]) -> anyhow::Result<Measurement> {
    run(env, Transfer::DownloadBig)
}

pub(crate) fn upload_tree(env: &BenchEnv, _args: &[String]) -> anyhow::Result<Measurement> {
    run(env, Transfer::UploadTree)
}

pub(crate) fn download_tree(env: &BenchEnv, _args: &[String]) -> anyhow::Result<Measurement> {
    run(env, Transfer::DownloadTree)
}

fn blob(rest: &str) -> anyhow::Result<Url> {
    Ok(Url::parse(&format!("blob:{BUCKET}/{rest}"))?)
}

/// Whether the benchmark tree is in the bucket (its last folder is).
async fn has_tree(buckets: &Buckets) -> anyhow::Result<bool> {
    let last = blob("rust/tree/d9/")?;
    let found: Vec<_> = buckets
        .list_blobs(&last, false, Some(1))
        .try_collect()
        .await?;
    Ok(!found.is_empty())
}

fn run(env: &BenchEnv, transfer: Transfer) -> anyhow::Result<Measurement> {
    runtime::multi_threaded()?.block_on(async {
        let client = login(env, "blob-config").await?;
        let buckets = client.buckets();
        if buckets.get(BUCKET, &BucketLookup::default()).await.is_err() {
            buckets.create(BucketCreate::new().name(BUCKET)).await?;
        }
        let work = env.work_dir();
        let options = TransferOptions::new();
        let (big, remote_tree) = (blob(BIG_KEY)?, blob("rust/tree")?);
        let (seconds, bytes, items) = match transfer {
            Transfer::UploadBig => {
                let src = big_file(work)?;
                let key = format!("{}.bin", fresh("rust/big"));
                flush()?;
                let started = Instant::now();
                buckets.upload_file(&src, &blob(&key)?, &options).await?;
                let elapsed = started.elapsed();
                buckets
                    .delete_blob(BUCKET, &key, &BucketLookup::default())
                    .await?;
                (elapsed, BIG, 1)
            }
            Transfer::DownloadBig => {
                let size = buckets
                    .head_blob(BUCKET, BIG_KEY, &BucketLookup::default())
                    .await
                    .map(|e| e.size)
                    .ok();
                if size != Some(BIG) {
                    buckets
                        .upload_file(&big_file(work)?, &big, &options)
                        .await?;
                }
                let dst = work.join(fresh("big.blob-download"));
                flush()?;
                let started = Instant::now();
                buckets.download_file(&big, &dst, &options).await?;
                let elapsed = started.elapsed();
                remove(&dst)?;
                (elapsed, BIG, 1)
            }
            Transfer::UploadTree => {
                let src = tree(work)?;
                // Over the same key, not a new one: `s3s-fs` lists a prefix by
                // walking the whole bucket, so trees left behind would slow
                // down every later listing.
                if has_tree(buckets).await? {
                    buckets.blob_rm(&remote_tree, true, None).await?;
                }
                flush()?;
                let started = Instant::now();
                buckets.upload_dir(&src, &remote_tree, &options).await?;
                (started.elapsed(), TREE_BYTES, TREE_FILES as u64)
            }
            Transfer::DownloadTree => {
                if !has_tree(buckets).await? {
                    buckets
                        .upload_dir(&tree(work)?, &remote_tree, &options)
                        .await?;
                }
                let dst = work.join(fresh("tree.blob-download"));
                flush()?;
                let started = Instant::now();
                buckets.download_dir(&remote_tree, &dst, &options).await?;
                (started.elapsed(), TREE_BYTES, TREE_FILES as u64)
            }
        };
        Ok(Measurement {
            seconds: seconds.as_secs_f64(),
            bytes,
            items,
            peak_rss_kb: peak_rss_kb(),
        })
    })
}
