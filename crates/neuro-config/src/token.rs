//! The access token and the claims the SDK reads from it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::ConfigError;

use neuro_types::wire::stored_config::{expiration_time, NON_EXPIRING_EXPIRES_IN};

/// The JWT claims that carry the user name, in the order they are tried.
pub const USERNAME_CLAIMS: [&str; 2] = ["identity", "https://platform.neuromation.io/user"];

/// An access token with its expiry and refresh token.
///
/// `Debug` never prints the token or the refresh token.
#[derive(Clone, PartialEq)]
pub struct AuthToken {
    /// The bearer token (a JWT).
    pub token: String,
    /// Unix time (seconds) after which the token must be refreshed.
    pub expiration_time: f64,
    /// Refresh token; empty for tokens that cannot be refreshed.
    pub refresh_token: String,
}

impl std::fmt::Debug for AuthToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthToken")
            .field("token", &"<redacted>")
            .field("expiration_time", &self.expiration_time)
            .field("refresh_token", &"<redacted>")
            .finish()
    }
}

impl AuthToken {
    /// A token that is never refreshed (`login_with_token`): valid for three
    /// quarters of three years from now, the way the Python SDK computes it.
    pub fn non_expiring(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            expiration_time: expiration_time(unix_now(), NON_EXPIRING_EXPIRES_IN),
            refresh_token: String::new(),
        }
    }

    /// The token of a token-endpoint answer received at `now`, with the
    /// refresh token to keep (a refresh answer carries none).
    pub fn from_response(
        answer: &neuro_types::wire::oauth::TokenResponse,
        refresh_token: String,
        now: f64,
    ) -> Self {
        Self {
            token: answer.access_token.clone(),
            expiration_time: expiration_time(now, answer.expires_in as f64),
            refresh_token,
        }
    }

    /// The user name carried by the token.
    pub fn username(&self) -> Result<String, ConfigError> {
        username_from_jwt(&self.token)
    }

    /// Whether the token must be refreshed before use.
    pub fn is_expired(&self) -> bool {
        self.expiration_time <= unix_now()
    }
}

/// Reads the user name from a JWT's claims without checking the signature (the
/// server checks it; the client only needs the name).
pub fn username_from_jwt(token: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidToken {
        reason: reason.to_owned(),
    };
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("not a JWT (expected three dot-separated parts)"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|_| invalid("JWT payload is not base64url"))?;
    let claims: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| invalid("JWT payload is not JSON"))?;
    USERNAME_CLAIMS
        .iter()
        .find_map(|claim| claims.get(claim).and_then(|v| v.as_str()))
        .map(str::to_owned)
        .ok_or_else(|| invalid("JWT has no user name claim"))
}

pub(crate) fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        format!(
            "{}.{}.sig",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
            URL_SAFE_NO_PAD.encode(claims.as_bytes())
        )
    }

    #[test]
    fn reads_identity_then_platform_claim() {
        assert_eq!(
            username_from_jwt(&jwt(r#"{"identity":"alice"}"#)).ok(),
            Some("alice".into())
        );
        assert_eq!(
            username_from_jwt(&jwt(r#"{"https://platform.neuromation.io/user":"bob"}"#)).ok(),
            Some("bob".into())
        );
        assert_eq!(
            username_from_jwt(&jwt(
                r#"{"identity":"a","https://platform.neuromation.io/user":"b"}"#
            ))
            .ok(),
            Some("a".into())
        );
    }

    #[test]
    fn rejects_non_jwt_and_missing_claims() {
        assert!(username_from_jwt("plain-token").is_err());
        assert!(username_from_jwt(&jwt(r#"{"sub":"x"}"#)).is_err());
        assert!(username_from_jwt("a.%%%.c").is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let t = AuthToken::non_expiring("secret-token");
        let text = format!("{t:?}");
        assert!(!text.contains("secret-token"));
        assert!(!t.is_expired());
    }
}
