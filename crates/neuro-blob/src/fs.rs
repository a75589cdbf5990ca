//! [`BlobFs`]: a bucket as the storage transfer engine's remote file system.
//! Directories are key prefixes ending with `/` (with an empty marker object
//! when created here, as the Python SDK's `mkdir`); uploads above a threshold
//! go in parts sent concurrently; large downloads fetch ranges concurrently.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use futures::{StreamExt as _, TryStreamExt as _};
use neuro_storage::clock::TimeDiff;
use neuro_storage::engine::{
    read_range, EntryKind, FileWriter, LocalSink, LocalSource, RemoteEntry, RemoteFs,
};
use neuro_storage::with_retries;
use percent_encoding::percent_decode_str;
use url::Url;

use crate::channel::Body;
use crate::list::entries;
use crate::store::Store;
use crate::BlobError;

/// Objects up to this size are sent with one `PutObject`.
pub const MULTIPART_THRESHOLD: u64 = 64 << 20;

/// Size of each part of a multipart upload (S3 allows 10,000 parts, so larger
/// files get larger parts, in multiples of 256 KiB as GCS wants them).
pub const PART_SIZE: u64 = 16 << 20;

/// Parts (or download ranges) of one object in flight at once.
pub const PART_CONCURRENCY: usize = 4;

/// Downloads of objects larger than this fetch [`PART_SIZE`] ranges
/// concurrently.
pub const PARALLEL_DOWNLOAD_THRESHOLD: u64 = 64 << 20;

/// Most parts S3 accepts in one upload.
const MAX_PARTS: u64 = 10_000;

/// GCS upload chunks are multiples of this.
const CHUNK_GRAIN: u64 = 256 << 10;

/// A bucket seen as a file system of `blob://` URIs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct BlobFs {
    store: Store,
}

