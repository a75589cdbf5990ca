//! Blob operations of [`Buckets`]: listing, glob, single objects, transfers
//! through the storage engine, removal and signed URLs.
//!
//! Keys named by `blob:` URIs are percent-decoded (`blob:b/a%20b` is the key
//! `a b`), so a URI built from a key names that key.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures::stream::{self, BoxStream};
use futures::{Stream, StreamExt as _, TryStreamExt as _};
use neuro_storage::clock::{check_download, check_upload, Decision, Stamp};
use neuro_storage::engine::{Engine, TransferOptions};
use neuro_storage::progress::{DeleteProgress, StorageProgressDelete};
use percent_encoding::percent_decode_str;
use url::Url;

use crate::channel::Body;
use crate::entry::BucketEntry;
use crate::fs::{dir_key, BlobFs};
use crate::store::Store;
use crate::{BlobError, BucketLookup, Buckets};

/// Removals of one `blob_rm` in flight at once.
const RM_CONCURRENCY: usize = 16;

fn decode(key: &str) -> String {
    percent_decode_str(key).decode_utf8_lossy().into_owned()
}

fn stamp(meta: &std::fs::Metadata) -> Stamp {
    Stamp {
        size: meta.len(),
        mtime: meta.mtime() as f64 + f64::from(meta.mtime_nsec() as u32) / 1e9,
    }
}

fn entry_stamp(entry: &BucketEntry) -> Stamp {
    Stamp {
        size: entry.size,
        mtime: entry
            .modified_at
            .map_or(0.0, |t| t.unix_timestamp_nanos() as f64 / 1e9),
    }
}

