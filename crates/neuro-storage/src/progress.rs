//! Progress reporting of transfers and removals, matching the Python SDK's
//! `AbstractFileProgress`, `AbstractRecursiveFileProgress` and
//! `AbstractDeleteProgress` and their event types.
//!
//! Callbacks are plain synchronous methods with empty default bodies, so an
//! implementation overrides only what it needs. The SDK never calls them
//! concurrently: events of files transferred at the same time are delivered one
//! after another, in the order they happened.
//!
//! Order of events, as in the Python SDK:
//! - one file: `start`, then `step`* (bytes already acknowledged, after each
//!   chunk), then `complete`; an empty file gives `start`, `complete`;
//! - a directory: `enter` before any event of what it contains, `leave` after
//!   all of them; `fail` for an entry that cannot be transferred (not a regular
//!   file or directory, unreadable) while the rest goes on.
//!
//! Local paths are `file://` URLs; remote ones are full `storage://cluster/...`
//! (or `blob://...`) URLs.

use std::sync::{Arc, Mutex};

use url::Url;

/// A file transfer starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageProgressStart {
    /// Source of the transfer.
    pub src: Url,
    /// Destination of the transfer.
    pub dst: Url,
    /// Size of the file in bytes.
    pub size: u64,
}

/// Part of a file has been transferred.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageProgressStep {
    /// Source of the transfer.
    pub src: Url,
    /// Destination of the transfer.
    pub dst: Url,
    /// Bytes transferred so far (including any resumed prefix).
    pub current: u64,
    /// Size of the file in bytes.
    pub size: u64,
}

/// A file transfer has finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageProgressComplete {
    /// Source of the transfer.
    pub src: Url,
    /// Destination of the transfer.
    pub dst: Url,
    /// Size of the file in bytes.
    pub size: u64,
}

/// A directory transfer starts (the destination directory exists by now).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageProgressEnterDir {
    /// Source directory.
    pub src: Url,
    /// Destination directory.
    pub dst: Url,
}

/// A directory transfer has finished, with everything inside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageProgressLeaveDir {
    /// Source directory.
    pub src: Url,
    /// Destination directory.
    pub dst: Url,
}

/// An entry of a directory could not be transferred; the rest goes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageProgressFail {
    /// Source entry.
    pub src: Url,
    /// Where it would have gone.
    pub dst: Url,
    /// Why it was not transferred.
    pub message: String,
}

/// An entry was removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageProgressDelete {
    /// The removed entry.
    pub uri: Url,
    /// Whether it was a directory.
    pub is_dir: bool,
}

/// Progress of single-file transfers (`AbstractFileProgress`).
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use neuro_storage::progress::{FileProgress, StorageProgressStep};
///
/// #[derive(Default)]
/// struct Bytes(AtomicU64);
///
/// impl FileProgress for Bytes {
///     fn step(&self, event: &StorageProgressStep) {
///         self.0.store(event.current, Ordering::Relaxed);
///     }
/// }
/// ```
pub trait FileProgress: Send + Sync {
    /// A file transfer starts.
    fn start(&self, _event: &StorageProgressStart) {}
    /// Part of a file has been transferred.
    fn step(&self, _event: &StorageProgressStep) {}
    /// A file transfer has finished.
    fn complete(&self, _event: &StorageProgressComplete) {}
}

/// Progress of directory transfers (`AbstractRecursiveFileProgress`).
pub trait RecursiveFileProgress: FileProgress {
    /// A directory transfer starts.
    fn enter(&self, _event: &StorageProgressEnterDir) {}
    /// A directory transfer has finished.
    fn leave(&self, _event: &StorageProgressLeaveDir) {}
    /// An entry could not be transferred.
    fn fail(&self, _event: &StorageProgressFail) {}
}

impl std::fmt::Debug for dyn RecursiveFileProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecursiveFileProgress")
    }
}

/// Progress of removals (`AbstractDeleteProgress`).
pub trait DeleteProgress: Send + Sync {
    /// An entry was removed.
    fn delete(&self, event: &StorageProgressDelete);
}

/// Any file progress works where recursive progress is wanted: directory
/// events are then dropped.
struct FileOnly(Arc<dyn FileProgress>);

