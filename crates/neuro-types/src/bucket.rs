//! Buckets (`neuro_sdk.Bucket` and friends, wire-protocol-data §3).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use time::OffsetDateTime;
use url::Url;

use crate::error::{parse_time, parse_url, ModelError, ParseEnumError};
use crate::secret::resource_uri;
use crate::wire::serde_util::iso8601;
use crate::wire::{BucketCredentialsPayload, BucketPayload, PersistentCredentialsPayload};

/// Where a bucket's objects live (`Bucket.Provider`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BucketProvider {
    /// Amazon S3.
    Aws,
    /// MinIO or another S3-compatible server (neuro-local's own buckets).
    Minio,
    /// Azure Blob Storage.
    Azure,
    /// Google Cloud Storage.
    Gcp,
    /// OpenStack Swift through its S3 API.
    OpenStack,
}

impl BucketProvider {
    /// The wire string: `aws`, `minio`, `azure`, `gcp` or `open_stack`.
    pub fn as_str(self) -> &'static str {
        match self {
            BucketProvider::Aws => "aws",
            BucketProvider::Minio => "minio",
            BucketProvider::Azure => "azure",
            BucketProvider::Gcp => "gcp",
            BucketProvider::OpenStack => "open_stack",
        }
    }

    /// Whether its objects are reached with the S3 protocol.
    pub fn is_s3(self) -> bool {
        matches!(
            self,
            BucketProvider::Aws | BucketProvider::Minio | BucketProvider::OpenStack
        )
    }
}

impl FromStr for BucketProvider {
    type Err = ParseEnumError;

    /// The exact wire strings (the SDK raises `ValueError` on anything else).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "aws" => Ok(BucketProvider::Aws),
            "minio" => Ok(BucketProvider::Minio),
            "azure" => Ok(BucketProvider::Azure),
            "gcp" => Ok(BucketProvider::Gcp),
            "open_stack" => Ok(BucketProvider::OpenStack),
            _ => Err(ParseEnumError::new("bucket provider", s)),
        }
    }
}

impl fmt::Display for BucketProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A bucket of the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bucket {
    /// `bucket-<uuid>`.
    pub id: String,
    /// The user who owns it.
    pub owner: String,
    /// The client's current cluster (as in the Python SDK, not the queried one).
    pub cluster_name: String,
    /// The org, if any.
    pub org_name: Option<String>,
    /// Where its objects live.
    pub provider: BucketProvider,
    /// When it was created or imported.
    pub created_at: OffsetDateTime,
    /// Whether it was imported rather than created.
    pub imported: bool,
    /// Whether anonymous reads are allowed.
    pub public: bool,
    /// Its name, unique per owner.
    pub name: Option<String>,
}

impl Bucket {
    /// Decodes a bucket; `cluster_name` is the client's current cluster.
    ///
    /// ```
    /// use neuro_types::{Bucket, BucketProvider};
    /// use neuro_types::wire::BucketPayload;
    ///
    /// let payload: BucketPayload = serde_json::from_str(r#"{"id": "bucket-1",
    ///     "owner": "alice", "name": "data", "created_at": "2022-07-26T10:00:00+00:00",
    ///     "provider": "minio"}"#).unwrap();
    /// let bucket = Bucket::from_payload(payload, "default").unwrap();
    /// assert_eq!(bucket.provider, BucketProvider::Minio);
    /// assert_eq!(bucket.uri().unwrap().as_str(), "blob://default/alice/data");
    /// ```
    pub fn from_payload(payload: BucketPayload, cluster_name: &str) -> Result<Self, ModelError> {
        Ok(Self {
            provider: payload.provider.parse()?,
            created_at: parse_time("created_at", &payload.created_at)?,
            id: payload.id,
            owner: payload.owner,
            cluster_name: cluster_name.to_owned(),
            org_name: payload.org_name,
            imported: payload.imported,
            public: payload.public,
            name: payload.name,
        })
    }

    /// Encodes the bucket as the server answers it.
    pub fn to_payload(&self) -> BucketPayload {
        BucketPayload {
            id: self.id.clone(),
            owner: self.owner.clone(),
            name: self.name.clone(),
            created_at: iso8601::format(self.created_at),
            provider: self.provider.as_str().to_owned(),
            imported: self.imported,
            public: self.public,
            org_name: self.org_name.clone(),
        }
    }

    /// `blob://<cluster>[/<org>]/<owner>/<name or id>`.
    pub fn uri(&self) -> Result<Url, ModelError> {
        parse_url("uri", &self.uri_string())
    }

    fn uri_string(&self) -> String {
        let name = self.name.as_deref().unwrap_or(&self.id);
        resource_uri(
            "blob",
            &self.cluster_name,
            self.org_name.as_deref(),
            &self.owner,
            name,
        )
    }

