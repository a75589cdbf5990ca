//! Buckets API payloads (wire-protocol-data §3).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// A bucket as `GET buckets`, `GET buckets/<id>`, `POST buckets` and the
/// other bucket calls answer it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketPayload {
    /// `bucket-<uuid>`.
    pub id: String,
    /// The user who owns it.
    pub owner: String,
    /// Optional name, unique per owner.
    #[serde(default)]
    pub name: Option<String>,
    /// ISO 8601 creation time.
    pub created_at: String,
    /// `aws`, `minio`, `azure`, `gcp` or `open_stack`.
    pub provider: String,
    /// Whether it was imported (`import/external`) rather than created.
    #[serde(default)]
    pub imported: bool,
    /// Whether anonymous reads are allowed.
    #[serde(default)]
    pub public: bool,
    /// The org, `null` without one.
    #[serde(default)]
    pub org_name: Option<String>,
}

/// `POST buckets`: both keys always present.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateBucketRequest {
    /// Optional name.
    pub name: Option<String>,
    /// The org, `null` without one.
    pub org_name: Option<String>,
}

/// `POST buckets/import/external`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportBucketRequest {
    /// Optional name on the platform.
    pub name: Option<String>,
    /// The provider of the external bucket.
    pub provider: String,
    /// The bucket's name at the provider.
    pub provider_bucket_name: String,
    /// Provider-specific credentials (wire-protocol-data §4.1).
    pub credentials: BTreeMap<String, String>,
    /// The org, `null` without one.
    pub org_name: Option<String>,
}

impl fmt::Debug for ImportBucketRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImportBucketRequest")
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("provider_bucket_name", &self.provider_bucket_name)
            .field("credentials", &RedactedMap(&self.credentials))
            .field("org_name", &self.org_name)
            .finish()
    }
}

/// `PATCH buckets/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatchBucketRequest {
    /// Whether anonymous reads are allowed.
    pub public: bool,
}

/// Credentials of one bucket (`make_tmp_credentials`, and inside persistent
/// credentials). `Debug` shows the keys of `credentials`, never the values.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BucketCredentialsPayload {
    /// The bucket they open.
    pub bucket_id: String,
    /// Its provider.
    pub provider: String,
    /// Provider-specific keys (wire-protocol-data §4.1).
    pub credentials: BTreeMap<String, String>,
}

impl fmt::Debug for BucketCredentialsPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BucketCredentialsPayload")
            .field("bucket_id", &self.bucket_id)
            .field("provider", &self.provider)
            .field("credentials", &RedactedMap(&self.credentials))
            .finish()
    }
}

/// Persistent credentials as `persistent_credentials` answers them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersistentCredentialsPayload {
    /// `bucket-credentials-<uuid>`.
    pub id: String,
    /// The user who owns them.
    pub owner: String,
    /// Optional name, unique per owner.
    #[serde(default)]
    pub name: Option<String>,
    /// Whether they only allow reading.
    #[serde(default)]
    pub read_only: bool,
    /// One entry per bucket they open.
    pub credentials: Vec<BucketCredentialsPayload>,
}

/// `POST persistent_credentials`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatePersistentCredentialsRequest {
    /// Optional name.
    pub name: Option<String>,
    /// The buckets they open.
    pub bucket_ids: Vec<String>,
    /// Whether they only allow reading.
    #[serde(default)]
    pub read_only: bool,
}

/// `POST buckets/<id>/sign_blob_url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignBlobUrlRequest {
    /// The blob key.
    pub key: String,
    /// Lifetime of the URL in seconds.
    pub expires_in_sec: i64,
}

/// The answer of `sign_blob_url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedUrlPayload {
    /// The signed URL.
    pub url: String,
}

/// Shows the keys of a credentials map, never its values.
struct RedactedMap<'a>(&'a BTreeMap<String, String>);

impl fmt::Debug for RedactedMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|k| (k, "<redacted>")))
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn credentials_debug_hides_values() {
        let payload = BucketCredentialsPayload {
            bucket_id: "bucket-1".into(),
            provider: "minio".into(),
            credentials: [("secret_access_key".to_owned(), "s3cr3t".to_owned())].into(),
        };
        let text = format!("{payload:?}");
        assert!(text.contains("secret_access_key"), "{text}");
        assert!(!text.contains("s3cr3t"), "{text}");
    }
}
