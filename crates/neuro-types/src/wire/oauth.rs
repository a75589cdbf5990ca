//! OAuth2 shapes of the login flows (wire-protocol-core §3): the token endpoint's
//! answer and error body, PKCE, and the `NEURO_PASSED_CONFIG` payload.
//!
//! The Python SDK (`neuro_sdk._login`) sends form-encoded requests to the token
//! endpoint and reads `access_token`, `expires_in` and (for the code grant)
//! `refresh_token` from the JSON answer; a refresh keeps the old refresh token.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The only PKCE method the SDK uses.
pub const CODE_CHALLENGE_METHOD: &str = "S256";

/// `scope` of the authorize request.
pub const SCOPE: &str = "offline_access";

/// `grant_type` of the code exchange.
pub const GRANT_AUTHORIZATION_CODE: &str = "authorization_code";

/// `grant_type` of a refresh.
pub const GRANT_REFRESH_TOKEN: &str = "refresh_token";

/// Name of the environment variable a job with `pass_config` receives.
pub const PASSED_CONFIG_ENV: &str = "NEURO_PASSED_CONFIG";

/// The S256 code challenge of a PKCE verifier: unpadded base64url of its SHA-256.
///
/// ```
/// use neuro_types::wire::oauth::s256_challenge;
/// // RFC 7636, appendix B.
/// assert_eq!(
///     s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
///     "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
/// );
/// ```
pub fn s256_challenge(verifier: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// Unpadded base64url, the encoding of PKCE verifiers, codes and states.
pub fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `verifier` is a valid PKCE code verifier (RFC 7636 §4.1): 43 to 128
/// characters from `A-Z a-z 0-9 - . _ ~`.
pub fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The JSON answer of the token endpoint (`Debug` redacts the tokens).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The bearer token.
    pub access_token: String,
    /// Lifetime of the access token, in seconds.
    pub expires_in: u64,
    /// The refresh token (absent on refresh answers: the old one stays valid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Always `Bearer`.
    #[serde(default = "bearer")]
    pub token_type: String,
    /// Granted scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"<redacted>")
            .field("expires_in", &self.expires_in)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("token_type", &self.token_type)
            .field("scope", &self.scope)
            .finish()
    }
}

fn bearer() -> String {
    "Bearer".to_owned()
}

/// The error body of the OAuth endpoints (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthErrorBody {
    /// Error code: `invalid_request`, `invalid_grant`, `invalid_client`, ...
    pub error: String,
    /// Human-readable explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

/// The decoded value of `NEURO_PASSED_CONFIG`: base64 (standard alphabet) of this
/// JSON, as the platform puts it into jobs started with `pass_config`.
///
/// ```
/// use neuro_types::wire::oauth::PassedConfig;
/// let passed = PassedConfig {
///     token: "t".into(),
///     cluster: "default".into(),
///     org_name: None,
///     url: "http://127.0.0.1:8080/api/v1".into(),
/// };
/// let text = passed.encode().unwrap();
/// assert_eq!(PassedConfig::decode(&text).unwrap(), passed);
/// assert!(PassedConfig::decode("not base64!").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassedConfig {
    /// Token of the job's owner.
    pub token: String,
    /// Cluster the job runs on.
    pub cluster: String,
    /// Org the job runs for (`null`: no org; absent in older platforms).
    #[serde(default)]
    pub org_name: Option<String>,
    /// API URL of the platform.
    pub url: String,
}

/// Why a `NEURO_PASSED_CONFIG` value could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PassedConfigError {
    /// Not standard base64.
    #[error("passed config is not base64")]
    Base64(#[from] base64::DecodeError),
    /// Not the expected JSON object.
    #[error("passed config is not the expected JSON")]
    Json(#[from] serde_json::Error),
}

impl PassedConfig {
    /// Decodes a `NEURO_PASSED_CONFIG` value.
    pub fn decode(text: &str) -> Result<PassedConfig, PassedConfigError> {
        let bytes = STANDARD.decode(text.trim())?;
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// Encodes the value the way the platform writes it.
    pub fn encode(&self) -> Result<String, serde_json::Error> {
        Ok(STANDARD.encode(super::pyjson::to_string(self)?))
    }
}

impl std::fmt::Debug for PassedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PassedConfig")
            .field("token", &"<redacted>")
            .field("cluster", &self.cluster)
            .field("org_name", &self.org_name)
            .field("url", &self.url)
            .finish()
    }
}
