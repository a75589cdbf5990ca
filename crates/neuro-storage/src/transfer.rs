//! Single-file transfers between the local disk and storage, streamed in 1 MiB
//! chunks with retries of each idempotent step.

use std::path::Path;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use neuro_types::uri::{parent, UriInput};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use url::Url;

use crate::retry::{with_retries, Retries};
use crate::{Storage, StorageError};

/// Size of each chunk read from a local file and sent in one request.
pub const READ_SIZE: usize = 1 << 20;

impl Storage {
    /// Uploads the local file `src` to `dst` (the full target path, not a
    /// directory), creating or replacing it.
    ///
    /// The file is read and sent 1 MiB at a time (a `CREATE` with the first
    /// chunk, then `WRITE`s at increasing offsets), so memory use does not depend
    /// on its size. Transport failures of each step are retried.
    pub async fn upload_file<'a>(
        &self,
        src: &Path,
        dst: impl Into<UriInput<'a>>,
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
        self.check_upload_target(&dst).await?;

        let mut file = tokio::fs::File::open(src)
            .await
            .map_err(|e| StorageError::local(src, e))?;
        let first = read_chunk(&mut file, src).await?;
        let mut offset = first.len() as u64;
        with_retries("upload", || self.create_bytes(&dst, first.clone())).await?;
        loop {
            let chunk = read_chunk(&mut file, src).await?;
            if chunk.is_empty() {
                break;
            }
            let len = chunk.len() as u64;
            with_retries("upload", || self.write_url(&dst, chunk.clone(), offset)).await?;
            offset += len;
        }
        Ok(())
    }

    /// Downloads the storage file `src` to the local path `dst`, creating or
    /// truncating it.
    ///
    /// The body is written as it arrives. A transport failure in the middle is
    /// retried from the byte reached (a `Range` read); the retry budget restarts
    /// whenever data arrives.
    pub async fn download_file<'a>(
        &self,
        src: impl Into<UriInput<'a>>,
        dst: &Path,
    ) -> Result<(), StorageError> {
        let src = self.normalize(src)?;
        let status = self.stat_url(&src).await?;
        if !status.is_file() {
            return Err(StorageError::IsADirectory { uri: src });
        }
        let size = status.size;
        let mut file = tokio::fs::File::create(dst)
            .await
            .map_err(|e| StorageError::local(dst, e))?;
        let mut pos: u64 = 0;
        let mut retries = Retries::default();
        while pos < size {
            retries.start_attempt();
            match self.download_from(&src, pos, &mut file, dst).await {
                // An attempt that ends cleanly ends the download, as in the SDK.
                Ok(_) => break,
                Err((received, StorageError::Http(e))) if e.is_retryable_transport() => {
                    pos += received;
                    if received > 0 {
                        retries.reset();
                    }
                    let Some(pause) = retries.pause_after_failure() else {
                        return Err(StorageError::Http(e));
                    };
                    tracing::info!("download: {e}. Retry...");
                    tokio::time::sleep(pause).await;
                }
                Err((_, e)) => return Err(e),
            }
        }
        file.flush()
            .await
            .map_err(|e| StorageError::local(dst, e))?;
        Ok(())
    }

    /// One read attempt from `offset`; returns the bytes written, also on error.
    async fn download_from(
        &self,
        src: &Url,
        offset: u64,
        file: &mut tokio::fs::File,
        dst: &Path,
    ) -> Result<u64, (u64, StorageError)> {
        let mut body = self.open_url(src, offset, None).await.map_err(|e| (0, e))?;
        let mut received = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| (received, e))?;
            file.write_all(&chunk)
                .await
                .map_err(|e| (received, StorageError::local(dst, e)))?;
            received += chunk.len() as u64;
        }
        Ok(received)
    }

    /// The target of an upload must not be a directory, and its parent must be.
    async fn check_upload_target(&self, dst: &Url) -> Result<(), StorageError> {
        match self.stat_url(dst).await {
            Ok(status) if status.is_dir() => {
                return Err(StorageError::IsADirectory { uri: dst.clone() })
            }
            Ok(_) => return Ok(()),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        let Some(parent) = parent(dst) else {
            return Err(StorageError::NotADirectory { uri: dst.clone() });
        };
        match self.stat_url(&parent).await {
            Ok(status) if status.is_dir() => Ok(()),
            Ok(_) => Err(StorageError::NotADirectory { uri: parent }),
            Err(e) if e.is_not_found() => Err(StorageError::NotADirectory { uri: parent }),
            Err(e) => Err(e),
        }
    }
}

async fn read_chunk(file: &mut tokio::fs::File, path: &Path) -> Result<Bytes, StorageError> {
    let mut buf = BytesMut::with_capacity(READ_SIZE);
    while buf.len() < READ_SIZE {
        let n = file
            .read_buf(&mut buf)
            .await
            .map_err(|e| StorageError::local(path, e))?;
        if n == 0 {
            break;
        }
    }
    Ok(buf.freeze())
}
