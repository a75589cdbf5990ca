//! Credentials for platform requests.

use std::fmt;

use futures::future::BoxFuture;

use crate::error::Error;

/// Supplies the `Authorization` header value for each request.
///
/// It is asked once per request (and once per websocket handshake), so an implementation
/// can refresh an expiring token. The value is the full header value, e.g. `Bearer x`.
/// `Ok(None)` sends no `Authorization` header.
///
/// ```
/// use futures::future::BoxFuture;
/// use neuro_http::{AuthProvider, Error};
///
/// struct Fixed(String);
///
/// impl AuthProvider for Fixed {
///     fn authorization(&self) -> BoxFuture<'_, Result<Option<String>, Error>> {
///         Box::pin(async move { Ok(Some(format!("Bearer {}", self.0))) })
///     }
/// }
/// ```
pub trait AuthProvider: Send + Sync + 'static {
    /// The `Authorization` header value to send, if any.
    fn authorization(&self) -> BoxFuture<'_, Result<Option<String>, Error>>;
}

/// A fixed bearer token: sends `Authorization: Bearer <token>`.
///
/// `Debug` does not show the token.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticToken(pub String);

impl StaticToken {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        StaticToken(token.into())
    }
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaticToken(<redacted>)")
    }
}

impl AuthProvider for StaticToken {
    fn authorization(&self) -> BoxFuture<'_, Result<Option<String>, Error>> {
        let value = format!("Bearer {}", self.0);
        Box::pin(async move { Ok(Some(value)) })
    }
}

/// Whether an authorization value is sent on a plain HTTP request.
///
/// The Python SDK only sets the header when the value has a scheme and a credential,
/// i.e. two or more whitespace-separated words (`Bearer x`, `Basic y`); websocket
/// handshakes always carry it.
pub(crate) fn has_scheme_and_credential(value: &str) -> bool {
    value.split_whitespace().nth(1).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_token_debug_is_redacted() {
        let t = StaticToken::new("secret-token");
        assert!(!format!("{t:?}").contains("secret"));
    }

    #[tokio::test]
    async fn static_token_value() {
        let t = StaticToken::new("abc");
        assert_eq!(
            t.authorization().await.ok().flatten().as_deref(),
            Some("Bearer abc")
        );
    }

    #[test]
    fn scheme_and_credential() {
        assert!(has_scheme_and_credential("Bearer x"));
        assert!(has_scheme_and_credential("Basic a b"));
        assert!(!has_scheme_and_credential("Bearer "));
        assert!(!has_scheme_and_credential("token"));
        assert!(!has_scheme_and_credential(""));
    }
}
