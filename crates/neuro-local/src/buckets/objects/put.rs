//! `PutObject` of small objects, the bulk of a tree upload, in one blocking
//! call and with one new file.
//!
//! `s3s-fs` writes an object as three new files (the object, its metadata
//! and its `internal.json`), each through a temporary file in the store's
//! root, a rename and several hops to the blocking pool. Creating files is
//! what costs most on the server (on ext4 without a journal, allocating an
//! inode skips every inode freed in the last half minute, so a tree uploaded
//! right after another was removed pays for each removal), and every
//! temporary file in the root also waits for that one directory's lock.
//!
//! Here the body (at most [`SMALL_OBJECT`] bytes) is received in memory and
//! written to an unnamed file (`O_TMPFILE`, in a [staging](super::staging)
//! directory where ext4 allocates inodes cheaply), which gets its name with
//! one `linkat` once complete: a dropped upload leaves nothing, a reader
//! sees the old object or the new one, never a part.
//! The metadata file is written only when the request carries attributes
//! other than the default content type (which most clients send),
//! and the `e_tag` side file only above [`INLINE_ETAG_MAX`] bytes (below it,
//! `s3s-fs` hashes the object when asked for its ETag, as it does for
//! objects it finds without one). Side files left by an earlier object of
//! the same key are removed first. Requests with checksums or conditions
//! go to `s3s-fs`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use bytes::BytesMut;
use futures::StreamExt as _;
use s3s::crypto::{Checksum as _, Md5};
use s3s::dto::{ETag, PutObjectInput, PutObjectOutput, Timestamp, TimestampFormat};
use s3s::{s3_error, S3Request, S3Response, S3Result};

use super::remove_if_present;
use super::staging::Staging;
use super::{internal, tmp_in, write_atomic, Objects};
use crate::hex::lower_hex;
use crate::unnamed;

/// Largest body stored by this module (larger ones stream through `s3s-fs`).
pub const SMALL_OBJECT: u64 = 1 << 20;

/// Largest object stored without an `e_tag` side file.
pub const INLINE_ETAG_MAX: usize = 64 << 10;

/// The attributes `s3s-fs` keeps in an object's metadata file, in its format.
#[derive(serde::Serialize)]
struct Attributes {
    #[serde(skip_serializing_if = "Option::is_none")]
    user_metadata: Option<s3s::dto::Metadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_encoding: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_disposition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_control: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    website_redirect_location: Option<String>,
}

impl Attributes {
    /// The metadata file's content, or `None` when there is nothing to keep.
    fn from_input(input: &mut PutObjectInput) -> S3Result<Option<Vec<u8>>> {
        let expires = input
            .expires
            .take()
            .map(|t: Timestamp| {
                let mut buf = Vec::new();
                t.format(TimestampFormat::DateTime, &mut buf)
                    .map(|()| String::from_utf8_lossy(&buf).into_owned())
            })
            .transpose()
            .map_err(|_| s3_error!(InvalidArgument, "invalid Expires"))?;
        let attributes = Self {
            user_metadata: input.metadata.take(),
            content_encoding: input.content_encoding.take(),
            // The type served for objects without one is not kept.
            content_type: input
                .content_type
                .take()
                .filter(|t| t != super::DEFAULT_CONTENT_TYPE),
            content_disposition: input.content_disposition.take(),
            content_language: input.content_language.take(),
            cache_control: input.cache_control.take(),
            expires,
            website_redirect_location: input.website_redirect_location.take(),
        };
        let content = serde_json::to_vec(&attributes).map_err(internal)?;
        Ok((content.as_slice() != b"{}").then_some(content))
    }
}

/// What one small `PutObject` writes.
struct SmallPut {
    /// The object's file.
    object: PathBuf,
    /// Its bucket's directory (which must exist).
    bucket_dir: PathBuf,
    content: bytes::Bytes,
    /// The metadata file and its new content (`None`: remove it).
    metadata: (PathBuf, Option<Vec<u8>>),
    /// The `e_tag` side file and its new content (`None`: remove it).
    info: (PathBuf, Option<Vec<u8>>),
    /// The store's root, where temporary names are made (for side files,
    /// replacements and file systems without `O_TMPFILE`).
    root: PathBuf,
    /// Where its file is created, unnamed (`None`: as a named temporary
    /// file in the root).
    staging: Option<Arc<Staging>>,
}

impl Objects {
    /// Whether `req` is stored by [`Objects::put_small`]: a plain key, a
    /// known length up to [`SMALL_OBJECT`], no checksum, no condition.
    pub(super) fn is_small_put(&self, req: &S3Request<PutObjectInput>) -> bool {
        let input = &req.input;
        let plain = input.checksum_algorithm.is_none()
            && input.checksum_crc32.is_none()
            && input.checksum_crc32c.is_none()
            && input.checksum_sha1.is_none()
            && input.checksum_sha256.is_none()
            && input.checksum_crc64nvme.is_none()
            && input.if_match.is_none()
            && input.if_none_match.is_none()
            && input.storage_class.is_none()
            && req.trailing_headers.is_none();
        plain
            && input
                .content_length
                .is_some_and(|n| u64::try_from(n).is_ok_and(|n| n <= SMALL_OBJECT))
            && self.object_path(&input.bucket, &input.key).is_some()
    }