impl BlobFs {
    pub(crate) fn new(store: Store) -> Self {
        Self { store }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// The key a URI of this bucket names (percent-decoded: the URIs the
    /// engine builds encode names).
    pub(crate) fn key(&self, uri: &Url) -> Result<String, BlobError> {
        let key = self.store.bucket().key_for_uri(uri)?;
        Ok(percent_decode_str(&key).decode_utf8_lossy().into_owned())
    }

    /// Uploads `src` as `key` in parts; `acked` gets the bytes stored so far.
    async fn upload_parts(
        &self,
        src: &LocalSource,
        key: &str,
        acked: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<(), BlobError> {
        let part_size = PART_SIZE
            .max(src.size.div_ceil(MAX_PARTS))
            .next_multiple_of(CHUNK_GRAIN);
        let count = src.size.div_ceil(part_size);
        let upload = self.store.create_upload(key).await?;
        let done = Mutex::new(0u64);
        let parts = futures::stream::iter(0..count)
            .map(|index| {
                let offset = index * part_size;
                let len = part_size.min(src.size - offset);
                let upload = &upload;
                let done = &done;
                async move {
                    let number = u16::try_from(index + 1).map_err(|_| {
                        BlobError::InvalidArgument(format!("{key:?} needs too many parts"))
                    })?;
                    let what = format!("Fail to upload part {number} of {key}");
                    let tag = with_retries(&what, || {
                        self.store
                            .upload_part(key, upload, number, offset, len, || Body::Stream {
                                stream: Box::pin(read_range(src, offset, len)),
                                len,
                            })
                    })
                    .await?;
                    let mut total = done.lock().unwrap_or_else(|e| e.into_inner());
                    *total += len;
                    acked(*total);
                    Ok::<_, BlobError>(tag)
                }
            })
            .buffered(self.store.part_concurrency(PART_CONCURRENCY))
            .try_collect::<Vec<String>>()
            .await;
        let result = match parts {
            Ok(tags) => {
                let what = format!("Fail to complete the upload of {key}");
                with_retries(&what, || {
                    self.store.complete_upload(key, &upload, &tags, src.size)
                })
                .await
            }
            Err(e) => Err(e),
        };
        if result.is_err() {
            self.store.abort_upload(key, &upload).await;
        }
        result
    }

    /// Writes bytes `start..end` of `key` into `sink`, resuming after
    /// transport failures; `progress` gets the number of new bytes written.
    async fn fetch_range(
        &self,
        key: &str,
        sink: &LocalSink,
        start: u64,
        end: u64,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<(), BlobError> {
        let pos = AtomicU64::new(start);
        let what = format!("Fail to download {key}");
        with_retries(&what, || async {
            let from = pos.load(Ordering::Relaxed);
            if from >= end {
                return Ok(());
            }
            let response = self.store.get(key, from, Some(end - from)).await?;
            let mut body = response.bytes_stream();
            let mut writer = FileWriter::new(sink, from);
            let outcome = async {
                while let Some(chunk) = body.next().await {
                    let chunk = chunk?;
                    let n = chunk.len() as u64;
                    writer
                        .write(chunk)
                        .await
                        .map_err(|e| BlobError::local(&sink.path, e))?;
                    pos.fetch_add(n, Ordering::Relaxed);
                    progress(n);
                }
                Ok::<_, BlobError>(())
            }
            .await;
            let flushed = writer
                .finish()
                .await
                .map_err(|e| BlobError::local(&sink.path, e));
            outcome?;
            flushed?;
            let got = pos.load(Ordering::Relaxed);
            if got < end {
                return Err(BlobError::Decode {
                    operation: "download",
                    message: format!("{key:?} ended at byte {got} of {end}"),
                });
            }
            Ok(())
        })
        .await
    }
}

impl RemoteFs for BlobFs {
    type Error = BlobError;

    fn child(&self, dir: &Url, name: &str) -> Url {
        let mut url = dir.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty().push(name);
        }
        url
    }

    async fn list(&self, dir: &Url) -> Result<Vec<RemoteEntry>, BlobError> {
        let prefix = dir_key(&self.key(dir)?);
        let mut listing = entries(self.store.clone(), prefix.clone(), false, None);
        let mut out = Vec::new();
        let mut any = false;
        while let Some(entry) = listing.try_next().await? {
            any = true;
            let Some(rest) = entry.key.strip_prefix(prefix.as_str()) else {
                continue;
            };
            let name = rest.trim_end_matches('/');
            if name.is_empty() || name.contains('/') {
                continue;
            }
            out.push(RemoteEntry {
                name: name.to_owned(),
                kind: if entry.is_dir() {
                    EntryKind::Directory
                } else {
                    EntryKind::File
                },
                size: entry.size,
                mtime: entry
                    .modified_at
                    .map_or(0.0, |t| t.unix_timestamp_nanos() as f64 / 1e9),
            });
        }
        if !any && !prefix.is_empty() {
            return Err(BlobError::NotFound {
                bucket: self.store.bucket().id.clone(),
                key: prefix,
            });
        }
        Ok(out)
    }

    async fn make_dir(&self, dir: &Url) -> Result<(), BlobError> {
        let key = dir_key(&self.key(dir)?);
        if key.is_empty() {
            return Ok(());
        }
        self.store
            .put(&key, || Body::Bytes(bytes::Bytes::new()))
            .await
    }

    async fn upload(
        &self,
        src: LocalSource,
        dst: &Url,
        offset: u64,
        acked: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<(), BlobError> {
        if offset != 0 {
            return Err(BlobError::InvalidArgument(
                "Continuation is not supported when copying from Local to Bucket".into(),
            ));
        }
        let key = self.key(dst)?;
        if src.size > MULTIPART_THRESHOLD {
            return self.upload_parts(&src, &key, acked).await;
        }
        let what = format!("Fail to upload {key}");
        with_retries(&what, || {
            self.store.put(&key, || match &src.content {
                Some(content) => Body::Bytes(content.clone()),
                None => Body::Stream {
                    stream: Box::pin(read_range(&src, 0, src.size)),
                    len: src.size,
                },
            })
        })
        .await?;
        acked(src.size);
        Ok(())
    }

    async fn download(
        &self,
        src: &Url,
        dst: LocalSink,
        offset: u64,
        size: u64,
        received: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<(), BlobError> {
        let key = self.key(src)?;
        let done = Mutex::new(offset);
        let progress = |n: u64| {
            let mut total = done.lock().unwrap_or_else(|e| e.into_inner());
            *total += n;
            received(*total);
        };
        if size.saturating_sub(offset) <= PARALLEL_DOWNLOAD_THRESHOLD {
            return self
                .fetch_range(&key, &dst, offset, size.max(offset), &progress)
                .await;
        }
        let ranges: Vec<(u64, u64)> = (offset..size)
            .step_by(usize::try_from(PART_SIZE).unwrap_or(usize::MAX))
            .map(|start| (start, (start + PART_SIZE).min(size)))
            .collect();
        futures::stream::iter(ranges)
            .map(|(start, end)| self.fetch_range(&key, &dst, start, end, &progress))
            .buffer_unordered(PART_CONCURRENCY)
            .try_collect::<()>()
            .await
    }

    fn time_diff(&self) -> TimeDiff {
        self.store.time_diff()
    }
}

/// The key of a directory: the file key with a `/` (the root is `""`).
pub(crate) fn dir_key(key: &str) -> String {
    if key.is_empty() || key.ends_with('/') {
        key.to_owned()
    } else {
        format!("{key}/")
    }
}
