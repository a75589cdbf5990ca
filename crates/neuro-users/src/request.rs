//! Requests for the endpoints of the generated table (`neuro_types::endpoints`).

use neuro_config::Config;
use neuro_http::RequestBuilder;
use neuro_types::endpoints::Endpoint;
use neuro_types::uri::join_path;

use crate::UsersError;

/// A request with `endpoint`'s method to its URL, its path filled in as `path`
/// (made by `neuro_types::endpoints::paths`).
pub(crate) fn request(
    config: &Config,
    endpoint: &Endpoint,
    path: &str,
) -> Result<RequestBuilder, UsersError> {
    let url =
        join_path(config.base_url(endpoint.base), path).map_err(|e| UsersError::Model(e.into()))?;
    Ok(config.transport().request(endpoint.method.clone(), url))
}
