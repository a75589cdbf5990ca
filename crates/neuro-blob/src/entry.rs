//! [`BucketEntry`]: one object or common prefix of a listing.

use std::sync::Arc;

use neuro_types::{Bucket, ModelError};
use time::OffsetDateTime;
use url::Url;

/// What a listing entry is (`BlobObject` or `BlobCommonPrefix`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// An object. One whose key ends with `/` and that is empty is a directory
    /// marker.
    Object,
    /// A common prefix of a non-recursive listing: a "folder" (the key ends
    /// with `/`).
    CommonPrefix,
}

/// One entry of a bucket listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketEntry {
    /// The full key.
    pub key: String,
    /// Object or common prefix.
    pub kind: EntryKind,
    /// Size in bytes (0 for prefixes).
    pub size: u64,
    /// Creation time, when the provider tells.
    pub created_at: Option<OffsetDateTime>,
    /// Last modification, when the provider tells.
    pub modified_at: Option<OffsetDateTime>,
    /// The bucket it belongs to.
    pub bucket: Arc<Bucket>,
}

impl BucketEntry {
    /// The last path component of the key (`b` for `a/b/`).
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use neuro_blob::{BucketEntry, EntryKind};
    /// # let payload: neuro_types::wire::BucketPayload = serde_json::from_str(r#"{"id": "bucket-1",
    /// #     "owner": "alice", "created_at": "2022-07-26T10:00:00+00:00", "provider": "minio"}"#).unwrap();
    /// # let bucket = Arc::new(neuro_types::Bucket::from_payload(payload, "default").unwrap());
    /// let entry = BucketEntry { key: "a/b/".into(), kind: EntryKind::CommonPrefix, size: 0,
    ///     created_at: None, modified_at: None, bucket };
    /// assert_eq!(entry.name(), "b");
    /// assert!(entry.is_dir());
    /// ```
    pub fn name(&self) -> &str {
        let trimmed = self.key.trim_end_matches('/');
        trimmed.rsplit('/').next().unwrap_or(trimmed)
    }

    /// Whether it is a directory: a common prefix, or an empty object whose
    /// key ends with `/`.
    pub fn is_dir(&self) -> bool {
        match self.kind {
            EntryKind::CommonPrefix => true,
            EntryKind::Object => self.key.ends_with('/') && self.size == 0,
        }
    }

    /// Whether it is a file (an object that is not a directory marker).
    pub fn is_file(&self) -> bool {
        !self.is_dir()
    }

    /// `blob://…/<bucket>/<key>`.
    pub fn uri(&self) -> Result<Url, ModelError> {
        self.bucket.entry_uri(&self.key)
    }
}
