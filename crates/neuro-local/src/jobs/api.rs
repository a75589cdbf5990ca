//! HTTP handlers of the jobs API, at `/api/v1/jobs`
//! (wire-protocol-core §7).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::Router;
use base64::Engine as _;
use http::{HeaderMap, StatusCode};
use neuro_types::endpoints;

use crate::app::EndpointRoutes as _;
use crate::auth::AuthUser;
use crate::error::{json_response, ApiError};
use crate::ndjson::{accepts_ndjson, json_list_response, ndjson_try_response, LineEnd};
use crate::state::AppState;

use super::list::ListQuery;
use super::request::parse_submission;
use super::service::LifeSpanChange;

/// Routes of the jobs API (and of `capacity`, which the monitoring service
/// answers on the real platform), with their full paths.
pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(&endpoints::JOBS_LIST, list_jobs)
        .endpoint(&endpoints::JOBS_TAGS, job_tags)
        .endpoint(&endpoints::JOBS_CREATE, create_job)
        .endpoint(&endpoints::MONITORING_CAPACITY, capacity)
        .endpoint(&endpoints::JOBS_GET, get_job)
        .endpoint(&endpoints::JOBS_KILL, kill_job)
        .endpoint(&endpoints::JOBS_UPDATE_LIFE_SPAN, update_life_span)
}

/// Whether the raw query has the key `key` (with or without a value).
fn has_query_key(query: Option<&str>, key: &str) -> bool {
    query.is_some_and(|q| q.split('&').any(|pair| pair.split('=').next() == Some(key)))
}

/// `POST /api/v1/jobs` (run form) and `POST /api/v1/jobs?from_preset`: 202 with
/// the new job.
async fn create_job(
    State(state): State<AppState>,
    user: AuthUser,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let from_preset = has_query_key(query.as_deref(), "from_preset");
    let submission = parse_submission(&body, from_preset, &state.settings)?;
    let passed_config = if submission.spec.pass_config {
        Some(passed_config(&state, &user.name).await?)
    } else {
        None
    };
    let job = state
        .jobs
        .submit(&user.name, submission, passed_config)
        .await?;
    Ok(json_response(StatusCode::ACCEPTED, &job))
}

/// The `NEURO_PASSED_CONFIG` value for a job of `user`: standard base64 of
/// `{"token", "cluster", "org_name", "url"}` with a fresh token
/// (wire-protocol-core §3.7).
async fn passed_config(state: &AppState, user: &str) -> Result<String, ApiError> {
    let (tokens, name) = (state.tokens.clone(), user.to_owned());
    let token = tokio::task::spawn_blocking(move || tokens.try_issue(&name))
        .await
        .map_err(|e| ApiError::internal(format!("token task failed: {e}")))?
        .map_err(|e| ApiError::internal(format!("cannot issue a token for the job: {e:#}")))?;
    let config = serde_json::json!({
        "token": token,
        "cluster": state.settings.cluster_name,
        "org_name": null,
        "url": state.settings.api_url().as_str(),
    });
    Ok(base64::engine::general_purpose::STANDARD.encode(config.to_string()))
}

/// `GET /api/v1/jobs`: NDJSON when asked for, else `{"jobs": [...]}`; both
/// streamed while the jobs are read.
async fn list_jobs(
    State(state): State<AppState>,
    user: AuthUser,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let query =
        ListQuery::parse(query.as_deref().unwrap_or_default()).map_err(ApiError::bad_request)?;
    let jobs = state.jobs.list(&user.name, &query).await?;
    if accepts_ndjson(&headers) {
        Ok(ndjson_try_response(jobs, LineEnd::Lf))
    } else {
        Ok(json_list_response("jobs", jobs))
    }
}

/// `GET /api/v1/tags`: `{"tags": [...]}`, the caller's job tags, most
/// recently used first.
async fn job_tags(State(state): State<AppState>, user: AuthUser) -> Result<Response, ApiError> {
    let tags = state.jobs.tags(&user.name).await?;
    Ok(json_response(
        StatusCode::OK,
        &serde_json::json!({ "tags": tags }),
    ))
}

/// `GET /api/v1/jobs/{id}`: the job by id or by the caller's job name.
async fn get_job(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let job = state.jobs.get(&user.name, &id).await?;
    Ok(json_response(StatusCode::OK, &job))
}

/// `DELETE /api/v1/jobs/{id}`: kills the job; 204 (also for a finished job).
async fn kill_job(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.jobs.kill(&user.name, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `PUT /api/v1/jobs/{id}/max_run_time_minutes` with exactly one of
/// `{"additional_max_run_time_minutes": n}` and `{"max_run_time_minutes": n}`
/// (n ≥ 1); 204.
async fn update_life_span(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("Invalid JSON body: {e}")))?;
    let field = |key: &str| -> Result<Option<i64>, ApiError> {
        match value.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .filter(|n| *n >= 1)
                .map(Some)
                .ok_or_else(|| ApiError::bad_request(format!("{key} must be an integer >= 1"))),
        }
    };
    let change = match (
        field("additional_max_run_time_minutes")?,
        field("max_run_time_minutes")?,
    ) {
        (Some(n), None) => LifeSpanChange::Add(n),
        (None, Some(n)) => LifeSpanChange::Set(n),
        _ => {
            return Err(ApiError::bad_request(
                "Exactly one of 'max_run_time_minutes' and 'additional_max_run_time_minutes' \
                 allowed",
            ))
        }
    };
    state.jobs.update_life_span(&user.name, &id, change).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/v1/jobs/capacity`: how many more jobs of each preset could start
/// now (wire-protocol-core §8.7).
async fn capacity(State(state): State<AppState>, _user: AuthUser) -> Response {
    json_response(StatusCode::OK, &state.jobs.capacity())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_preset_key() {
        assert!(has_query_key(Some("from_preset"), "from_preset"));
        assert!(has_query_key(Some("a=1&from_preset="), "from_preset"));
        assert!(!has_query_key(Some("from_presets"), "from_preset"));
        assert!(!has_query_key(None, "from_preset"));
    }
}
