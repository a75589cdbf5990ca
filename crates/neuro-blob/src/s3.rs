//! The S3 protocol (AWS, MinIO, OpenStack): every request is presigned by
//! `rusty-s3` (SigV4 in the query string, `UNSIGNED-PAYLOAD`) and sent through
//! neuro-http's transport, so blob traffic shares the SDK's connection pool,
//! TLS set-up and timeouts. `rusty-s3` only signs and parses (no HTTP client of
//! its own), which is what lets it ride on that transport.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use neuro_http::{header, Method, Response, Transport};
use neuro_storage::clock::TimeDiff;
use neuro_types::{Bucket, BucketCredentials};
use rusty_s3::actions::{
    CreateMultipartUpload, ListObjectsV2, ListObjectsV2Response, S3Action as _,
};
use rusty_s3::{Credentials, UrlStyle};
use time::OffsetDateTime;
use url::Url;

use crate::channel::{range, required, xml_tag, Authorized, Body, Channel, Dialect, Refresher};
use crate::entry::{BucketEntry, EntryKind};
use crate::list::Page;
use crate::BlobError;

/// How long each presigned request stays valid (it is sent at once).
const SIGNATURE_TTL: Duration = Duration::from_secs(15 * 60);

/// The S3 dialect: SigV4 credentials, XML error documents.
pub(crate) struct S3;

impl Dialect for S3 {
    type Credentials = Credentials;

    fn credentials(
        creds: &BucketCredentials,
    ) -> Result<(Credentials, Option<OffsetDateTime>), BlobError> {
        let key = required(creds, "access_key_id")?;
        let secret = required(creds, "secret_access_key")?;
        let expiration = creds.expiration()?;
        let credentials = match expiration {
            Some(_) => Credentials::new_with_token(key, secret, required(creds, "session_token")?),
            None => Credentials::new(key, secret),
        };
        Ok((credentials, expiration))
    }

    fn error(
        operation: &'static str,
        key: &str,
        status: u16,
        _code: Option<&str>,
        text: &str,
    ) -> BlobError {
        let code = xml_tag(text, "Code").unwrap_or_else(|| match status {
            404 => "NoSuchKey".to_owned(),
            403 => "AccessDenied".to_owned(),
            _ => status.to_string(),
        });
        BlobError::Provider {
            operation,
            key: key.to_owned(),
            status,
            message: xml_tag(text, "Message").unwrap_or_default(),
            code,
        }
    }

    fn is_expired(error: &BlobError) -> bool {
        matches!(error, BlobError::Provider { code, .. } if matches!(
            code.as_str(),
            "ExpiredToken" | "InvalidAccessKeyId" | "InvalidToken" | "TokenRefreshRequired"
        ))
    }
}

/// An S3 bucket reached with (renewable) credentials. Cheap to clone.
#[derive(Clone)]
pub(crate) struct S3Bucket {
    inner: Arc<Inner>,
}

struct Inner {
    s3: rusty_s3::Bucket,
    channel: Channel<S3>,
}

impl std::fmt::Debug for S3Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Bucket")
            .field("bucket", &self.inner.channel.bucket().id)
            .field("url", &self.inner.s3.base_url().as_str())
            .finish_non_exhaustive()
    }
}

