//! The object store behind the S3 endpoint: `s3s-fs` for every operation
//! except those that decide the speed of uploads: the multipart ones (large
//! objects, below) and `PutObject` of small ones (module `put`).
//!
//! `s3s-fs` completes a multipart upload by reading every part again,
//! hashing it and copying it into the object. Here an uploaded part is
//! written by a blocking worker that hashes it while the next bytes arrive,
//! most often straight to its place in the object-to-be (module `assembly`), and
//! its MD5 is remembered; completion renames the assembled file into place,
//! copying in the kernel (`copy_file_range`) only the parts that were kept
//! in their own files. Those files, the upload record, the metadata and
//! the `e_tag` side files are the ones `s3s-fs` keeps, so every other
//! operation of `s3s-fs` reads what this module writes.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use futures::StreamExt as _;
use s3s::crypto::{Checksum as _, Md5};
use s3s::dto::StreamingBlob;
use s3s::dto::{
    AbortMultipartUploadInput, AbortMultipartUploadOutput, CompleteMultipartUploadInput,
    CompleteMultipartUploadOutput, ETag, GetObjectInput, GetObjectOutput, HeadObjectInput,
    HeadObjectOutput, ListPartsInput, ListPartsOutput, Part as ListedPart, PutObjectInput,
    PutObjectOutput, UploadPartCopyInput, UploadPartCopyOutput, UploadPartInput, UploadPartOutput,
};
use s3s::{s3_error, S3Error, S3Request, S3Response, S3Result, S3};
use s3s_fs::FileSystem;
use uuid::Uuid;

mod assembly;
mod put;
mod staging;

use assembly::{Part, Place, Placed, Uploads};

use crate::hex::lower_hex;
use crate::storage::io::{BlockWriter, Inspect};

/// The content type of objects stored without one (as MinIO answers).
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// Every part but the last must be at least this large (S3's rule).
const MIN_PART_SIZE: u64 = 5 << 20;

/// `s3s-fs` with fast multipart uploads.
pub struct Objects {
    fs: FileSystem,
    /// `{data_dir}/buckets`, canonical (as `s3s-fs` resolves it).
    root: PathBuf,
    /// The parts uploaded through [`Objects::upload_part`]; forgotten when
    /// the upload completes or is aborted.
    uploads: Uploads,
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
            uploads: Uploads::default(),
            staging,
        })
    }

    fn part_path(&self, upload: Uuid, part: i32) -> PathBuf {
        self.root.join(format!(".upload_id-{upload}.part-{part}"))
    }

    /// The file parts of `upload` are assembled in: a temporary file (what
    /// is known of it is lost on restart, and so is the file).
    fn assembly_path(&self, upload: Uuid) -> PathBuf {
        self.root
            .join(format!(".tmp.neuro-assembly-{upload}.internal.part"))
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
        let known = self.uploads.get(upload, part);
        if let Some(known) = known.filter(|p| p.placed == Placed::File { inode: meta.ino() }) {
            return Ok(known.md5);
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

    /// Writes the body of a part to `target` (through storage's
    /// [`BlockWriter`], hashing it on the writer's thread).
    async fn receive_part(&self, target: &Target, body: &mut StreamingBlob) -> S3Result<Part> {
        let opened = {
            let target = target.clone();
            blocking(move || open_target(&target)).await?
        };
        let (file, offset, placed) = opened;
        let mut writer = BlockWriter::inspected(file, offset, Md5::new());
        let mut len = 0u64;
        let mut failure = None;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(chunk) => {
                    len += chunk.len() as u64;
                    if let Err(e) = writer.write(chunk).await {
                        failure = Some(internal(e));
                        break;
                    }
                }
                Err(e) => {
                    failure = Some(s3_error!(IncompleteBody, "{e}"));
                    break;
                }
            }
        }
        // Joined even after a failure, so nothing writes to the file later.
        let md5 = writer.finish().await.map_err(internal);
        if let Some(failure) = failure {
            return Err(failure);
        }
        Ok(Part {
            len,
            md5: md5?.finalize(),
            placed,
        })
    }

    /// Where part `number` of `upload` is, its length and MD5, with the
    /// path of its file or of the assembly file.
    async fn locate(&self, upload: Uuid, number: i32) -> S3Result<(Source, [u8; 16])> {
        if let Some(part) = self.uploads.get(upload, number) {
            if let Placed::Assembly { offset } = part.placed {
                let path = self.assembly_path(upload);
                let len = part.len;
                return Ok((Source { path, offset, len }, part.md5));
            }
        }
        let path = self.part_path(upload, number);
        let md5 = self.part_md5(upload, number, &path).await?;
        let len = tokio::fs::metadata(&path)
            .await
            .map_err(|_| s3_error!(InvalidPart, "part {number} was not uploaded"))?
            .len();
        Ok((
            Source {
                path,
                offset: 0,
                len,
            },
            md5,
        ))
    }
}

