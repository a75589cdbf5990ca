//! The secrets service under `{base}/api/v1/secrets` (wire-protocol-data §5):
//! named values stored encrypted ([`cipher`]), listed without their values, and
//! handed to the jobs of users allowed to read them ([`resolve`]).
//!
//! A secret's URI is `secret://<cluster>/<owner>/<key>`; the permission tree
//! decides who sees it. Values never appear in answers, logs or errors.

pub mod cipher;

use std::collections::BTreeMap;

use crate::app::EndpointRoutes as _;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine as _;
use http::StatusCode;
use neuro_types::endpoints;
use neuro_types::permission::Action;
use neuro_types::wire::{AddSecretRequest, SecretPayload};
use rusqlite::{params, Connection, OptionalExtension as _};

use crate::auth::AuthUser;
use crate::db::Db;
use crate::error::{json_response, ApiError};
use crate::permissions::{load_view, AccessView, ResourcePath};
use crate::settings::Settings;
use crate::state::AppState;
use cipher::SecretCipher;

/// The error text of the real service for a key that breaks its pattern.
pub const BAD_KEY_ERROR: &str =
    r"{'key': DataError('does not match pattern \A(?!\.\Z|\.\.)[a-zA-Z0-9_\-.]+\Z')}";

/// Creates the `secrets` table.
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS secrets (
             owner TEXT NOT NULL,
             key TEXT NOT NULL,
             org_name TEXT,
             sealed BLOB NOT NULL,
             created_at INTEGER NOT NULL,
             PRIMARY KEY (owner, key)
         );",
    )
}

/// The routes of `/api/v1/secrets`, from the generated endpoint table.
pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(&endpoints::SECRETS_LIST, list)
        .endpoint(&endpoints::SECRETS_ADD, add)
        .endpoint(&endpoints::SECRETS_RM, remove)
}

/// Whether `key` matches the service's pattern `\A(?!\.\Z|\.\.)[a-zA-Z0-9_\-.]+\Z`.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key != "."
        && !key.starts_with("..")
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// `secret://<cluster>/<owner>/<key>`.
pub fn secret_path(cluster: &str, owner: &str, key: &str) -> ResourcePath {
    let mut path = ResourcePath::in_cluster("secret", cluster, owner);
    path = ResourcePath::new(
        "secret",
        path.segments().iter().cloned().chain([key.to_owned()]),
    );
    path
}

