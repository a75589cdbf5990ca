//! Image manifests (Docker v2 schema 2, OCI, and their lists/indexes) and image
//! configurations: the parts the registry checks and the job runtime reads.

use serde::Deserialize;

use super::digest::Digest;

/// Docker v2 schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Whether `media_type` is a manifest this registry stores.
pub fn is_supported(media_type: &str) -> bool {
    [
        DOCKER_MANIFEST,
        DOCKER_MANIFEST_LIST,
        OCI_MANIFEST,
        OCI_INDEX,
    ]
    .contains(&media_type)
}

/// Whether `media_type` lists other manifests rather than layers.
pub fn is_index(media_type: &str) -> bool {
    media_type == DOCKER_MANIFEST_LIST || media_type == OCI_INDEX
}

/// A content descriptor.
#[derive(Debug, Clone, Deserialize)]
pub struct Descriptor {
    /// Its media type.
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its digest.
    pub digest: String,
}

/// The fields of a manifest (image or index) the registry reads.
#[derive(Debug, Clone, Deserialize)]
pub struct Manifest {
    /// `2`.
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    /// The media type inside the body, if any (OCI makes it optional).
    #[serde(rename = "mediaType", default)]
    pub media_type: Option<String>,
    /// The image configuration (image manifests).
    #[serde(default)]
    pub config: Option<Descriptor>,
    /// The layers, base first (image manifests).
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The listed manifests (indexes).
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

/// Why a manifest is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Not JSON of the expected shape, or an unsupported schema.
    #[error("{0}")]
    Invalid(String),
    /// A referenced digest is malformed.
    #[error("invalid digest {0}")]
    BadDigest(String),
}

impl Manifest {
    /// Parses `body`; `content_type` (the request's) wins over the body's
    /// `mediaType`. Returns the manifest and its media type.
    pub fn parse(
        body: &[u8],
        content_type: Option<&str>,
    ) -> Result<(Manifest, String), ManifestError> {
        let manifest: Manifest = serde_json::from_slice(body)
            .map_err(|e| ManifestError::Invalid(format!("manifest invalid: {e}")))?;
        if manifest.schema_version != 2 {
            return Err(ManifestError::Invalid(format!(
                "unsupported manifest schema version {}",
                manifest.schema_version
            )));
        }
        let from_header = content_type
            .map(|t| t.split(';').next().unwrap_or("").trim())
            .filter(|t| is_supported(t));
        let media_type = match (from_header, manifest.media_type.as_deref()) {
            (Some(t), _) => t.to_owned(),
            (None, Some(t)) if is_supported(t) => t.to_owned(),
            (None, None) if manifest.config.is_some() => OCI_MANIFEST.to_owned(),
            (None, None) if !manifest.manifests.is_empty() => OCI_INDEX.to_owned(),
            (_, other) => {
                return Err(ManifestError::Invalid(format!(
                    "unsupported manifest media type {}",
                    other.or(content_type).unwrap_or("(none)")
                )))
            }
        };
        if !is_index(&media_type) && manifest.config.is_none() {
            return Err(ManifestError::Invalid("manifest has no config".into()));
        }
        Ok((manifest, media_type))
    }

    /// The blobs an image manifest references (config, then layers).
    pub fn blobs(&self) -> Result<Vec<Digest>, ManifestError> {
        self.config
            .iter()
            .chain(&self.layers)
            .map(|d| {
                Digest::parse(&d.digest).ok_or_else(|| ManifestError::BadDigest(d.digest.clone()))
            })
            .collect()
    }

    /// The manifests an index lists.
    pub fn children(&self) -> Result<Vec<Digest>, ManifestError> {
        self.manifests
            .iter()
            .map(|d| {
                Digest::parse(&d.digest).ok_or_else(|| ManifestError::BadDigest(d.digest.clone()))
            })
            .collect()
    }
}

/// The runtime part of an image configuration (`config` of the config blob).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct RunConfig {
    /// `Entrypoint`.
    #[serde(rename = "Entrypoint", default)]
    pub entrypoint: Option<Vec<String>>,
    /// `Cmd`.
    #[serde(rename = "Cmd", default)]
    pub cmd: Option<Vec<String>>,
    /// `Env`, `NAME=value` items.
    #[serde(rename = "Env", default)]
    pub env: Option<Vec<String>>,
    /// `WorkingDir`.
    #[serde(rename = "WorkingDir", default)]
    pub working_dir: Option<String>,
}

/// The image configuration blob, as far as the runtime reads it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ImageConfig {
    /// The runtime settings.
    #[serde(default)]
    pub config: Option<RunConfig>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn media_type_comes_from_header_then_body() {
        let body = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"x","size":1,"digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000"},"layers":[]}"#;
        let (m, t) = Manifest::parse(body, None).unwrap();
        assert_eq!(t, DOCKER_MANIFEST);
        assert_eq!(m.blobs().unwrap().len(), 1);
        let (_, t) = Manifest::parse(body, Some(OCI_MANIFEST)).unwrap();
        assert_eq!(t, OCI_MANIFEST);
        assert!(Manifest::parse(b"{\"schemaVersion\":1}", None).is_err());
        assert!(Manifest::parse(b"[]", None).is_err());
    }
}
