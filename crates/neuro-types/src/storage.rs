//! Storage model: file statuses, deletion events and disk usage
//! (wire-protocol-data §2, `neuro_sdk._storage`).

use std::fmt;

use percent_encoding::percent_decode_str;
use url::Url;

use crate::error::ModelError;
use crate::permission::Action;
use crate::uri::{join_path, storage_path};
use crate::wire::{DeleteEventPayload, DiskUsagePayload, FileStatusPayload};

/// The kind of a storage entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileStatusType {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// A symbolic link.
    Symlink,
    /// Anything else the server reports.
    Unknown,
}

impl FileStatusType {
    /// The wire string: `FILE`, `DIRECTORY`, `SYMLINK` or `UNKNOWN`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatusType::File => "FILE",
            FileStatusType::Directory => "DIRECTORY",
            FileStatusType::Symlink => "SYMLINK",
            FileStatusType::Unknown => "UNKNOWN",
        }
    }

    /// Reads a wire string; unknown values become [`FileStatusType::Unknown`].
    pub fn from_wire(text: &str) -> Self {
        match text {
            "FILE" => FileStatusType::File,
            "DIRECTORY" => FileStatusType::Directory,
            "SYMLINK" => FileStatusType::Symlink,
            _ => FileStatusType::Unknown,
        }
    }
}

impl fmt::Display for FileStatusType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A storage entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStatus {
    /// The `path` the server sent: a bare name in listings, the full path (with a
    /// leading `/`, without the cluster) from `stat`.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Kind of entry.
    pub file_type: FileStatusType,
    /// Modification time, whole seconds since the epoch.
    pub modification_time: i64,
    /// The caller's access level on the entry.
    pub permission: Action,
    /// Full `storage:` URI of the entry.
    pub uri: Url,
    /// Symlink target.
    pub target: Option<String>,
}

impl FileStatus {
    /// The last component of `path` (`""` for `/`).
    pub fn name(&self) -> &str {
        let trimmed = self.path.trim_end_matches('/');
        trimmed.rsplit('/').next().unwrap_or(trimmed)
    }

    /// Whether the entry is a regular file.
    pub fn is_file(&self) -> bool {
        self.file_type == FileStatusType::File
    }

    /// Whether the entry is a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type == FileStatusType::Directory
    }

    /// Whether the entry is a symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.file_type == FileStatusType::Symlink
    }

    fn build(payload: &FileStatusPayload, uri: Url) -> Result<Self, ModelError> {
        let permission: Action = payload.permission.parse()?;
        Ok(Self {
            path: payload.path.clone(),
            size: payload.length,
            file_type: FileStatusType::from_wire(&payload.file_type),
            modification_time: payload.modification_time,
            permission,
            uri,
            target: payload.target.clone(),
        })
    }

    /// An entry of a `LISTSTATUS` answer for `listed_uri`; its URI is
    /// `listed_uri / path`. An unknown `permission` is an error (it fails the
    /// whole listing in the SDK).
    ///
    /// ```
    /// use neuro_types::storage::FileStatus;
    /// use neuro_types::wire::FileStatusPayload;
    /// use url::Url;
    ///
    /// let payload: FileStatusPayload = serde_json::from_str(
    ///     r#"{"path": "a b", "length": 3, "type": "FILE", "modificationTime": 1, "permission": "read"}"#,
    /// ).unwrap();
    /// let dir = Url::parse("storage://default/alice/dir").unwrap();
    /// let status = FileStatus::from_list_payload(&payload, &dir).unwrap();
    /// assert_eq!(status.uri.as_str(), "storage://default/alice/dir/a%20b");
    /// ```
    pub fn from_list_payload(
        payload: &FileStatusPayload,
        listed_uri: &Url,
    ) -> Result<Self, ModelError> {
        let uri = join_path(listed_uri, &payload.path)?;
        Self::build(payload, uri)
    }

    /// A `GETFILESTATUS` answer on `cluster_name`; its URI is
    /// `storage://<cluster>/<path without leading "/">`.
    pub fn from_stat_payload(
        payload: &FileStatusPayload,
        cluster_name: &str,
    ) -> Result<Self, ModelError> {
        let uri = join_path(&cluster_root(cluster_name)?, &payload.path)?;
        Self::build(payload, uri)
    }

    /// The payload of this entry, with `path` as stored in [`FileStatus::path`].
    pub fn to_payload(&self) -> FileStatusPayload {
        FileStatusPayload {
            path: self.path.clone(),
            length: self.size,
            file_type: self.file_type.as_str().to_owned(),
            modification_time: self.modification_time,
            permission: self.permission.as_str().to_owned(),
            target: self.target.clone(),
        }
    }
}

