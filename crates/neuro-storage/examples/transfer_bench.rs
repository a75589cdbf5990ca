//! Rust side of the storage transfer benchmarks, in the shape `cargo xtask
//! bench` expects of a scenario: talks to a running neuro-local whose API URL
//! and token come from `NEURO_BENCH_API_URL` / `NEURO_BENCH_TOKEN`, prepares its
//! data untimed, times one transfer and prints one JSON line
//! `{"scenario","client":"rust","seconds","bytes","items","peak_rss_kb"}`.
//!
//! ```sh
//! cargo run --release -p neuro-storage --example transfer_bench -- storage-upload-1g
//! ```
//!
//! Scenarios: `storage-upload-1g`, `storage-download-1g` (one 1 GiB file),
//! `storage-upload-tree`, `storage-download-tree` (5,000 files of 4 KiB in 10
//! folders). Work files live in `NEURO_BENCH_WORK_DIR` (default: a directory
//! under the system temp dir, kept between runs so the data is made once).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use neuro_config::ConfigFactory;
use neuro_storage::engine::TransferOptions;
use neuro_storage::Storage;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Size of the big file.
const BIG: u64 = 1 << 30;
/// Files in the tree, their size and the number of folders they are spread over.
const TREE_FILES: usize = 5000;
const TREE_FILE_SIZE: usize = 4096;
const TREE_DIRS: usize = 10;

const REMOTE_BIG: &str = "storage:bench/transfer/big.bin";
const REMOTE_TREE: &str = "storage:bench/transfer/tree";

struct Measurement {
    seconds: f64,
    bytes: u64,
    items: u64,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let scenario = std::env::args().nth(1).ok_or(
        "usage: transfer_bench storage-upload-1g|storage-download-1g|storage-upload-tree|storage-download-tree",
    )?;
    let work = std::env::var_os("NEURO_BENCH_WORK_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("neuro-bench-storage"));
    std::fs::create_dir_all(&work)?;
    let storage = login(&work).await?;
    let measurement = match scenario.as_str() {
        "storage-upload-1g" => upload_big(&storage, &work).await?,
        "storage-download-1g" => download_big(&storage, &work).await?,
        "storage-upload-tree" => upload_tree(&storage, &work).await?,
        "storage-download-tree" => download_tree(&storage, &work).await?,
        other => return Err(format!("unknown scenario {other}").into()),
    };
    println!(
        "{}",
        serde_json::json!({
            "scenario": scenario,
            "client": "rust",
            "seconds": measurement.seconds,
            "bytes": measurement.bytes,
            "items": measurement.items,
            "peak_rss_kb": peak_rss_kb(),
        })
    );
    Ok(())
}

async fn login(work: &Path) -> Result<Storage> {
    let url: url::Url = std::env::var("NEURO_BENCH_API_URL")?.parse()?;
    let token = std::env::var("NEURO_BENCH_TOKEN")?;
    let factory = ConfigFactory::with_path(work.join("rust-config"));
    if factory.is_config_present() {
        factory.logout().await?;
    }
    factory.login_with_token(&token, &url).await?;
    let storage = Storage::new(factory.load().await?);
    storage.mkdir("storage:bench/transfer", true, true).await?;
    Ok(storage)
}

/// The 1 GiB source file: pseudo-random bytes, every block written.
fn big_file(work: &Path) -> Result<PathBuf> {
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
fn tree(work: &Path) -> Result<PathBuf> {
    let root = work.join("tree");
    let marker = root.join(format!("d{}", TREE_DIRS - 1));
    if marker.is_dir() {
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

async fn upload_big(storage: &Storage, work: &Path) -> Result<Measurement> {
    let src = big_file(work)?;
    let started = Instant::now();
    storage
        .upload_file(&src, REMOTE_BIG, &TransferOptions::new())
        .await?;
    Ok(Measurement {
        seconds: started.elapsed().as_secs_f64(),
        bytes: BIG,
        items: 1,
    })
}

async fn download_big(storage: &Storage, work: &Path) -> Result<Measurement> {
    if storage.stat(REMOTE_BIG).await.map(|s| s.size).ok() != Some(BIG) {
        let src = big_file(work)?;
        storage
            .upload_file(&src, REMOTE_BIG, &TransferOptions::new())
            .await?;
    }
    let dst = work.join("big.rust-download");
    let _ = std::fs::remove_file(&dst);
    let started = Instant::now();
    storage
        .download_file(REMOTE_BIG, &dst, &TransferOptions::new())
        .await?;
    Ok(Measurement {
        seconds: started.elapsed().as_secs_f64(),
        bytes: BIG,
        items: 1,
    })
}

async fn upload_tree(storage: &Storage, work: &Path) -> Result<Measurement> {
    let src = tree(work)?;
    if storage.stat(REMOTE_TREE).await.is_ok() {
        storage.rm(REMOTE_TREE, true).await?;
    }
    let started = Instant::now();
    storage
        .upload_dir(&src, REMOTE_TREE, &TransferOptions::new())
        .await?;
    Ok(Measurement {
        seconds: started.elapsed().as_secs_f64(),
        bytes: (TREE_FILES * TREE_FILE_SIZE) as u64,
        items: TREE_FILES as u64,
    })
}

async fn download_tree(storage: &Storage, work: &Path) -> Result<Measurement> {
    if storage.stat(REMOTE_TREE).await.is_err() {
        let src = tree(work)?;
        storage
            .upload_dir(&src, REMOTE_TREE, &TransferOptions::new())
            .await?;
    }
    let dst = work.join("tree.rust-download");
    let _ = std::fs::remove_dir_all(&dst);
    let started = Instant::now();
    storage
        .download_dir(REMOTE_TREE, &dst, &TransferOptions::new())
        .await?;
    Ok(Measurement {
        seconds: started.elapsed().as_secs_f64(),
        bytes: (TREE_FILES * TREE_FILE_SIZE) as u64,
        items: TREE_FILES as u64,
    })
}

/// Peak resident set size of this process in KiB (`VmHWM`).
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kb| kb.parse().ok())
        })
        .unwrap_or(0)
}
