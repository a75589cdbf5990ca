//! The HTTP ingress of jobs: a request whose `Host` is `<job-id>.jobs.localhost`
//! or `<name>--<owner>.jobs.localhost` (the job's `http_url`, see
//! [`super::payload`]) reaching the server's own port is proxied to the job's
//! `http.port` on the loopback interface.
//!
//! With `requires_auth`, the request needs a bearer token of a user who may
//! read the job (`401` without one, `403` for others); the token is not passed
//! on to the job. A job that does not run answers `502`.

use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::Request;
use axum::response::{IntoResponse as _, Response};
use http::{header, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use neuro_types::permission::Action;

use crate::auth::authenticate;
use crate::error::ApiError;
use crate::state::AppState;

use super::access;

/// The domain of the jobs' HTTP host names.
pub const HTTP_DOMAIN: &str = "jobs.localhost";

fn client() -> &'static Client<HttpConnector, Body> {
    static CLIENT: OnceLock<Client<HttpConnector, Body>> = OnceLock::new();
    CLIENT.get_or_init(|| Client::builder(TokioExecutor::new()).build_http())
}

/// The job label of a `Host` header under [`HTTP_DOMAIN`], if it is one.
fn job_label(host: &str) -> Option<&str> {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let cut = name.len().checked_sub(HTTP_DOMAIN.len() + 1)?;
    let (label, domain) = name.split_at(cut);
    let domain_ok = domain
        .strip_prefix('.')
        .is_some_and(|d| d.eq_ignore_ascii_case(HTTP_DOMAIN));
    (domain_ok && !label.is_empty() && !label.contains('.')).then_some(label)
}

/// The job label of a request for a job's host (see [`HTTP_DOMAIN`]), if it
/// is one.
pub fn job_label_of(request: &Request) -> Option<&str> {
    request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .and_then(job_label)
}

/// Answers a request for the host of the job labelled `label` by proxying it
/// to the job.
pub async fn serve(state: &AppState, label: &str, request: Request) -> Response {
    match proxy(state, label, request).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn proxy(state: &AppState, label: &str, mut request: Request) -> Result<Response, ApiError> {
    let job = state
        .jobs
        .find_by_label(label)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no job at {label}.{HTTP_DOMAIN}")))?;
    let http = job
        .spec
        .container
        .http
        .as_ref()
        .filter(|h| (1..=65535).contains(&h.port))
        .ok_or_else(|| ApiError::not_found(format!("job {} exposes no HTTP port", job.id)))?;
    if http.requires_auth {
        let user = authenticate(request.headers(), state).ok_or_else(ApiError::unauthorized)?;
        access::check(&state.db, &user.name, &job, Action::Read).await?;
        request.headers_mut().remove(header::AUTHORIZATION);
    }
    let running = state
        .jobs
        .io(&job.id)
        .is_some_and(|io| io.state().pid.is_some());
    if !running {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("job {} is not running", job.id),
        ));
    }
    let target = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    *request.uri_mut() = Uri::try_from(format!("http://127.0.0.1:{}{target}", http.port))
        .map_err(|e| ApiError::bad_request(format!("invalid request target: {e}")))?;
    let response = client().request(request).await.map_err(|e| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("cannot reach port {} of job {}: {e}", http.port, job.id),
        )
    })?;
    Ok(response.map(Body::new))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_from_hosts() {
        assert_eq!(job_label("job-1.jobs.localhost:8080"), Some("job-1"));
        assert_eq!(job_label("web--alice.JOBS.localhost"), Some("web--alice"));
        assert_eq!(job_label("jobs.localhost"), None);
        assert_eq!(job_label("a.b.jobs.localhost"), None);
        assert_eq!(job_label("127.0.0.1:8080"), None);
        assert_eq!(job_label("x.jobs.localhost.evil"), None);
    }
}
