//! The users API under `{api_url}/users` (wire-protocol-data §7): permissions,
//! shares, sub-roles, and role creation and removal. A user or role name in the
//! path has its `/` written as `:` (`alice:team`).

use crate::app::EndpointRoutes as _;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::StatusCode;
use neuro_types::endpoints;
use neuro_types::permission::Action;
use neuro_types::wire::{AddRoleRequest, PermissionPayload, SharePayload, SubrolesPayload};

use super::store::{self, is_valid_role_name};
use super::{implicit_grants, load_view, AccessView, Grant, ResourcePath};
use crate::auth::AuthUser;
use crate::error::{json_response, ApiError};
use crate::state::AppState;

/// The routes of `/api/v1/users`, from the generated endpoint table.
pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(&endpoints::USERS_ADD_ROLE, add_role)
        .endpoint(&endpoints::USERS_REMOVE_ROLE, remove_role)
        .endpoint(&endpoints::USERS_GET_ACL, get_acl)
        .endpoint(&endpoints::USERS_SHARE, share)
        .endpoint(&endpoints::USERS_REVOKE, revoke)
        .endpoint(&endpoints::USERS_GET_SHARES, get_shares)
        .endpoint(&endpoints::USERS_GET_SUBROLES, get_subroles)
}

/// `alice:team` in a path is the role `alice/team`.
fn subject_name(segment: &str) -> String {
    segment.replace(':', "/")
}

/// The `role://` URI of a user or role: whoever manages it may read its ACL.
fn role_path(name: &str) -> ResourcePath {
    ResourcePath::new("role", name.split('/'))
}

async fn caller_view(state: &AppState, user: &AuthUser) -> Result<AccessView, ApiError> {
    load_view(&state.db, &user.name, &state.settings.cluster_name).await
}

/// Checks that `name` exists and that the caller may read its permissions.
async fn readable_subject(
    state: &AppState,
    user: &AuthUser,
    name: &str,
) -> Result<AccessView, ApiError> {
    let view = caller_view(state, user).await?;
    view.require(&role_path(name), Action::Read)?;
    ensure_exists(state, name).await?;
    Ok(view)
}

async fn ensure_exists(state: &AppState, name: &str) -> Result<(), ApiError> {
    let owned = name.to_owned();
    let exists = state
        .db
        .call(move |conn| store::subject_exists(conn, &owned))
        .await?;
    if exists {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("User '{name}' not found")))
    }
}

/// The `uri` query filter: a full URI or a bare scheme (`storage:`).
fn uri_filter(query: Option<&str>) -> Result<Option<ResourcePath>, ApiError> {
    let Some(text) = crate::query::param(query, endpoints::query::URI) else {
        return Ok(None);
    };
    ResourcePath::parse(&text)
        .map(Some)
        .ok_or_else(|| ApiError::bad_request(format!("Invalid URI {text:?}")))
}

/// The subject named by a read request's path segment and its `uri` filter,
/// once the caller is known to be allowed to read that subject's permissions.
async fn read_request(
    state: &AppState,
    user: &AuthUser,
    segment: &str,
    query: Option<&str>,
) -> Result<(String, Option<ResourcePath>), ApiError> {
    let name = subject_name(segment);
    let filter = uri_filter(query)?;
    readable_subject(state, user, &name).await?;
    Ok((name, filter))
}

fn matches(filter: Option<&ResourcePath>, path: &ResourcePath) -> bool {
    filter.is_none_or(|f| f.contains(path))
}

