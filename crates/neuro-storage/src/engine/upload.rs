//! Uploads: one file, or a local tree walked depth first with its children
//! transferred concurrently.

use std::collections::HashMap;
use std::ffi::OsString;
use std::os::unix::fs::{FileExt as _, MetadataExt as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt as _;
use url::Url;

use super::filter::read_ignore_file;
use super::local_io::{IN_PLACE_BYTES, IO_CHUNK};
use super::remote::{EntryKind, LocalSource, RemoteEntry, RemoteError, RemoteFs};
use super::{file_url, run_all, Engine, Rules};
use crate::clock::{check_upload, seconds, Decision, Stamp};
use crate::progress::{ProgressEvent, StorageProgressEnterDir, StorageProgressLeaveDir};
use crate::retry::with_retries;

/// A directory entry as found on the local disk.
pub(super) struct LocalChild {
    pub(super) name: OsString,
    pub(super) path: PathBuf,
    /// `stat` (symlinks followed), or why it failed.
    pub(super) meta: std::io::Result<std::fs::Metadata>,
}

/// Lists a local directory on a blocking thread.
pub(super) async fn list_local(dir: &Path) -> std::io::Result<Vec<LocalChild>> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            // Symlinks are followed. Anything else is stat-ed relative to the
            // open directory (`fstatat`), without walking `path` again from
            // the root.
            let meta = match entry.file_type() {
                Ok(kind) if !kind.is_symlink() => entry.metadata(),
                _ => std::fs::metadata(&path),
            };
            out.push(LocalChild {
                name: entry.file_name(),
                path,
                meta,
            });
        }
        Ok(out)
    })
    .await
    .map_err(std::io::Error::other)?
}

/// Size and modification time of a local file.
pub(crate) fn local_stamp(meta: &std::fs::Metadata) -> Stamp {
    Stamp {
        size: meta.len(),
        mtime: meta.modified().map(seconds).unwrap_or(0.0),
    }
}

/// Size and modification time of a remote file.
pub(crate) fn remote_stamp(entry: &RemoteEntry) -> Stamp {
    Stamp {
        size: entry.size,
        mtime: entry.mtime,
    }
}

/// What one directory of an upload walk knows.
struct DirJob {
    src: PathBuf,
    dst: Url,
    rel: String,
    rules: Rules,
    /// Whether existing destinations need a decision (off below a directory
    /// that did not exist remotely).
    decide: bool,
    /// `(device, inode)` of the directories above, to stop symlink loops.
    ancestors: Arc<Vec<(u64, u64)>>,
}

/// Opens the file at `path` and reads it whole when it fits in one
/// [`IO_CHUNK`] (blocking).
fn open_blocking(path: &Path) -> std::io::Result<LocalSource> {
    let file = std::fs::File::open(path)?;
    let size = file.metadata()?.len();
    let content = match usize::try_from(size) {
        Ok(len) if len <= IO_CHUNK => {
            let mut data = vec![0u8; len];
            file.read_exact_at(&mut data, 0)?;
            Some(bytes::Bytes::from(data))
        }
        _ => None,
    };
    Ok(LocalSource {
        path: Arc::from(path),
        file: Arc::new(file),
        size,
        content,
    })
}

