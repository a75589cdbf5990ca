//! Google Cloud Storage (provider `gcp`): the JSON API with the OAuth access
//! token the platform hands out (`access_token`, valid until `expire_time`,
//! renewed before then), as the Python client does. Every call is one REST
//! request with a bearer token and JSON answers read with serde, so no GCS
//! SDK is needed. Large uploads use a resumable upload session, whose chunks
//! must arrive in order. The API's base URL is `https://storage.googleapis.com`
//! unless the credentials name another in `endpoint_url` (an emulator, say).

use std::sync::Arc;

use neuro_http::{header, Method, Response, Transport};
use neuro_storage::clock::TimeDiff;
use neuro_types::{Bucket, BucketCredentials};
use serde::Deserialize;
use time::OffsetDateTime;
use url::Url;

use crate::channel::{expiry, range, required, Authorized, Body, Channel, Dialect, Refresher};
use crate::entry::{BucketEntry, EntryKind};
use crate::list::Page;
use crate::BlobError;

/// The public endpoint.
const DEFAULT_ENDPOINT: &str = "https://storage.googleapis.com";

/// Entries per listing page.
const PAGE_SIZE: &str = "1000";

/// The GCS dialect: a bearer token, JSON error documents.
pub(crate) struct Gcs;

/// `{"error": {"code": 404, "message": "...", "errors": [{"reason": "notFound"}]}}`.
#[derive(Debug, Default, Deserialize)]
struct ErrorDocument {
    #[serde(default)]
    error: ErrorBody,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    message: String,
    #[serde(default)]
    errors: Vec<ErrorReason>,
}

#[derive(Debug, Deserialize)]
struct ErrorReason {
    #[serde(default)]
    reason: String,
}

impl Dialect for Gcs {
    /// The access token.
    type Credentials = String;

    fn credentials(
        creds: &BucketCredentials,
    ) -> Result<(String, Option<OffsetDateTime>), BlobError> {
        if creds.credentials.contains_key("key_data")
            && !creds.credentials.contains_key("access_token")
        {
            return Err(BlobError::InvalidArgument(
                "GCS service-account keys (key_data) are not supported: import the bucket with \
                 an access_token"
                    .into(),
            ));
        }
        let token = required(creds, "access_token")?.to_owned();
        Ok((token, expiry(creds, "expire_time")?))
    }

    fn error(
        operation: &'static str,
        key: &str,
        status: u16,
        _code: Option<&str>,
        text: &str,
    ) -> BlobError {
        let document: ErrorDocument = serde_json::from_str(text).unwrap_or_default();
        let code = document
            .error
            .errors
            .into_iter()
            .map(|e| e.reason)
            .find(|r| !r.is_empty())
            .unwrap_or_else(|| match status {
                404 => "notFound".to_owned(),
                401 => "authError".to_owned(),
                403 => "forbidden".to_owned(),
                _ => status.to_string(),
            });
        let message = if document.error.message.is_empty() {
            text.lines().next().unwrap_or_default().to_owned()
        } else {
            document.error.message
        };
        BlobError::Provider {
            operation,
            key: key.to_owned(),
            status,
            code,
            message,
        }
    }

    fn is_expired(error: &BlobError) -> bool {
        matches!(error, BlobError::Provider { status: 401, .. })
    }
}

/// An object's metadata.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Object {
    name: String,
    /// A decimal string (a JSON number may not hold 64 bits).
    #[serde(default)]
    size: Option<String>,
    #[serde(default)]
    time_created: Option<String>,
    #[serde(default)]
    updated: Option<String>,
}

/// One page of `objects.list`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Objects {
    #[serde(default)]
    items: Vec<Object>,
    #[serde(default)]
    prefixes: Vec<String>,
    #[serde(default)]
    next_page_token: Option<String>,
}

fn time(text: Option<&str>) -> Option<OffsetDateTime> {
    text.and_then(|t| neuro_types::wire::serde_util::iso8601::parse(t).ok())
}

/// A GCS bucket reached with a (renewable) access token. Cheap to clone.
#[derive(Clone)]
pub(crate) struct GcsBucket {
    inner: Arc<Inner>,
}

struct Inner {
    /// `{endpoint}/storage/v1/b/{bucket}/o`.
    objects: Url,
    /// `{endpoint}/upload/storage/v1/b/{bucket}/o`.
    uploads: Url,
    channel: Channel<Gcs>,
}

impl std::fmt::Debug for GcsBucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GcsBucket")
            .field("bucket", &self.inner.channel.bucket().id)
            .field("url", &self.inner.objects.as_str())
            .finish_non_exhaustive()
    }
}

