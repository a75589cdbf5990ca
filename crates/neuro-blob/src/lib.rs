#![doc = include_str!("../README.md")]

mod azure;
mod blobs;
mod buckets;
mod channel;
mod entry;
mod error;
mod fs;
mod gcs;
mod glob;
mod list;
mod s3;
mod store;
mod stream_put;

pub use buckets::{BucketCreate, BucketImport, BucketLookup, Buckets};
pub use entry::{BucketEntry, EntryKind};
pub use error::BlobError;
pub use fs::{
    BlobFs, MULTIPART_THRESHOLD, PARALLEL_DOWNLOAD_THRESHOLD, PART_CONCURRENCY, PART_SIZE,
};
pub use glob::glob_match;
pub use neuro_storage::engine::TransferOptions;
pub use neuro_types::{
    Bucket, BucketCredentials, BucketProvider, BucketUsage, PersistentBucketCredentials,
};