impl FileProgress for FileOnly {
    fn start(&self, event: &StorageProgressStart) {
        self.0.start(event);
    }
    fn step(&self, event: &StorageProgressStep) {
        self.0.step(event);
    }
    fn complete(&self, event: &StorageProgressComplete) {
        self.0.complete(event);
    }
}

impl RecursiveFileProgress for FileOnly {}

/// One event of any kind, as [`Reporter`] forwards it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgressEvent {
    /// See [`StorageProgressStart`].
    Start(StorageProgressStart),
    /// See [`StorageProgressStep`].
    Step(StorageProgressStep),
    /// See [`StorageProgressComplete`].
    Complete(StorageProgressComplete),
    /// See [`StorageProgressEnterDir`].
    Enter(StorageProgressEnterDir),
    /// See [`StorageProgressLeaveDir`].
    Leave(StorageProgressLeaveDir),
    /// See [`StorageProgressFail`].
    Fail(StorageProgressFail),
}

/// Delivers events to an optional user callback, one at a time, whatever the
/// number of tasks reporting. Cheap to clone; used by the transfer engine and
/// by remote file systems that plug into it.
#[derive(Clone, Default)]
pub struct Reporter {
    sink: Option<Arc<Sink>>,
}

/// The callback and the lock that keeps its calls one at a time.
struct Sink {
    lock: Mutex<()>,
    progress: Arc<dyn RecursiveFileProgress>,
}

impl std::fmt::Debug for Reporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporter")
            .field("active", &self.sink.is_some())
            .finish()
    }
}

impl Reporter {
    /// Reports to `progress`, or nowhere.
    pub fn new(progress: Option<Arc<dyn RecursiveFileProgress>>) -> Self {
        Self {
            sink: progress.map(|progress| {
                Arc::new(Sink {
                    lock: Mutex::new(()),
                    progress,
                })
            }),
        }
    }

    /// Reports file events to `progress`, or nowhere.
    pub fn for_file(progress: Option<Arc<dyn FileProgress>>) -> Self {
        Self::new(progress.map(|p| Arc::new(FileOnly(p)) as Arc<dyn RecursiveFileProgress>))
    }

    /// Whether anyone listens.
    pub fn is_active(&self) -> bool {
        self.sink.is_some()
    }

    /// Reports the start of one file's transfer of `size` bytes from `src` to
    /// `dst`; the returned [`FileReport`] reports its steps and completion.
    pub fn start_file(&self, src: Url, dst: Url, size: u64) -> FileReport {
        self.emit(ProgressEvent::Start(StorageProgressStart {
            src: src.clone(),
            dst: dst.clone(),
            size,
        }));
        FileReport {
            reporter: self.clone(),
            src,
            dst,
            size,
        }
    }

    /// Delivers one event.
    pub fn emit(&self, event: ProgressEvent) {
        let Some(sink) = &self.sink else { return };
        // A callback that panicked earlier leaves the lock poisoned; the lock
        // only serialises calls, so its state is still fine.
        let _guard = sink.lock.lock().unwrap_or_else(|e| e.into_inner());
        let progress = &sink.progress;
        match &event {
            ProgressEvent::Start(e) => progress.start(e),
            ProgressEvent::Step(e) => progress.step(e),
            ProgressEvent::Complete(e) => progress.complete(e),
            ProgressEvent::Enter(e) => progress.enter(e),
            ProgressEvent::Leave(e) => progress.leave(e),
            ProgressEvent::Fail(e) => progress.fail(e),
        }
    }
}

/// The events of one file in transfer: made by [`Reporter::start_file`], which
/// reported its start.
#[derive(Debug)]
pub struct FileReport {
    reporter: Reporter,
    src: Url,
    dst: Url,
    size: u64,
}

impl FileReport {
    /// Reports that `current` bytes of the file have been transferred.
    pub fn step(&self, current: u64) {
        self.reporter.emit(ProgressEvent::Step(StorageProgressStep {
            src: self.src.clone(),
            dst: self.dst.clone(),
            current,
            size: self.size,
        }));
    }

    /// Reports that the whole file has been transferred.
    pub fn complete(self) {
        self.reporter
            .emit(ProgressEvent::Complete(StorageProgressComplete {
                src: self.src,
                dst: self.dst,
                size: self.size,
            }));
    }
}
