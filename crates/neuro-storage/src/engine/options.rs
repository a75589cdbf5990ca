//! [`TransferOptions`]: how a transfer decides, filters, reports and paces.

use std::future::Future;
use std::sync::Arc;

use super::filter::Filter;
use crate::progress::RecursiveFileProgress;

/// Default number of files transferred at the same time (the Python SDK's
/// `MAX_OPEN_FILES`).
pub const DEFAULT_CONCURRENCY: usize = 20;

/// Default size of each upload request after the first (the Python SDK sends
/// 1 MiB requests; larger ones cost fewer round trips and the body is streamed
/// either way).
pub const DEFAULT_CHUNK_SIZE: u64 = 32 << 20;

/// The ignore file the Python CLI reads by default (`neuro cp`).
pub const CLI_IGNORE_FILE_NAME: &str = ".neuroignore";

/// Options of `upload_file`, `download_file`, `upload_dir` and `download_dir`.
///
/// ```
/// use std::sync::Arc;
/// use neuro_storage::engine::TransferOptions;
///
/// let options = TransferOptions::new()
///     .update(true)
///     .ignore_file_names([".neuroignore"])
///     .filter(|path: String| async move { !path.starts_with("tmp/") })
///     .concurrency(8);
/// assert!(options.is_update());
/// ```
#[derive(Clone, Debug)]
pub struct TransferOptions {
    pub(crate) update: bool,
    pub(crate) continue_: bool,
    pub(crate) filter: Option<Filter>,
    pub(crate) ignore_file_names: Vec<String>,
    pub(crate) progress: Option<Arc<dyn RecursiveFileProgress>>,
    pub(crate) concurrency: usize,
    pub(crate) chunk_size: u64,
}

impl Default for TransferOptions {
    fn default() -> Self {
        Self {
            update: false,
            continue_: false,
            filter: None,
            ignore_file_names: Vec::new(),
            progress: None,
            concurrency: DEFAULT_CONCURRENCY,
            chunk_size: DEFAULT_CHUNK_SIZE,
        }
    }
}

impl TransferOptions {
    /// Everything off: transfer every file in full, no filter, no ignore files,
    /// no progress.
    pub fn new() -> Self {
        Self::default()
    }

    /// Skip files whose destination is newer than the source (clock skew with
    /// the server taken into account). Wins over [`TransferOptions::continue_`].
    pub fn update(mut self, update: bool) -> Self {
        self.update = update;
        self
    }

    /// Resume files whose destination is an older, shorter copy; skip complete
    /// ones.
    pub fn continue_(mut self, continue_: bool) -> Self {
        self.continue_ = continue_;
        self
    }

    /// Only entries for which `predicate(relative path)` is true (directories
    /// end in `/`); directory transfers only.
    pub fn filter<F, Fut>(mut self, predicate: F) -> Self
    where
        F: Fn(String) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        self.filter = Some(Filter::new(predicate));
        self
    }

    /// Read ignore files with these names (gitignore syntax) in the uploaded
    /// tree and in the ancestors of its root; uploads of directories only. The
    /// Python SDK reads none by default, the CLI reads
    /// [`CLI_IGNORE_FILE_NAME`].
    pub fn ignore_file_names<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.ignore_file_names = names.into_iter().map(Into::into).collect();
        self
    }

    /// Report progress there.
    pub fn progress(mut self, progress: Arc<dyn RecursiveFileProgress>) -> Self {
        self.progress = Some(progress);
        self
    }

    /// At most this many files in flight at once (at least 1).
    pub fn concurrency(mut self, files: usize) -> Self {
        self.concurrency = files.max(1);
        self
    }

    /// Bytes per upload request (at least 1). Progress `step`s come once per
    /// request; 1 MiB sends exactly what the Python SDK sends.
    pub fn chunk_size(mut self, bytes: u64) -> Self {
        self.chunk_size = bytes.max(1);
        self
    }

    /// Whether `update` is on.
    pub fn is_update(&self) -> bool {
        self.update
    }

    /// Whether `continue_` is on.
    pub fn is_continue(&self) -> bool {
        self.continue_
    }

    /// Whether a destination that exists needs a decision.
    pub(crate) fn decides(&self) -> bool {
        self.update || self.continue_
    }
}
