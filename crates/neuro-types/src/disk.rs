//! Disks (`neuro_sdk.Disk`, wire-protocol-data §6).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use time::OffsetDateTime;
use url::Url;

use crate::error::{parse_time, parse_url, ModelError, ParseEnumError};
use crate::secret::resource_uri;
use crate::wire::serde_util::iso8601;
use crate::wire::DiskPayload;

/// The state of a disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DiskStatus {
    /// Being created.
    Pending,
    /// Usable.
    Ready,
    /// Failed; it cannot be used.
    Broken,
}

impl DiskStatus {
    /// The wire string: `Pending`, `Ready` or `Broken`.
    pub fn as_str(self) -> &'static str {
        match self {
            DiskStatus::Pending => "Pending",
            DiskStatus::Ready => "Ready",
            DiskStatus::Broken => "Broken",
        }
    }
}

impl FromStr for DiskStatus {
    type Err = ParseEnumError;

    /// The exact, case-sensitive wire strings (the SDK raises `ValueError` on
    /// anything else).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "Pending" => Ok(DiskStatus::Pending),
            "Ready" => Ok(DiskStatus::Ready),
            "Broken" => Ok(DiskStatus::Broken),
            _ => Err(ParseEnumError::new("disk status", s)),
        }
    }
}

impl fmt::Display for DiskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A persistent disk that jobs can mount.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// `disk-<uuid>`.
    pub id: String,
    /// Capacity in bytes.
    pub storage: u64,
    /// The user who owns it.
    pub owner: String,
    /// Its state.
    pub status: DiskStatus,
    /// The client's current cluster (as in the Python SDK, not the queried one).
    pub cluster_name: String,
    /// The org, if any.
    pub org_name: Option<String>,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// When a job last mounted it.
    pub last_usage: Option<OffsetDateTime>,
    /// Its name, unique per owner.
    pub name: Option<String>,
    /// Time without use after which it is deleted.
    pub timeout_unused: Option<Duration>,
    /// Bytes in use, when known.
    pub used_bytes: Option<u64>,
}

impl Disk {
    /// Decodes a disk; `cluster_name` is the client's current cluster.
    ///
    /// ```
    /// use neuro_types::{Disk, DiskStatus};
    /// use neuro_types::wire::DiskPayload;
    ///
    /// let payload: DiskPayload = serde_json::from_str(r#"{"id": "disk-1", "storage": 1024,
    ///     "owner": "alice", "status": "Ready", "created_at": "2022-07-26T10:00:00+00:00",
    ///     "life_span": 3600.0}"#).unwrap();
    /// let disk = Disk::from_payload(payload, "default").unwrap();
    /// assert_eq!(disk.status, DiskStatus::Ready);
    /// assert_eq!(disk.timeout_unused.unwrap().as_secs(), 3600);
    /// assert_eq!(disk.uri().unwrap().as_str(), "disk://default/alice/disk-1");
    /// ```
    pub fn from_payload(payload: DiskPayload, cluster_name: &str) -> Result<Self, ModelError> {
        let timeout_unused = match payload.life_span {
            Some(secs) => Some(Duration::try_from_secs_f64(secs).map_err(|_| {
                ModelError::InvalidDuration {
                    field: "life_span",
                    value: secs,
                }
            })?),
            None => None,
        };
        Ok(Self {
            status: payload.status.parse()?,
            created_at: parse_time("created_at", &payload.created_at)?,
            last_usage: payload
                .last_usage
                .as_deref()
                .map(|t| parse_time("last_usage", t))
                .transpose()?,
            id: payload.id,
            storage: payload.storage,
            owner: payload.owner,
            cluster_name: cluster_name.to_owned(),
            org_name: payload.org_name,
            name: payload.name,
            timeout_unused,
            used_bytes: payload.used_bytes,
        })
    }

    /// Encodes the disk as the server answers it.
    pub fn to_payload(&self) -> DiskPayload {
        DiskPayload {
            id: self.id.clone(),
            storage: self.storage,
            used_bytes: self.used_bytes,
            owner: self.owner.clone(),
            name: self.name.clone(),
            status: self.status.as_str().to_owned(),
            org_name: self.org_name.clone(),
            created_at: iso8601::format(self.created_at),
            last_usage: self.last_usage.map(iso8601::format),
            life_span: self.timeout_unused.map(|d| d.as_secs_f64()),
        }
    }

    /// `disk://<cluster>[/<org>]/<owner>/<id>`, the URI jobs mount.
    pub fn uri(&self) -> Result<Url, ModelError> {
        let text = resource_uri(
            "disk",
            &self.cluster_name,
            self.org_name.as_deref(),
            &self.owner,
            &self.id,
        );
        parse_url("uri", &text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn status_is_strict_and_round_trips() {
        for s in [DiskStatus::Pending, DiskStatus::Ready, DiskStatus::Broken] {
            assert_eq!(s.as_str().parse::<DiskStatus>().unwrap(), s);
        }
        assert!("ready".parse::<DiskStatus>().is_err());
    }

    #[test]
    fn payload_round_trip_and_errors() {
        let text = r#"{"id": "disk-1", "storage": 10, "used_bytes": 3, "owner": "bob",
            "name": "data", "status": "Pending", "org_name": null,
            "created_at": "2022-07-26T10:00:00.5+00:00", "last_usage": "2022-07-27T10:00:00Z",
            "life_span": 90}"#;
        let payload: DiskPayload = serde_json::from_str(text).unwrap();
        let disk = Disk::from_payload(payload, "c").unwrap();
        assert_eq!(disk.timeout_unused, Some(Duration::from_secs(90)));
        assert_eq!(disk.used_bytes, Some(3));
        let back = disk.to_payload();
        assert_eq!(back.life_span, Some(90.0));
        assert_eq!(back.created_at, "2022-07-26T10:00:00.500000+00:00");
        let again = Disk::from_payload(back, "c").unwrap();
        assert_eq!(again, disk);

        let mut bad: DiskPayload = serde_json::from_str(text).unwrap();
        bad.created_at = "yesterday".into();
        assert!(matches!(
            Disk::from_payload(bad, "c"),
            Err(ModelError::InvalidTimestamp { .. })
        ));
        let mut bad: DiskPayload = serde_json::from_str(text).unwrap();
        bad.life_span = Some(-1.0);
        assert!(matches!(
            Disk::from_payload(bad, "c"),
            Err(ModelError::InvalidDuration { .. })
        ));
    }
}