fn cluster_root(cluster_name: &str) -> Result<Url, ModelError> {
    let text = format!("storage://{}/", crate::uri::escape_name(cluster_name));
    crate::error::parse_url("cluster_name", &text)
}

/// One entry removed by a recursive `DELETE` (`StorageProgressDelete`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageDeleteEvent {
    /// `storage://<cluster>/<path>` of the removed entry.
    pub uri: Url,
    /// Whether it was a directory.
    pub is_dir: bool,
}

impl StorageDeleteEvent {
    /// Decodes an NDJSON line of a `DELETE` answer on `cluster_name`.
    pub fn from_payload(
        payload: &DeleteEventPayload,
        cluster_name: &str,
    ) -> Result<Self, ModelError> {
        Ok(Self {
            uri: join_path(&cluster_root(cluster_name)?, &payload.path)?,
            is_dir: payload.is_dir,
        })
    }

    /// Encodes the line: the URI's decoded path with one leading `/`.
    pub fn to_payload(&self) -> DeleteEventPayload {
        let path = storage_path(&self.uri);
        DeleteEventPayload {
            path: format!("/{}", percent_decode_str(&path).decode_utf8_lossy()),
            is_dir: self.is_dir,
        }
    }
}

/// Disk usage of a storage (`GETDISKUSAGE`), in bytes. `cluster_name`, `org_name`
/// and `uri` echo the request; only the sizes come from the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskUsageInfo {
    /// Cluster asked about.
    pub cluster_name: String,
    /// Capacity.
    pub total: u64,
    /// Used.
    pub used: u64,
    /// Free.
    pub free: u64,
    /// Org asked about.
    pub org_name: Option<String>,
    /// URI asked about, if one was given.
    pub uri: Option<Url>,
}

impl DiskUsageInfo {
    /// Combines the answer with what was asked.
    pub fn from_payload(
        payload: &DiskUsagePayload,
        cluster_name: impl Into<String>,
        org_name: Option<String>,
        uri: Option<Url>,
    ) -> Self {
        Self {
            cluster_name: cluster_name.into(),
            total: payload.total,
            used: payload.used,
            free: payload.free,
            org_name,
            uri,
        }
    }

    /// The answer's payload.
    pub fn to_payload(&self) -> DiskUsagePayload {
        DiskUsagePayload {
            total: self.total,
            used: self.used,
            free: self.free,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn payload(path: &str, kind: &str, permission: &str) -> FileStatusPayload {
        FileStatusPayload {
            path: path.into(),
            length: 10,
            file_type: kind.into(),
            modification_time: 1_600_000_000,
            permission: permission.into(),
            target: None,
        }
    }

    #[test]
    fn list_entries() {
        let dir = Url::parse("storage://default/myorg/alice/dir/").unwrap();
        let st =
            FileStatus::from_list_payload(&payload("100%.txt", "FILE", "write"), &dir).unwrap();
        assert_eq!(
            st.uri.as_str(),
            "storage://default/myorg/alice/dir/100%25.txt"
        );
        assert_eq!(st.name(), "100%.txt");
        assert!(st.is_file() && !st.is_dir() && !st.is_symlink());
        let st = FileStatus::from_list_payload(&payload("x", "WEIRD", "read"), &dir).unwrap();
        assert_eq!(st.file_type, FileStatusType::Unknown);
        assert!(FileStatus::from_list_payload(&payload("x", "FILE", "owner"), &dir).is_err());
    }

    #[test]
    fn stat_entries() {
        let st = FileStatus::from_stat_payload(
            &payload("/alice/my dir", "DIRECTORY", "manage"),
            "default",
        )
        .unwrap();
        assert_eq!(st.uri.as_str(), "storage://default/alice/my%20dir");
        assert_eq!(st.name(), "my dir");
        assert!(st.is_dir());
        assert_eq!(st.to_payload().path, "/alice/my dir");
        let root =
            FileStatus::from_stat_payload(&payload("/", "DIRECTORY", "read"), "default").unwrap();
        assert_eq!(root.uri.as_str(), "storage://default/");
        assert_eq!(root.name(), "");
    }

    #[test]
    fn delete_events() {
        let line = DeleteEventPayload {
            path: "/alice/a b/c".into(),
            is_dir: false,
        };
        let ev = StorageDeleteEvent::from_payload(&line, "default").unwrap();
        assert_eq!(ev.uri.as_str(), "storage://default/alice/a%20b/c");
        assert_eq!(ev.to_payload(), line);
    }
}
