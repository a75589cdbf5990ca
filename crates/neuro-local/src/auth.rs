//! Users, bearer tokens and the [`AuthUser`] extractor.
//!
//! Tokens are HS256 JWTs carrying the user name in both `identity` and
//! `https://platform.neuromation.io/user` (the claims the Python SDK reads), plus
//! `iat` and a random `jti`. The signing key lives in `{data_dir}/jwt.key` (0600).
//! Every issued `jti` is recorded in the `tokens` table: a token is valid only while
//! its row exists, so tokens can be revoked one by one and deleting a user revokes
//! all of theirs.

use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::sync::{PoisonError, RwLock};

use anyhow::Context as _;
use axum::extract::FromRequestParts;
use base64::Engine as _;
use http::request::Parts;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};

use crate::db::Db;
use crate::error::ApiError;
use crate::state::AppState;

/// The claim the platform uses for the user name besides `identity`.
pub const USER_CLAIM: &str = "https://platform.neuromation.io/user";

/// Name of the key file inside the data directory.
pub const KEY_FILE: &str = "jwt.key";

/// The authenticated caller of a request.
///
/// As an extractor it reads `Authorization: Bearer <jwt>`; a missing, malformed,
/// unknown or revoked token is rejected with `401`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthUser {
    /// The user name.
    pub name: String,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        authenticate(&parts.headers, state).ok_or_else(ApiError::unauthorized)
    }
}

/// The user named by the bearer token in `headers`, if the token is valid.
pub fn authenticate(headers: &http::HeaderMap, state: &AppState) -> Option<AuthUser> {
    let token = bearer_token(headers)?;
    state.tokens.verify(token).map(|name| AuthUser { name })
}

/// The `<token>` of an `Authorization: Bearer <token>` header.
pub fn bearer_token(headers: &http::HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    identity: String,
    #[serde(rename = "https://platform.neuromation.io/user")]
    user: String,
    iat: u64,
    jti: String,
    /// Expiry (Unix seconds) of tokens issued by the OAuth endpoints; tokens made
    /// with `neuro-local token create` have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exp: Option<u64>,
}

