//! Storage: upload a local folder, recursively, with a progress bar.
//!
//! ```sh
//! cargo run -p neuro-sdk --example storage_upload -- ./some/folder storage:backup/folder
//! ```
//!
//! With no platform named, the example starts neuro-local in-process (and, as
//! the upload would vanish with it, lists what arrived). Set `NEURO_API_URL` and
//! `NEURO_TOKEN` (or `NEURO_USE_CONFIG=1`) to use another platform.

mod common;

use std::path::{Path, PathBuf};

use futures::TryStreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use neuro_sdk::Client;
use tokio_util::io::ReaderStream;

use common::BoxError;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [src, dst] = args.as_slice() else {
        return Err("usage: storage_upload <local folder> <storage URI>".into());
    };
    let src = PathBuf::from(src);
    let files = walk(&src)?;
    let total: u64 = files.iter().map(|(_, size)| size).sum();

    let work = tempfile::tempdir()?;
    let (client, platform) = common::connect(work.path()).await?;

    let bar = ProgressBar::new(total);
    bar.set_style(ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {msg}",
    )?);
    client.storage().mkdir(dst.as_str(), true, true).await?;
    for (path, _) in &files {
        let rel = path.strip_prefix(&src)?;
        let target = format!("{}/{}", dst.trim_end_matches('/'), to_uri_path(rel));
        bar.set_message(rel.display().to_string());
        upload(&client, path, &target, &bar).await?;
    }
    bar.finish_with_message(format!("{} files", files.len()));

    if platform.is_some() {
        let entries: Vec<_> = client.storage().list(dst.as_str()).try_collect().await?;
        for entry in entries {
            println!(
                "{:<10} {:>10} {}",
                entry.file_type.as_str(),
                entry.size,
                entry.name()
            );
        }
    }
    Ok(())
}

/// Streams one file into storage, advancing `bar` as its bytes are read.
async fn upload(
    client: &Client,
    path: &Path,
    target: &str,
    bar: &ProgressBar,
) -> Result<(), BoxError> {
    if let Some((parent, _)) = target.rsplit_once('/') {
        client.storage().mkdir(parent, true, true).await?;
    }
    let file = tokio::fs::File::open(path).await?;
    let progress = bar.clone();
    let body = ReaderStream::new(file).inspect_ok(move |chunk| progress.inc(chunk.len() as u64));
    client.storage().create(target, body).await?;
    Ok(())
}

/// Every regular file under `root` with its size, in a stable order.
fn walk(root: &Path) -> Result<Vec<(PathBuf, u64)>, BoxError> {
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(entry.path());
            } else if kind.is_file() {
                files.push((entry.path(), entry.metadata()?.len()));
            }
        }
    }
    files.sort();
    Ok(files)
}

/// `a/b c` as a storage path: segments joined with `/` (the SDK escapes them).
fn to_uri_path(rel: &Path) -> String {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}
