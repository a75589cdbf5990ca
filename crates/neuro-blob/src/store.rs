//! [`Store`]: a bucket at its provider, whichever protocol it speaks. The
//! rest of the crate (listings, globs, transfers, removal) sees only this,
//! so every operation works the same on S3, Azure and GCS buckets.

use std::sync::Arc;

use neuro_http::{Response, Transport};
use neuro_storage::clock::TimeDiff;
use neuro_types::{Bucket, BucketCredentials, BucketProvider};

use crate::azure::AzureContainer;
use crate::channel::{Body, Refresher};
use crate::entry::BucketEntry;
use crate::gcs::GcsBucket;
use crate::list::Page;
use crate::s3::S3Bucket;
use crate::BlobError;

/// A bucket reached at its provider with (renewable) temporary credentials.
/// Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) enum Store {
    /// AWS, MinIO, OpenStack: the S3 protocol.
    S3(S3Bucket),
    /// Azure Blob Storage.
    Azure(AzureContainer),
    /// Google Cloud Storage.
    Gcs(GcsBucket),
}

/// A multipart upload in progress.
#[derive(Debug, Clone)]
pub(crate) enum Upload {
    /// An S3 upload id.
    S3(String),
    /// The random prefix of the Azure block ids.
    Azure(String),
    /// A GCS resumable session URL.
    Gcs(String),
}

impl Store {
    /// `bucket` at its provider, with the credentials `creds` renewed by
    /// `refresher`.
    pub(crate) fn open(
        bucket: Arc<Bucket>,
        creds: &BucketCredentials,
        transport: Transport,
        refresher: Option<Refresher>,
    ) -> Result<Self, BlobError> {
        Ok(match bucket.provider {
            BucketProvider::Azure => {
                Store::Azure(AzureContainer::new(bucket, creds, transport, refresher)?)
            }
            BucketProvider::Gcp => Store::Gcs(GcsBucket::new(bucket, creds, transport, refresher)?),
            BucketProvider::Aws | BucketProvider::Minio | BucketProvider::OpenStack => {
                Store::S3(S3Bucket::new(bucket, creds, transport, refresher)?)
            }
        })
    }

    /// The platform bucket.
    pub(crate) fn bucket(&self) -> &Arc<Bucket> {
        match self {
            Store::S3(s) => s.bucket(),
            Store::Azure(a) => a.bucket(),
            Store::Gcs(g) => g.bucket(),
        }
    }

    /// The last measured clock difference with the provider.
    pub(crate) fn time_diff(&self) -> TimeDiff {
        match self {
            Store::S3(s) => s.time_diff(),
            Store::Azure(a) => a.time_diff(),
            Store::Gcs(g) => g.time_diff(),
        }
    }

    /// One page of the listing under `prefix`, after `token`.
    pub(crate) async fn list_page(
        &self,
        prefix: &str,
        recursive: bool,
        token: Option<&str>,
    ) -> Result<Page, BlobError> {
        match self {
            Store::S3(s) => s.list_page(prefix, recursive, token).await,
            Store::Azure(a) => a.list_page(prefix, recursive, token).await,
            Store::Gcs(g) => g.list_page(prefix, recursive, token).await,
        }
    }

    /// Size and times of the object `key`.
    pub(crate) async fn head(&self, key: &str) -> Result<BucketEntry, BlobError> {
        match self {
            Store::S3(s) => s.head(key).await,
            Store::Azure(a) => a.head(key).await,
            Store::Gcs(g) => g.head(key).await,
        }
    }

    /// The content of `key` from byte `offset` (to the end, or `len` bytes).
    pub(crate) async fn get(
        &self,
        key: &str,
        offset: u64,
        len: Option<u64>,
    ) -> Result<Response, BlobError> {
        match self {
            Store::S3(s) => s.get(key, offset, len).await,
            Store::Azure(a) => a.get(key, offset, len).await,
            Store::Gcs(g) => g.get(key, offset, len).await,
        }
    }

    /// Stores a body made by `body` (called again for each attempt) as `key`.
    pub(crate) async fn put(&self, key: &str, body: impl Fn() -> Body) -> Result<(), BlobError> {
        match self {
            Store::S3(s) => s.put(key, body).await,
            Store::Azure(a) => a.put(key, body).await,
            Store::Gcs(g) => g.put(key, body).await,
        }
    }

    /// Removes `key` (success when it does not exist).
    pub(crate) async fn delete(&self, key: &str) -> Result<(), BlobError> {
        match self {
            Store::S3(s) => s.delete(key).await,
            Store::Azure(a) => a.delete(key).await,
            Store::Gcs(g) => g.delete(key).await,
        }
    }

    /// Parts of one upload that may be sent at once (a GCS upload session
    /// takes its chunks in order).
    pub(crate) fn part_concurrency(&self, most: usize) -> usize {
        match self {
            Store::Gcs(_) => 1,
            Store::S3(_) | Store::Azure(_) => most,
        }
    }

    /// Starts a multipart upload of `key`.
    pub(crate) async fn create_upload(&self, key: &str) -> Result<Upload, BlobError> {
        Ok(match self {
            Store::S3(s) => Upload::S3(s.create_multipart(key).await?),
            Store::Azure(_) => Upload::Azure(uuid::Uuid::new_v4().simple().to_string()),
            Store::Gcs(g) => Upload::Gcs(g.create_upload(key).await?),
        })
    }

    /// Sends part `number` (from 1), bytes `offset..offset + len` of the
    /// object: the tag [`Store::complete_upload`] needs.
    pub(crate) async fn upload_part(
        &self,
        key: &str,
        upload: &Upload,
        number: u16,
        offset: u64,
        len: u64,
        body: impl Fn() -> Body,
    ) -> Result<String, BlobError> {
        match (self, upload) {
            (Store::S3(s), Upload::S3(id)) => s.upload_part(key, id, number, body).await,
            (Store::Azure(a), Upload::Azure(id)) => a.upload_part(key, id, number, body).await,
            (Store::Gcs(g), Upload::Gcs(session)) => {
                g.upload_chunk(key, session, offset, len, body).await?;
                Ok(String::new())
            }
            _ => Err(mismatch()),
        }
    }

    /// Ends the upload: the object becomes the parts with `tags`, `total`
    /// bytes in all.
    pub(crate) async fn complete_upload(
        &self,
        key: &str,
        upload: &Upload,
        tags: &[String],
        total: u64,
    ) -> Result<(), BlobError> {
        match (self, upload) {
            (Store::S3(s), Upload::S3(id)) => s.complete_multipart(key, id, tags).await,
            (Store::Azure(a), Upload::Azure(_)) => a.complete(key, tags).await,
            (Store::Gcs(g), Upload::Gcs(session)) => g.finish_upload(key, session, total).await,
            _ => Err(mismatch()),
        }
    }

    /// Gives up an upload (best effort: failures are only logged). Azure
    /// drops uncommitted blocks by itself, and GCS unfinished sessions.
    pub(crate) async fn abort_upload(&self, key: &str, upload: &Upload) {
        if let (Store::S3(s), Upload::S3(id)) = (self, upload) {
            s.abort_multipart(key, id).await;
        }
    }
}

fn mismatch() -> BlobError {
    BlobError::InvalidArgument("an upload continued on another provider".into())
}
