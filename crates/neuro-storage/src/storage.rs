//! [`Storage`]: the remote file system of the platform.

use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use neuro_config::Config;
use neuro_http::{header, RequestBuilder, StatusCode};
use neuro_types::endpoints::{self, query, Endpoint};
use neuro_types::storage::{DiskUsageInfo, FileStatus, StorageDeleteEvent};
use neuro_types::uri::{normalize_uri, parent, storage_path, Scheme, UriInput};
use neuro_types::wire::{
    DeleteEventPayload, DiskUsagePayload, FileStatusEnvelope, FileStatusesEnvelope,
};
use percent_encoding::{percent_decode_str, percent_encode, AsciiSet, NON_ALPHANUMERIC};
use url::Url;

use std::time::SystemTime;

use crate::clock::Clock;
use crate::progress::{DeleteProgress, StorageProgressDelete};
use crate::range::{check_content_range, range_header};
use crate::StorageError;

const NDJSON: &str = "application/x-ndjson";

/// Bytes that yarl's `URL / name` escapes in a path segment: all but the
/// unreserved characters, the sub-delimiters, `:` and `@`.
const YARL_PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@');

/// The Storage API of one logged-in client. Cheap to clone.
///
/// URIs may be given short (`storage:data/file`, completed with the current user,
/// cluster and org) or long (`storage://cluster/user/data/file`), as text or as a
/// parsed [`Url`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let example = neuro_local::examples::start().await?;
/// # let config = neuro_config::ConfigFactory::new().load().await?;
/// use futures::TryStreamExt;
/// use neuro_storage::Storage;
///
/// let storage = Storage::new(config);
/// storage.mkdir("storage:data", true, true).await?;
/// let names: Vec<String> = storage
///     .list("storage:data")
///     .map_ok(|status| status.name().to_owned())
///     .try_collect()
///     .await?;
/// println!("{names:?}");
/// # drop(storage); example.shutdown().await; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Storage {
    config: Config,
    pub(crate) clock: Clock,
}

