//! Transfers between the local disk and storage: single files and whole trees,
//! through the [`engine`](crate::engine) with storage as its remote side.

use std::path::Path;

use futures::{StreamExt, TryStreamExt};
use neuro_http::header;
use neuro_types::endpoints;
use neuro_types::storage::{FileStatus, FileStatusType};
use neuro_types::uri::{parent, UriInput};
use url::Url;

use crate::clock::{check_download, check_upload, Decision, TimeDiff};
use crate::engine::{
    read_range, Engine, EntryKind, FileWriter, LocalSink, LocalSource, RemoteEntry, RemoteFs,
    TransferOptions,
};
use crate::retry::{with_retries, Retries};
use crate::{Storage, StorageError};

/// Storage as the remote side of the transfer engine, sending uploads in
/// requests of `chunk_size` bytes.
#[derive(Debug, Clone)]
pub struct StorageFs {
    storage: Storage,
    chunk_size: u64,
}

impl StorageFs {
    /// Storage with uploads in requests of `chunk_size` bytes.
    pub fn new(storage: Storage, chunk_size: u64) -> Self {
        Self {
            storage,
            chunk_size: chunk_size.max(1),
        }
    }

    /// One request sending `len` bytes of `src` from `offset`: a `CREATE` at 0,
    /// a `WRITE` elsewhere. The body is streamed from the disk.
    async fn send_range(
        &self,
        dst: &Url,
        src: &LocalSource,
        offset: u64,
        len: u64,
    ) -> Result<(), StorageError> {
        let request = if offset == 0 {
            self.storage.op(&endpoints::STORAGE_CREATE, dst)?
        } else {
            let last = offset + len - 1;
            self.storage
                .op(&endpoints::STORAGE_WRITE, dst)?
                .header(header::CONTENT_RANGE, format!("bytes {offset}-{last}/*"))
        };
        let request = request.read_timeout(None);
        let whole = src
            .content
            .as_ref()
            .filter(|c| offset == 0 && c.len() as u64 == len);
        let request = if let Some(content) = whole {
            request.body_bytes(content.clone())
        } else if len == 0 {
            request.body_bytes(bytes::Bytes::new())
        } else {
            request
                .header(header::CONTENT_LENGTH, len.to_string())
                .body_stream(read_range(src, offset, len))
        };
        request.send().await?;
        Ok(())
    }
}

fn entry_of(status: &FileStatus) -> RemoteEntry {
    RemoteEntry {
        name: status.name().to_owned(),
        kind: match status.file_type {
            FileStatusType::File => EntryKind::File,
            FileStatusType::Directory => EntryKind::Directory,
            _ => EntryKind::Other,
        },
        size: status.size,
        mtime: status.modification_time as f64,
    }
}

impl RemoteFs for StorageFs {
    type Error = StorageError;