/// Bytes of a part: `len` bytes of the file `path` from `offset`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Source {
    path: PathBuf,
    offset: u64,
    len: u64,
}

/// Where the writer of a part puts its bytes.
#[derive(Clone)]
enum Target {
    /// A new file.
    File(PathBuf),
    /// The assembly file `path`, from `offset`.
    Assembly { path: PathBuf, offset: u64 },
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

/// The first byte of a `Content-Range` value (`bytes <first>-<last>/<size>`).
fn range_start(range: &str) -> Option<u64> {
    let (first, _) = range.strip_prefix("bytes ")?.split_once('-')?;
    first.parse().ok()
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

/// Opens the file a part goes to, with the offset to write it from and how
/// it is placed once written (blocking).
fn open_target(target: &Target) -> std::io::Result<(Arc<std::fs::File>, u64, Placed)> {
    match target {
        Target::File(path) => {
            let file = std::fs::File::create(path)?;
            let inode = file.metadata()?.ino();
            Ok((Arc::new(file), 0, Placed::File { inode }))
        }
        Target::Assembly { path, offset } => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)?;
            Ok((
                Arc::new(file),
                *offset,
                Placed::Assembly { offset: *offset },
            ))
        }
    }
}

/// A part's ETag is the MD5 of its bytes, hashed as they are written.
impl Inspect for Md5 {
    fn inspect(&mut self, chunk: &[u8]) {
        self.update(chunk);
    }
}

