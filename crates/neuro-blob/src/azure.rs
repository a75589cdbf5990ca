//! Azure Blob Storage (provider `azure`): the container is reached at
//! `storage_endpoint` with the SAS token the platform hands out (`sas_token`,
//! valid until `expiry`, renewed before then), or with the `credential` of an
//! imported container when it is a SAS token, as the Python client's
//! `ContainerClient` takes them. A SAS token is already signed: it is only
//! appended to each request's query, so there is nothing to sign here and no
//! Azure SDK is needed (the official Rust one brings its own HTTP stack).
//! Listing answers are XML, read with `quick-xml`'s serde support; large
//! uploads are staged as blocks and committed with a block list.

use std::sync::Arc;

use base64::Engine as _;
use bytes::Bytes;
use neuro_http::{header, Method, Response, Transport};
use neuro_storage::clock::TimeDiff;
use neuro_types::{Bucket, BucketCredentials};
use serde::Deserialize;
use time::OffsetDateTime;
use url::Url;

use crate::channel::{
    expiry, range, required, xml_tag, Authorized, Body, Channel, Dialect, Refresher,
};
use crate::entry::{BucketEntry, EntryKind};
use crate::list::Page;
use crate::BlobError;

/// The REST API version requests ask for.
const API_VERSION: &str = "2021-08-06";

/// Entries per listing page.
const PAGE_SIZE: &str = "1000";

/// The Azure dialect: a SAS token, XML error documents with the code also in
/// `x-ms-error-code`.
pub(crate) struct Azure;

/// Whether `credential` is a SAS token (it carries a signature) rather than
/// an account key.
fn is_sas(credential: &str) -> bool {
    credential
        .trim_start_matches('?')
        .split('&')
        .any(|pair| pair.starts_with("sig="))
}

impl Dialect for Azure {
    /// The SAS token (a query string, without `?`).
    type Credentials = String;

    fn credentials(
        creds: &BucketCredentials,
    ) -> Result<(String, Option<OffsetDateTime>), BlobError> {
        if let Some(token) = creds.credentials.get("sas_token") {
            let token = token.trim_start_matches('?').to_owned();
            return Ok((token, expiry(creds, "expiry")?));
        }
        let credential = required(creds, "credential")?;
        if !is_sas(credential) {
            return Err(BlobError::InvalidArgument(
                "Azure account keys are not supported: import the container with a SAS token \
                 as its credential"
                    .into(),
            ));
        }
        Ok((credential.trim_start_matches('?').to_owned(), None))
    }

    fn error(
        operation: &'static str,
        key: &str,
        status: u16,
        code: Option<&str>,
        text: &str,
    ) -> BlobError {
        let code = code
            .map(str::to_owned)
            .or_else(|| xml_tag(text, "Code"))
            .unwrap_or_else(|| match status {
                404 => "BlobNotFound".to_owned(),
                403 => "AuthorizationFailure".to_owned(),
                _ => status.to_string(),
            });
        let message = xml_tag(text, "Message")
            .map(|m| m.lines().next().unwrap_or_default().to_owned())
            .unwrap_or_default();
        BlobError::Provider {
            operation,
            key: key.to_owned(),
            status,
            code,
            message,
        }
    }

    /// Azure says `AuthenticationFailed` for a SAS past its expiry (Azurite
    /// `AuthorizationFailure`): one retry with fresh credentials tells.
    fn is_expired(error: &BlobError) -> bool {
        matches!(
            error,
            BlobError::Provider { status: 403, code, .. }
                if code == "AuthenticationFailed" || code == "AuthorizationFailure"
        )
    }
}

/// `List Blobs` answer.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct EnumerationResults {
    #[serde(default)]
    blobs: Blobs,
    #[serde(default)]
    next_marker: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Blobs {
    #[serde(rename = "$value", default)]
    items: Vec<Item>,
}

#[derive(Debug, Deserialize)]
enum Item {
    Blob(BlobItem),
    BlobPrefix(PrefixItem),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BlobItem {
    name: String,
    properties: Properties,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PrefixItem {
    name: String,
}

#[derive(Debug, Deserialize)]
struct Properties {
    #[serde(rename = "Creation-Time", default)]
    creation_time: Option<String>,
    #[serde(rename = "Last-Modified", default)]
    last_modified: Option<String>,
    #[serde(rename = "Content-Length", default)]
    content_length: Option<u64>,
}

fn http_date(text: Option<&str>) -> Option<OffsetDateTime> {
    text.and_then(|d| httpdate::parse_http_date(d).ok())
        .map(OffsetDateTime::from)
}

/// An Azure container reached with (renewable) SAS credentials. Cheap to
/// clone.
#[derive(Clone)]
pub(crate) struct AzureContainer {
    inner: Arc<Inner>,
}

struct Inner {
    /// `{storage_endpoint}/{container}`.
    container: Url,
    channel: Channel<Azure>,
}

impl std::fmt::Debug for AzureContainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureContainer")
            .field("bucket", &self.inner.channel.bucket().id)
            .field("url", &self.inner.container.as_str())
            .finish_non_exhaustive()
    }
}