impl GcsBucket {
    /// The bucket behind `creds`, renewed with `refresher`.
    pub(crate) fn new(
        bucket: Arc<Bucket>,
        creds: &BucketCredentials,
        transport: Transport,
        refresher: Option<Refresher>,
    ) -> Result<Self, BlobError> {
        let endpoint = creds
            .credentials
            .get("endpoint_url")
            .map_or(DEFAULT_ENDPOINT, String::as_str);
        let name = required(creds, "bucket_name")?;
        let base = Url::parse(endpoint).map_err(|e| {
            BlobError::InvalidArgument(format!("invalid endpoint_url {endpoint:?}: {e}"))
        })?;
        let under = |parts: &[&str]| -> Result<Url, BlobError> {
            let mut url = base.clone();
            url.set_query(None);
            url.path_segments_mut()
                .map_err(|()| {
                    BlobError::InvalidArgument(format!("invalid endpoint_url {endpoint:?}"))
                })?
                .pop_if_empty()
                .extend(parts);
            Ok(url)
        };
        Ok(Self {
            inner: Arc::new(Inner {
                objects: under(&["storage", "v1", "b", name, "o"])?,
                uploads: under(&["upload", "storage", "v1", "b", name, "o"])?,
                channel: Channel::new(bucket, creds, transport, refresher)?,
            }),
        })
    }

    /// The platform bucket.
    pub(crate) fn bucket(&self) -> &Arc<Bucket> {
        self.inner.channel.bucket()
    }

    /// The last measured clock difference with the provider.
    pub(crate) fn time_diff(&self) -> TimeDiff {
        self.inner.channel.time_diff()
    }

