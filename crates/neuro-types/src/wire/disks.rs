//! Disks API payloads (wire-protocol-data §6).

use serde::{Deserialize, Serialize};

/// A disk as `GET disk`, `GET disk/<id>` and `POST disk` answer it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiskPayload {
    /// `disk-<uuid>`.
    pub id: String,
    /// Capacity in bytes.
    pub storage: u64,
    /// Bytes in use, when measured.
    #[serde(default)]
    pub used_bytes: Option<u64>,
    /// The user who owns it.
    pub owner: String,
    /// Optional unique (per owner) name.
    #[serde(default)]
    pub name: Option<String>,
    /// `Pending`, `Ready` or `Broken`.
    pub status: String,
    /// The org, `null` without one.
    #[serde(default)]
    pub org_name: Option<String>,
    /// ISO 8601 creation time.
    pub created_at: String,
    /// ISO 8601 time a job last mounted it.
    #[serde(default)]
    pub last_usage: Option<String>,
    /// Seconds without use after which the disk is deleted (`timeout_unused`).
    #[serde(default)]
    pub life_span: Option<f64>,
}

/// `POST disk`: every key always present; `life_span` is a float of seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CreateDiskRequest {
    /// Capacity in bytes.
    pub storage: u64,
    /// Seconds without use after which the disk is deleted.
    #[serde(default)]
    pub life_span: Option<f64>,
    /// Optional name.
    #[serde(default)]
    pub name: Option<String>,
    /// The org, `null` without one.
    #[serde(default)]
    pub org_name: Option<String>,
}
