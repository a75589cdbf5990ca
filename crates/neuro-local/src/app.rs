//! The HTTP application: every service's routes behind one router.

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{HeaderValue, StatusCode};

use crate::state::AppState;

/// `X-Service-Version` sent on every answer.
pub const SERVICE_VERSION: &str = concat!("neuro-local/", env!("CARGO_PKG_VERSION"));

/// The complete application for `state`.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/config", get(crate::config_api::get_config))
        .merge(crate::storage::router())
        .merge(crate::oauth::router())
        .nest(
            "/api/v1/jobs",
            crate::jobs::router().merge(crate::monitoring::router()),
        )
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::jobs::ingress::route,
        ))
        .layer(middleware::from_fn(crate::linger::read_small_bodies))
        .layer(middleware::from_fn(common_headers))
        .with_state(state)
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
