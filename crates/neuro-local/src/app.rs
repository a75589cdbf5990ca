//! The HTTP application: every service's routes behind one router.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::handler::Handler;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{on, MethodFilter};
use axum::Router;
use http::{HeaderValue, StatusCode};
use neuro_types::endpoints::{self, Endpoint};
use s3s::service::S3Service;

use crate::state::AppState;

/// `X-Service-Version` sent on every answer.
pub const SERVICE_VERSION: &str = concat!("neuro-local/", env!("CARGO_PKG_VERSION"));

/// The complete application for `state`.
pub fn app(state: AppState) -> Router {
    let front = Arc::new(Front {
        s3: crate::buckets::s3::endpoint(&state.settings, &state.db),
        state: state.clone(),
    });
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
        .layer(middleware::from_fn_with_state(front, front_door))
        .with_state(state)
}

/// What every request passes before the routes: the S3 endpoint of buckets
/// and the state the ingress of jobs needs.
struct Front {
    state: AppState,
    s3: Option<S3Service>,
}

/// The one middleware in front of the routes (one layer rather than one per
/// concern: every layer costs each request a clone of its service and
/// state, which was a tenth of the server's time for small files): adds the
/// service version to every answer and logs the request line and status
/// (never the headers, which carry tokens).
async fn front_door(State(front): State<Arc<Front>>, request: Request, next: Next) -> Response {
    let line = tracing::enabled!(tracing::Level::DEBUG)
        .then(|| (request.method().clone(), request.uri().path().to_owned()));
    let mut response = dispatch(&front, request, next).await;
    response.headers_mut().insert(
        "X-Service-Version",
        HeaderValue::from_static(SERVICE_VERSION),
    );
    if let Some((method, path)) = line {
        tracing::debug!(%method, %path, status = response.status().as_u16(), "request");
    }
    response
}

/// Where a request goes, in this order: a small body is read first (see
/// [`crate::linger`]); S3 requests go to the S3 endpoint, requests for a
/// job's host to the job, all others to the routes.
async fn dispatch(front: &Front, request: Request, next: Next) -> Response {
    let request = match crate::linger::read_small_body(request).await {
        Ok(request) => request,
        Err(refused) => return refused,
    };
    if crate::buckets::s3::is_s3_request(&request) {
        return crate::buckets::s3::serve(front.s3.as_ref(), request).await;
    }
    if let Some(label) = crate::jobs::ingress::job_label_of(&request) {
        let label = label.to_owned();
        return crate::jobs::ingress::serve(&front.state, &label, request).await;
    }
    next.run(request).await
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