impl AzureContainer {
    /// The container behind `creds`, renewed with `refresher`.
    pub(crate) fn new(
        bucket: Arc<Bucket>,
        creds: &BucketCredentials,
        transport: Transport,
        refresher: Option<Refresher>,
    ) -> Result<Self, BlobError> {
        let endpoint = required(creds, "storage_endpoint")?;
        let mut container = Url::parse(endpoint).map_err(|e| {
            BlobError::InvalidArgument(format!("invalid storage_endpoint {endpoint:?}: {e}"))
        })?;
        container.set_query(None);
        container
            .path_segments_mut()
            .map_err(|()| {
                BlobError::InvalidArgument(format!("invalid storage_endpoint {endpoint:?}"))
            })?
            .pop_if_empty()
            .push(required(creds, "bucket_name")?);
        Ok(Self {
            inner: Arc::new(Inner {
                container,
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

    /// The URL of the container (`key = None`) or of a blob, with `query`.
    fn url(&self, key: Option<&str>, query: &[(&str, &str)]) -> Url {
        let mut url = self.inner.container.clone();
        if let Some(key) = key {
            if let Ok(mut segments) = url.path_segments_mut() {
                segments.extend(key.split('/'));
            }
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// Sends one request to `url` with the SAS token appended.
    async fn send(
        &self,
        operation: &'static str,
        key: &str,
        method: Method,
        url: Url,
        body: impl Fn() -> Body,
        headers: &[(header::HeaderName, String)],
    ) -> Result<Response, BlobError> {
        let mut all = vec![(
            header::HeaderName::from_static("x-ms-version"),
            API_VERSION.to_owned(),
        )];
        all.extend_from_slice(headers);
        self.inner
            .channel
            .send(
                operation,
                key,
                method,
                |sas| {
                    let mut url = url.clone();
                    let query = match url.query() {
                        Some(q) if !q.is_empty() => format!("{q}&{sas}"),
                        _ => sas.clone(),
                    };
                    url.set_query(Some(&query));
                    Ok(Authorized::url(url))
                },
                body,
                &all,
            )
            .await
    }

    /// One page of `List Blobs` under `prefix` (with delimiter `/` unless
    /// `recursive`), after `marker`.
    pub(crate) async fn list_page(
        &self,
        prefix: &str,
        recursive: bool,
        marker: Option<&str>,
    ) -> Result<Page, BlobError> {
        let mut query = vec![
            ("restype", "container"),
            ("comp", "list"),
            ("maxresults", PAGE_SIZE),
        ];
        if !prefix.is_empty() {
            query.push(("prefix", prefix));
        }
        if !recursive {
            query.push(("delimiter", "/"));
        }
        if let Some(marker) = marker {
            query.push(("marker", marker));
        }
        let url = self.url(None, &query);
        let response = self
            .send("ListBlobs", prefix, Method::GET, url, || Body::Empty, &[])
            .await?;
        let text = response.text().await?;
        let parsed: EnumerationResults =
            quick_xml::de::from_str(&text).map_err(|e| BlobError::Decode {
                operation: "ListBlobs",
                message: e.to_string(),
            })?;
        let bucket = self.bucket();
        let entries = parsed
            .blobs
            .items
            .into_iter()
            .map(|item| match item {
                Item::Blob(blob) => BucketEntry {
                    key: blob.name,
                    kind: EntryKind::Object,
                    size: blob.properties.content_length.unwrap_or(0),
                    created_at: http_date(blob.properties.creation_time.as_deref()),
                    modified_at: http_date(blob.properties.last_modified.as_deref()),
                    bucket: Arc::clone(bucket),
                },
                Item::BlobPrefix(prefix) => BucketEntry {
                    key: prefix.name,
                    kind: EntryKind::CommonPrefix,
                    size: 0,
                    created_at: None,
                    modified_at: None,
                    bucket: Arc::clone(bucket),
                },
            })
            .collect();
        Ok(Page {
            entries,
            next: parsed.next_marker.filter(|m| !m.is_empty()),
        })
    }

    /// `Get Blob Properties`: size and times of `key`.
    pub(crate) async fn head(&self, key: &str) -> Result<BucketEntry, BlobError> {
        let url = self.url(Some(key), &[]);
        let response = self
            .send(
                "GetBlobProperties",
                key,
                Method::HEAD,
                url,
                || Body::Empty,
                &[],
            )
            .await
            .map_err(|e| self.inner.channel.not_found(key, e))?;
        Ok(BucketEntry {
            key: key.to_owned(),
            kind: EntryKind::Object,
            size: response.content_length().unwrap_or(0),
            created_at: http_date(response.header_str("x-ms-creation-time")),
            modified_at: http_date(response.header_str(header::LAST_MODIFIED)),
            bucket: Arc::clone(self.bucket()),
        })
    }

    /// `Get Blob` from byte `offset` (to the end, or `len` bytes).
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
        let url = self.url(Some(key), &[]);
        self.send("GetBlob", key, Method::GET, url, || Body::Empty, &headers)
            .await
            .map_err(|e| self.inner.channel.not_found(key, e))
    }

    /// `Put Blob` (a block blob) of a body made by `body`.
    pub(crate) async fn put(&self, key: &str, body: impl Fn() -> Body) -> Result<(), BlobError> {
        let url = self.url(Some(key), &[]);
        let headers = [(
            header::HeaderName::from_static("x-ms-blob-type"),
            "BlockBlob".to_owned(),
        )];
        self.send("PutBlob", key, Method::PUT, url, body, &headers)
            .await?;
        Ok(())
    }

    /// `Delete Blob` (success for missing blobs, as S3 answers).
    pub(crate) async fn delete(&self, key: &str) -> Result<(), BlobError> {
        let url = self.url(Some(key), &[]);
        match self
            .send("DeleteBlob", key, Method::DELETE, url, || Body::Empty, &[])
            .await
        {
            Err(e) if e.is_not_found() => Ok(()),
            other => other.map(drop),
        }
    }

    /// The block id of part `number` of upload `upload` (all ids of a blob
    /// must have the same length).
    fn block_id(upload: &str, number: u16) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("{upload}-{number:05}"))
    }

    /// `Put Block` number `number` of upload `upload`: the block id.
    pub(crate) async fn upload_part(
        &self,
        key: &str,
        upload: &str,
        number: u16,
        body: impl Fn() -> Body,
    ) -> Result<String, BlobError> {
        let id = Self::block_id(upload, number);
        let url = self.url(Some(key), &[("comp", "block"), ("blockid", &id)]);
        self.send("PutBlock", key, Method::PUT, url, body, &[])
            .await?;
        Ok(id)
    }

    /// `Put Block List`: the blob becomes the blocks `ids`, in order.
    pub(crate) async fn complete(&self, key: &str, ids: &[String]) -> Result<(), BlobError> {
        let mut xml = String::from(r#"<?xml version="1.0" encoding="utf-8"?><BlockList>"#);
        for id in ids {
            xml.push_str("<Latest>");
            xml.push_str(id);
            xml.push_str("</Latest>");
        }
        xml.push_str("</BlockList>");
        let body = Bytes::from(xml);
        let url = self.url(Some(key), &[("comp", "blocklist")]);
        self.send(
            "PutBlockList",
            key,
            Method::PUT,
            url,
            || Body::Bytes(body.clone()),
            &[],
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
    fn sas_tokens_are_told_from_account_keys() {
        assert!(is_sas("?sv=2021-08-06&ss=b&sig=abc%3D"));
        assert!(is_sas("sp=r&sig=x"));
        assert!(!is_sas("bm90IGEgc2FzIHRva2Vu=="));
    }

    #[test]
    fn block_ids_have_one_length() {
        let a = AzureContainer::block_id("0123456789abcdef", 1);
        let b = AzureContainer::block_id("0123456789abcdef", 10_000);
        assert_eq!(a.len(), b.len());
        assert_ne!(a, b);
    }

    #[test]
    fn listings_mix_blobs_and_prefixes() {
        let xml = r#"<?xml version="1.0" encoding="utf-8"?>
<EnumerationResults ServiceEndpoint="http://127.0.0.1/acct" ContainerName="c">
  <Prefix>d/</Prefix><MaxResults>1000</MaxResults><Delimiter>/</Delimiter>
  <Blobs>
    <Blob><Name>d/a.txt</Name><Properties>
      <Creation-Time>Tue, 24 Nov 2026 14:00:00 GMT</Creation-Time>
      <Last-Modified>Tue, 24 Nov 2026 14:01:00 GMT</Last-Modified>
      <Etag>0x1</Etag><Content-Length>12</Content-Length>
      <BlobType>BlockBlob</BlobType></Properties><OrMetadata /></Blob>
    <BlobPrefix><Name>d/e/</Name></BlobPrefix>
  </Blobs>
  <NextMarker>abc</NextMarker>
</EnumerationResults>"#;
        let parsed: EnumerationResults = quick_xml::de::from_str(xml).unwrap();
        assert_eq!(parsed.next_marker.as_deref(), Some("abc"));
        assert_eq!(parsed.blobs.items.len(), 2);
        let Item::Blob(blob) = &parsed.blobs.items[0] else {
            unreachable!("{:?}", parsed.blobs.items[0]);
        };
        assert_eq!(blob.name, "d/a.txt");
        assert_eq!(blob.properties.content_length, Some(12));
        assert!(http_date(blob.properties.last_modified.as_deref()).is_some());
        assert!(matches!(&parsed.blobs.items[1], Item::BlobPrefix(p) if p.name == "d/e/"));
        let empty: EnumerationResults = quick_xml::de::from_str(
            "<EnumerationResults><Blobs /><NextMarker /></EnumerationResults>",
        )
        .unwrap();
        assert!(empty.blobs.items.is_empty());
    }
}