impl<R: RemoteFs> Engine<R> {
    /// Opens a local file for upload.
    pub async fn open_source(path: &Path) -> Result<LocalSource, R::Error> {
        let owned = path.to_path_buf();
        let opened = tokio::task::spawn_blocking(move || open_blocking(&owned))
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r);
        opened.map_err(|e| R::Error::local(path, e))
    }

    /// [`Engine::open_source`] for a file a directory listing found with
    /// `listed_size` bytes: a small one is opened and read on this task (see
    /// [`IN_PLACE_BYTES`]). The size that counts is the one found on opening.
    async fn open_listed(path: &Path, listed_size: u64) -> Result<LocalSource, R::Error> {
        if listed_size <= IN_PLACE_BYTES {
            open_blocking(path).map_err(|e| R::Error::local(path, e))
        } else {
            Self::open_source(path).await
        }
    }

    /// Uploads the open file `src` to `dst` from `offset`, holding one of the
    /// transfer slots, with `start`, `step`* and `complete` events.
    pub async fn upload_source(
        &self,
        src: LocalSource,
        dst: Url,
        offset: u64,
    ) -> Result<(), R::Error> {
        let _slot = self.files.acquire().await.ok();
        self.send_file(src, dst, offset).await
    }

    /// [`Engine::upload_source`] for a caller that holds a slot.
    async fn send_file(&self, src: LocalSource, dst: Url, offset: u64) -> Result<(), R::Error> {
        let src_url = file_url(&src.path).map_err(|e| R::Error::local(&src.path, e))?;
        let size = src.size;
        let report = self.reporter.start_file(src_url, dst.clone(), size);
        let acked = |current: u64| report.step(current);
        self.remote.upload(src, &dst, offset, &acked).await?;
        report.complete();
        Ok(())
    }

    /// Uploads the local directory `src` into the remote directory `dst`
    /// (created if missing). Entries that cannot be uploaded get `fail`
    /// events; unreadable ones also make the final result an error naming
    /// them, after everything else was transferred.
    pub async fn upload_dir(&self, src: &Path, dst: Url) -> Result<(), R::Error> {
        let root = tokio::fs::canonicalize(src)
            .await
            .map_err(|e| R::Error::local(src, e))?;
        let meta = tokio::fs::metadata(&root)
            .await
            .map_err(|e| R::Error::local(&root, e))?;
        if !meta.is_dir() {
            return Err(R::Error::local(
                &root,
                std::io::Error::new(std::io::ErrorKind::NotADirectory, "Not a directory"),
            ));
        }
        let rules = Rules::new(self.options.filter.clone())
            .with_ancestor_ignore_files(&root, &self.options.ignore_file_names)
            .await;
        let job = DirJob {
            src: root,
            dst,
            rel: String::new(),
            rules,
            decide: self.options.decides(),
            ancestors: Arc::new(vec![(meta.dev(), meta.ino())]),
        };
        self.clone().upload_tree(job).await?;
        self.outcome()
    }

    fn upload_tree(self, job: DirJob) -> BoxFuture<'static, Result<(), R::Error>> {
        async move {
            let DirJob {
                src,
                dst,
                rel,
                mut rules,
                mut decide,
                ancestors,
            } = job;
            let src_url = file_url(&src).map_err(|e| R::Error::local(&src, e))?;
            let mut remote_files: HashMap<String, RemoteEntry> = HashMap::new();
            let mut listed = false;
            if decide {
                let what = format!("Fail to list {dst}");
                match with_retries(&what, || self.remote.list(&dst)).await {
                    Ok(entries) => {
                        listed = true;
                        remote_files = entries
                            .into_iter()
                            .filter(|e| e.kind == EntryKind::File)
                            .map(|e| (e.name.clone(), e))
                            .collect();
                    }
                    Err(e) if e.is_not_found() => decide = false,
                    Err(e) => return Err(e),
                }
            }
            if !listed {
                let what = format!("Fail to create {dst}");
                with_retries(&what, || self.remote.make_dir(&dst))
                    .await
                    .map_err(|e| {
                        if e.is_already_exists() {
                            R::Error::not_a_directory(&dst)
                        } else {
                            e
                        }
                    })?;
            }
            self.reporter
                .emit(ProgressEvent::Enter(StorageProgressEnterDir {
                    src: src_url.clone(),
                    dst: dst.clone(),
                }));

            let children = {
                let _slot = self.files.acquire().await.ok();
                list_local(&src).await
            };
            let children = match children {
                Ok(children) => children,
                Err(e) => {
                    self.fail(
                        src_url.clone(),
                        dst.clone(),
                        format!("Cannot upload {}: {e}", src.display()),
                        true,
                    );
                    Vec::new()
                }
            };
            for child in &children {
                let is_file = child.meta.as_ref().is_ok_and(|m| m.is_file());
                let Some(name) = child.name.to_str() else {
                    continue;
                };
                if is_file && self.options.ignore_file_names.iter().any(|n| n == name) {
                    if let Some(text) = read_ignore_file(&child.path).await {
                        rules = rules.with_ignore_text(&child.path, &text, &rel, "");
                    }
                }
            }

            let mut tasks = Vec::new();
            for child in children {
                let child_src =
                    file_url(&child.path).map_err(|e| R::Error::local(&child.path, e))?;
                let Some(name) = child.name.to_str() else {
                    let target = dst.clone();
                    self.fail(
                        child_src,
                        target,
                        format!(
                            "Cannot upload {}, the name is not valid UTF-8",
                            child.path.display()
                        ),
                        true,
                    );
                    continue;
                };
                let child_dst = self.remote.child(&dst, name);
                let meta = match child.meta {
                    Ok(meta) => meta,
                    Err(e) => {
                        // A dangling or looping symlink is "not a regular file";
                        // anything else (permissions) is an error.
                        let dangling = matches!(e.kind(), std::io::ErrorKind::NotFound)
                            || e.raw_os_error() == Some(libc::ELOOP);
                        let message = if dangling {
                            format!(
                                "Cannot upload {}, not regular file/directory",
                                child.path.display()
                            )
                        } else {
                            format!("Cannot upload {}: {e}", child.path.display())
                        };
                        self.fail(child_src, child_dst, message, !dangling);
                        continue;
                    }
                };
                let mut child_rel = format!("{rel}{name}");
                if meta.is_dir() {
                    child_rel.push('/');
                }
                if !rules.accepts(&child_rel).await {
                    tracing::debug!("Skip {child_rel}");
                    continue;
                }
                if meta.is_file() {
                    let mut offset = 0;
                    if decide {
                        if let Some(remote) = remote_files.get(name) {
                            match check_upload(
                                local_stamp(&meta),
                                remote_stamp(remote),
                                self.remote.time_diff(),
                                self.options.update,
                                self.options.continue_,
                            ) {
                                Decision::Skip => continue,
                                Decision::From(n) => offset = n,
                            }
                        }
                    }
                    let engine = self.clone();
                    let listed_size = meta.len();
                    tasks.push(
                        async move {
                            let _slot = engine.files.acquire().await.ok();
                            match Self::open_listed(&child.path, listed_size).await {
                                Ok(source) => engine.send_file(source, child_dst, offset).await,
                                Err(e) => {
                                    engine.fail(child_src, child_dst, e.to_string(), true);
                                    Ok(())
                                }
                            }
                        }
                        .boxed(),
                    );
                } else if meta.is_dir() {
                    let id = (meta.dev(), meta.ino());
                    if ancestors.contains(&id) {
                        self.fail(
                            child_src,
                            child_dst,
                            format!("Cannot upload {}, a symlink loop", child.path.display()),
                            false,
                        );
                        continue;
                    }
                    let mut below = ancestors.as_ref().clone();
                    below.push(id);
                    tasks.push(self.clone().upload_tree(DirJob {
                        src: child.path,
                        dst: child_dst,
                        rel: child_rel,
                        rules: rules.clone(),
                        decide,
                        ancestors: Arc::new(below),
                    }));
                } else {
                    self.fail(
                        child_src,
                        child_dst,
                        format!(
                            "Cannot upload {}, not regular file/directory",
                            child.path.display()
                        ),
                        false,
                    );
                }
            }
            run_all(tasks).await?;
            self.reporter
                .emit(ProgressEvent::Leave(StorageProgressLeaveDir {
                    src: src_url,
                    dst,
                }));
            Ok(())
        }
        .boxed()
    }
}
