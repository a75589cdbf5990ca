//! Downloads: one file, or a remote tree walked depth first with its children
//! transferred concurrently.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use futures::future::BoxFuture;
use futures::FutureExt as _;
use url::Url;

use super::local_io::resume_point;
use super::remote::{EntryKind, LocalSink, RemoteEntry, RemoteError, RemoteFs};
use super::upload::{list_local, local_stamp, remote_stamp};
use super::{file_url, run_all, Engine, Rules};
use crate::clock::{check_download, Decision};
use crate::progress::{ProgressEvent, StorageProgressEnterDir, StorageProgressLeaveDir};
use crate::retry::with_retries;

/// What one directory of a download walk knows.
struct DirJob {
    src: Url,
    dst: PathBuf,
    rel: String,
}

impl<R: RemoteFs> Engine<R> {
    /// Downloads the remote file `src` of `size` bytes to the local `dst` from
    /// `offset`, holding one of the transfer slots, with `start`, `step`* and
    /// `complete` events.
    pub async fn download_to(
        &self,
        src: Url,
        dst: &Path,
        size: u64,
        offset: u64,
    ) -> Result<(), R::Error> {
        let _slot = self.files.acquire().await.ok();
        let sink = LocalSink::new(dst, offset == 0);
        self.receive_file(src, sink, size, offset).await
    }

    async fn receive_file(
        &self,
        src: Url,
        sink: LocalSink,
        size: u64,
        offset: u64,
    ) -> Result<(), R::Error> {
        let dst_url = file_url(&sink.path).map_err(|e| R::Error::local(&sink.path, e))?;
        let offset = resume_point(&sink, offset).await;
        let report = self.reporter.start_file(src.clone(), dst_url, size);
        let received = |current: u64| report.step(current);
        self.remote
            .download(&src, sink, offset, size, &received)
            .await?;
        report.complete();
        Ok(())
    }

    /// Downloads the remote directory `src` into the local directory `dst`
    /// (created with its parents if missing). Entries that cannot be
    /// downloaded get `fail` events; local write failures also make the final
    /// result an error naming them, after everything else was transferred.
    pub async fn download_dir(&self, src: Url, dst: &Path) -> Result<(), R::Error> {
        let job = DirJob {
            src,
            dst: dst.to_path_buf(),
            rel: String::new(),
        };
        self.clone().download_tree(job).await?;
        self.outcome()
    }

    fn download_tree(self, job: DirJob) -> BoxFuture<'static, Result<(), R::Error>> {
        async move {
            let DirJob { src, dst, rel } = job;
            tokio::fs::create_dir_all(&dst)
                .await
                .map_err(|e| R::Error::local(&dst, e))?;
            let dst_url = file_url(&dst).map_err(|e| R::Error::local(&dst, e))?;
            self.reporter
                .emit(ProgressEvent::Enter(StorageProgressEnterDir {
                    src: src.clone(),
                    dst: dst_url.clone(),
                }));
            let mut local_files: HashMap<String, std::fs::Metadata> = HashMap::new();
            if self.options.decides() {
                let _slot = self.files.acquire().await.ok();
                let children = list_local(&dst)
                    .await
                    .map_err(|e| R::Error::local(&dst, e))?;
                for child in children {
                    if let (Some(name), Ok(meta)) = (child.name.to_str(), child.meta) {
                        if meta.is_file() {
                            local_files.insert(name.to_owned(), meta);
                        }
                    }
                }
            }
            let what = format!("Fail to list {src}");
            let entries: Vec<RemoteEntry> = with_retries(&what, || self.remote.list(&src)).await?;

            let rules: &Rules = &Rules::new(self.options.filter.clone());
            let mut tasks = Vec::new();
            for entry in entries {
                if !is_plain_name(&entry.name) {
                    // A server must not make us write outside `dst`.
                    self.fail(
                        src.clone(),
                        dst_url.clone(),
                        format!(
                            "Cannot download {:?} from {src}: not a file name",
                            entry.name
                        ),
                        true,
                    );
                    continue;
                }
                let child_src = self.remote.child(&src, &entry.name);
                let child_dst = dst.join(&entry.name);
                let mut child_rel = format!("{rel}{}", entry.name);
                if entry.kind == EntryKind::Directory {
                    child_rel.push('/');
                }
                if !rules.accepts(&child_rel).await {
                    tracing::debug!("Skip {child_rel}");
                    continue;
                }
                match entry.kind {
                    EntryKind::File => {
                        let mut offset = 0;
                        if let Some(local) = local_files.get(&entry.name) {
                            match check_download(
                                local_stamp(local),
                                remote_stamp(&entry),
                                self.remote.time_diff(),
                                self.options.update,
                                self.options.continue_,
                            ) {
                                Decision::Skip => continue,
                                Decision::From(n) => offset = n,
                            }
                        }
                        let engine = self.clone();
                        let size = entry.size;
                        tasks.push(
                            async move {
                                let _slot = engine.files.acquire().await.ok();
                                let sink = LocalSink::new(&child_dst, offset == 0);
                                let received = engine
                                    .receive_file(child_src.clone(), sink.clone(), size, offset)
                                    .await;
                                match (received, sink.open_error()) {
                                    // The local file could not be opened: a `fail`
                                    // event, the rest of the tree goes on.
                                    (Err(_), Some(e)) => {
                                        let dst_url = file_url(&child_dst)
                                            .map_err(|e| R::Error::local(&child_dst, e))?;
                                        engine.fail(
                                            child_src,
                                            dst_url,
                                            format!("Cannot write {}: {e}", child_dst.display()),
                                            true,
                                        );
                                        Ok(())
                                    }
                                    (received, _) => received,
                                }
                            }
                            .boxed(),
                        );
                    }
                    EntryKind::Directory => {
                        tasks.push(self.clone().download_tree(DirJob {
                            src: child_src,
                            dst: child_dst,
                            rel: child_rel,
                        }));
                    }
                    EntryKind::Other => {
                        let dst_url =
                            file_url(&child_dst).map_err(|e| R::Error::local(&child_dst, e))?;
                        let message =
                            format!("Cannot download {child_src}, not regular file/directory");
                        self.fail(child_src, dst_url, message, false);
                    }
                }
            }
            run_all(tasks).await?;
            self.reporter
                .emit(ProgressEvent::Leave(StorageProgressLeaveDir {
                    src,
                    dst: dst_url,
                }));
            Ok(())
        }
        .boxed()
    }
}

/// A name that stays inside its directory: not empty, `.` or `..`, without
/// `/` or NUL.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}
