//! The HTTP application: every service's routes behind one router.

use axum::extract::Request;
use axum::handler::Handler;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{on, MethodFilter};
use axum::Router;
use http::{HeaderValue, StatusCode};
use neuro_types::endpoints::{self, Endpoint};

use crate::state::AppState;

/// `X-Service-Version` sent on every answer.
pub const SERVICE_VERSION: &str = concat!("neuro-local/", env!("CARGO_PKG_VERSION"));

/// The complete application for `state`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .endpoint(&endpoints::CONFIG_GET, crate::config_api::get_config)
        .merge(crate::storage::router())
        .merge(crate::oauth::router())
        .merge(crate::jobs::router())
        .merge(crate::monitoring::router())
        .merge(crate::permissions::api::router())
        .merge(crate::secrets::router())
        .merge(crate::disks::router())
        .merge(crate::service_accounts::router())
        .merge(crate::registry::router())
        .merge(crate::buckets::router())
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::jobs::ingress::route,
        ))
        .layer(middleware::from_fn_with_state(
            crate::buckets::s3::endpoint(&state.settings, &state.db),
            crate::buckets::s3::route,
        ))
        .layer(middleware::from_fn(crate::linger::read_small_bodies))
        .layer(middleware::from_fn(common_headers))
        .with_state(state)
}

/// Serving the endpoints of [`neuro_types::endpoints`]: their route and method
/// come from the generated table, so the server and the clients cannot drift.
pub trait EndpointRoutes {
    /// Serves `endpoint` at its route, for its method, with `handler`.
    fn endpoint<H, T>(self, endpoint: &Endpoint, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static;
}

impl EndpointRoutes for Router<AppState> {
    fn endpoint<H, T>(self, endpoint: &Endpoint, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        match MethodFilter::try_from(endpoint.method.clone()) {
            Ok(filter) => self.route(endpoint.route, on(filter, handler)),
            Err(_) => {
                // Unreachable: codegen admits only methods axum can filter on
                // (and a test below checks every endpoint).
                tracing::error!(endpoint = endpoint.name, "method not routable");
                self
            }
        }
    }
}

/// aiohttp's `404: Not Found` for unknown routes.
async fn not_found() -> Response {
    crate::error::text_response(StatusCode::NOT_FOUND)
}

/// Adds the service version and logs the request line and status (never the
/// headers, which carry tokens).
async fn common_headers(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await.into_response();
    response.headers_mut().insert(
        "X-Service-Version",
        HeaderValue::from_static(SERVICE_VERSION),
    );
    tracing::debug!(%method, %path, status = response.status().as_u16(), "request");
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_method_is_routable() {
        for endpoint in endpoints::ALL {
            assert!(
                MethodFilter::try_from(endpoint.method.clone()).is_ok(),
                "{}",
                endpoint.name
            );
        }
    }

    #[test]
    fn storage_prefix_is_the_storage_base() {
        assert_eq!(
            crate::storage::PREFIX,
            format!("{}/", endpoints::Base::StorageUrl.local_path())
        );
    }
}
