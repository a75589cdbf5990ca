//! `GET {api_url}/config`: what the platform tells a client about itself.

use neuro_http::Transport;
use neuro_types::config::ServerConfig;
use neuro_types::endpoints::CONFIG_GET;
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
    let payload = fetch_server_config_payload(transport, api_url, token).await?;
    server_config_from_payload(&payload)
}

/// The answer of `GET {api_url}/config` as received, after the status and
/// `authorized` checks.
pub(crate) async fn fetch_server_config_payload(
    transport: &Transport,
    api_url: &Url,
    token: Option<&str>,
) -> Result<ServerConfigPayload, ConfigError> {
    let url = join_path(api_url, CONFIG_GET.path).map_err(|e| ConfigError::InvalidUrl {
        url: api_url.to_string(),
        reason: e.to_string(),
    })?;
    let mut request = transport
        .request(CONFIG_GET.method, url)
        .no_trace()
        .no_auth();
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
    Ok(payload)
}

/// The model of a `/config` answer.
pub(crate) fn server_config_from_payload(
    payload: &ServerConfigPayload,
) -> Result<ServerConfig, ConfigError> {
    ServerConfig::from_payload(payload).map_err(|e| ConfigError::InvalidServerConfig {
        reason: e.to_string(),
    })
}
