//! The object store behind the S3 endpoint: `s3s-fs` for every operation
//! except those that decide the speed of uploads: the multipart ones (large
//! objects, below) and `PutObject` of small ones (module `put`).
//!
//! `s3s-fs` completes a multipart upload by reading every part again,
//! hashing it and copying it into the object. Here an uploaded part is
//! written by a blocking worker that hashes it while the next bytes arrive,
//! its MD5 is remembered (with the inode it was written to, so a part
//! replaced since is hashed again), and completion renames the first part
//! into place and appends the others with `copy_file_range` (in-kernel, no
//! user-space copy). The files are those `s3s-fs` keeps (part files, upload
//! record, metadata and `e_tag` side files), so every other operation of
//! `s3s-fs` reads what this module writes.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use bytes::Bytes;
use futures::StreamExt as _;
use s3s::crypto::{Checksum as _, Md5};
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, ETag, GetObjectInput, GetObjectOutput, HeadObjectInput,
    HeadObjectOutput, PutObjectInput, PutObjectOutput, UploadPartInput, UploadPartOutput,
};
use s3s::{s3_error, S3Error, S3Request, S3Response, S3Result, S3};
use s3s_fs::FileSystem;
use uuid::Uuid;

mod put;
mod staging;

/// The content type of objects stored without one (as MinIO answers).
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// Bytes gathered before a write is handed to the part's writer thread.
const WRITE_BATCH: usize = 4 << 20;

/// Every part but the last must be at least this large (S3's rule).
const MIN_PART_SIZE: u64 = 5 << 20;

/// The MD5 of an uploaded part and the inode its bytes were written to.
#[derive(Clone, Copy)]
struct PartDigest {
    inode: u64,
    md5: [u8; 16],
}

/// `s3s-fs` with fast multipart uploads.
pub struct Objects {
    fs: FileSystem,
    /// `{data_dir}/buckets`, canonical (as `s3s-fs` resolves it).
    root: PathBuf,
    /// Digests of the parts uploaded through [`Objects::upload_part`], by
    /// upload and part number; forgotten when the upload completes or is
    /// aborted.
    parts: Mutex<HashMap<(Uuid, i32), PartDigest>>,
    /// Where small objects' files are created (`None` if it cannot be
    /// prepared: then in the root).
    staging: Option<Arc<staging::Staging>>,
}

impl Objects {
    /// The store over `root` (created if missing).
    pub fn new(root: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(root)?;
        let root = root.canonicalize()?;
        let fs = FileSystem::new(&root).map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        let staging = staging::Staging::new(&root)
            .inspect_err(|e| tracing::warn!(error = %e, "no staging directory for objects"))
            .ok()
            .map(Arc::new);
        Ok(Self {
            fs,
            root,
            parts: Mutex::new(HashMap::new()),
            staging,
        })
    }

    fn part_path(&self, upload: Uuid, part: i32) -> PathBuf {
        self.root.join(format!(".upload_id-{upload}.part-{part}"))
    }

    fn upload_record(&self, upload: Uuid) -> PathBuf {
        self.root.join(format!(".upload-{upload}.json"))
    }

    /// A temporary file name in the root (see [`tmp_in`]).
    fn tmp_path(&self) -> PathBuf {
        tmp_in(&self.root)
    }

    /// The side file `s3s-fs` keeps for `bucket`/`key`: `kind` is
    /// `internal.json` (the `e_tag`) or `[upload-<id>.]metadata.json`.
    fn side_path(&self, bucket: &str, key: &str, kind: &str) -> PathBuf {
        let encode = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        self.root.join(format!(
            ".bucket-{}.object-{}.{kind}",
            encode(bucket),
            encode(key)
        ))
    }

    /// The object's file, or `None` for a key this module leaves to
    /// `s3s-fs` (which resolves `..` and absolute keys itself).
    fn object_path(&self, bucket: &str, key: &str) -> Option<PathBuf> {
        let plain = !key.is_empty()
            && !key.starts_with('/')
            && !key.ends_with('/')
            && key.split('/').all(|s| s != ".." && s != ".");
        plain.then(|| self.root.join(bucket).join(key))
    }