impl S3Bucket {
    /// The bucket behind `creds` (from `make_tmp_credentials`), renewed with
    /// `refresher` when they expire.
    pub(crate) fn new(
        bucket: Arc<Bucket>,
        creds: &BucketCredentials,
        transport: Transport,
        refresher: Option<Refresher>,
    ) -> Result<Self, BlobError> {
        let name = required(creds, "bucket_name")?.to_owned();
        let region = creds
            .credentials
            .get("region_name")
            .cloned()
            .unwrap_or_else(|| "us-east-1".to_owned());
        let endpoint = match creds.credentials.get("endpoint_url") {
            Some(url) => Url::parse(url).map_err(|e| {
                BlobError::InvalidArgument(format!("invalid endpoint_url {url:?}: {e}"))
            })?,
            None => Url::parse(&format!("https://s3.{region}.amazonaws.com")).map_err(|e| {
                BlobError::InvalidArgument(format!("invalid region {region:?}: {e}"))
            })?,
        };
        // Path style works with every S3 server (virtual hosts need DNS).
        let s3 = rusty_s3::Bucket::new(endpoint, UrlStyle::Path, name, region)
            .map_err(|e| BlobError::InvalidArgument(format!("bad S3 endpoint: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                s3,
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

    /// Presigns (with `sign`) and sends one request.
    async fn send<F>(
        &self,
        operation: &'static str,
        key: &str,
        method: Method,
        sign: F,
        body: impl Fn() -> Body,
        headers: &[(header::HeaderName, String)],
    ) -> Result<Response, BlobError>
    where
        F: Fn(&rusty_s3::Bucket, &Credentials) -> Url,
    {
        let s3 = &self.inner.s3;
        self.inner
            .channel
            .send(
                operation,
                key,
                method,
                |creds| Ok(Authorized::url(sign(s3, creds))),
                body,
                headers,
            )
            .await
    }

    /// One page of `ListObjectsV2` under `prefix` (with delimiter `/` unless
    /// `recursive`).
    pub(crate) async fn list_page(
        &self,
        prefix: &str,
        recursive: bool,
        token: Option<&str>,
    ) -> Result<Page, BlobError> {
        let response = self
            .send(
                "ListObjectsV2",
                prefix,
                Method::GET,
                |s3, creds| {
                    let mut action = s3.list_objects_v2(Some(creds));
                    action.with_prefix(prefix);
                    if !recursive {
                        action.with_delimiter("/");
                    }
                    if let Some(token) = token {
                        action.with_continuation_token(token);
                    }
                    action.sign(SIGNATURE_TTL)
                },
                || Body::Empty,
                &[],
            )
            .await?;
        let text = response.text().await?;
        let parsed: ListObjectsV2Response =
            ListObjectsV2::parse_response(&text).map_err(|e| BlobError::Decode {
                operation: "ListObjectsV2",
                message: e.to_string(),
            })?;
        let bucket = self.bucket();
        // Common prefixes first, then objects, as the Python SDK yields them.
        let mut entries: Vec<BucketEntry> = parsed
            .common_prefixes
            .into_iter()
            .map(|p| BucketEntry {
                key: p.prefix,
                kind: EntryKind::CommonPrefix,
                size: 0,
                created_at: None,
                modified_at: None,
                bucket: Arc::clone(bucket),
            })
            .collect();
        entries.extend(parsed.contents.into_iter().map(|c| {
            BucketEntry {
                modified_at: c
                    .last_modified
                    .as_deref()
                    .and_then(|t| neuro_types::wire::serde_util::iso8601::parse(t).ok()),
                key: c.key,
                kind: EntryKind::Object,
                size: c.size.unwrap_or(0),
                created_at: None,
                bucket: Arc::clone(bucket),
            }
        }));
        Ok(Page {
            entries,
            next: parsed.next_continuation_token,
        })
    }

    /// `HeadObject`: size and modification time of `key`.
    pub(crate) async fn head(&self, key: &str) -> Result<BucketEntry, BlobError> {
        let response = self
            .send(
                "HeadObject",
                key,
                Method::HEAD,
                |s3, creds| s3.head_object(Some(creds), key).sign(SIGNATURE_TTL),
                || Body::Empty,
                &[],
            )
            .await
            .map_err(|e| self.not_found(key, e))?;
        Ok(BucketEntry {
            key: key.to_owned(),
            kind: EntryKind::Object,
            size: response.content_length().unwrap_or(0),
            created_at: None,
            modified_at: response
                .header_str(header::LAST_MODIFIED)
                .and_then(|d| httpdate::parse_http_date(d).ok())
                .map(OffsetDateTime::from),
            bucket: Arc::clone(self.bucket()),
        })
    }

    /// `GetObject` from byte `offset` (to the end, or `len` bytes).
    pub(crate) async fn get(
        &self,
        key: &str,
        offset: u64,
        len: Option<u64>,
    ) -> Result<Response, BlobError> {
        let headers: Vec<_> = range(offset, len)
            .into_iter()
            .map(|r| (header::RANGE, r))
            .collect();
        self.send(
            "GetObject",
            key,
            Method::GET,
            |s3, creds| s3.get_object(Some(creds), key).sign(SIGNATURE_TTL),
            || Body::Empty,
            &headers,
        )
        .await
        .map_err(|e| self.not_found(key, e))
    }

    /// `PutObject` of a body made by `body` (called again for each attempt).
    pub(crate) async fn put(&self, key: &str, body: impl Fn() -> Body) -> Result<(), BlobError> {
        self.send(
            "PutObject",
            key,
            Method::PUT,
            |s3, creds| s3.put_object(Some(creds), key).sign(SIGNATURE_TTL),
            body,
            &[],
        )
        .await?;
        Ok(())
    }

    /// `DeleteObject` (success for missing keys, as S3 answers).
    pub(crate) async fn delete(&self, key: &str) -> Result<(), BlobError> {
        self.send(
            "DeleteObject",
            key,
            Method::DELETE,
            |s3, creds| s3.delete_object(Some(creds), key).sign(SIGNATURE_TTL),
            || Body::Empty,
            &[],
        )
        .await?;
        Ok(())
    }

    /// `CreateMultipartUpload`: the upload id.
    pub(crate) async fn create_multipart(&self, key: &str) -> Result<String, BlobError> {
        let response = self
            .send(
                "CreateMultipartUpload",
                key,
                Method::POST,
                |s3, creds| {
                    s3.create_multipart_upload(Some(creds), key)
                        .sign(SIGNATURE_TTL)
                },
                || Body::Empty,
                &[],
            )
            .await?;
        let text = response.text().await?;
        let parsed =
            CreateMultipartUpload::parse_response(&text).map_err(|e| BlobError::Decode {
                operation: "CreateMultipartUpload",
                message: e.to_string(),
            })?;
        Ok(parsed.upload_id().to_owned())
    }

    /// `UploadPart` number `part` (from 1): the part's ETag.
    pub(crate) async fn upload_part(
        &self,
        key: &str,
        upload_id: &str,
        part: u16,
        body: impl Fn() -> Body,
    ) -> Result<String, BlobError> {
        let response = self
            .send(
                "UploadPart",
                key,
                Method::PUT,
                |s3, creds| {
                    s3.upload_part(Some(creds), key, part, upload_id)
                        .sign(SIGNATURE_TTL)
                },
                body,
                &[],
            )
            .await?;
        response
            .header_str(header::ETAG)
            .map(str::to_owned)
            .ok_or_else(|| BlobError::Decode {
                operation: "UploadPart",
                message: "no ETag in the answer".into(),
            })
    }

    /// `CompleteMultipartUpload` with the parts' ETags in order.
    pub(crate) async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        etags: &[String],
    ) -> Result<(), BlobError> {
        let body = {
            let creds = self.inner.channel.credentials(None).await?;
            self.inner
                .s3
                .complete_multipart_upload(
                    Some(&creds),
                    key,
                    upload_id,
                    etags.iter().map(String::as_str),
                )
                .body()
        };
        let body = Bytes::from(body);
        let response = self
            .send(
                "CompleteMultipartUpload",
                key,
                Method::POST,
                |s3, creds| {
                    s3.complete_multipart_upload(
                        Some(creds),
                        key,
                        upload_id,
                        etags.iter().map(String::as_str),
                    )
                    .sign(SIGNATURE_TTL)
                },
                || Body::Bytes(body.clone()),
                &[],
            )
            .await?;
        // S3 may answer 200 with an error document after a long merge.
        let text = response.text().await?;
        if text.contains("<Error>") {
            return Err(BlobError::Provider {
                operation: "CompleteMultipartUpload",
                key: key.to_owned(),
                status: 200,
                code: xml_tag(&text, "Code").unwrap_or_default(),
                message: xml_tag(&text, "Message").unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// `AbortMultipartUpload` (best effort: failures are only logged).
    pub(crate) async fn abort_multipart(&self, key: &str, upload_id: &str) {
        let result = self
            .send(
                "AbortMultipartUpload",
                key,
                Method::DELETE,
                |s3, creds| {
                    s3.abort_multipart_upload(Some(creds), key, upload_id)
                        .sign(SIGNATURE_TTL)
                },
                || Body::Empty,
                &[],
            )
            .await;
        if let Err(e) = result {
            tracing::warn!("cannot abort the upload of {key:?}: {e}");
        }
    }

    /// A provider 404 on `key` becomes [`BlobError::NotFound`].
    fn not_found(&self, key: &str, error: BlobError) -> BlobError {
        self.inner.channel.not_found(key, error)
    }
}
