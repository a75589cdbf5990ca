//! `GET {api_url}/config`: what the platform tells a client about itself.

use neuro_http::{Method, Transport};
use neuro_types::config::ServerConfig;
use neuro_types::uri::join_path;
use neuro_types::wire::ServerConfigPayload;
use url::Url;

use crate::ConfigError;

/// Fetches the server configuration, with the bearer `token` when given.
///
/// As in the Python SDK, any status but 200 is an error, and when a token was
/// sent the answer must say `"authorized": true`. The request carries no tracing
/// headers and its errors are not mapped through the API error table.
pub async fn fetch_server_config(
    transport: &Transport,
    api_url: &Url,
    token: Option<&str>,
) -> Result<ServerConfig, ConfigError> {
    let url = join_path(api_url, "config").map_err(|e| ConfigError::InvalidUrl {
        url: api_url.to_string(),
        reason: e.to_string(),
    })?;
    let mut request = transport.request(Method::GET, url).no_trace().no_auth();
    if let Some(token) = token {
        request = request.authorization(format!("Bearer {token}"));
    }
    let response = request.send_raw().await?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(ConfigError::ServerConfigStatus { status });
    }
    let payload: ServerConfigPayload = response.json().await?;
    if token.is_some() && !payload.authorized {
        return Err(ConfigError::NotAuthorized);
    }
    ServerConfig::from_payload(&payload).map_err(|e| ConfigError::InvalidServerConfig {
        reason: e.to_string(),
    })
}
