//! Storage: sync a local folder into storage with a progress bar.
//!
//! ```sh
//! cargo run -p neuro-sdk --example storage_sync -- ./some/folder storage:backup/folder
//! ```
//!
//! The folder is uploaded recursively, several files at a time, with
//! `update` on: a file already in storage with the same size and a newer
//! modification time is skipped, so a second run only sends what changed (the
//! example runs the sync twice to show it). With no platform named, it starts
//! neuro-local in-process; set `NEURO_API_URL` and `NEURO_TOKEN` (or
//! `NEURO_USE_CONFIG=1`) to use another platform.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use indicatif::{ProgressBar, ProgressStyle};
use neuro_sdk::storage::engine::TransferOptions;
use neuro_sdk::storage::progress::{
    FileProgress, RecursiveFileProgress, StorageProgressComplete, StorageProgressFail,
    StorageProgressStep,
};
use url::Url;

use common::BoxError;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [src, dst] = args.as_slice() else {
        return Err("usage: storage_sync <local folder> <storage URI>".into());
    };
    let src = PathBuf::from(src);
    let work = tempfile::tempdir()?;
    let (client, _platform) = common::connect(work.path()).await?;

    client.storage().mkdir(dst.as_str(), true, true).await?;
    for round in 1..=2 {
        let bar = Arc::new(Bar::new(total_size(&src)?));
        let options = TransferOptions::new().update(true).progress(bar.clone());
        client
            .storage()
            .upload_dir(&src, dst.as_str(), &options)
            .await?;
        bar.finish(round);
    }
    Ok(())
}

/// An indicatif bar fed by the SDK's transfer events (files run concurrently, so
/// each file's last position is kept to turn positions into increments).
struct Bar {
    bar: ProgressBar,
    positions: Mutex<HashMap<Url, u64>>,
    /// Files transferred and their bytes (skipped files are not counted).
    done: Mutex<(u64, u64)>,
}

impl Bar {
    fn new(total: u64) -> Self {
        let bar = ProgressBar::new(total);
        if let Ok(style) =
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {msg}")
        {
            bar.set_style(style);
        }
        Self {
            bar,
            positions: Mutex::new(HashMap::new()),
            done: Mutex::new((0, 0)),
        }
    }

    fn advance(&self, src: &Url, current: u64) {
        let Ok(mut positions) = self.positions.lock() else {
            return;
        };
        let last = positions.insert(src.clone(), current).unwrap_or(0);
        self.bar.inc(current.saturating_sub(last));
    }

    fn finish(&self, round: u32) {
        let (files, bytes) = self.done.lock().map(|d| *d).unwrap_or((0, 0));
        self.bar.finish_and_clear();
        println!("sync {round}: {files} files sent, {bytes} bytes");
    }
}

impl FileProgress for Bar {
    fn step(&self, event: &StorageProgressStep) {
        self.advance(&event.src, event.current);
        self.bar.set_message(event.src.path().to_owned());
    }

    fn complete(&self, event: &StorageProgressComplete) {
        self.advance(&event.src, event.size);
        if let Ok(mut done) = self.done.lock() {
            done.0 += 1;
            done.1 += event.size;
        }
    }
}

impl RecursiveFileProgress for Bar {
    fn fail(&self, event: &StorageProgressFail) {
        self.bar
            .println(format!("skipped {}: {}", event.src, event.message));
    }
}

/// Total size of the regular files under `root`.
fn total_size(root: &Path) -> Result<u64, BoxError> {
    let mut total = 0;
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() {
                total += entry.metadata()?.len();
            }
        }
    }
    Ok(total)
}