/// Builds the object from `sources` (in order) as the file `tmp`. It starts
/// from the assembly file when that holds the first parts in place (and no
/// other part is in it out of place), else from the first part's file when
/// no part is in the assembly, else from nothing; the parts after those are
/// copied in the kernel. The part files used and the assembly file are
/// removed. On failure the file started from is put back as it was.
fn assemble(sources: &[Source], assembly: &Path, tmp: &Path) -> std::io::Result<()> {
    let mut end = 0;
    let in_place = sources
        .iter()
        .take_while(|s| {
            let fits = s.path == assembly && s.offset == end;
            if fits {
                end += s.len;
            }
            fits
        })
        .count();
    let total: u64 = sources.iter().map(|s| s.len).sum();
    let out_of_place = sources[in_place..].iter().any(|s| s.path == assembly);
    // The file started from, with the number of parts and bytes it holds.
    let base = match sources.first() {
        _ if out_of_place => None,
        _ if in_place > 0 => Some((assembly, in_place, end)),
        Some(first) => Some((first.path.as_path(), 1, first.len)),
        None => None,
    };
    let (held_parts, held) = base.map_or((0, 0), |(_, parts, bytes)| (parts, bytes));
    if let Some((path, _, _)) = base {
        std::fs::rename(path, tmp)?;
    }
    let out = std::fs::OpenOptions::new()
        .write(true)
        .create(base.is_none())
        .truncate(base.is_none())
        .open(tmp);
    let built = out.and_then(|out| {
        append_parts(&out, held, &sources[held_parts..])
            .and_then(|()| out.set_len(total))
            .inspect_err(|_| {
                if base.is_some_and(|(path, _, _)| path != assembly) {
                    let _ = out.set_len(held);
                }
            })
    });
    if let Err(e) = built {
        match base {
            Some((path, _, _)) => {
                let _ = std::fs::rename(tmp, path);
            }
            None => {
                let _ = std::fs::remove_file(tmp);
            }
        }
        return Err(e);
    }
    let base_path = base.map(|(path, _, _)| path);
    for source in sources {
        if source.path != assembly && Some(source.path.as_path()) != base_path {
            remove_if_present(&source.path)?;
        }
    }
    if base_path != Some(assembly) {
        remove_if_present(assembly)?;
    }
    Ok(())
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Copies `parts` one after the other into `out` from `offset`.
fn append_parts(out: &std::fs::File, offset: u64, parts: &[Source]) -> std::io::Result<()> {
    let mut offset = i64::try_from(offset).map_err(std::io::Error::other)?;
    for part in parts {
        let input = std::fs::File::open(&part.path)?;
        let mut from = i64::try_from(part.offset).map_err(std::io::Error::other)?;
        let mut left = part.len;
        while left > 0 {
            let chunk = usize::try_from(left).unwrap_or(usize::MAX).min(1 << 30);
            let n = nix::fcntl::copy_file_range(
                &input,
                Some(&mut from),
                out,
                Some(&mut offset),
                chunk,
            )?;
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
    }

    async fn get_object(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> S3Result<S3Response<GetObjectOutput>> {
        let path = self.object_path(&req.input.bucket, &req.input.key);
        let mut response = self.fs.get_object(req).await?;
        let output = &mut response.output;
        output
            .content_type
            .get_or_insert_with(|| DEFAULT_CONTENT_TYPE.to_owned());
        // `s3s-fs` reads the object 4 KiB at a time, a hop to the blocking
        // pool each: the same bytes are read as storage reads a file, in
        // large blocks on one blocking thread.
        let start = match output.content_range.as_deref() {
            Some(range) => range_start(range),
            None => Some(0),
        };
        let len = output.content_length.and_then(|n| u64::try_from(n).ok());
        if let (Some(path), Some(start), Some(len)) = (path, start, len) {
            let file = tokio::fs::File::open(&path)
                .await
                .map_err(|e| s3_error!(e, NoSuchKey))?
                .into_std()
                .await;
            let body = crate::storage::io::read_blocks(file, start, len);
            output.body = Some(StreamingBlob::wrap(body));
        }
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
            content_length,
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

        let declared = content_length.and_then(|n| u64::try_from(n).ok());
        let place = self.uploads.reserve(upload, part_number, declared);
        let target = match &place {
            Place::Assembly(range) => Target::Assembly {
                path: self.assembly_path(upload),
                offset: range.start,
            },
            Place::File => Target::File(self.tmp_path()),
        };
        let written = self.receive_part(&target, &mut body).await;
        let written = written.and_then(|part| match declared {
            Some(len) if len != part.len => Err(s3_error!(IncompleteBody)),
            _ => Ok(part),
        });
        let part = match written {
            Ok(part) => part,
            Err(e) => {
                match &target {
                    Target::File(tmp) => {
                        let _ = tokio::fs::remove_file(tmp).await;
                    }
                    Target::Assembly { .. } => self.uploads.release(upload, part_number),
                }
                return Err(e);
            }
        };
        if let Target::File(tmp) = &target {
            let path = self.part_path(upload, part_number);
            if let Err(e) = tokio::fs::rename(tmp, &path).await {
                let _ = tokio::fs::remove_file(tmp).await;
                return Err(internal(e));
            }
        }
        self.uploads.written(upload, part_number, part);
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(lower_hex(&part.md5))),
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
        let mut sources = Vec::with_capacity(numbers.len());
        let mut md5s = Vec::with_capacity(numbers.len());
        for (index, number) in numbers.iter().enumerate() {
            let number = number.ok_or_else(|| s3_error!(InvalidRequest, "missing part number"))?;
            if usize::try_from(number).ok() != Some(index + 1) {
                return Err(s3_error!(InvalidRequest, "invalid part order"));
            }
            let (source, md5) = self.locate(upload, number).await?;
            if index + 1 < numbers.len() && source.len < MIN_PART_SIZE {
                return Err(s3_error!(EntityTooSmall));
            }
            md5s.push(md5);
            sources.push(source);
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
        let e_tag = format!("{}-{}", lower_hex(&etag.finalize()), md5s.len());
        let info_json =
            serde_json::to_vec(&serde_json::json!({ "e_tag": e_tag })).map_err(internal)?;
        let (tmp, info_tmp) = (self.tmp_path(), self.tmp_path());
        let assembly = self.assembly_path(upload);
        blocking(move || {
            std::fs::remove_file(&record)?;
            match std::fs::rename(&pending_meta, &meta) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                other => other?,
            }
            assemble(&sources, &assembly, &tmp)?;
            if let Some(dir) = object.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::rename(&tmp, &object).inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })?;
            write_atomic(&info_tmp, &info, &info_json)
        })
        .await?;
        self.uploads.forget(upload);

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
            self.uploads.forget(upload);
            let assembly = self.assembly_path(upload);
            blocking(move || remove_if_present(&assembly)).await?;
        }
        Ok(response)
    }

    async fn upload_part_copy(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let part = Uuid::parse_str(&req.input.upload_id)
            .ok()
            .map(|upload| (upload, req.input.part_number));
        let response = self.fs.upload_part_copy(req).await?;
        // The part is now the file `s3s-fs` wrote.
        if let Some((upload, number)) = part {
            self.uploads.discard(upload, number);
        }
        Ok(response)
    }

    async fn list_parts(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> S3Result<S3Response<ListPartsOutput>> {
        let upload = Uuid::parse_str(&req.input.upload_id).ok();
        let mut response = self.fs.list_parts(req).await?;
        let listed = response.output.parts.get_or_insert_with(Vec::new);
        // Parts in the assembly file, in place of older files of theirs.
        if let Some(upload) = upload {
            for (number, part) in self.uploads.assembled(upload) {
                listed.retain(|p| p.part_number != Some(number));
                listed.push(ListedPart {
                    part_number: Some(number),
                    size: i64::try_from(part.len).ok(),
                    e_tag: Some(ETag::Strong(lower_hex(&part.md5))),
                    ..Default::default()
                });
            }
        }
        listed.sort_by_key(|p| p.part_number);
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::os::unix::fs::FileExt as _;

    use super::*;

    /// Parts `a`, `b`, `c` laid out by `layout` (each part in the assembly
    /// file at an offset, or in its own file), assembled.
    fn assembled(layout: [Option<u64>; 3]) -> (Vec<u8>, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let assembly = dir.path().join("assembly");
        let contents: [&[u8]; 3] = [b"aaaa", b"bbbb", b"cc"];
        let mut sources = Vec::new();
        for (i, (content, place)) in contents.iter().zip(layout).enumerate() {
            let len = content.len() as u64;
            let source = match place {
                Some(offset) => {
                    let file = std::fs::OpenOptions::new()
                        .write(true)
                        .create(true)
                        .truncate(false)
                        .open(&assembly)
                        .unwrap();
                    file.write_all_at(content, offset).unwrap();
                    Source {
                        path: assembly.clone(),
                        offset,
                        len,
                    }
                }
                None => {
                    let path = dir.path().join(format!("part-{i}"));
                    std::fs::write(&path, content).unwrap();
                    Source {
                        path,
                        offset: 0,
                        len,
                    }
                }
            };
            sources.push(source);
        }
        let tmp = dir.path().join("object");
        assemble(&sources, &assembly, &tmp).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        (std::fs::read(&tmp).unwrap(), left)
    }

    #[test]
    fn content_ranges_give_their_first_byte() {
        assert_eq!(range_start("bytes 0-99/1000"), Some(0));
        assert_eq!(
            range_start("bytes 16777216-33554431/1073741824"),
            Some(16 << 20)
        );
        assert_eq!(range_start("bytes */1000"), None);
    }

    #[test]
    fn parts_are_assembled_wherever_they_were_written() {
        let whole = b"aaaabbbbcc".to_vec();
        let only_object = vec!["object".to_owned()];
        // In place, the last part apart; all in place; none in the assembly.
        for layout in [
            [Some(0), Some(4), None],
            [Some(0), Some(4), Some(8)],
            [None, None, None],
            // Out of place in the assembly (the last part first, where the
            // first belongs), or after a part kept apart.
            [None, Some(4), Some(0)].map(|p| p.map(|o| o + 100)),
            [None, Some(4), None],
        ] {
            assert_eq!(
                assembled(layout),
                (whole.clone(), only_object.clone()),
                "{layout:?}"
            );
        }
    }
}
