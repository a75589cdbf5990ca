//! Secrets API payloads (wire-protocol-data §5).

use serde::{Deserialize, Serialize};

/// One element of `GET secrets`, and the answer of `POST secrets`:
/// `{"key", "owner", "org_name"}`. The value is never sent back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretPayload {
    /// The secret's name.
    pub key: String,
    /// The user who owns it.
    pub owner: String,
    /// The org, `null` without one (the key may be absent in answers).
    #[serde(default)]
    pub org_name: Option<String>,
}

/// `POST secrets`: `{"key", "value", "org_name"}`; the value is standard base64
/// with padding, and `org_name` is always present (possibly `null`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddSecretRequest {
    /// The secret's name.
    pub key: String,
    /// Base64 of the raw value.
    pub value: String,
    /// The org, `null` without one.
    #[serde(default)]
    pub org_name: Option<String>,
}

impl std::fmt::Debug for AddSecretRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AddSecretRequest")
            .field("key", &self.key)
            .field("value", &"<redacted>")
            .field("org_name", &self.org_name)
            .finish()
    }
}
