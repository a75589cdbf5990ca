//! What the storage transfer scenarios share: their data, remote paths and
//! set-up, and the `cp` floor they are compared with.
//!
//! The data is one 1 GiB file of pseudo-random bytes (every block written) and
//! a tree of 5,000 files of 4 KiB in 10 folders, made once in the work
//! directory. The Python counterparts (`xtask/bench/py/storage_*.py`, on
//! `neuro-sdk==22.7.1`) move the same amounts to the same remote paths.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use neuro_sdk::storage::engine::TransferOptions;
use neuro_sdk::Storage;

use crate::env::BenchEnv;
use crate::measure::{peak_rss_kb, Measurement};
use crate::runtime;

use super::job_setup::login;

/// Size of the big file.
pub(super) const BIG: u64 = 1 << 30;
/// Files in the tree, their size and the folders they are spread over.
pub(super) const TREE_FILES: usize = 5000;
const TREE_FILE_SIZE: usize = 4096;
const TREE_DIRS: usize = 10;
/// Bytes in the tree.
pub(super) const TREE_BYTES: u64 = (TREE_FILES * TREE_FILE_SIZE) as u64;

const REMOTE_DIR: &str = "storage:bench/transfer";
/// Where the big file goes.
pub(super) const REMOTE_BIG: &str = "storage:bench/transfer/big.bin";
/// Where the tree goes.
pub(super) const REMOTE_TREE: &str = "storage:bench/transfer/tree";

/// How much one timed transfer moved.
pub(super) struct Moved {
    pub(super) bytes: u64,
    pub(super) items: u64,
}

/// What a timed transfer leaves behind that later runs do not use: removed
/// once the clock has stopped, so that repeated runs do not fill the disk
/// with gigabytes of copies.
pub(super) enum Leftover {
    /// Nothing to remove (trees: small, and see [`fresh`]).
    Nothing,
    /// A remote file.
    Remote(String),
    /// A local file.
    Local(PathBuf),
}

/// Logs in, makes the remote directory, runs `prepare` (untimed), flushes
/// dirty pages so earlier runs' writeback stays out of the timed part, times
/// `transfer`, then removes its [`Leftover`] (untimed).
///
/// On a single-threaded runtime, as a command-line tool runs: the file I/O
/// goes to blocking threads either way, and with one thread for the rest the
/// HTTP connections and the transfers hand work to each other without waking
/// a second worker (on two cores, the server needs the other one).
pub(super) fn timed<P, T>(
    env: &BenchEnv,
    moved: Moved,
    prepare: impl FnOnce(Storage, PathBuf) -> P,
    transfer: impl FnOnce(Storage, PathBuf, P::Output) -> T,
) -> anyhow::Result<Measurement>
where
    P: std::future::Future,
    T: std::future::Future<Output = anyhow::Result<Leftover>>,
{
    runtime::single_threaded()?.block_on(async {
        let client = login(env, "storage-config").await?;
        let storage = client.storage().clone();
        storage.mkdir(REMOTE_DIR, true, true).await?;
        let work = env.work_dir().to_path_buf();
        let prepared = prepare(storage.clone(), work.clone()).await;
        flush()?;
        let started = Instant::now();
        let leftover = transfer(storage.clone(), work, prepared).await?;
        let measured = measurement(started.elapsed(), &moved, peak_rss_kb());
        match leftover {
            Leftover::Nothing => {}
            Leftover::Remote(path) => storage.rm(path.as_str(), false).await?,
            Leftover::Local(path) => remove(&path)?,
        }
        Ok(measured)
    })
}

fn measurement(elapsed: Duration, moved: &Moved, peak_rss_kb: u64) -> Measurement {
    Measurement {
        seconds: elapsed.as_secs_f64(),
        bytes: moved.bytes,
        items: moved.items,
        peak_rss_kb,
    }
}

/// The remote big file, uploaded first when missing.
pub(super) async fn ensure_remote_big(storage: &Storage, work: &Path) -> anyhow::Result<()> {
    if storage.stat(REMOTE_BIG).await.map(|s| s.size).ok() != Some(BIG) {
        storage
            .upload_file(&big_file(work)?, REMOTE_BIG, &TransferOptions::new())
            .await?;
    }
    Ok(())
}

/// The remote tree, uploaded first when missing.
pub(super) async fn ensure_remote_tree(storage: &Storage, work: &Path) -> anyhow::Result<()> {
    if storage.stat(REMOTE_TREE).await.is_err() {
        storage
            .upload_dir(&tree(work)?, REMOTE_TREE, &TransferOptions::new())
            .await?;
    }
    Ok(())
}

/// A name no earlier run used: `<prefix>-<nanoseconds since the epoch>`.
///
/// Transfers go to fresh destinations instead of over a copy deleted or
/// replaced in the same run, which on this disk would measure the deletion:
/// ext4 without a journal makes files created right after thousands were
/// deleted skip every recently deleted inode, and the filesystem is mounted
/// with `discard`, so freeing the blocks of a replaced 1 GiB file waits for
/// the device.
pub(super) fn fresh(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{prefix}-{nanos}")
}

/// Removes a file or directory left by an earlier run.
pub(super) fn remove(path: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path)?,
        Ok(_) => std::fs::remove_file(path)?,
        Err(_) => {}
    }
    Ok(())
}

/// Writes dirty pages back (`sync`), so the timed part does not pay for the
/// writeback of files an earlier run left in the page cache.
pub(super) fn flush() -> anyhow::Result<()> {
    let status = Command::new("sync").status().context("cannot run sync")?;
    if !status.success() {
        bail!("sync failed: {status}");
    }
    Ok(())
}

/// The 1 GiB source file (xorshift bytes; every block written).
pub(super) fn big_file(work: &Path) -> anyhow::Result<PathBuf> {
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
pub(super) fn tree(work: &Path) -> anyhow::Result<PathBuf> {
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

/// The floor of the 1 GiB scenarios: `cp` of the big file on the same disk.
///
/// The copy is removed as soon as the clock stops, as the clients' copies
/// are: left behind, its gigabyte of dirty pages made the next side's `sync`
/// (before its clock starts) last seconds, long enough for the host to take
/// back the memory freed just before, so the next side paid for that.
pub(super) fn cp_big(env: &BenchEnv) -> anyhow::Result<Measurement> {
    let src = big_file(env.work_dir())?;
    let dst = env.work_dir().join("big.cp");
    let measured = cp(
        &src,
        &dst,
        Moved {
            bytes: BIG,
            items: 1,
        },
    );
    remove(&dst)?;
    measured
}

/// The floor of the tree scenarios: `cp -r` of the tree on the same disk.
pub(super) fn cp_tree(env: &BenchEnv) -> anyhow::Result<Measurement> {
    let src = tree(env.work_dir())?;
    let moved = Moved {
        bytes: TREE_BYTES,
        items: TREE_FILES as u64,
    };
    cp(&src, &env.work_dir().join(fresh("tree.cp")), moved)
}

/// Times `cp -r src dst` (after removing `dst` and flushing dirty pages).
fn cp(src: &Path, dst: &Path, moved: Moved) -> anyhow::Result<Measurement> {
    remove(dst)?;
    flush()?;
    let started = Instant::now();
    let status = Command::new("cp")
        .arg("-r")
        .arg(src)
        .arg(dst)
        .status()
        .context("cannot run cp")?;
    let elapsed = started.elapsed();
    if !status.success() {
        bail!("cp -r {} {} failed: {status}", src.display(), dst.display());
    }
    // The floor's memory is not what is compared: no RSS for it.
    Ok(measurement(elapsed, &moved, 0))
}
