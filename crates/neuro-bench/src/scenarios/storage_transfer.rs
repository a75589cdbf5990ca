//! `storage-upload-1g`, `storage-download-1g`, `storage-upload-tree`,
//! `storage-download-tree`: transfers through the storage API.
//!
//! Set-up (untimed): one 1 GiB file of pseudo-random bytes (every block
//! written), or a tree of 5,000 files of 4 KiB in 10 folders, made once in the
//! work directory; for downloads the remote copy is uploaded first if missing,
//! for uploads the remote tree is removed first. Timed: one `upload_file`,
//! `download_file`, `upload_dir` or `download_dir` with default options. The
//! Python counterparts (`xtask/bench/py/storage_*.py`) do the same with
//! `neuro-sdk==22.7.1`. `xtask/bench/storage.sh` adds `cp` of the same data as
//! the floor.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use neuro_sdk::storage::engine::TransferOptions;
use neuro_sdk::Storage;

use crate::env::BenchEnv;
use crate::measure::{peak_rss_kb, Measurement};
use crate::runtime;

use super::job_setup::login;

/// Size of the big file.
pub(crate) const BIG: u64 = 1 << 30;
/// Files in the tree, their size and the folders they are spread over.
pub(crate) const TREE_FILES: usize = 5000;
const TREE_FILE_SIZE: usize = 4096;
const TREE_DIRS: usize = 10;

const REMOTE_DIR: &str = "storage:bench/transfer";
const REMOTE_BIG: &str = "storage:bench/transfer/big.bin";
const REMOTE_TREE: &str = "storage:bench/transfer/tree";

/// What one scenario does, given the storage API and the work directory.
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

fn run(env: &BenchEnv, transfer: Transfer) -> anyhow::Result<Measurement> {
    runtime::multi_threaded()?.block_on(async {
        let client = login(env, "storage-config").await?;
        let storage = client.storage();
        storage.mkdir(REMOTE_DIR, true, true).await?;
        let work = env.work_dir();
        let options = TransferOptions::new();
        let (seconds, bytes, items) = match transfer {
            Transfer::UploadBig => {
                let src = big_file(work)?;
                let started = Instant::now();
                storage.upload_file(&src, REMOTE_BIG, &options).await?;
                (started.elapsed(), BIG, 1)
            }
            Transfer::DownloadBig => {
                ensure_remote_big(storage, work).await?;
                let dst = work.join("big.download");
                remove(&dst)?;
                let started = Instant::now();
                storage.download_file(REMOTE_BIG, &dst, &options).await?;
                (started.elapsed(), BIG, 1)
            }
            Transfer::UploadTree => {
                let src = tree(work)?;
                if storage.stat(REMOTE_TREE).await.is_ok() {
                    storage.rm(REMOTE_TREE, true).await?;
                }
                let started = Instant::now();
                storage.upload_dir(&src, REMOTE_TREE, &options).await?;
                (started.elapsed(), TREE_BYTES, TREE_FILES as u64)
            }
            Transfer::DownloadTree => {
                if storage.stat(REMOTE_TREE).await.is_err() {
                    storage
                        .upload_dir(&tree(work)?, REMOTE_TREE, &options)
                        .await?;
                }
                let dst = work.join("tree.download");
                remove(&dst)?;
                let started = Instant::now();
                storage.download_dir(REMOTE_TREE, &dst, &options).await?;
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

pub(crate) const TREE_BYTES: u64 = (TREE_FILES * TREE_FILE_SIZE) as u64;

async fn ensure_remote_big(storage: &Storage, work: &Path) -> anyhow::Result<()> {
    if storage.stat(REMOTE_BIG).await.map(|s| s.size).ok() != Some(BIG) {
        storage
            .upload_file(&big_file(work)?, REMOTE_BIG, &TransferOptions::new())
            .await?;
    }
    Ok(())
}

/// Removes a file or directory left by an earlier run.
pub(crate) fn remove(path: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path)?,
        Ok(_) => std::fs::remove_file(path)?,
        Err(_) => {}
    }
    Ok(())
}

/// The 1 GiB source file (xorshift bytes; every block written).
pub(crate) fn big_file(work: &Path) -> anyhow::Result<PathBuf> {
    let path = work.join("big.bin");
    if std::fs::metadata(&path).map(|m| m.len()).ok() == Some(BIG) {
        return Ok(path);
    }
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..(BIG >> 20) {
        for word in block.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            word.copy_from_slice(&x.to_le_bytes());
        }
        out.write_all(&block)?;
    }
    out.flush()?;
    Ok(path)
}

/// The source tree of small files.
pub(crate) fn tree(work: &Path) -> anyhow::Result<PathBuf> {
    let root = work.join("tree");
    if root.join(format!("d{}", TREE_DIRS - 1)).is_dir() {
        return Ok(root);
    }
    for i in 0..TREE_FILES {
        let dir = root.join(format!("d{}", i % TREE_DIRS));
        std::fs::create_dir_all(&dir)?;
        let byte = (i % 251) as u8;
        std::fs::write(dir.join(format!("f{i:05}.bin")), vec![byte; TREE_FILE_SIZE])?;
    }
    Ok(root)
}