impl Storage {
    /// The Storage API for `config`'s user.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            clock: Clock::default(),
        }
    }

    /// The configuration this API uses.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Completes a storage URI with the current user, cluster and org.
    pub fn normalize<'a>(&self, uri: impl Into<UriInput<'a>>) -> Result<Url, StorageError> {
        Ok(normalize_uri(
            uri,
            &[Scheme::Storage],
            &self.config.uri_context(),
        )?)
    }

    /// Lists a directory, entry by entry as the server sends them.
    ///
    /// Nothing is sent until the stream is first polled; dropping it cancels the
    /// request. A missing directory fails with a not-found error.
    pub fn list<'a>(
        &self,
        uri: impl Into<UriInput<'a>>,
    ) -> impl Stream<Item = Result<FileStatus, StorageError>> + Send + 'static {
        let this = self.clone();
        let uri = self.normalize(uri);
        futures::stream::once(async move {
            let uri = uri?;
            let sent = SystemTime::now();
            let response = this
                .op(&endpoints::STORAGE_LIST, &uri)?
                .header(header::ACCEPT, NDJSON)
                .send()
                .await?;
            this.clock.observe(sent, response.header_str(header::DATE));
            let entries = response.ndjson_or_json::<FileStatusEnvelope, _>(|value| {
                serde_json::from_value::<FileStatusesEnvelope>(value)
                    .map(|list| {
                        list.file_statuses
                            .file_status
                            .into_iter()
                            .map(|file_status| FileStatusEnvelope { file_status })
                            .collect()
                    })
                    .map_err(|e| neuro_http::Error::json("storage listing", e))
            });
            Ok::<_, StorageError>(
                entries.map(move |entry| {
                    Ok(FileStatus::from_list_payload(&entry?.file_status, &uri)?)
                }),
            )
        })
        .try_flatten()
    }

    /// The status of one file or directory.
    pub async fn stat<'a>(&self, uri: impl Into<UriInput<'a>>) -> Result<FileStatus, StorageError> {
        let uri = self.normalize(uri)?;
        self.stat_url(&uri).await
    }

    pub(crate) async fn stat_url(&self, uri: &Url) -> Result<FileStatus, StorageError> {
        let sent = SystemTime::now();
        let response = self.op(&endpoints::STORAGE_STAT, uri)?.send().await?;
        self.clock.observe(sent, response.header_str(header::DATE));
        let envelope: FileStatusEnvelope = response.json().await?;
        Ok(FileStatus::from_stat_payload(
            &envelope.file_status,
            cluster_of(uri)?,
        )?)
    }

    /// Creates a directory.
    ///
    /// Without `exist_ok`, an existing target is an error; without `parents`, the
    /// parent directory must exist.
    pub async fn mkdir<'a>(
        &self,
        uri: impl Into<UriInput<'a>>,
        parents: bool,
        exist_ok: bool,
    ) -> Result<(), StorageError> {
        let uri = self.normalize(uri)?;
        self.mkdir_url(&uri, parents, exist_ok).await
    }

    pub(crate) async fn mkdir_url(
        &self,
        uri: &Url,
        parents: bool,
        exist_ok: bool,
    ) -> Result<(), StorageError> {
        if !exist_ok {
            match self.stat_url(uri).await {
                Ok(_) => return Err(StorageError::FileExists { uri: uri.clone() }),
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        if !parents {
            if let Some(parent) = parent(uri).filter(|p| !storage_path(p).is_empty()) {
                match self.stat_url(&parent).await {
                    Ok(_) => {}
                    Err(e) if e.is_not_found() => {
                        return Err(StorageError::FileNotFound { uri: parent })
                    }
                    Err(e) => return Err(e),
                }
            }
        }
        self.op(&endpoints::STORAGE_MKDIRS, uri)?.send().await?;
        Ok(())
    }

    /// Creates (or truncates) a file with the bytes of `data`, streamed with
    /// chunked transfer encoding.
    pub async fn create<'a, S>(
        &self,
        uri: impl Into<UriInput<'a>>,
        data: S,
    ) -> Result<(), StorageError>
    where
        S: Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static,
    {
        let uri = self.normalize(uri)?;
        self.op(&endpoints::STORAGE_CREATE, &uri)?
            .read_timeout(None)
            .body_stream(data)
            .send()
            .await?;
        Ok(())
    }

    /// Writes `data` into an existing file at `offset`. `data` must not be empty.
    pub async fn write<'a>(
        &self,
        uri: impl Into<UriInput<'a>>,
        data: Bytes,
        offset: u64,
    ) -> Result<(), StorageError> {
        let uri = self.normalize(uri)?;
        self.write_url(&uri, data, offset).await
    }

    pub(crate) async fn write_url(
        &self,
        uri: &Url,
        data: Bytes,
        offset: u64,
    ) -> Result<(), StorageError> {
        if data.is_empty() {
            return Err(StorageError::InvalidArgument(
                "cannot write an empty chunk".into(),
            ));
        }
        let last = offset.checked_add(data.len() as u64 - 1).ok_or_else(|| {
            StorageError::InvalidArgument(format!(
                "a write of {} bytes at offset {offset} ends past the largest offset",
                data.len()
            ))
        })?;
        self.op(&endpoints::STORAGE_WRITE, uri)?
            .header(header::CONTENT_RANGE, format!("bytes {offset}-{last}/*"))
            .read_timeout(None)
            .body_bytes(data)
            .send()
            .await?;
        Ok(())
    }

    /// Reads a file, from `offset` and at most `size` bytes (`None` = to the end),
    /// as a stream of chunks. Memory use does not grow with the file size.
    ///
    /// Nothing is sent until the stream is first polled; `size == Some(0)` sends
    /// nothing at all.
    pub fn open<'a>(
        &self,
        uri: impl Into<UriInput<'a>>,
        offset: u64,
        size: Option<u64>,
    ) -> impl Stream<Item = Result<Bytes, StorageError>> + Send + 'static {
        let this = self.clone();
        let uri = self.normalize(uri);
        futures::stream::once(async move {
            let uri = uri?;
            this.open_url(&uri, offset, size).await
        })
        .try_flatten()
    }

    pub(crate) async fn open_url(
        &self,
        uri: &Url,
        offset: u64,
        size: Option<u64>,
    ) -> Result<futures::stream::BoxStream<'static, Result<Bytes, StorageError>>, StorageError>
    {
        if size == Some(0) {
            return Ok(futures::stream::empty().boxed());
        }
        let range = range_header(offset, size)?;
        let mut request = self.op(&endpoints::STORAGE_OPEN, uri)?.read_timeout(None);
        if let Some(range) = &range {
            request = request.header(header::RANGE, range.clone());
        }
        let response = request.send().await?;
        if range.is_some() {
            if response.status() != StatusCode::PARTIAL_CONTENT {
                return Err(StorageError::InvalidResponse(format!(
                    "expected 206 for a partial read, got {}",
                    response.status()
                )));
            }
            check_content_range(response.header_str("content-range"), offset)?;
        }
        Ok(response.bytes_stream().map_err(StorageError::from).boxed())
    }

    /// Removes a file, or a directory with `recursive`.
    pub async fn rm<'a>(
        &self,
        uri: impl Into<UriInput<'a>>,
        recursive: bool,
    ) -> Result<(), StorageError> {
        self.rm_events(uri, recursive)
            .try_for_each(|_| async { Ok(()) })
            .await
    }

    /// Removes a file, or a directory with `recursive`, reporting each removed
    /// entry to `progress` as the server streams them.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let example = neuro_local::examples::start().await?;
    /// # let config = neuro_config::ConfigFactory::new().load().await?; let storage = neuro_storage::Storage::new(config);
    /// # storage.mkdir("storage:old/a", true, true).await?;
    /// use neuro_storage::progress::{DeleteProgress, StorageProgressDelete};
    ///
    /// struct Print;
    /// impl DeleteProgress for Print {
    ///     fn delete(&self, event: &StorageProgressDelete) {
    ///         println!("removed {}", event.uri);
    ///     }
    /// }
    /// storage.rm_with_progress("storage:old", true, &Print).await?;
    /// # drop(storage); example.shutdown().await; Ok(()) }
    /// ```
    pub async fn rm_with_progress<'a>(
        &self,
        uri: impl Into<UriInput<'a>>,
        recursive: bool,
        progress: &dyn DeleteProgress,
    ) -> Result<(), StorageError> {
        self.rm_events(uri, recursive)
            .try_for_each(|event| {
                progress.delete(&StorageProgressDelete {
                    uri: event.uri,
                    is_dir: event.is_dir,
                });
                async { Ok(()) }
            })
            .await
    }

    /// Removes a file or directory, yielding one event per removed entry as the
    /// server reports them (children before their directory).
    pub fn rm_events<'a>(
        &self,
        uri: impl Into<UriInput<'a>>,
        recursive: bool,
    ) -> impl Stream<Item = Result<StorageDeleteEvent, StorageError>> + Send + 'static {
        let this = self.clone();
        let uri = self.normalize(uri);
        futures::stream::once(async move {
            let uri = uri?;
            let cluster = cluster_of(&uri)?.to_owned();
            let response = this
                .op(&endpoints::STORAGE_DELETE, &uri)?
                .query("recursive", if recursive { "true" } else { "false" })
                .header(header::ACCEPT, NDJSON)
                .send()
                .await?;
            let events = if response.is_ndjson() {
                response.ndjson::<DeleteEventPayload>().boxed()
            } else {
                // Old servers answer without a stream; there is nothing to report.
                futures::stream::empty().boxed()
            };
            Ok::<_, StorageError>(
                events.map(move |event| Ok(StorageDeleteEvent::from_payload(&event?, &cluster)?)),
            )
        })
        .try_flatten()
    }

    /// Moves (renames) `src` to `dst` on the same cluster.
    pub async fn mv<'a, 'b>(
        &self,
        src: impl Into<UriInput<'a>>,
        dst: impl Into<UriInput<'b>>,
    ) -> Result<(), StorageError> {
        let src = self.normalize(src)?;
        let dst = self.normalize(dst)?;
        if src.host_str() != dst.host_str() {
            return Err(StorageError::InvalidArgument(
                "Cannot move cross-cluster".into(),
            ));
        }
        let destination = format!(
            "/{}",
            percent_decode_str(&storage_path(&dst)).decode_utf8_lossy()
        );
        self.op(&endpoints::STORAGE_RENAME, &src)?
            .query("destination", destination)
            .send()
            .await?;
        Ok(())
    }

    /// Disk usage of the user's storage on `cluster_name` (default: current) for
    /// `org_name` (default: current org).
    pub async fn disk_usage(
        &self,
        cluster_name: Option<&str>,
        org_name: Option<&str>,
    ) -> Result<DiskUsageInfo, StorageError> {
        let cluster = self.config.cluster(cluster_name)?.name.clone();
        let org = org_name
            .map(str::to_owned)
            .or_else(|| self.config.org_name().map(str::to_owned));
        let mut text = format!("storage://{cluster}/");
        // As in the SDK (`if org_name:`), an empty org name means no org.
        if let Some(org) = org.as_deref().filter(|o| !o.is_empty()) {
            text.push_str(org);
            text.push('/');
        }
        text.push_str(self.config.username());
        let uri = self.normalize(text.as_str())?;
        let sent = SystemTime::now();
        let response = self
            .op(&endpoints::STORAGE_DISK_USAGE, &uri)?
            .send()
            .await?;
        self.clock.observe(sent, response.header_str(header::DATE));
        let payload: DiskUsagePayload = response.json().await?;
        Ok(DiskUsageInfo::from_payload(
            &payload,
            cluster,
            org,
            Some(uri),
        ))
    }

    /// The storage service URL of a normalized storage URI:
    /// `storage_url/<path without leading slash>`, no query.
    ///
    /// Each segment is decoded and escaped again as yarl does (wire-protocol-data
    /// §2.1), so the request path is the Python SDK's whatever the URI's own
    /// encoding: `a b` → `a%20b`, `100%` → `100%25`, `é` → `%C3%A9`, `[x]` →
    /// `%5Bx%5D`, and a `\` stays inside its segment as `%5C`.
    pub(crate) fn storage_url(&self, uri: &Url) -> Result<Url, StorageError> {
        let cluster = self.config.cluster(Some(cluster_of(uri)?))?;
        let mut url = cluster.storage_url.clone();
        let mut path = url.path().trim_end_matches('/').to_owned();
        for segment in storage_path(uri).split('/') {
            let decoded: Vec<u8> = percent_decode_str(segment).collect();
            if decoded == b"." || decoded == b".." {
                return Err(StorageError::InvalidArgument(format!(
                    "{uri}: `.` and `..` are not allowed in storage paths"
                )));
            }
            path.push('/');
            path.extend(percent_encode(&decoded, YARL_PATH_SEGMENT));
        }
        url.set_path(&path);
        url.set_query(None);
        Ok(url)
    }

    /// A request for the storage operation `endpoint` on `uri`: its method, the
    /// storage URL of `uri` and its `op=` query value.
    pub(crate) fn op(
        &self,
        endpoint: &Endpoint,
        uri: &Url,
    ) -> Result<RequestBuilder, StorageError> {
        let mut request = self
            .config
            .transport()
            .request(endpoint.method.clone(), self.storage_url(uri)?);
        if let Some(op) = endpoint.op {
            request = request.query(query::OP, op);
        }
        Ok(request)
    }
}

pub(crate) fn cluster_of(uri: &Url) -> Result<&str, StorageError> {
    uri.host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| StorageError::InvalidArgument(format!("{uri} names no cluster")))
}