/// Issues and verifies the platform's bearer tokens.
pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    db: Db,
    /// Live token ids and their users; mirrors the `tokens` table.
    live: RwLock<HashMap<String, String>>,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("key", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// Loads the signing key from `{data_dir}/jwt.key`, creating a random one
    /// (mode 0600) on first use, and loads the live token ids from `db`.
    pub fn open(data_dir: &Path, db: Db) -> anyhow::Result<TokenIssuer> {
        let key = load_or_create_key(&data_dir.join(KEY_FILE))?;
        let live = db
            .call_blocking(|conn| {
                let mut stmt = conn.prepare("SELECT jti, user_name FROM tokens")?;
                let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
                rows.collect::<rusqlite::Result<HashMap<String, String>>>()
            })
            .context("cannot load issued tokens")?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_aud = false;
        Ok(TokenIssuer {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation,
            db,
            live: RwLock::new(live),
        })
    }

    /// Issues a new token for `user` and records it.
    ///
    /// If recording fails the token still works until the server stops; use
    /// [`TokenIssuer::try_issue`] to see the failure.
    pub fn issue(&self, user: &str) -> String {
        match self.try_issue(user) {
            Ok(token) => token,
            Err(err) => {
                tracing::error!(user, error = %err, "cannot record issued token");
                let jti = new_jti();
                let (token, _) = self.sign(user, &jti, None);
                self.write_live().insert(jti, user.to_owned());
                token
            }
        }
    }

    /// Issues a new token for `user`, recording its id in the database first.
    pub fn try_issue(&self, user: &str) -> anyhow::Result<String> {
        self.try_issue_with_expiry(user, None)
    }

    /// Issues a token for `user` that stops working `ttl` after now (an `exp`
    /// claim), as the OAuth token endpoint hands out.
    pub fn try_issue_expiring(
        &self,
        user: &str,
        ttl: std::time::Duration,
    ) -> anyhow::Result<String> {
        self.try_issue_with_expiry(user, Some(now_secs().saturating_add(ttl.as_secs())))
    }

    fn try_issue_with_expiry(&self, user: &str, exp: Option<u64>) -> anyhow::Result<String> {
        let jti = new_jti();
        let (token, iat) = self.sign(user, &jti, exp);
        let (db_jti, db_user) = (jti.clone(), user.to_owned());
        self.db
            .call_blocking(move |conn| {
                conn.execute(
                    "INSERT INTO tokens (jti, user_name, issued_at) VALUES (?1, ?2, ?3)",
                    rusqlite::params![db_jti, db_user, iat as i64],
                )
            })
            .with_context(|| format!("cannot record a token for user {user:?}"))?;
        self.write_live().insert(jti, user.to_owned());
        Ok(token)
    }

    fn sign(&self, user: &str, jti: &str, exp: Option<u64>) -> (String, u64) {
        let iat = now_secs();
        let claims = Claims {
            identity: user.to_owned(),
            user: user.to_owned(),
            iat,
            jti: jti.to_owned(),
            exp,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .unwrap_or_default();
        (token, iat)
    }

    /// The user of `token` if it was issued here, is well signed and not revoked.
    pub fn verify(&self, token: &str) -> Option<String> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).ok()?;
        let claims = data.claims;
        if claims.identity != claims.user || claims.exp.is_some_and(|exp| exp <= now_secs()) {
            return None;
        }
        let known = self
            .live
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&claims.jti)
            .cloned();
        let owner = match known {
            Some(owner) => owner,
            // Issued by another process on the same data directory
            // (`neuro-local token create` while the server runs).
            None => {
                let owner = self.lookup(&claims.jti)?;
                self.write_live().insert(claims.jti, owner.clone());
                owner
            }
        };
        (owner == claims.user).then_some(claims.user)
    }

    fn lookup(&self, jti: &str) -> Option<String> {
        let jti = jti.to_owned();
        self.db
            .call_blocking(move |conn| {
                conn.query_row(
                    "SELECT user_name FROM tokens WHERE jti = ?1",
                    [jti],
                    |row| row.get(0),
                )
            })
            .ok()
    }

    /// Revokes one token. Returns whether it was live.
    pub fn revoke(&self, token: &str) -> anyhow::Result<bool> {
        let Ok(data) = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
        else {
            return Ok(false);
        };
        let jti = data.claims.jti;
        let db_jti = jti.clone();
        self.db
            .call_blocking(move |conn| conn.execute("DELETE FROM tokens WHERE jti = ?1", [db_jti]))
            .context("cannot revoke token")?;
        Ok(self.write_live().remove(&jti).is_some())
    }

    /// Forgets every token of `user` (the database rows go with the user row).
    pub(crate) fn forget_user(&self, user: &str) {
        self.write_live().retain(|_, u| u != user);
    }

    fn write_live(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, String>> {
        self.live.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why a user could not be created or deleted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UserError {
    /// The name is not a valid platform user name.
    #[error("invalid user name {0:?}: use 1-64 lower-case letters, digits, '-' or '_', starting and ending with a letter or digit")]
    InvalidName(String),
    /// No such user.
    #[error("user {0:?} does not exist")]
    NotFound(String),
    /// The database failed.
    #[error("user database error")]
    Db(#[from] rusqlite::Error),
}

/// Whether `name` is a valid user name: it doubles as a storage path segment.
pub fn is_valid_user_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    let edge_ok = |b: Option<&u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (1..=64).contains(&bytes.len())
        && edge_ok(bytes.first())
        && edge_ok(bytes.last())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_')
}

/// Creates `name` if it does not exist yet. Returns whether it was created.
pub fn ensure_user(db: &Db, name: &str) -> Result<bool, UserError> {
    if !is_valid_user_name(name) {
        return Err(UserError::InvalidName(name.to_owned()));
    }
    let name = name.to_owned();
    let created = db.call_blocking(move |conn| {
        conn.execute(
            "INSERT OR IGNORE INTO users (name, created_at) VALUES (?1, ?2)",
            rusqlite::params![name, now_secs() as i64],
        )
    })?;
    Ok(created > 0)
}

/// Whether user `name` exists.
pub fn user_exists(db: &Db, name: &str) -> Result<bool, UserError> {
    let name = name.to_owned();
    Ok(db.call_blocking(move |conn| {
        conn.query_row("SELECT 1 FROM users WHERE name = ?1", [name], |_| Ok(()))
            .map(|()| true)
            .or_else(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Ok(false),
                e => Err(e),
            })
    })?)
}

/// Every user name, sorted.
pub fn list_users(db: &Db) -> Result<Vec<String>, UserError> {
    Ok(db.call_blocking(|conn| {
        // Roles share the table; their names contain '/'.
        let mut stmt =
            conn.prepare("SELECT name FROM users WHERE instr(name, '/') = 0 ORDER BY name")?;
        let names = stmt.query_map([], |row| row.get(0))?;
        names.collect()
    })?)
}

/// Deletes user `name` and revokes all their tokens. Their storage is kept.
pub fn delete_user(db: &Db, tokens: &TokenIssuer, name: &str) -> Result<(), UserError> {
    let owned = name.to_owned();
    let deleted = db.call_blocking(move |conn| {
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM tokens WHERE user_name = ?1", [&owned])?;
        let n = tx.execute("DELETE FROM users WHERE name = ?1", [&owned])?;
        tx.commit()?;
        Ok(n)
    })?;
    tokens.forget_user(name);
    if deleted == 0 {
        return Err(UserError::NotFound(name.to_owned()));
    }
    Ok(())
}

/// Reads the base64 key file at `path`, creating a random 64-byte key (mode
/// 0600) on first use.
pub(crate) fn load_or_create_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    let engine = base64::engine::general_purpose::STANDARD;
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let key = engine
                .decode(text.trim())
                .with_context(|| format!("{} is not a valid key file", path.display()))?;
            anyhow::ensure!(key.len() >= 32, "{} holds a too short key", path.display());
            Ok(key)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let mut key = vec![0u8; 64];
            rand::rngs::OsRng.fill_bytes(&mut key);
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            file.write_all(engine.encode(&key).as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            Ok(key)
        }
        Err(err) => Err(err).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn new_jti() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Seconds since the Unix epoch.
pub(crate) fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Db, TokenIssuer) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("state.db")).unwrap();
        let tokens = TokenIssuer::open(dir.path(), db.clone()).unwrap();
        (dir, db, tokens)
    }

    #[test]
    fn issue_verify_revoke() {
        let (dir, db, tokens) = setup();
        ensure_user(&db, "alice").unwrap();
        let t = tokens.try_issue("alice").unwrap();
        assert_eq!(tokens.verify(&t).as_deref(), Some("alice"));
        assert_eq!(tokens.verify("garbage"), None);
        assert!(tokens.revoke(&t).unwrap());
        assert_eq!(tokens.verify(&t), None);

        let t2 = tokens.try_issue("alice").unwrap();
        // survives a reopen
        let again = TokenIssuer::open(dir.path(), db.clone()).unwrap();
        assert_eq!(again.verify(&t2).as_deref(), Some("alice"));
        // issued by another process after `again` loaded its cache
        let t3 = tokens.try_issue("alice").unwrap();
        assert_eq!(again.verify(&t3).as_deref(), Some("alice"));
        delete_user(&db, &again, "alice").unwrap();
        assert_eq!(again.verify(&t2), None);
    }

    #[test]
    fn foreign_key_is_rejected() {
        let (_dir, db, tokens) = setup();
        ensure_user(&db, "alice").unwrap();
        let other = tempfile::tempdir().unwrap();
        let other_db = Db::open(&other.path().join("state.db")).unwrap();
        ensure_user(&other_db, "alice").unwrap();
        let foreign = TokenIssuer::open(other.path(), other_db).unwrap();
        let t = foreign.try_issue("alice").unwrap();
        assert_eq!(tokens.verify(&t), None);
    }

    #[test]
    fn user_names() {
        assert!(is_valid_user_name("alice"));
        assert!(is_valid_user_name("a-b_c9"));
        for bad in ["", "..", ".", "a/b", "Alice", "-a", "a-", "a b", "a\\b"] {
            assert!(!is_valid_user_name(bad), "{bad}");
        }
    }

    #[test]
    fn debug_is_redacted() {
        let (_dir, _db, tokens) = setup();
        let text = format!("{tokens:?}");
        assert!(text.contains("redacted"));
    }
}
