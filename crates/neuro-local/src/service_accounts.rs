//! Service accounts under `{api_url}/service_accounts` (wire-protocol-data §8).
//!
//! An account is a role `<owner>/service-accounts/<name or id>` with a bearer
//! token of its own: requests with that token are made as the role, so they
//! reach what the role's own subtree holds and what was shared with the role.
//! Deleting the account deletes the role, its grants and its token, at once.

use crate::app::EndpointRoutes as _;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::StatusCode;
use neuro_types::endpoints;
use neuro_types::wire::serde_util::iso8601;
use neuro_types::wire::{
    CreateServiceAccountRequest, CreatedServiceAccountPayload, ServiceAccountPayload,
};
use rusqlite::{params, Connection, OptionalExtension as _, Row};
use time::OffsetDateTime;

use crate::auth::{is_valid_user_name, AuthUser};
use crate::error::{json_response, ApiError};
use crate::permissions::store as grants;
use crate::state::AppState;

/// Creates the `service_accounts` table.
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS service_accounts (
             id TEXT PRIMARY KEY NOT NULL,
             owner TEXT NOT NULL,
             name TEXT,
             default_cluster TEXT NOT NULL,
             role TEXT NOT NULL UNIQUE,
             created_at INTEGER NOT NULL,
             UNIQUE (owner, name)
         );",
    )
}

/// The routes of `/api/v1/service_accounts`, from the generated endpoint table.
pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(&endpoints::SERVICE_ACCOUNTS_LIST, list)
        .endpoint(&endpoints::SERVICE_ACCOUNTS_CREATE, create)
        .endpoint(&endpoints::SERVICE_ACCOUNTS_GET, get_one)
        .endpoint(&endpoints::SERVICE_ACCOUNTS_RM, remove)
}

const COLUMNS: &str = "id, owner, name, default_cluster, role, created_at";

/// [`COLUMNS`] plus whether the account's role is gone (removed through the
/// roles API while the account stays).
const SELECTED: &str = "id, owner, name, default_cluster, role, created_at, \
     NOT EXISTS (SELECT 1 FROM users WHERE users.name = service_accounts.role)";

fn from_row(row: &Row<'_>) -> rusqlite::Result<ServiceAccountPayload> {
    let created: i64 = row.get(5)?;
    Ok(ServiceAccountPayload {
        id: row.get(0)?,
        owner: row.get(1)?,
        name: row.get(2)?,
        default_cluster: row.get(3)?,
        role: row.get(4)?,
        created_at: OffsetDateTime::from_unix_timestamp(created)
            .map(iso8601::format)
            .unwrap_or_default(),
        role_deleted: row.get(6)?,
    })
}

/// Only users own service accounts; a service account cannot make more.
fn require_user(user: &AuthUser) -> Result<(), ApiError> {
    if user.name.contains('/') {
        Err(ApiError::forbidden(
            "Service accounts cannot manage service accounts",
        ))
    } else {
        Ok(())
    }
}

/// `GET service_accounts`: the caller's accounts.
async fn list(State(state): State<AppState>, user: AuthUser) -> Result<Response, ApiError> {
    let owner = user.name;
    let accounts = state
        .db
        .call(move |conn| {
            let mut stmt = conn.prepare(&format!(
                "SELECT {SELECTED} FROM service_accounts WHERE owner = ?1 ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([owner], from_row)?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?;
    Ok(json_response(StatusCode::OK, &accounts))
}

/// `POST service_accounts` `{"name", "default_cluster"}`: `201` with the account
/// and its token.
async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_user(&user)?;
    let request: CreateServiceAccountRequest = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("Invalid service account: {e}")))?;
    if let Some(name) = &request.name {
        if !is_valid_user_name(name) {
            return Err(ApiError::bad_request(format!(
                "Invalid service account name {name:?}"
            )));
        }
    }
    if request.default_cluster != state.settings.cluster_name {
        return Err(ApiError::bad_request(format!(
            "Unknown cluster {:?}",
            request.default_cluster
        )));
    }
    let id = uuid::Uuid::new_v4().to_string();
    let role = format!(
        "{}/service-accounts/{}",
        user.name,
        request.name.as_deref().unwrap_or(&id)
    );
    let now = crate::auth::now_secs() as i64;
    let (row_id, owner, name, cluster, row_role) = (
        id.clone(),
        user.name.clone(),
        request.name.clone(),
        request.default_cluster.clone(),
        role.clone(),
    );
    let created = state
        .db
        .call(move |conn| {
            let tx = conn.transaction()?;
            let taken = tx
                .query_row(
                    "SELECT 1 FROM service_accounts WHERE owner = ?1 AND name = ?2",
                    params![owner, name],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if taken || !grants::create_role(&tx, &row_role, now)? {
                return Ok(false);
            }
            tx.execute(
                &format!(
                    "INSERT INTO service_accounts ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
                ),
                params![row_id, owner, name, cluster, row_role, now],
            )?;
            tx.commit()?;
            Ok(true)
        })
        .await?;
    if !created {
        return Err(ApiError::conflict(format!(
            "Service account {:?} already exists",
            request.name.as_deref().unwrap_or(&id)
        )));
    }
    let token = state
        .tokens
        .try_issue(&role)
        .map_err(|e| ApiError::internal(format!("cannot issue a service account token: {e:#}")))?;
    tracing::info!(owner = %user.name, role = %role, "service account created");
    let account = ServiceAccountPayload {
        id,
        name: request.name,
        owner: user.name,
        default_cluster: request.default_cluster,
        role,
        created_at: OffsetDateTime::from_unix_timestamp(now)
            .map(iso8601::format)
            .unwrap_or_default(),
        role_deleted: false,
    };
    Ok(json_response(
        StatusCode::CREATED,
        &CreatedServiceAccountPayload { account, token },
    ))
}

async fn find(
    state: &AppState,
    user: &AuthUser,
    id_or_name: &str,
) -> Result<ServiceAccountPayload, ApiError> {
    let (owner, key) = (user.name.clone(), id_or_name.to_owned());
    state
        .db
        .call(move |conn| {
            conn.query_row(
                &format!(
                    "SELECT {SELECTED} FROM service_accounts
                     WHERE owner = ?1 AND (id = ?2 OR name = ?2)"
                ),
                params![owner, key],
                from_row,
            )
            .optional()
        })
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Service account {id_or_name:?} not found")))
}

/// `GET service_accounts/<id or name>`.
async fn get_one(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id_or_name): Path<String>,
) -> Result<Response, ApiError> {
    let account = find(&state, &user, &id_or_name).await?;
    Ok(json_response(StatusCode::OK, &account))
}

/// `DELETE service_accounts/<id or name>`: `204`; the token stops working at once.
async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id_or_name): Path<String>,
) -> Result<Response, ApiError> {
    require_user(&user)?;
    let account = find(&state, &user, &id_or_name).await?;
    let (id, role) = (account.id.clone(), account.role.clone());
    state
        .db
        .call(move |conn| {
            conn.execute("DELETE FROM service_accounts WHERE id = ?1", [&id])?;
            grants::delete_role(conn, &role)
        })
        .await?;
    state.tokens.forget_user(&account.role);
    tracing::info!(owner = %user.name, role = %account.role, "service account deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}
