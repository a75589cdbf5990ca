//! Who is calling the registry: `Authorization: Basic base64(<user>:<token>)`
//! as the SDK sends it (the user named in the token) and as Docker, Podman and
//! skopeo send it (the literal user `token`), or `Bearer <token>`. The password
//! is checked as a platform token; it is never logged.

use base64::Engine as _;
use http::HeaderMap;

use super::error::RegistryError;
use crate::state::AppState;

/// The user name Docker credential helpers give for a platform token.
pub const TOKEN_USER: &str = "token";

/// The authenticated user of a registry request.
pub fn caller(headers: &HeaderMap, state: &AppState) -> Result<String, RegistryError> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(RegistryError::Unauthorized)?;
    let (scheme, credentials) = value
        .trim()
        .split_once(' ')
        .ok_or(RegistryError::Unauthorized)?;
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return state
            .tokens
            .verify(credentials)
            .ok_or(RegistryError::Unauthorized);
    }
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(RegistryError::Unauthorized);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(RegistryError::Unauthorized)?;
    let (user, token) = decoded.split_once(':').ok_or(RegistryError::Unauthorized)?;
    let owner = state
        .tokens
        .verify(token)
        .ok_or(RegistryError::Unauthorized)?;
    if user == owner || user == TOKEN_USER {
        Ok(owner)
    } else {
        Err(RegistryError::Unauthorized)
    }
}
