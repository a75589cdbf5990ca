//! Storing a stream of unknown length: buffered into parts of
//! [`PART_SIZE`](crate::PART_SIZE); a stream shorter than one part is sent
//! with one `PutObject`, a longer one as a multipart upload.

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt as _};
use neuro_storage::with_retries;

use crate::s3::{Body, S3Bucket};
use crate::{BlobError, PART_SIZE};

/// Reads up to [`PART_SIZE`] bytes of `body`.
async fn next_part<S>(body: &mut S) -> Result<Bytes, BlobError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
{
    let limit = usize::try_from(PART_SIZE).unwrap_or(usize::MAX);
    let mut part = BytesMut::new();
    while part.len() < limit {
        match body.next().await {
            Some(chunk) => {
                part.extend_from_slice(&chunk.map_err(|e| {
                    BlobError::InvalidArgument(format!("the blob body failed: {e}"))
                })?)
            }
            None => break,
        }
    }
    Ok(part.freeze())
}

/// Stores `body` as `key`. Parts are held in memory one at a time, so each
/// can be retried.
pub(crate) async fn put_stream<S>(s3: &S3Bucket, key: &str, mut body: S) -> Result<(), BlobError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
{
    let first = next_part(&mut body).await?;
    let limit = usize::try_from(PART_SIZE).unwrap_or(usize::MAX);
    if first.len() < limit {
        let what = format!("Fail to upload {key}");
        return with_retries(&what, || s3.put(key, || Body::Bytes(first.clone()))).await;
    }
    let upload_id = s3.create_multipart(key).await?;
    let result = async {
        let mut etags = Vec::new();
        let mut part = first;
        while !part.is_empty() {
            let number = u16::try_from(etags.len() + 1)
                .map_err(|_| BlobError::InvalidArgument(format!("{key:?} is too large")))?;
            let what = format!("Fail to upload part {number} of {key}");
            let data = part.clone();
            let etag = with_retries(&what, || {
                s3.upload_part(key, &upload_id, number, || Body::Bytes(data.clone()))
            })
            .await?;
            etags.push(etag);
            part = next_part(&mut body).await?;
        }
        let what = format!("Fail to complete the upload of {key}");
        with_retries(&what, || s3.complete_multipart(key, &upload_id, &etags)).await
    }
    .await;
    if result.is_err() {
        s3.abort_multipart(key, &upload_id).await;
    }
    result
}
