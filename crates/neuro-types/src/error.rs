//! Errors of the conversions between wire payloads and the model.

use crate::image::ImageError;
use crate::uri::UriError;

/// A string that is not one of the values an enumeration accepts (an unknown
/// permission, restart policy or priority).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?}")]
pub struct ParseEnumError {
    /// What was being parsed (`"permission"`, `"restart policy"`, ...).
    pub kind: &'static str,
    /// The rejected text.
    pub value: String,
}

impl ParseEnumError {
    pub(crate) fn new(kind: &'static str, value: &str) -> Self {
        Self {
            kind,
            value: value.to_owned(),
        }
    }
}

/// Why a payload could not be turned into a model value, or a model value into a
/// request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A field that must hold a URL does not.
    #[error("invalid URL in `{field}`: {value:?}")]
    InvalidUrl {
        /// The JSON key.
        field: &'static str,
        /// The text found there.
        value: String,
        /// What the URL parser said.
        #[source]
        source: url::ParseError,
    },
    /// An enumerated field has an unknown value.
    #[error("invalid field value")]
    InvalidValue(#[from] ParseEnumError),
    /// An image reference could not be resolved (only an unknown cluster; invalid
    /// names become `INVALID-IMAGE-NAME`, as in the Python SDK).
    #[error("invalid image reference")]
    Image(#[from] ImageError),
    /// A volume, secret or disk URI was refused.
    #[error("invalid resource URI")]
    Uri(#[from] UriError),
    /// Resources name a TPU type without a software version.
    #[error("TPU type {tpu_type:?} requires a software version")]
    MissingTpuSoftwareVersion {
        /// The TPU type.
        tpu_type: String,
    },
    /// A timestamp field that is not ISO 8601 text with an offset.
    #[error("invalid timestamp in `{field}`: {value:?}")]
    InvalidTimestamp {
        /// The JSON key.
        field: &'static str,
        /// The text found there.
        value: String,
    },
    /// A duration field that is negative or not finite.
    #[error("invalid duration in `{field}`: {value}")]
    InvalidDuration {
        /// The JSON key.
        field: &'static str,
        /// The number found there.
        value: f64,
    },
    /// A blob URI that does not name a key of the bucket it was resolved to.
    #[error("URI {uri} is not related to bucket {base}")]
    UnrelatedUri {
        /// The URI.
        uri: String,
        /// The bucket's URI.
        base: String,
    },
    /// A job life span that is not a finite number of seconds.
    #[error("life span must be a finite number of seconds, got {0}")]
    InvalidLifeSpan(f64),
}

impl ModelError {
    pub(crate) fn url(field: &'static str, value: &str, source: url::ParseError) -> Self {
        ModelError::InvalidUrl {
            field,
            value: value.to_owned(),
            source,
        }
    }
}

/// Parses a URL field of a payload.
pub(crate) fn parse_url(field: &'static str, value: &str) -> Result<url::Url, ModelError> {
    url::Url::parse(value).map_err(|e| ModelError::url(field, value, e))
}

/// Parses an ISO 8601 timestamp field of a payload.
pub(crate) fn parse_time(
    field: &'static str,
    value: &str,
) -> Result<time::OffsetDateTime, ModelError> {
    crate::wire::serde_util::iso8601::parse(value).map_err(|_| ModelError::InvalidTimestamp {
        field,
        value: value.to_owned(),
    })
}