    /// Whether `upload` exists and was started with the request's key, as
    /// `s3s-fs` records it.
    async fn verify_upload(&self, access_key: Option<&str>, upload: Uuid) -> S3Result<()> {
        let content = match tokio::fs::read(self.upload_record(upload)).await {
            Ok(content) => content,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(s3_error!(AccessDenied))
            }
            Err(e) => return Err(internal(e)),
        };
        let owner: Option<String> = serde_json::from_slice(&content).map_err(internal)?;
        if owner.as_deref() == access_key {
            Ok(())
        } else {
            Err(s3_error!(AccessDenied))
        }
    }

    /// The MD5 of the part file `path`: the one remembered if the file is
    /// still the one it was computed for, otherwise read and hashed.
    async fn part_md5(&self, upload: Uuid, part: i32, path: &Path) -> S3Result<[u8; 16]> {
        let meta = tokio::fs::metadata(path)
            .await
            .map_err(|_| s3_error!(InvalidPart, "part {part} was not uploaded"))?;
        let known = self
            .parts
            .lock()
            .map_err(|_| s3_error!(InternalError))?
            .get(&(upload, part))
            .copied();
        if let Some(digest) = known.filter(|d| d.inode == meta.ino()) {
            return Ok(digest.md5);
        }
        let path = path.to_owned();
        blocking(move || {
            let mut file = std::fs::File::open(&path)?;
            let mut md5 = Md5::new();
            let mut buf = vec![0u8; 1 << 20];
            loop {
                let n = std::io::Read::read(&mut file, &mut buf)?;
                if n == 0 {
                    break;
                }
                md5.update(&buf[..n]);
            }
            Ok(md5.finalize())
        })
        .await
    }

    fn forget(&self, upload: Uuid) {
        if let Ok(mut parts) = self.parts.lock() {
            parts.retain(|(id, _), _| *id != upload);
        }
    }
}

/// A new temporary file name in `root`, of the form `s3s-fs` removes on
/// start-up if left behind.
fn tmp_in(root: &Path) -> PathBuf {
    root.join(format!(".tmp.neuro-{}.internal.part", Uuid::new_v4()))
}

fn internal(e: impl std::fmt::Display) -> S3Error {
    tracing::warn!(error = %e, "bucket object store");
    s3_error!(InternalError)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs file work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> S3Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(internal)?
        .map_err(internal)
}

/// Writes `tmp`'s batches (received on `batches`) to a new file, hashing
/// them; returns the file's inode and the MD5.
fn write_part(
    tmp: &Path,
    mut batches: tokio::sync::mpsc::Receiver<Vec<Bytes>>,
) -> std::io::Result<PartDigest> {
    let mut file = std::fs::File::create(tmp)?;
    let mut md5 = Md5::new();
    while let Some(batch) = batches.blocking_recv() {
        for chunk in &batch {
            md5.update(chunk);
            file.write_all(chunk)?;
        }
    }
    Ok(PartDigest {
        inode: file.metadata()?.ino(),
        md5: md5.finalize(),
    })
}

/// Joins the part files into `tmp`: `first` is renamed there and the others
/// are appended in the kernel, then removed. On failure `first` is put back
/// as it was and the others stay.
fn join_parts(first: &Path, rest: &[PathBuf], tmp: &Path) -> std::io::Result<()> {
    std::fs::rename(first, tmp)?;
    let appended = std::fs::OpenOptions::new()
        .write(true)
        .open(tmp)
        .and_then(|out| {
            let first_len = out.metadata()?.len();
            append_parts(&out, first_len, rest).inspect_err(|_| {
                let _ = out.set_len(first_len);
            })
        });
    if let Err(e) = appended {
        let _ = std::fs::rename(tmp, first);
        return Err(e);
    }
    for path in rest {
        std::fs::remove_file(path)?;
    }
    Ok(())
}

/// Copies the files `parts` one after the other into `out` from `offset`.
fn append_parts(out: &std::fs::File, offset: u64, parts: &[PathBuf]) -> std::io::Result<()> {
    let mut offset = i64::try_from(offset).map_err(std::io::Error::other)?;
    for path in parts {
        let input = std::fs::File::open(path)?;
        let mut left = input.metadata()?.len();
        while left > 0 {
            let chunk = usize::try_from(left).unwrap_or(usize::MAX).min(1 << 30);
            let n = nix::fcntl::copy_file_range(&input, None, out, Some(&mut offset), chunk)?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "a part file shrank while it was joined",
                ));
            }
            left -= n as u64;
        }
    }
    Ok(())
}