    /// The URL of the object `key` (one path segment: its `/` are encoded).
    fn object_url(&self, key: &str) -> Url {
        let mut url = self.inner.objects.clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.push(key);
        }
        url
    }

    /// Sends one request with the bearer token.
    async fn send(
        &self,
        operation: &'static str,
        key: &str,
        method: Method,
        url: Url,
        body: impl Fn() -> Body,
        headers: &[(header::HeaderName, String)],
    ) -> Result<Response, BlobError> {
        self.inner
            .channel
            .send(
                operation,
                key,
                method,
                |token| {
                    Ok(Authorized {
                        url: url.clone(),
                        headers: vec![(header::AUTHORIZATION, format!("Bearer {token}"))],
                    })
                },
                body,
                headers,
            )
            .await
    }

    fn entry(&self, object: Object) -> BucketEntry {
        BucketEntry {
            size: object
                .size
                .as_deref()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            created_at: time(object.time_created.as_deref()),
            modified_at: time(object.updated.as_deref())
                .or_else(|| time(object.time_created.as_deref())),
            key: object.name,
            kind: EntryKind::Object,
            bucket: Arc::clone(self.bucket()),
        }
    }

    /// One page of `objects.list` under `prefix` (with delimiter `/` unless
    /// `recursive`), after `token`.
    pub(crate) async fn list_page(
        &self,
        prefix: &str,
        recursive: bool,
        token: Option<&str>,
    ) -> Result<Page, BlobError> {
        let mut url = self.inner.objects.clone();
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("maxResults", PAGE_SIZE);
            if !prefix.is_empty() {
                query.append_pair("prefix", prefix);
            }
            if !recursive {
                query.append_pair("delimiter", "/");
            }
            if let Some(token) = token {
                query.append_pair("pageToken", token);
            }
        }
        let response = self
            .send(
                "objects.list",
                prefix,
                Method::GET,
                url,
                || Body::Empty,
                &[],
            )
            .await?;
        let page: Objects =
            serde_json::from_slice(&response.bytes().await?).map_err(|e| BlobError::Decode {
                operation: "objects.list",
                message: e.to_string(),
            })?;
        let bucket = self.bucket();
        let mut entries: Vec<BucketEntry> = page
            .prefixes
            .into_iter()
            .map(|key| BucketEntry {
                key,
                kind: EntryKind::CommonPrefix,
                size: 0,
                created_at: None,
                modified_at: None,
                bucket: Arc::clone(bucket),
            })
            .collect();
        entries.extend(page.items.into_iter().map(|o| self.entry(o)));
        Ok(Page {
            entries,
            next: page.next_page_token.filter(|t| !t.is_empty()),
        })
    }

    /// `objects.get`: the metadata of `key`.
    pub(crate) async fn head(&self, key: &str) -> Result<BucketEntry, BlobError> {
        let url = self.object_url(key);
        let response = self
            .send("objects.get", key, Method::GET, url, || Body::Empty, &[])
            .await
            .map_err(|e| self.inner.channel.not_found(key, e))?;
        let object: Object =
            serde_json::from_slice(&response.bytes().await?).map_err(|e| BlobError::Decode {
                operation: "objects.get",
                message: e.to_string(),
            })?;
        Ok(self.entry(object))
    }

    /// The content of `key` from byte `offset` (to the end, or `len` bytes).
    pub(crate) async fn get(
        &self,
        key: &str,
        offset: u64,
        len: Option<u64>,
    ) -> Result<Response, BlobError> {
        let mut url = self.object_url(key);
        url.query_pairs_mut().append_pair("alt", "media");
        let headers: Vec<_> = range(offset, len)
            .into_iter()
            .map(|r| (header::RANGE, r))
            .collect();
        self.send(
            "objects.get",
            key,
            Method::GET,
            url,
            || Body::Empty,
            &headers,
        )
        .await
        .map_err(|e| self.inner.channel.not_found(key, e))
    }

    /// A single-request (`uploadType=media`) upload of a body made by `body`.
    pub(crate) async fn put(&self, key: &str, body: impl Fn() -> Body) -> Result<(), BlobError> {
        let mut url = self.inner.uploads.clone();
        url.query_pairs_mut()
            .append_pair("uploadType", "media")
            .append_pair("name", key);
        let headers = [(header::CONTENT_TYPE, "application/octet-stream".to_owned())];
        self.send("objects.insert", key, Method::POST, url, body, &headers)
            .await?;
        Ok(())
    }

    /// `objects.delete` (success for missing objects, as S3 answers).
    pub(crate) async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let url = self.object_url(key);
        match self
            .send(
                "objects.delete",
                key,
                Method::DELETE,
                url,
                || Body::Empty,
                &[],
            )
            .await
        {
            Err(e) if e.is_not_found() => Ok(()),
            other => other.map(drop),
        }
    }

    /// Starts a resumable upload of `key`: the session URL.
    pub(crate) async fn create_upload(&self, key: &str) -> Result<String, BlobError> {
        let mut url = self.inner.uploads.clone();
        url.query_pairs_mut()
            .append_pair("uploadType", "resumable")
            .append_pair("name", key);
        let headers = [(header::CONTENT_TYPE, "application/json".to_owned())];
        let response = self
            .send(
                "objects.insert",
                key,
                Method::POST,
                url,
                || Body::Bytes(bytes::Bytes::from_static(b"{}")),
                &headers,
            )
            .await?;
        response
            .header_str(header::LOCATION)
            .map(str::to_owned)
            .ok_or_else(|| BlobError::Decode {
                operation: "objects.insert",
                message: "no upload session in the answer".into(),
            })
    }

    /// Sends bytes `offset..offset + len` of the upload `session` (chunks in
    /// order; all but the last a multiple of 256 KiB).
    pub(crate) async fn upload_chunk(
        &self,
        key: &str,
        session: &str,
        offset: u64,
        len: u64,
        body: impl Fn() -> Body,
    ) -> Result<(), BlobError> {
        let range = format!("bytes {offset}-{}/*", offset + len.max(1) - 1);
        self.send_session(key, session, range, body).await
    }

    /// Ends the upload `session` at `total` bytes.
    pub(crate) async fn finish_upload(
        &self,
        key: &str,
        session: &str,
        total: u64,
    ) -> Result<(), BlobError> {
        self.send_session(key, session, format!("bytes */{total}"), || {
            Body::Bytes(bytes::Bytes::new())
        })
        .await
    }

    async fn send_session(
        &self,
        key: &str,
        session: &str,
        content_range: String,
        body: impl Fn() -> Body,
    ) -> Result<(), BlobError> {
        let url = Url::parse(session).map_err(|e| BlobError::Decode {
            operation: "objects.insert",
            message: format!("invalid upload session URL: {e}"),
        })?;
        let headers = [(header::CONTENT_RANGE, content_range)];
        self.inner
            .channel
            .send(
                "objects.insert",
                key,
                Method::PUT,
                |_| Ok(Authorized::url(url.clone())),
                body,
                &headers,
            )
            .await?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn error_documents_give_reason_and_message() {
        let text = r#"{"error":{"code":404,"message":"No such object: b/k",
                       "errors":[{"domain":"global","reason":"notFound"}]}}"#;
        let error = Gcs::error("objects.get", "k", 404, None, text);
        assert!(
            matches!(&error, BlobError::Provider { code, message, .. }
                if code == "notFound" && message == "No such object: b/k"),
            "{error:?}"
        );
        let plain = Gcs::error("objects.get", "k", 401, None, "Unauthorized");
        assert!(Gcs::is_expired(&plain));
    }

    #[test]
    fn listings_read_sizes_and_prefixes() {
        let page: Objects = serde_json::from_str(
            r#"{"kind":"storage#objects","prefixes":["d/"],
                "items":[{"name":"a","size":"5000000000","timeCreated":"2026-11-24T14:00:00.123Z"}],
                "nextPageToken":"t"}"#,
        )
        .unwrap();
        assert_eq!(page.prefixes, vec!["d/"]);
        assert_eq!(page.items[0].size.as_deref(), Some("5000000000"));
        assert!(time(page.items[0].time_created.as_deref()).is_some());
        assert_eq!(page.next_page_token.as_deref(), Some("t"));
    }
}
