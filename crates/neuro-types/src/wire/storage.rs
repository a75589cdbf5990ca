//! Storage API payloads (wire-protocol-data §2).

use serde::{Deserialize, Serialize};

use super::serde_util::int_from_number;

/// A file status as the storage service writes it.
///
/// In `LISTSTATUS` answers `path` is the bare entry name; in `GETFILESTATUS`
/// answers it is the full path with a leading `/`, without the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStatusPayload {
    /// Entry name or full path (see above).
    pub path: String,
    /// Size in bytes (the key is `length`, not `size`).
    pub length: u64,
    /// `FILE`, `DIRECTORY` or `SYMLINK`; anything else means unknown.
    #[serde(rename = "type")]
    pub file_type: String,
    /// Modification time, whole seconds since the epoch.
    #[serde(rename = "modificationTime", with = "int_from_number")]
    pub modification_time: i64,
    /// The caller's access level: `read`, `write` or `manage`.
    pub permission: String,
    /// Symlink target, for `SYMLINK` entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
}

/// `{"FileStatus": {...}}`: a `GETFILESTATUS` answer and one NDJSON line of a
/// `LISTSTATUS` stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStatusEnvelope {
    /// The status.
    #[serde(rename = "FileStatus")]
    pub file_status: FileStatusPayload,
}

/// The legacy (non-NDJSON) `LISTSTATUS` answer:
/// `{"FileStatuses": {"FileStatus": [...]}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStatusesEnvelope {
    /// The listing.
    #[serde(rename = "FileStatuses")]
    pub file_statuses: FileStatusesList,
}

/// Inner object of [`FileStatusesEnvelope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStatusesList {
    /// The entries.
    #[serde(rename = "FileStatus")]
    pub file_status: Vec<FileStatusPayload>,
}

/// One NDJSON line of a `DELETE` stream: an entry that was removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeleteEventPayload {
    /// Full path with a leading `/`, without the cluster.
    pub path: String,
    /// Whether the entry was a directory.
    pub is_dir: bool,
}

/// `GETDISKUSAGE` answer, in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskUsagePayload {
    /// Capacity of the filesystem.
    pub total: u64,
    /// Bytes used.
    pub used: u64,
    /// Bytes free.
    pub free: u64,
}