/// `GET secrets[?org_name=]`: every secret the caller may read, without
/// values; only those of the org `org_name` when it is given.
async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let org =
        crate::query::param(query.as_deref(), endpoints::query::ORG_NAME).filter(|o| !o.is_empty());
    let cluster = state.settings.cluster_name.clone();
    let view = load_view(&state.db, &user.name, &cluster).await?;
    let rows = state
        .db
        .call(|conn| {
            let mut stmt =
                conn.prepare("SELECT key, owner, org_name FROM secrets ORDER BY owner, key")?;
            let rows = stmt.query_map([], |row| {
                Ok(SecretPayload {
                    key: row.get(0)?,
                    owner: row.get(1)?,
                    org_name: row.get(2)?,
                })
            })?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
        .await?;
    let visible: Vec<SecretPayload> = rows
        .into_iter()
        .filter(|s| org.is_none() || s.org_name == org)
        .filter(|s| view.allows(&secret_path(&cluster, &s.owner, &s.key), Action::Read))
        .collect();
    Ok(json_response(StatusCode::OK, &visible))
}

/// `POST secrets` `{"key", "value" (base64), "org_name"}`: creates or replaces the
/// caller's secret; `201` with the secret without its value.
async fn add(
    State(state): State<AppState>,
    user: AuthUser,
    body: Bytes,
) -> Result<Response, ApiError> {
    let request: AddSecretRequest = serde_json::from_slice(&body).map_err(|_| {
        ApiError::bad_request(
            "{'key': DataError('is required'), 'value': DataError('is required')}",
        )
    })?;
    if !is_valid_key(&request.key) {
        return Err(ApiError::bad_request(BAD_KEY_ERROR));
    }
    let value = base64::engine::general_purpose::STANDARD
        .decode(request.value.as_bytes())
        .map_err(|_| {
            ApiError::bad_request("{'value': DataError('is not a valid base64 string')}")
        })?;
    let cluster = state.settings.cluster_name.clone();
    let path = secret_path(&cluster, &user.name, &request.key);
    load_view(&state.db, &user.name, &cluster)
        .await?
        .require(&path, Action::Write)?;
    let cipher = SecretCipher::open(&state.settings.data_dir)?;
    let sealed = cipher.seal(&user.name, &request.key, &value)?;
    let answer = SecretPayload {
        key: request.key,
        owner: user.name,
        org_name: request.org_name,
    };
    let row = answer.clone();
    let now = crate::auth::now_secs() as i64;
    state
        .db
        .call(move |conn| {
            conn.execute(
                "INSERT INTO secrets (owner, key, org_name, sealed, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (owner, key) DO UPDATE SET
                     org_name = excluded.org_name, sealed = excluded.sealed",
                params![row.owner, row.key, row.org_name, sealed, now],
            )
        })
        .await?;
    tracing::info!(owner = %answer.owner, key = %answer.key, "secret stored");
    Ok(json_response(StatusCode::CREATED, &answer))
}

/// `DELETE secrets/<key>[?org_name=][&owner=]`: `204`, `404` if missing, `403`
/// for another user's secret the caller may not write.
async fn remove(
    State(state): State<AppState>,
    user: AuthUser,
    Path(key): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let owner = crate::query::param(query.as_deref(), endpoints::query::OWNER)
        .unwrap_or_else(|| user.name.clone());
    let cluster = state.settings.cluster_name.clone();
    load_view(&state.db, &user.name, &cluster)
        .await?
        .require(&secret_path(&cluster, &owner, &key), Action::Write)?;
    let shown = key.clone();
    let deleted = state
        .db
        .call(move |conn| {
            conn.execute(
                "DELETE FROM secrets WHERE owner = ?1 AND key = ?2",
                params![owner, key],
            )
        })
        .await?;
    if deleted == 0 {
        return Err(ApiError::not_found(format!("Secret '{shown}' not found")));
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The value of the secret at `uri` (`secret://<cluster>/<owner>/<key>`) for a
/// job whose owner has `view`: `403` without read access, `404` if missing.
pub async fn resolve(
    db: &Db,
    settings: &Settings,
    view: &AccessView,
    uri: &str,
) -> Result<Vec<u8>, ApiError> {
    let path = ResourcePath::parse(uri)
        .filter(|p| p.scheme() == "secret" && p.segments().len() >= 3)
        .ok_or_else(|| ApiError::bad_request(format!("Invalid secret URI {uri:?}")))?;
    view.require(&path, Action::Read)?;
    let segments = path.segments();
    let (key, owner_segments) = match segments.split_last() {
        Some((key, rest)) => (key.clone(), rest.get(1..).unwrap_or(&[]).join("/")),
        None => return Err(ApiError::bad_request(format!("Invalid secret URI {uri:?}"))),
    };
    let (owner, lookup_key) = (owner_segments.clone(), key.clone());
    let sealed: Option<Vec<u8>> = db
        .call(move |conn| {
            conn.query_row(
                "SELECT sealed FROM secrets WHERE owner = ?1 AND key = ?2",
                params![owner, lookup_key],
                |row| row.get(0),
            )
            .optional()
        })
        .await?;
    let sealed = sealed.ok_or_else(|| ApiError::not_found(format!("Secret '{key}' not found")))?;
    SecretCipher::open(&settings.data_dir)?.open_value(&owner_segments, &key, &sealed)
}

/// The values of a job's `secret_env` (variable name to secret URI), resolved
/// for the job's owner, whose permissions are `view`.
pub async fn resolve_env(
    db: &Db,
    settings: &Settings,
    view: &AccessView,
    secret_env: &BTreeMap<String, String>,
) -> Result<Vec<(String, String)>, ApiError> {
    let mut env = Vec::with_capacity(secret_env.len());
    for (name, uri) in secret_env {
        let value = resolve(db, settings, view, uri).await?;
        let text = String::from_utf8(value).map_err(|_| {
            ApiError::bad_request(format!("Secret {uri} is not UTF-8 text; use a secret file"))
        })?;
        env.push((name.clone(), text));
    }
    Ok(env)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_pattern() {
        for ok in ["k1", "A_b-c.d", ".hidden", "a..b"] {
            assert!(is_valid_key(ok), "{ok}");
        }
        for bad in ["", ".", "..", "..x", "bad key!", "a/b", "é"] {
            assert!(!is_valid_key(bad), "{bad}");
        }
        assert_eq!(
            secret_path("c", "alice", "k").to_uri(),
            "secret://c/alice/k"
        );
    }
}
