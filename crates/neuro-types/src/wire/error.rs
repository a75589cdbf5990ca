//! The error body every platform service answers with on failure.

use serde::{Deserialize, Serialize};

/// `{"error": "...", "errno": "ENOENT"}`: the JSON body of a failed request, and
/// the shape of an error line inside an NDJSON stream.
///
/// `errno` is a symbolic name such as `"ENOENT"`; the Python SDK only looks at it
/// for status 400 and inside NDJSON streams.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// Human-readable message, shown to the user as is.
    pub error: String,
    /// Symbolic errno name (`"EEXIST"`, `"ENOTDIR"`, ...), when the failure is a
    /// filesystem-like one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<String>,
}

impl ErrorBody {
    /// An error body without an errno.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            error: message.into(),
            errno: None,
        }
    }

    /// An error body carrying a symbolic errno name.
    pub fn with_errno(message: impl Into<String>, errno: impl Into<String>) -> Self {
        Self {
            error: message.into(),
            errno: Some(errno.into()),
        }
    }
}