    /// The key `uri` names inside this bucket: the rest of the URI's text after
    /// the bucket's URI (by name, or by id when it has a name), without leading
    /// `/` (`Bucket.get_key_for_uri`; percent-encoding is kept, as there).
    ///
    /// ```
    /// # use neuro_types::wire::BucketPayload;
    /// # let payload: BucketPayload = serde_json::from_str(r#"{"id": "bucket-1",
    /// #     "owner": "alice", "name": "data", "created_at": "2022-07-26T10:00:00+00:00",
    /// #     "provider": "minio"}"#).unwrap();
    /// # let bucket = neuro_types::Bucket::from_payload(payload, "default").unwrap();
    /// let uri = url::Url::parse("blob://default/alice/data/dir/a.txt").unwrap();
    /// assert_eq!(bucket.key_for_uri(&uri).unwrap(), "dir/a.txt");
    /// let by_id = url::Url::parse("blob://default/alice/bucket-1/dir/").unwrap();
    /// assert_eq!(bucket.key_for_uri(&by_id).unwrap(), "dir/");
    /// ```
    pub fn key_for_uri(&self, uri: &Url) -> Result<String, ModelError> {
        let own = self.uri_string();
        let mut prefixes = vec![own.clone()];
        if self.name.is_some() {
            prefixes.push(resource_uri(
                "blob",
                &self.cluster_name,
                self.org_name.as_deref(),
                &self.owner,
                &self.id,
            ));
        }
        let text = uri.as_str();
        prefixes
            .iter()
            .find_map(|p| text.strip_prefix(p.as_str()))
            .map(|rest| rest.trim_start_matches('/').to_owned())
            .ok_or_else(|| ModelError::UnrelatedUri {
                uri: text.to_owned(),
                base: own,
            })
    }

    /// The URI of the entry `key` of this bucket (`BucketEntry.uri`: the key is
    /// appended as text, since it may start with `/`).
    pub fn entry_uri(&self, key: &str) -> Result<Url, ModelError> {
        parse_url("uri", &format!("{}/{key}", self.uri_string()))
    }
}

/// Credentials that open one bucket at its provider. `Debug` redacts the
/// values.
#[derive(Clone, PartialEq, Eq)]
pub struct BucketCredentials {
    /// The bucket.
    pub bucket_id: String,
    /// Its provider.
    pub provider: BucketProvider,
    /// Provider-specific keys (wire-protocol-data §4.1): for S3
    /// `bucket_name`, `access_key_id`, `secret_access_key`, `endpoint_url`,
    /// `region_name`, and for temporary ones `session_token`, `expiration`.
    pub credentials: BTreeMap<String, String>,
}

impl BucketCredentials {
    /// Decodes credentials.
    pub fn from_payload(payload: BucketCredentialsPayload) -> Result<Self, ModelError> {
        Ok(Self {
            provider: payload.provider.parse()?,
            bucket_id: payload.bucket_id,
            credentials: payload.credentials,
        })
    }

    /// Encodes them as the server answers them.
    pub fn to_payload(&self) -> BucketCredentialsPayload {
        BucketCredentialsPayload {
            bucket_id: self.bucket_id.clone(),
            provider: self.provider.as_str().to_owned(),
            credentials: self.credentials.clone(),
        }
    }

    /// When temporary credentials expire (`expiration`); `None` for permanent
    /// ones.
    pub fn expiration(&self) -> Result<Option<OffsetDateTime>, ModelError> {
        self.credentials
            .get("expiration")
            .map(|t| parse_time("expiration", t))
            .transpose()
    }
}

impl fmt::Debug for BucketCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BucketCredentials")
            .field("bucket_id", &self.bucket_id)
            .field("provider", &self.provider)
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Long-lived credentials for a set of buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistentBucketCredentials {
    /// `bucket-credentials-<uuid>`.
    pub id: String,
    /// The user who owns them.
    pub owner: String,
    /// The client's current cluster.
    pub cluster_name: String,
    /// Optional name.
    pub name: Option<String>,
    /// Whether they only allow reading.
    pub read_only: bool,
    /// One entry per bucket.
    pub credentials: Vec<BucketCredentials>,
}

impl PersistentBucketCredentials {
    /// Decodes them; `cluster_name` is the client's current cluster.
    pub fn from_payload(
        payload: PersistentCredentialsPayload,
        cluster_name: &str,
    ) -> Result<Self, ModelError> {
        Ok(Self {
            credentials: payload
                .credentials
                .into_iter()
                .map(BucketCredentials::from_payload)
                .collect::<Result<_, _>>()?,
            id: payload.id,
            owner: payload.owner,
            cluster_name: cluster_name.to_owned(),
            name: payload.name,
            read_only: payload.read_only,
        })
    }
}

/// A running total of a bucket's usage (`get_disk_usage` yields one after
/// every object).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BucketUsage {
    /// Bytes of the objects counted so far.
    pub total_bytes: u64,
    /// Objects counted so far.
    pub object_count: u64,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn bucket(org: Option<&str>) -> Bucket {
        Bucket {
            id: "bucket-1".into(),
            owner: "alice".into(),
            cluster_name: "default".into(),
            org_name: org.map(str::to_owned),
            provider: BucketProvider::Minio,
            created_at: OffsetDateTime::UNIX_EPOCH,
            imported: false,
            public: false,
            name: Some("data".into()),
        }
    }

    #[test]
    fn keys_keep_percent_encoding_and_trailing_slash() {
        let b = bucket(Some("org"));
        let uri = Url::parse("blob://default/org/alice/data/a%20b/").unwrap();
        assert_eq!(b.key_for_uri(&uri).unwrap(), "a%20b/");
        let other = Url::parse("blob://default/alice/data/x").unwrap();
        assert!(b.key_for_uri(&other).is_err());
        assert_eq!(
            b.entry_uri("/k").unwrap().as_str(),
            "blob://default/org/alice/data//k"
        );
    }

    #[test]
    fn providers_round_trip() {
        for p in ["aws", "minio", "azure", "gcp", "open_stack"] {
            assert_eq!(p.parse::<BucketProvider>().unwrap().as_str(), p);
        }
        assert!("s3".parse::<BucketProvider>().is_err());
    }
}
