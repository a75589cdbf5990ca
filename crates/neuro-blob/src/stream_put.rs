//! Storing a stream of unknown length: buffered into parts of
//! [`PART_SIZE`](crate::PART_SIZE); a stream shorter than one part is sent
//! with one request, a longer one as a multipart upload.

use bytes::{Bytes, BytesMut};
use futures::{Stream, StreamExt as _};
use neuro_storage::with_retries;

use crate::channel::Body;
use crate::store::Store;
use crate::{BlobError, PART_SIZE};

/// Cuts a stream into parts of exactly [`PART_SIZE`] bytes (the last one
/// shorter), as GCS wants its chunks in multiples of 256 KiB.
struct Parts<S> {
    body: S,
    pending: BytesMut,
    ended: bool,
}

impl<S> Parts<S>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
{
    /// The next part; empty once the stream is done.
    async fn next(&mut self) -> Result<Bytes, BlobError> {
        let limit = usize::try_from(PART_SIZE).unwrap_or(usize::MAX);
        while self.pending.len() < limit && !self.ended {
            match self.body.next().await {
                Some(chunk) => self.pending.extend_from_slice(&chunk.map_err(|e| {
                    BlobError::InvalidArgument(format!("the blob body failed: {e}"))
                })?),
                None => self.ended = true,
            }
        }
        let take = self.pending.len().min(limit);
        Ok(self.pending.split_to(take).freeze())
    }
}

/// Stores `body` as `key`. Parts are held in memory one at a time, so each
/// can be retried.
pub(crate) async fn put_stream<S>(store: &Store, key: &str, body: S) -> Result<(), BlobError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin,
{
    let mut parts = Parts {
        body,
        pending: BytesMut::new(),
        ended: false,
    };
    let first = parts.next().await?;
    let limit = usize::try_from(PART_SIZE).unwrap_or(usize::MAX);
    if first.len() < limit {
        let what = format!("Fail to upload {key}");
        return with_retries(&what, || store.put(key, || Body::Bytes(first.clone()))).await;
    }
    let upload = store.create_upload(key).await?;
    let result = async {
        let mut tags = Vec::new();
        let mut offset = 0u64;
        let mut part = first;
        while !part.is_empty() {
            let number = u16::try_from(tags.len() + 1)
                .map_err(|_| BlobError::InvalidArgument(format!("{key:?} is too large")))?;
            let what = format!("Fail to upload part {number} of {key}");
            let data = part.clone();
            let len = data.len() as u64;
            let tag = with_retries(&what, || {
                store.upload_part(key, &upload, number, offset, len, || {
                    Body::Bytes(data.clone())
                })
            })
            .await?;
            tags.push(tag);
            offset += len;
            part = parts.next().await?;
        }
        let what = format!("Fail to complete the upload of {key}");
        with_retries(&what, || store.complete_upload(key, &upload, &tags, offset)).await
    }
    .await;
    if result.is_err() {
        store.abort_upload(key, &upload).await;
    }
    result
}
