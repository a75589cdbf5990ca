//! The recursive transfer engine: walks a local tree and a remote one, filters
//! entries (caller predicate and ignore files), decides per file (`update`,
//! `continue_`, clock skew), runs file transfers concurrently under a bounded
//! limit, retries idempotent steps and reports progress in the SDK's order.
//!
//! It knows nothing of HTTP: the remote side is any [`RemoteFs`] (storage in
//! this crate; blob buckets can plug in the same way).

mod download;
mod filter;
mod local_io;
mod options;
mod remote;
mod upload;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use futures::stream::FuturesUnordered;
use futures::TryStreamExt;
use tokio::sync::Semaphore;
use url::Url;

pub use filter::{Filter, Rules};
pub use local_io::{read_range, FileWriter, IN_PLACE_BYTES, IO_CHUNK};
pub use options::{TransferOptions, CLI_IGNORE_FILE_NAME, DEFAULT_CHUNK_SIZE, DEFAULT_CONCURRENCY};
pub use remote::{EntryKind, LocalSink, LocalSource, RemoteEntry, RemoteError, RemoteFs};
pub(crate) use upload::{local_stamp, remote_stamp};

use crate::progress::{ProgressEvent, Reporter, StorageProgressFail};

/// One transfer in progress: the remote side, the options, the shared limit
/// of files in flight and the entries that failed so far.
#[derive(Clone)]
pub struct Engine<R: RemoteFs> {
    remote: R,
    options: Arc<TransferOptions>,
    reporter: Reporter,
    files: Arc<Semaphore>,
    failed: Arc<Mutex<Vec<String>>>,
}

impl<R: RemoteFs> Engine<R> {
    /// An engine transferring to or from `remote` with `options`.
    pub fn new(remote: R, options: &TransferOptions) -> Self {
        Self {
            remote,
            reporter: Reporter::new(options.progress.clone()),
            files: Arc::new(Semaphore::new(options.concurrency)),
            options: Arc::new(options.clone()),
            failed: Arc::default(),
        }
    }

    /// The remote side.
    pub fn remote(&self) -> &R {
        &self.remote
    }

    /// Where events go.
    pub fn reporter(&self) -> &Reporter {
        &self.reporter
    }

    /// Reports an entry that is not transferred, and remembers it when it is
    /// an error (rather than an entry of a kind that is never transferred).
    fn fail(&self, src: Url, dst: Url, message: String, is_error: bool) {
        tracing::warn!("{message}");
        if is_error {
            self.failed
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(message.clone());
        }
        self.reporter.emit(ProgressEvent::Fail(StorageProgressFail {
            src,
            dst,
            message,
        }));
    }

    /// The end of a directory transfer: an error naming the entries that were
    /// not transferred, if any.
    fn outcome(&self) -> Result<(), R::Error> {
        let failed = std::mem::take(&mut *self.failed.lock().unwrap_or_else(|e| e.into_inner()));
        if failed.is_empty() {
            Ok(())
        } else {
            Err(R::Error::incomplete(failed))
        }
    }
}

/// Runs `tasks` concurrently; the first error cancels the others.
async fn run_all<E>(
    tasks: Vec<futures::future::BoxFuture<'static, Result<(), E>>>,
) -> Result<(), E> {
    let mut running: FuturesUnordered<_> = tasks.into_iter().collect();
    while running.try_next().await?.is_some() {}
    Ok(())
}

/// The `file://` URL of a local path (made absolute against the current
/// directory when relative).
pub fn file_url(path: &Path) -> std::io::Result<Url> {
    let absolute: PathBuf = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()?.join(path)
    };
    Url::from_file_path(&absolute).map_err(|()| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!("{} cannot be a file URL", absolute.display()),
        )
    })
}
