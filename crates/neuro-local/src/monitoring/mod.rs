//! The monitoring service, at the `monitoring_url` the config advertises
//! (`/api/v1/jobs`, next to the jobs API): logs, telemetry, attach, exec, port
//! forwarding and signals (wire-protocol-core §8).
//!
//! | route | kind | module |
//! |---|---|---|
//! | `/{id}/log_ws` | websocket | [`logs`] |
//! | `/{id}/top` | websocket | [`top`] |
//! | `/{id}/attach`, `/{id}/exec` | websocket | [`stdio`] |
//! | `/{id}/port_forward/{port}` | websocket | [`port_forward`] |
//! | `/{id}/kill` | `POST` | here |
//! | `/{id}/save` | `POST` | here (not supported) |
//!
//! `capacity` is served by the jobs API. Refused websocket handshakes carry the
//! error in an `X-Error` header as well as the body, as platform-monitoring does.

pub mod logs;
pub mod port_forward;
pub mod stdio;
pub mod top;

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::{HeaderValue, StatusCode};
use neuro_types::endpoints;
use neuro_types::permission::Action;

use crate::app::EndpointRoutes as _;
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::jobs::io::JobIo;
use crate::jobs::{JobRecord, JobService};
use crate::state::AppState;

/// Routes of the monitoring service, with their full paths (under
/// `/api/v1/jobs`, next to the jobs API).
pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(&endpoints::MONITORING_LOG_WS, logs::log_ws)
        .endpoint(&endpoints::MONITORING_TOP, top::top)
        .endpoint(&endpoints::MONITORING_ATTACH, stdio::attach)
        .endpoint(&endpoints::MONITORING_EXEC, stdio::exec)
        .endpoint(
            &endpoints::MONITORING_PORT_FORWARD,
            port_forward::port_forward,
        )
        .endpoint(&endpoints::MONITORING_KILL, kill)
        .endpoint(&endpoints::MONITORING_SAVE, save)
}

/// An [`ApiError`] answering a websocket handshake: the JSON body plus the same
/// JSON in `X-Error`, which is what the SDK reads (wire-protocol-core §1.5).
#[derive(Debug)]
pub struct WsError(pub ApiError);

impl From<ApiError> for WsError {
    fn from(e: ApiError) -> Self {
        WsError(e)
    }
}

impl IntoResponse for WsError {
    fn into_response(self) -> Response {
        let x_error = serde_json::to_string(&self.0.body).ok();
        let mut response = self.0.into_response();
        if let Some(value) = x_error.and_then(|v| HeaderValue::from_str(&v).ok()) {
            response.headers_mut().insert("X-Error", value);
        }
        response
    }
}

/// The caller's job `id` (which must allow `action`), its live side and the
/// process group of its running process: `404` when it does not run, as for a
/// missing container.
async fn running_job(
    jobs: &JobService,
    user: &str,
    id: &str,
    action: Action,
) -> Result<(JobRecord, Arc<JobIo>, i32), ApiError> {
    let job = jobs.job(user, id, action).await?;
    let live = jobs
        .io(&job.id)
        .and_then(|io| io.state().pid.map(|pid| (io, pid)));
    match live {
        Some((io, pid)) => Ok((job, io, pid)),
        None => Err(ApiError::not_found(format!(
            "Job {} is not running (status {})",
            job.id,
            job.status.as_str()
        ))),
    }
}

/// A query flag as platform-monitoring reads it: `1`/`true` (any case) is set,
/// `0`/`false` is not, absent is `default`.
fn flag(value: Option<&str>, default: bool) -> Result<bool, ApiError> {
    match value.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true") => Ok(true),
        Some("0" | "false") => Ok(false),
        Some(other) => Err(ApiError::bad_request(format!(
            "Invalid boolean value {other:?}"
        ))),
    }
}

/// `POST {monitoring}/{id}/kill`: SIGKILL to the job's processes; 204.
async fn kill(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.jobs.send_kill_signal(&user.name, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST {monitoring}/{id}/save`: committing a job to an image needs a
/// container engine, which neuro-local does not have; a clear `400`. The body
/// is read first, so the client is never cut off while still sending it.
async fn save(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    _body: axum::body::Bytes,
) -> Result<StatusCode, ApiError> {
    state.jobs.job(&user.name, &id, Action::Write).await?;
    Err(ApiError::bad_request(
        "Saving a job as an image is not supported by neuro-local: its jobs are local \
         processes, not containers",
    ))
}
