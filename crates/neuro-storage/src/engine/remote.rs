//! The remote side of a transfer, as the engine sees it.

use std::future::Future;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use url::Url;

use crate::clock::TimeDiff;

/// What a remote entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// Anything else (symlink, unknown): never transferred.
    Other,
}

/// One entry of a remote listing.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteEntry {
    /// Name inside its directory.
    pub name: String,
    /// Kind of entry.
    pub kind: EntryKind,
    /// Size in bytes (files).
    pub size: u64,
    /// Modification time, seconds since the epoch.
    pub mtime: f64,
}

/// An open local file being uploaded: read with positional reads, so retries
/// and concurrent readers need no shared cursor.
#[derive(Debug, Clone)]
pub struct LocalSource {
    /// Where it is (for error messages).
    pub path: Arc<Path>,
    /// The open file.
    pub file: Arc<std::fs::File>,
    /// Its size when opened.
    pub size: u64,
    /// The whole content, when the file is small enough to be read at once
    /// (saves a disk round trip per small file).
    pub content: Option<bytes::Bytes>,
}

/// A local file being downloaded into, written with positional writes
/// through a [`FileWriter`](super::FileWriter).
///
/// It is opened (created if missing, truncated for a download from byte 0)
/// by the writer, on the blocking thread that writes it: a small file costs
/// one trip to a blocking thread, not two. Clones share the one opened file.
#[derive(Debug, Clone)]
pub struct LocalSink {
    /// Where it is (for error messages).
    pub path: Arc<Path>,
    truncate: bool,
    opened: Arc<OnceLock<Result<Arc<std::fs::File>, OpenFailure>>>,
}

/// Why a [`LocalSink`] could not be opened (kept to answer every later write
/// the same way).
#[derive(Debug, Clone)]
struct OpenFailure {
    kind: std::io::ErrorKind,
    raw: Option<i32>,
    message: String,
}

impl LocalSink {
    /// The sink for the file at `path`, to be opened on first use: truncated
    /// when `truncate` (a download from byte 0), kept as it is otherwise.
    pub fn new(path: &Path, truncate: bool) -> Self {
        Self {
            path: Arc::from(path),
            truncate,
            opened: Arc::default(),
        }
    }

    /// The open file, opening it on the first call (blocking).
    pub(crate) fn open_blocking(&self) -> std::io::Result<Arc<std::fs::File>> {
        let opened = self.opened.get_or_init(|| {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(self.truncate)
                .open(&self.path)
                .map(Arc::new)
                .map_err(|e| OpenFailure {
                    kind: e.kind(),
                    raw: e.raw_os_error(),
                    message: e.to_string(),
                })
        });
        match opened {
            Ok(file) => Ok(Arc::clone(file)),
            Err(failure) => Err(match failure.raw {
                Some(code) => std::io::Error::from_raw_os_error(code),
                None => std::io::Error::new(failure.kind, failure.message.clone()),
            }),
        }
    }

    /// Why the file could not be opened, if that is what happened.
    pub fn open_error(&self) -> Option<String> {
        match self.opened.get() {
            Some(Err(failure)) => Some(failure.message.clone()),
            _ => None,
        }
    }
}

/// Errors of a remote file system, with what the engine needs to know about
/// them and how it reports its own failures.
pub trait RemoteError: std::error::Error + Send + Sync + Sized + 'static {
    /// The entry does not exist.
    fn is_not_found(&self) -> bool;
    /// A transport failure worth another attempt (never an error status).
    fn is_retryable(&self) -> bool;
    /// Creating a directory failed because a file is in the way.
    fn is_already_exists(&self) -> bool;
    /// A local file or directory could not be used.
    fn local(path: &Path, source: std::io::Error) -> Self;
    /// The destination `uri` exists and is not a directory.
    fn not_a_directory(uri: &Url) -> Self;
    /// A directory transfer finished, but these entries (described by the
    /// `fail` events already emitted) were not transferred.
    fn incomplete(failed: Vec<String>) -> Self;
}

/// A remote file system the transfer engine can walk, fill and read: storage
/// here, blob buckets elsewhere. One attempt per call: the engine retries the
/// idempotent ones ([`RemoteFs::list`], [`RemoteFs::make_dir`]); file transfers
/// retry their own steps (they know where they are) and report progress
/// through the callbacks they are given.
pub trait RemoteFs: Clone + Send + Sync + 'static {
    /// Errors of this file system.
    type Error: RemoteError;

    /// The URI of `name` inside the directory `dir`.
    fn child(&self, dir: &Url, name: &str) -> Url;

    /// The entries of the directory `dir` (not found when it is missing).
    fn list(&self, dir: &Url)
        -> impl Future<Output = Result<Vec<RemoteEntry>, Self::Error>> + Send;

    /// Creates `dir` with its parents; an existing directory is fine, an
    /// existing file is an error for which `is_already_exists` holds.
    fn make_dir(&self, dir: &Url) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Uploads `src` to `dst` from byte `offset` (0 = create or replace the
    /// file). Calls `acked` with the bytes stored so far after each acknowledged
    /// step, as the SDK's `step` events report.
    fn upload(
        &self,
        src: LocalSource,
        dst: &Url,
        offset: u64,
        acked: &(dyn Fn(u64) + Send + Sync),
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// Downloads `src` (of `size` bytes) into `dst` from byte `offset`. Calls
    /// `received` with the bytes written so far after each chunk.
    fn download(
        &self,
        src: &Url,
        dst: LocalSink,
        offset: u64,
        size: u64,
        received: &(dyn Fn(u64) + Send + Sync),
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;

    /// The last measured clock difference with the server (for `update`).
    fn time_diff(&self) -> TimeDiff;
}