    /// Stores a request [`Objects::is_small_put`] accepted.
    pub(super) async fn put_small(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        let mut input = req.input;
        let object = self
            .object_path(&input.bucket, &input.key)
            .ok_or_else(|| s3_error!(InvalidArgument, "invalid key"))?;
        let declared = input
            .content_length
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| s3_error!(MissingContentLength))?;
        let mut body = input.body.take().ok_or_else(|| s3_error!(IncompleteBody))?;
        let mut content = BytesMut::with_capacity(declared);
        let mut md5 = Md5::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| s3_error!(IncompleteBody, "{e}"))?;
            if content.len() + chunk.len() > declared {
                return Err(s3_error!(IncompleteBody, "more bytes than Content-Length"));
            }
            md5.update(&chunk);
            content.extend_from_slice(&chunk);
        }
        if content.len() != declared {
            return Err(s3_error!(IncompleteBody));
        }
        let md5 = lower_hex(&md5.finalize());
        if let Some(expected) = &input.content_md5 {
            let expected = base64::engine::general_purpose::STANDARD
                .decode(expected)
                .map_err(|_| s3_error!(InvalidDigest))?;
            if lower_hex(&expected) != md5 {
                return Err(s3_error!(BadDigest, "content_md5 mismatch"));
            }
        }
        let metadata = Attributes::from_input(&mut input)?;
        let info = (declared > INLINE_ETAG_MAX)
            .then(|| serde_json::to_vec(&serde_json::json!({ "e_tag": md5 })))
            .transpose()
            .map_err(internal)?;
        let put = SmallPut {
            object,
            bucket_dir: self.root.join(&input.bucket),
            content: content.freeze(),
            metadata: (
                self.side_path(&input.bucket, &input.key, "metadata.json"),
                metadata,
            ),
            info: (
                self.side_path(&input.bucket, &input.key, "internal.json"),
                info,
            ),
            root: self.root.clone(),
            staging: self.staging.clone(),
        };
        let stored = tokio::task::spawn_blocking(move || put.run())
            .await
            .map_err(internal)?;
        if let Err(e) = stored {
            let gone = e.get_ref().is_some_and(|inner| inner.is::<NoSuchBucket>());
            return Err(if gone {
                s3_error!(NoSuchBucket)
            } else {
                internal(e)
            });
        }
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(ETag::Strong(md5)),
            ..Default::default()
        }))
    }
}

/// The error of a store into a bucket whose directory is gone.
#[derive(Debug, thiserror::Error)]
#[error("the bucket's directory is missing")]
struct NoSuchBucket;

impl SmallPut {
    fn run(self) -> std::io::Result<()> {
        // Side files of an earlier object go first: until the new object is
        // in place, the old one is served without them (its ETag computed).
        for (path, content) in [&self.metadata, &self.info] {
            if content.is_none() && std::fs::symlink_metadata(path).is_ok() {
                remove_if_present(path)?;
            }
        }
        let unnamed = self.staging.as_ref().and_then(|staging| {
            staging
                .dir()
                .and_then(|dir| unnamed::open_in(&dir, 0o666))
                .inspect_err(|e| tracing::debug!(error = %e, "no unnamed file for an object"))
                .ok()
        });
        if let Some(mut file) = unnamed {
            file.write_all(&self.content)?;
            self.in_place(|object| link_unnamed(&file, object, &tmp_in(&self.root)))?;
        } else {
            let tmp = tmp_in(&self.root);
            let written = std::fs::write(&tmp, &self.content)
                .and_then(|()| self.in_place(|object| std::fs::rename(&tmp, object)));
            if let Err(e) = written {
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        }
        for (path, content) in [&self.metadata, &self.info] {
            if let Some(content) = content {
                write_atomic(&tmp_in(&self.root), path, content)?;
            }
        }
        Ok(())
    }

    /// Runs `name` (which gives the object its name), creating the object's
    /// directory first if `name` finds it missing.
    fn in_place(&self, name: impl Fn(&Path) -> std::io::Result<()>) -> std::io::Result<()> {
        match name(&self.object) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !self.bucket_dir.is_dir() {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        NoSuchBucket,
                    ));
                }
                if let Some(dir) = self.object.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                name(&self.object)
            }
            other => other,
        }
    }
}

/// Gives the unnamed `file` the name `object`: directly when the name is
/// free, else through the temporary name `tmp` and a rename over the old
/// object.
fn link_unnamed(file: &std::fs::File, object: &Path, tmp: &Path) -> std::io::Result<()> {
    match unnamed::link(file, object) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            unnamed::link(file, tmp)?;
            std::fs::rename(tmp, object).inspect_err(|_| {
                let _ = std::fs::remove_file(tmp);
            })
        }
        other => other,
    }
}