/// `GET users/<name>/permissions[?uri=]`: the subject's own grants.
async fn get_acl(
    State(state): State<AppState>,
    user: AuthUser,
    Path(segment): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (name, filter) = read_request(&state, &user, &segment, query.as_deref()).await?;
    let owned = name.clone();
    let explicit = state
        .db
        .call(move |conn| store::explicit_grants(conn, &owned))
        .await?;
    let mut grants = implicit_grants(&name, &state.settings.cluster_name);
    grants.extend(explicit);
    let body: Vec<PermissionPayload> = grants
        .into_iter()
        .filter(|g| matches(filter.as_ref(), &g.path))
        .map(|g| g.to_payload())
        .collect();
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET users/<name>/permissions/shared[?uri=]`: grants other subjects hold on
/// what `name` manages.
async fn get_shares(
    State(state): State<AppState>,
    user: AuthUser,
    Path(segment): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let (name, filter) = read_request(&state, &user, &segment, query.as_deref()).await?;
    let (owned, cluster) = (name.clone(), state.settings.cluster_name.clone());
    let (target, all) = state
        .db
        .call(move |conn| {
            Ok((
                store::view(conn, &owned, &cluster)?,
                store::all_grants(conn)?,
            ))
        })
        .await?;
    let body: Vec<SharePayload> = all
        .into_iter()
        .filter(|s| s.subject != name)
        .filter(|s| target.allows(&s.grant.path, Action::Manage))
        .filter(|s| matches(filter.as_ref(), &s.grant.path))
        .map(|s| SharePayload {
            user: s.subject,
            uri: s.grant.path.to_uri(),
            action: s.grant.action.as_str().to_owned(),
        })
        .collect();
    Ok(json_response(StatusCode::OK, &body))
}

/// `GET users/<name>/subroles`.
async fn get_subroles(
    State(state): State<AppState>,
    user: AuthUser,
    Path(segment): Path<String>,
) -> Result<Response, ApiError> {
    let name = subject_name(&segment);
    readable_subject(&state, &user, &name).await?;
    let subroles = state
        .db
        .call(move |conn| store::subroles(conn, &name))
        .await?;
    Ok(json_response(StatusCode::OK, &SubrolesPayload { subroles }))
}

/// `POST users/<name>/permissions` with `[{"uri", "action"}, ...]`: `201` with the
/// effective permissions (an existing stronger one is kept and returned).
async fn share(
    State(state): State<AppState>,
    user: AuthUser,
    Path(segment): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let name = subject_name(&segment);
    let requested: Vec<PermissionPayload> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("Invalid permissions: {e}")))?;
    if requested.is_empty() {
        return Err(ApiError::bad_request("No permissions given"));
    }
    let mut wanted = Vec::with_capacity(requested.len());
    for p in &requested {
        let path = ResourcePath::parse(&p.uri)
            .filter(|path| !path.segments().is_empty())
            .ok_or_else(|| ApiError::bad_request(format!("Invalid URI {:?}", p.uri)))?;
        let action: Action = p
            .action
            .parse()
            .map_err(|_| ApiError::bad_request(format!("Invalid action {:?}", p.action)))?;
        wanted.push((path, action));
    }
    let view = caller_view(&state, &user).await?;
    for (path, _) in &wanted {
        view.require(path, Action::Manage)?;
    }
    ensure_exists(&state, &name).await?;
    let granted = state
        .db
        .call(move |conn| {
            // Compared with what was shared, so a role gets its grant even on a
            // path inside its own (implicit) subtree.
            let target = store::shared_view(conn, &name)?;
            let mut granted = Vec::with_capacity(wanted.len());
            for (path, action) in wanted {
                match target.action(&path) {
                    Some(existing) if existing >= action => granted.push(Grant {
                        path,
                        action: existing,
                    }),
                    _ => {
                        store::put_grant(conn, &name, &path, action)?;
                        granted.push(Grant { path, action });
                    }
                }
            }
            Ok(granted)
        })
        .await?;
    let body: Vec<PermissionPayload> = granted.iter().map(Grant::to_payload).collect();
    Ok(json_response(StatusCode::CREATED, &body))
}

/// `DELETE users/<name>/permissions?uri=...`: `204`, or `404` without such a grant.
async fn revoke(
    State(state): State<AppState>,
    user: AuthUser,
    Path(segment): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let name = subject_name(&segment);
    let path = uri_filter(query.as_deref())?
        .filter(|p| !p.segments().is_empty())
        .ok_or_else(|| ApiError::bad_request("The uri parameter is required"))?;
    caller_view(&state, &user)
        .await?
        .require(&path, Action::Manage)?;
    let shown = path.to_uri();
    let removed = state
        .db
        .call(move |conn| store::delete_grant(conn, &name, &path))
        .await?;
    if removed {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!("Permission {shown} not found")))
    }
}

/// `POST users` with `{"name": "alice/team"}`: creates a role under a role the
/// caller manages.
async fn add_role(
    State(state): State<AppState>,
    user: AuthUser,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: AddRoleRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("Invalid role: {e}")))?;
    let name = request.name;
    if !is_valid_role_name(&name) {
        return Err(ApiError::bad_request(format!("Invalid role name {name:?}")));
    }
    caller_view(&state, &user)
        .await?
        .require(&role_path(&name), Action::Manage)?;
    let owned = name.clone();
    let now = crate::auth::now_secs() as i64;
    let created = state
        .db
        .call(move |conn| store::create_role(conn, &owned, now))
        .await?;
    if !created {
        return Err(ApiError::conflict(format!("Role '{name}' already exists")));
    }
    Ok(json_response(StatusCode::CREATED, &AddRoleRequest { name }))
}

/// `DELETE users/<role>`: removes a role the caller manages (never a user).
async fn remove_role(
    State(state): State<AppState>,
    user: AuthUser,
    Path(segment): Path<String>,
) -> Result<Response, ApiError> {
    let name = subject_name(&segment);
    if !is_valid_role_name(&name) {
        return Err(ApiError::forbidden(format!("{name:?} is not a role")));
    }
    caller_view(&state, &user)
        .await?
        .require(&role_path(&name), Action::Manage)?;
    let owned = name.clone();
    let deleted = state
        .db
        .call(move |conn| store::delete_role(conn, &owned))
        .await?;
    if deleted {
        state.tokens.forget_user(&name);
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!("Role '{name}' not found")))
    }
}