/// Writes `content` to `path` through a temporary file and a rename.
fn write_atomic(tmp: &Path, path: &Path, content: &[u8]) -> std::io::Result<()> {
    std::fs::write(tmp, content)?;
    std::fs::rename(tmp, path)
}

/// Forwards operations to `s3s-fs` unchanged (in the form `async_trait`
/// gives the trait's methods, as this expands after it).
macro_rules! delegate {
    ($($op:ident: $input:ident => $output:ident,)*) => {
        $(
            fn $op<'life0, 'async_trait>(
                &'life0 self,
                req: S3Request<s3s::dto::$input>,
            ) -> std::pin::Pin<Box<
                dyn std::future::Future<Output = S3Result<S3Response<s3s::dto::$output>>>
                    + Send
                    + 'async_trait,
            >>
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                self.fs.$op(req)
            }
        )*
    };
}

#[async_trait::async_trait]
impl S3 for Objects {
    delegate! {
        create_bucket: CreateBucketInput => CreateBucketOutput,
        copy_object: CopyObjectInput => CopyObjectOutput,
        delete_bucket: DeleteBucketInput => DeleteBucketOutput,
        delete_object: DeleteObjectInput => DeleteObjectOutput,
        delete_objects: DeleteObjectsInput => DeleteObjectsOutput,
        get_bucket_location: GetBucketLocationInput => GetBucketLocationOutput,
        head_bucket: HeadBucketInput => HeadBucketOutput,
        list_buckets: ListBucketsInput => ListBucketsOutput,
        list_objects: ListObjectsInput => ListObjectsOutput,
        list_objects_v2: ListObjectsV2Input => ListObjectsV2Output,
        create_multipart_upload: CreateMultipartUploadInput => CreateMultipartUploadOutput,
        upload_part_copy: UploadPartCopyInput => UploadPartCopyOutput,
        list_parts: ListPartsInput => ListPartsOutput,
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let mut response = self.fs.get_object(req).await?;
        response
            .output
            .content_type
            .get_or_insert_with(|| DEFAULT_CONTENT_TYPE.to_owned());
        Ok(response)
    }