    fn child(&self, dir: &Url, name: &str) -> Url {
        let mut url = dir.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push(name);
        }
        url
    }

    async fn list(&self, dir: &Url) -> Result<Vec<RemoteEntry>, StorageError> {
        self.storage
            .list(dir)
            .map_ok(|status| entry_of(&status))
            .try_collect()
            .await
    }

    async fn make_dir(&self, dir: &Url) -> Result<(), StorageError> {
        self.storage.mkdir_url(dir, false, true).await
    }

    async fn upload(
        &self,
        src: LocalSource,
        dst: &Url,
        offset: u64,
        acked: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<(), StorageError> {
        let what = format!("Fail to upload {dst}");
        let size = src.size;
        let mut offset = offset;
        if offset == 0 {
            let len = size.min(self.chunk_size);
            with_retries(&what, || self.send_range(dst, &src, 0, len)).await?;
            offset = len;
        }
        if offset > 0 {
            loop {
                acked(offset);
                if offset >= size {
                    break;
                }
                let len = (size - offset).min(self.chunk_size);
                with_retries(&what, || self.send_range(dst, &src, offset, len)).await?;
                offset += len;
            }
        }
        Ok(())
    }

    async fn download(
        &self,
        src: &Url,
        dst: LocalSink,
        offset: u64,
        size: u64,
        received: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<(), StorageError> {
        let local = |e| StorageError::local(dst.path.to_path_buf(), e);
        let mut writer = FileWriter::new(&dst, offset);
        let mut pos = offset;
        let mut retries = Retries::default();
        // No request at all once everything is there (an empty file, say).
        while pos < size {
            retries.start_attempt();
            let failure = match self.storage.open_url(src, pos, None).await {
                Ok(mut body) => loop {
                    match body.next().await {
                        Some(Ok(chunk)) => {
                            if chunk.is_empty() {
                                continue;
                            }
                            pos += chunk.len() as u64;
                            writer.write(chunk).await.map_err(local)?;
                            retries.reset();
                            received(pos);
                        }
                        Some(Err(e)) => break Some(e),
                        // An attempt that ends cleanly ends the download, as in
                        // the SDK.
                        None => break None,
                    }
                },
                Err(e) => Some(e),
            };
            let Some(e) = failure else { break };
            if !crate::engine::RemoteError::is_retryable(&e) {
                return Err(e);
            }
            let Some(pause) = retries.pause_after_failure() else {
                return Err(e);
            };
            tracing::info!("Fail to download {src}: {e}. Retry...");
            tokio::time::sleep(pause).await;
        }
        writer.finish().await.map_err(local)
    }

    fn time_diff(&self) -> TimeDiff {
        self.storage.clock.get()
    }
}

impl Storage {
    /// The transfer engine over this storage with `options`.
    pub fn engine(&self, options: &TransferOptions) -> Engine<StorageFs> {
        Engine::new(StorageFs::new(self.clone(), options.chunk_size), options)
    }

    /// Uploads the local file `src` to `dst` (the full target path, not a
    /// directory), creating or replacing it, or skipping / resuming it as
    /// `options.update` / `options.continue_` decide.
    ///
    /// The file is streamed from the disk in requests of `options.chunk_size`
    /// bytes (a `CREATE`, then `WRITE`s at increasing offsets), so memory use
    /// does not depend on its size; transport failures of each request are
    /// retried. Progress: `start`, a `step` after each request, `complete`.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let example = neuro_local::examples::start().await?;
    /// # let config = neuro_config::ConfigFactory::new().load().await?; let storage = neuro_storage::Storage::new(config);
    /// # std::fs::write("data.bin", b"data")?;
    /// use neuro_storage::engine::TransferOptions;
    /// let options = TransferOptions::new().continue_(true);
    /// storage
    ///     .upload_file("data.bin".as_ref(), "storage:data.bin", &options)
    ///     .await?;
    /// # drop(storage); example.shutdown().await; Ok(()) }
    /// ```
    pub async fn upload_file<'a>(
        &self,
        src: &Path,
        dst: impl Into<UriInput<'a>>,
        options: &TransferOptions,
    ) -> Result<(), StorageError> {
        let dst = self.normalize(dst)?;
        let meta = tokio::fs::metadata(src)
            .await
            .map_err(|e| StorageError::local(src, e))?;
        if meta.is_dir() {
            return Err(StorageError::local(
                src,
                std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory"),
            ));
        }
        let mut offset = 0;
        if let Some(existing) = self.check_upload_target(&dst).await? {
            if options.decides() && meta.is_file() {
                match check_upload(
                    crate::engine::local_stamp(&meta),
                    crate::engine::remote_stamp(&entry_of(&existing)),
                    self.clock.get(),
                    options.update,
                    options.continue_,
                ) {
                    Decision::Skip => return Ok(()),
                    Decision::From(n) => offset = n,
                }
            }
        }
        let engine = self.engine(options);
        let source = Engine::<StorageFs>::open_source(src).await?;
        engine.upload_source(source, dst, offset).await
    }

    /// Downloads the storage file `src` to the local path `dst`, creating or
    /// truncating it, or skipping / resuming it as `options.update` /
    /// `options.continue_` decide.
    ///
    /// The body is written as it arrives. A transport failure in the middle is
    /// retried from the byte reached (a `Range` read); the retry budget restarts
    /// whenever data arrives.
    pub async fn download_file<'a>(
        &self,
        src: impl Into<UriInput<'a>>,
        dst: &Path,
        options: &TransferOptions,
    ) -> Result<(), StorageError> {
        let src = self.normalize(src)?;
        let status = self.stat_url(&src).await?;
        if !status.is_file() {
            return Err(StorageError::IsADirectory { uri: src });
        }
        let mut offset = 0;
        if options.decides() {
            if let Ok(meta) = tokio::fs::metadata(dst).await {
                if meta.is_file() {
                    match check_download(
                        crate::engine::local_stamp(&meta),
                        crate::engine::remote_stamp(&entry_of(&status)),
                        self.clock.get(),
                        options.update,
                        options.continue_,
                    ) {
                        Decision::Skip => return Ok(()),
                        Decision::From(n) => offset = n,
                    }
                }
            }
        }
        self.engine(options)
            .download_to(src, dst, status.size, offset)
            .await
    }

    /// Uploads the local directory `src` into the storage directory `dst`,
    /// recursively, several files at a time (`options.concurrency`).
    ///
    /// `options.filter` and ignore files (`options.ignore_file_names`, in the
    /// tree and in the ancestors of `src`, gitignore syntax) leave entries out.
    /// Symlinks are followed; entries that are neither files nor directories
    /// get a `fail` event and are skipped; unreadable ones too, and the result
    /// is then [`StorageError::Incomplete`] once everything else is done.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let example = neuro_local::examples::start().await?;
    /// # let config = neuro_config::ConfigFactory::new().load().await?; let storage = neuro_storage::Storage::new(config);
    /// # std::fs::create_dir_all("project/src")?; std::fs::write("project/src/main.py", b"print()")?;
    /// use neuro_storage::engine::{TransferOptions, CLI_IGNORE_FILE_NAME};
    /// let options = TransferOptions::new()
    ///     .update(true)
    ///     .ignore_file_names([CLI_IGNORE_FILE_NAME]);
    /// storage
    ///     .upload_dir("project".as_ref(), "storage:project", &options)
    ///     .await?;
    /// # drop(storage); example.shutdown().await; Ok(()) }
    /// ```
    pub async fn upload_dir<'a>(
        &self,
        src: &Path,
        dst: impl Into<UriInput<'a>>,
        options: &TransferOptions,
    ) -> Result<(), StorageError> {
        let dst = self.normalize(dst)?;
        self.engine(options).upload_dir(src, dst).await
    }

    /// Downloads the storage directory `src` into the local directory `dst`
    /// (created with its parents), recursively, several files at a time.
    /// `options.filter` leaves entries out; symlinks and other special entries
    /// get a `fail` event and are skipped.
    pub async fn download_dir<'a>(
        &self,
        src: impl Into<UriInput<'a>>,
        dst: &Path,
        options: &TransferOptions,
    ) -> Result<(), StorageError> {
        let src = self.normalize(src)?;
        self.engine(options).download_dir(src, dst).await
    }

    /// The target of an upload must not be a directory, and its parent must
    /// be. Returns the target's status when it exists.
    async fn check_upload_target(&self, dst: &Url) -> Result<Option<FileStatus>, StorageError> {
        match self.stat_url(dst).await {
            Ok(status) if status.is_dir() => {
                return Err(StorageError::IsADirectory { uri: dst.clone() })
            }
            Ok(status) => return Ok(Some(status)),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        let Some(parent) = parent(dst) else {
            return Err(StorageError::NotADirectory { uri: dst.clone() });
        };
        match self.stat_url(&parent).await {
            Ok(status) if status.is_dir() => Ok(None),
            Ok(_) => Err(StorageError::NotADirectory { uri: parent }),
            Err(e) if e.is_not_found() => Err(StorageError::NotADirectory { uri: parent }),
            Err(e) => Err(e),
        }
    }
}