impl Buckets {
    /// The entries under the blob `uri`, its key used as a prefix: `blob:b/dir/`
    /// lists the folder, `blob:b/dir` also matches `dir.txt`. Non-recursive
    /// listings give folders as common prefixes. At most `limit` entries.
    pub fn list_blobs(
        &self,
        uri: &Url,
        recursive: bool,
        limit: Option<usize>,
    ) -> impl Stream<Item = Result<BucketEntry, BlobError>> + Send + 'static {
        let this = self.clone();
        let uri = uri.clone();
        stream::once(async move {
            let (store, key) = this.open_uri(&uri).await?;
            Ok::<_, BlobError>(crate::list::entries(store, decode(&key), recursive, limit))
        })
        .try_flatten()
        .boxed()
    }

    /// The entries whose keys match the pattern of `uri` (`*`, `?`, `[...]`
    /// within a component, `**` across components). The pattern is the URI's
    /// percent-decoded path, so `?` is written `%3F` in a URL.
    pub fn glob_blobs(
        &self,
        uri: &Url,
    ) -> impl Stream<Item = Result<BucketEntry, BlobError>> + Send + 'static {
        let this = self.clone();
        let uri = uri.clone();
        stream::once(async move {
            let (store, key) = this.open_uri(&uri).await?;
            Ok::<_, BlobError>(crate::glob::glob(store, String::new(), decode(&key)))
        })
        .try_flatten()
        .boxed()
    }

    /// Size and modification time of one object.
    pub async fn head_blob(
        &self,
        bucket_id_or_name: &str,
        key: &str,
        lookup: &BucketLookup,
    ) -> Result<BucketEntry, BlobError> {
        self.open_exact(bucket_id_or_name, lookup)
            .await?
            .head(key)
            .await
    }

    /// Stores `body` as the object `key` (replacing it).
    pub async fn put_blob(
        &self,
        bucket_id_or_name: &str,
        key: &str,
        body: Bytes,
        lookup: &BucketLookup,
    ) -> Result<(), BlobError> {
        let store = self.open_exact(bucket_id_or_name, lookup).await?;
        store.put(key, || Body::Bytes(body.clone())).await
    }

    /// Stores a stream as the object `key`: with one request when it is
    /// shorter than [`PART_SIZE`](crate::PART_SIZE), else as a multipart
    /// upload of parts of that size (one part in memory at a time).
    pub async fn put_blob_stream<S>(
        &self,
        bucket_id_or_name: &str,
        key: &str,
        body: S,
        lookup: &BucketLookup,
    ) -> Result<(), BlobError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let store = self.open_exact(bucket_id_or_name, lookup).await?;
        crate::stream_put::put_stream(&store, key, Box::pin(body)).await
    }

    /// The content of `key` from byte `offset`, as it arrives.
    pub fn fetch_blob(
        &self,
        bucket_id_or_name: &str,
        key: &str,
        offset: u64,
        lookup: &BucketLookup,
    ) -> impl Stream<Item = Result<Bytes, BlobError>> + Send + 'static {
        let this = self.clone();
        let (bucket, key, lookup) = (bucket_id_or_name.to_owned(), key.to_owned(), lookup.clone());
        stream::once(async move {
            let store = this.open_exact(&bucket, &lookup).await?;
            let response = store.get(&key, offset, None).await?;
            Ok::<_, BlobError>(response.bytes_stream().map_err(BlobError::from))
        })
        .try_flatten()
        .boxed()
    }

    /// Removes the object `key` (no error when it does not exist, as S3
    /// answers; the same on every provider).
    pub async fn delete_blob(
        &self,
        bucket_id_or_name: &str,
        key: &str,
        lookup: &BucketLookup,
    ) -> Result<(), BlobError> {
        self.open_exact(bucket_id_or_name, lookup)
            .await?
            .delete(key)
            .await
    }

    /// Whether `uri` is a folder: it ends with `/`, or something is stored
    /// under it.
    pub async fn blob_is_dir(&self, uri: &Url) -> Result<bool, BlobError> {
        let uri = self.normalize(uri)?;
        if uri.path().ends_with('/') {
            return Ok(true);
        }
        let (store, key) = self.open_uri(&uri).await?;
        is_dir(&store, &decode(&key)).await
    }

    /// Removes the object `uri`, or with `recursive` the folder `uri` and
    /// everything under it; `progress` hears of every entry removed.
    pub async fn blob_rm(
        &self,
        uri: &Url,
        recursive: bool,
        progress: Option<Arc<dyn DeleteProgress>>,
    ) -> Result<(), BlobError> {
        let (store, key) = self.open_uri(uri).await?;
        let key = decode(&key);
        let report = |key: &str, is_dir: bool| -> Result<(), BlobError> {
            if let Some(progress) = &progress {
                let uri = store.bucket().entry_uri(key)?;
                progress.delete(&StorageProgressDelete { uri, is_dir });
            }
            Ok(())
        };
        let is_file = !key.is_empty() && !key.ends_with('/') && store.head(&key).await.is_ok();
        if is_file {
            store.delete(&key).await?;
            return report(&key, false);
        }
        if !is_dir(&store, &key).await? {
            return Err(BlobError::NotFound {
                bucket: store.bucket().id.clone(),
                key,
            });
        }
        if !recursive {
            return Err(BlobError::IsADirectory {
                uri: uri.to_string(),
            });
        }
        let prefix = dir_key(&key);
        let all: Vec<BucketEntry> = crate::list::entries(store.clone(), prefix.clone(), true, None)
            .try_collect()
            .await?;
        let mut dirs: BTreeSet<String> = BTreeSet::new();
        if !prefix.is_empty() {
            dirs.insert(prefix.clone());
        }
        let mut files = Vec::new();
        for entry in all {
            let mut parent = entry.key.as_str();
            while let Some(i) = parent.trim_end_matches('/').rfind('/') {
                parent = &parent[..=i];
                if parent.len() < prefix.len() {
                    break;
                }
                dirs.insert(parent.to_owned());
            }
            if entry.is_dir() {
                dirs.insert(entry.key);
            } else {
                files.push(entry.key);
            }
        }
        let store_ref = &store;
        let report_ref = &report;
        stream::iter(files)
            .map(|key| async move {
                store_ref.delete(&key).await?;
                report_ref(&key, false)
            })
            .buffer_unordered(RM_CONCURRENCY)
            .try_collect::<()>()
            .await?;
        // Deepest folders first; a folder without a marker object is only a
        // prefix, and deleting a missing key succeeds.
        let mut dirs: Vec<String> = dirs.into_iter().collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.matches('/').count()));
        for dir in dirs {
            store.delete(&dir).await?;
            report(&dir, true)?;
        }
        Ok(())
    }

    /// Uploads the local file `src` as the blob `dst`; with `options.update`
    /// only when the local file is newer. `continue_` is refused (an object
    /// cannot be appended to).
    pub async fn upload_file(
        &self,
        src: &Path,
        dst: &Url,
        options: &TransferOptions,
    ) -> Result<(), BlobError> {
        refuse_continue(options)?;
        let meta = tokio::fs::metadata(src)
            .await
            .map_err(|e| BlobError::local(src, e))?;
        if meta.is_dir() {
            return Err(BlobError::local(
                src,
                std::io::Error::new(std::io::ErrorKind::IsADirectory, "is a directory"),
            ));
        }
        let (fs, dst) = self.open_fs(dst).await?;
        let key = fs.key(&dst)?;
        if key.is_empty() || key.ends_with('/') || is_dir(fs.store(), &key).await? {
            return Err(BlobError::IsADirectory {
                uri: dst.to_string(),
            });
        }
        if options.is_update() {
            if let Ok(existing) = fs.store().head(&key).await {
                let diff = neuro_storage::engine::RemoteFs::time_diff(&fs);
                if check_upload(stamp(&meta), entry_stamp(&existing), diff, true, false)
                    == Decision::Skip
                {
                    return Ok(());
                }
            }
        }
        let engine = Engine::new(fs, options);
        let source = Engine::<BlobFs>::open_source(src).await?;
        engine.upload_source(source, dst, 0).await
    }

    /// Downloads the blob `src` to the local file `dst`, creating or
    /// truncating it, or skipping / resuming it as `options.update` /
    /// `options.continue_` decide.
    pub async fn download_file(
        &self,
        src: &Url,
        dst: &Path,
        options: &TransferOptions,
    ) -> Result<(), BlobError> {
        let (fs, src) = self.open_fs(src).await?;
        let key = fs.key(&src)?;
        let entry = fs.store().head(&key).await?;
        let mut offset = 0;
        if options.is_update() || options.is_continue() {
            if let Ok(meta) = tokio::fs::metadata(dst).await {
                if meta.is_file() {
                    let diff = neuro_storage::engine::RemoteFs::time_diff(&fs);
                    match check_download(
                        stamp(&meta),
                        entry_stamp(&entry),
                        diff,
                        options.is_update(),
                        options.is_continue(),
                    ) {
                        Decision::Skip => return Ok(()),
                        Decision::From(n) => offset = n,
                    }
                }
            }
        }
        Engine::new(fs, options)
            .download_to(src, dst, entry.size, offset)
            .await
    }

    /// Uploads the local directory `src` into the blob folder `dst`,
    /// recursively, several files at a time, with the options' filter,
    /// ignore files, `update` and progress (the storage transfer engine).
    pub async fn upload_dir(
        &self,
        src: &Path,
        dst: &Url,
        options: &TransferOptions,
    ) -> Result<(), BlobError> {
        refuse_continue(options)?;
        let (fs, dst) = self.open_fs(dst).await?;
        Engine::new(fs, options).upload_dir(src, dst).await
    }

    /// Downloads the blob folder `src` into the local directory `dst`,
    /// recursively, several files at a time.
    pub async fn download_dir(
        &self,
        src: &Url,
        dst: &Path,
        options: &TransferOptions,
    ) -> Result<(), BlobError> {
        let (fs, src) = self.open_fs(src).await?;
        Engine::new(fs, options).download_dir(src, dst).await
    }

    /// The bucket of `uri` as a transfer engine file system, and `uri`
    /// normalised (without a trailing `/`).
    async fn open_fs(&self, uri: &Url) -> Result<(BlobFs, Url), BlobError> {
        let uri = self.normalize(uri)?;
        let bucket = self.bucket_for_uri(&uri).await?;
        let store = self.open(bucket).await?;
        let mut uri = uri;
        if uri.path().len() > 1 && uri.path().ends_with('/') {
            let path = uri.path().trim_end_matches('/').to_owned();
            uri.set_path(&path);
        }
        Ok((BlobFs::new(store), uri))
    }
}

/// Whether anything is stored under the folder `key`.
async fn is_dir(store: &Store, key: &str) -> Result<bool, BlobError> {
    let prefix = dir_key(key);
    if prefix.is_empty() {
        return Ok(true);
    }
    let mut first: BoxStream<'static, _> =
        crate::list::entries(store.clone(), prefix, false, Some(1));
    Ok(first.try_next().await?.is_some())
}

fn refuse_continue(options: &TransferOptions) -> Result<(), BlobError> {
    if options.is_continue() {
        return Err(BlobError::InvalidArgument(
            "Continuation is not supported when copying from Local to Bucket".into(),
        ));
    }
    Ok(())
}