    async fn head_object(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> S3Result<S3Response<HeadObjectOutput>> {
        let mut response = self.fs.head_object(req).await?;
        response
            .output
            .content_type
            .get_or_insert_with(|| DEFAULT_CONTENT_TYPE.to_owned());
        Ok(response)
    }

    async fn put_object(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> S3Result<S3Response<PutObjectOutput>> {
        if self.is_small_put(&req) {
            self.put_small(req).await
        } else {
            self.fs.put_object(req).await
        }
    }

    async fn upload_part(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> S3Result<S3Response<UploadPartOutput>> {
        let UploadPartInput {
            body,
            upload_id,
            part_number,
            ..
        } = req.input;
        if !(1..=10_000).contains(&part_number) {
            return Err(s3_error!(
                InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive"
            ));
        }
        let mut body = body.ok_or_else(|| s3_error!(IncompleteBody))?;
        let upload = Uuid::parse_str(&upload_id).map_err(|_| s3_error!(InvalidRequest))?;
        let access_key = req.credentials.as_ref().map(|c| c.access_key.as_str());
        self.verify_upload(access_key, upload).await?;

        let tmp = self.tmp_path();
        let (sender, batches) = tokio::sync::mpsc::channel::<Vec<Bytes>>(2);
        let writer_tmp = tmp.clone();
        let writer = tokio::task::spawn_blocking(move || write_part(&writer_tmp, batches));
        let mut batch = Vec::new();
        let mut batched = 0;
        let mut failure = None;
        while let Some(chunk) = body.next().await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(e) => {
                    failure = Some(s3_error!(IncompleteBody, "{e}"));
                    break;
                }
            };
            batched += chunk.len();
            batch.push(chunk);
            if batched >= WRITE_BATCH {
                batched = 0;
                let full = std::mem::take(&mut batch);
                if sender.send(full).await.is_err() {
                    break;
                }
            }
        }
        if failure.is_none() && !batch.is_empty() {
            let _ = sender.send(batch).await;
        }
        drop(sender);
        let written = writer
            .await
            .map_err(internal)
            .and_then(|r| r.map_err(internal));
        let digest = match (failure, written) {
            (None, Ok(digest)) => digest,
            (failure, written) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(failure
                    .unwrap_or_else(|| written.err().unwrap_or_else(|| s3_error!(InternalError))));
            }
        };
        let path = self.part_path(upload, part_number);
        if let Err(e) = tokio::fs::rename(&tmp, &path).await {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(internal(e));
        }
        self.parts
            .lock()
            .map_err(|_| s3_error!(InternalError))?
            .insert((upload, part_number), digest);
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(hex(&digest.md5))),
            ..Default::default()
        }))
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let input = &req.input;
        let object = self.object_path(&input.bucket, &input.key);
        let conditional = input.if_match.is_some() || input.if_none_match.is_some();
        let (Some(object), false, Ok(upload)) =
            (object, conditional, Uuid::parse_str(&input.upload_id))
        else {
            return self.fs.complete_multipart_upload(req).await;
        };
        let numbers: Vec<Option<i32>> = input
            .multipart_upload
            .as_ref()
            .and_then(|m| m.parts.as_ref())
            .map(|parts| parts.iter().map(|p| p.part_number).collect())
            .unwrap_or_default();
        if numbers.is_empty() {
            return Err(s3_error!(InvalidPart, "You must specify at least one part"));
        }
        let access_key = req.credentials.as_ref().map(|c| c.access_key.as_str());
        self.verify_upload(access_key, upload).await?;

        // Check every part before anything changes.
        let mut paths = Vec::with_capacity(numbers.len());
        let mut md5s = Vec::with_capacity(numbers.len());
        for (index, number) in numbers.iter().enumerate() {
            let number = number.ok_or_else(|| s3_error!(InvalidRequest, "missing part number"))?;
            if usize::try_from(number).ok() != Some(index + 1) {
                return Err(s3_error!(InvalidRequest, "invalid part order"));
            }
            let path = self.part_path(upload, number);
            let size = tokio::fs::metadata(&path)
                .await
                .map_err(|_| s3_error!(InvalidPart, "part {number} was not uploaded"))?
                .len();
            if index + 1 < numbers.len() && size < MIN_PART_SIZE {
                return Err(s3_error!(EntityTooSmall));
            }
            md5s.push(self.part_md5(upload, number, &path).await?);
            paths.push(path);
        }

        let bucket = input.bucket.clone();
        let key = input.key.clone();
        let pending_meta = self.side_path(&bucket, &key, &format!("upload-{upload}.metadata.json"));
        let meta = self.side_path(&bucket, &key, "metadata.json");
        let info = self.side_path(&bucket, &key, "internal.json");
        let record = self.upload_record(upload);
        let mut etag = Md5::new();
        for md5 in &md5s {
            etag.update(md5);
        }
        let e_tag = format!("{}-{}", hex(&etag.finalize()), md5s.len());
        let info_json =
            serde_json::to_vec(&serde_json::json!({ "e_tag": e_tag })).map_err(internal)?;
        let (tmp, info_tmp) = (self.tmp_path(), self.tmp_path());
        blocking(move || {
            std::fs::remove_file(&record)?;
            match std::fs::rename(&pending_meta, &meta) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                other => other?,
            }
            let (first, rest) = paths
                .split_first()
                .ok_or_else(|| std::io::Error::other("a multipart upload without parts"))?;
            join_parts(first, rest, &tmp)?;
            if let Some(dir) = object.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::rename(&tmp, &object).inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })?;
            write_atomic(&info_tmp, &info, &info_json)
        })
        .await?;
        self.forget(upload);

        Ok(S3Response::new(CompleteMultipartUploadOutput {
            bucket: Some(bucket),
            key: Some(key),
            e_tag: Some(ETag::Strong(e_tag)),
            ..Default::default()
        }))
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let upload = Uuid::parse_str(&req.input.upload_id).ok();
        let response = self.fs.abort_multipart_upload(req).await?;
        if let Some(upload) = upload {
            self.forget(upload);
        }
        Ok(response)
    }
}
