//! The OAuth2 endpoints of the browser and headless logins (wire-protocol-core §3):
//! authorize (an auto-approving page), token (code exchange with PKCE S256, and
//! refresh), logout and the page that shows a code to headless users.
//!
//! The authorize page approves [`Settings::oauth_user`] without asking, so a
//! login runs end to end with no person at a browser. Codes live five minutes
//! and are single-use; codes and refresh tokens are stored hashed (SHA-256) in
//! the platform database. Access tokens are the platform's JWTs with an `exp`
//! claim [`Settings::access_token_ttl`] ahead.
//!
//! [`Settings::oauth_user`]: crate::settings::Settings::oauth_user
//! [`Settings::access_token_ttl`]: crate::settings::Settings::access_token_ttl

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Form, Router};
use http::{header, HeaderValue, StatusCode};
use neuro_types::endpoints;
use neuro_types::wire::oauth::{
    base64url, is_valid_verifier, s256_challenge, OAuthErrorBody, TokenResponse,
    CODE_CHALLENGE_METHOD, GRANT_AUTHORIZATION_CODE, GRANT_REFRESH_TOKEN, SCOPE,
};
use rand::RngCore as _;
use rusqlite::{params, Connection, OptionalExtension as _};
use url::Url;

use crate::app::EndpointRoutes as _;
use crate::auth::now_secs;
use crate::config_api::{server_config, CALLBACK_URLS, CLIENT_ID};
use crate::settings::Settings;
use crate::state::AppState;

/// How long an authorization code may wait for its exchange, in seconds.
pub const CODE_TTL_SECS: u64 = 300;

/// The OAuth routes, at the paths `/config` announces.
pub fn router() -> Router<AppState> {
    Router::new()
        .endpoint(&endpoints::OAUTH_AUTHORIZE, authorize)
        .endpoint(&endpoints::OAUTH_TOKEN, token)
        .endpoint(&endpoints::OAUTH_LOGOUT, logout)
        .endpoint(&endpoints::OAUTH_SHOW_CODE, show_code)
}

/// Tables of pending codes and live refresh tokens.
pub fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS oauth_codes (
             code_hash TEXT PRIMARY KEY NOT NULL,
             user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
             challenge TEXT NOT NULL,
             redirect_uri TEXT NOT NULL,
             expires_at INTEGER NOT NULL
         );
         CREATE TABLE IF NOT EXISTS oauth_refresh_tokens (
             token_hash TEXT PRIMARY KEY NOT NULL,
             user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
             issued_at INTEGER NOT NULL
         );",
    )
}

/// A failed OAuth request, answered as RFC 6749 says for the endpoint.
#[derive(Debug)]
struct OAuthError {
    status: StatusCode,
    body: OAuthErrorBody,
}

impl OAuthError {
    fn new(status: StatusCode, error: &str, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            body: OAuthErrorBody {
                error: error.to_owned(),
                error_description: Some(description.into()),
            },
        }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    fn server(description: impl std::fmt::Display) -> Self {
        tracing::error!(error = %description, "oauth endpoint failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "internal error",
        )
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = crate::error::json_response(self.status, &self.body);
        no_store(&mut response);
        if self.body.error == "invalid_client" {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"neuro-local\""),
            );
        }
        response
    }
}

fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

/// `GET /oauth/authorize`: checks the request, then redirects to `redirect_uri`
/// with a fresh `code` (and the `state` given), or with an `error`.
///
/// A request whose client or redirect URI is wrong gets a `400` page instead of a
/// redirect: sending anything to an unchecked URI would leak the code.
async fn authorize(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let param = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    if param("client_id") != CLIENT_ID {
        return page(
            StatusCode::BAD_REQUEST,
            "Login failed",
            &format!("Unknown client_id {:?}.", param("client_id")),
        );
    }
    let Some(redirect) = allowed_redirect(&state.settings, param("redirect_uri")) else {
        return page(
            StatusCode::BAD_REQUEST,
            "Login failed",
            &format!(
                "redirect_uri {:?} is not a registered callback.",
                param("redirect_uri")
            ),
        );
    };
    let state_param = query.get("state").cloned();
    let fail = |error: &str, description: &str| {
        let mut url = redirect.clone();
        {
            let mut pairs = url.query_pairs_mut();
            pairs.append_pair("error", error);
            pairs.append_pair("error_description", description);
            if let Some(s) = &state_param {
                pairs.append_pair("state", s);
            }
        }
        found(&url)
    };
    if param("response_type") != "code" {
        return fail(
            "unsupported_response_type",
            "only response_type=code is supported",
        );
    }
    if param("code_challenge_method") != CODE_CHALLENGE_METHOD || param("code_challenge").is_empty()
    {
        return fail(
            "invalid_request",
            "a PKCE code_challenge with code_challenge_method=S256 is required",
        );
    }
    let audience = server_config(&state.settings, false).audience;
    if query.get("audience").is_some_and(|a| *a != audience) {
        return fail("invalid_request", "unknown audience");
    }
    let Some(user) = state.settings.oauth_user.clone() else {
        return fail(
            "access_denied",
            "this platform approves no user for interactive login",
        );
    };
    let code = random_secret();
    let row = (
        hash(&code),
        user,
        param("code_challenge").to_owned(),
        param("redirect_uri").to_owned(),
        now_secs().saturating_add(CODE_TTL_SECS) as i64,
    );
    let stored = state
        .db
        .call(move |conn| {
            // Codes nobody exchanged are dropped when new ones are made.
            conn.execute(
                "DELETE FROM oauth_codes WHERE expires_at <= ?1",
                [now_secs() as i64],
            )?;
            conn.execute(
                "INSERT INTO oauth_codes (code_hash, user_name, challenge, redirect_uri, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![row.0, row.1, row.2, row.3, row.4],
            )
        })
        .await;
    if let Err(err) = stored {
        tracing::error!(error = %err, "cannot store an authorization code");
        return fail("server_error", "cannot store the authorization code");
    }
    let mut url = redirect;
    {
        let mut pairs = url.query_pairs_mut();
        pairs.append_pair("code", &code);
        if let Some(s) = &state_param {
            pairs.append_pair("state", s);
        }
    }
    found(&url)
}

/// The parsed `redirect_uri` when it is the headless page or a loopback URL on
/// one of the callback ports.
fn allowed_redirect(settings: &Settings, redirect_uri: &str) -> Option<Url> {
    let url = Url::parse(redirect_uri).ok()?;
    let headless = server_config(settings, false).headless_callback_url;
    if Url::parse(&headless).ok().as_ref() == Some(&url) {
        return Some(url);
    }
    let loopback = url.scheme() == "http"
        && matches!(url.host_str(), Some("127.0.0.1" | "localhost"))
        && url.path() == "/"
        && url.query().is_none()
        && url.fragment().is_none();
    let port_ok = CALLBACK_URLS
        .iter()
        .filter_map(|u| Url::parse(u).ok())
        .any(|u| u.port() == url.port());
    (loopback && port_ok).then_some(url)
}

fn found(url: &Url) -> Response {
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(url.as_str()) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    no_store(&mut response);
    response
}

/// `POST /oauth/token` (form-encoded): the code exchange and the refresh.
async fn token(
    State(state): State<AppState>,
    Form(form): Form<HashMap<String, String>>,
) -> Result<Response, OAuthError> {
    let param = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if param("client_id") != CLIENT_ID {
        return Err(OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client_id",
        ));
    }
    let answer = match param("grant_type") {
        GRANT_AUTHORIZATION_CODE => {
            exchange_code(
                &state,
                param("code"),
                param("code_verifier"),
                param("redirect_uri"),
            )
            .await?
        }
        GRANT_REFRESH_TOKEN => refresh(&state, param("refresh_token")).await?,
        other => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported"),
            ))
        }
    };
    let mut response = crate::error::json_response(StatusCode::OK, &answer);
    no_store(&mut response);
    Ok(response)
}

async fn exchange_code(
    state: &AppState,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> Result<TokenResponse, OAuthError> {
    if code.is_empty() {
        return Err(OAuthError::invalid_request("code is required"));
    }
    if !is_valid_verifier(verifier) {
        return Err(OAuthError::invalid_request(
            "code_verifier must be 43-128 characters of [A-Za-z0-9-._~]",
        ));
    }
    let code_hash = hash(code);
    // Taken and deleted in one statement: a code is good for one exchange only.
    let pending = state
        .db
        .call(move |conn| {
            conn.query_row(
                "DELETE FROM oauth_codes WHERE code_hash = ?1
                 RETURNING user_name, challenge, redirect_uri, expires_at",
                [code_hash],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, i64>(3)?,
                    ))
                },
            )
            .optional()
        })
        .await
        .map_err(OAuthError::server)?;
    let Some((user, challenge, expected_redirect, expires_at)) = pending else {
        return Err(OAuthError::invalid_grant("unknown or used code"));
    };
    if expires_at <= now_secs() as i64 {
        return Err(OAuthError::invalid_grant("the code has expired"));
    }
    if redirect_uri != expected_redirect {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the authorize request",
        ));
    }
    if s256_challenge(verifier) != challenge {
        return Err(OAuthError::invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    let refresh_token = random_secret();
    let row = (hash(&refresh_token), user.clone(), now_secs() as i64);
    state
        .db
        .call(move |conn| {
            conn.execute(
                "INSERT INTO oauth_refresh_tokens (token_hash, user_name, issued_at)
                 VALUES (?1, ?2, ?3)",
                params![row.0, row.1, row.2],
            )
        })
        .await
        .map_err(OAuthError::server)?;
    let mut answer = access_token(state, user).await?;
    answer.refresh_token = Some(refresh_token);
    answer.scope = Some(SCOPE.to_owned());
    Ok(answer)
}

async fn refresh(state: &AppState, refresh_token: &str) -> Result<TokenResponse, OAuthError> {
    if refresh_token.is_empty() {
        return Err(OAuthError::invalid_request("refresh_token is required"));
    }
    let token_hash = hash(refresh_token);
    let user = state
        .db
        .call(move |conn| {
            conn.query_row(
                "SELECT user_name FROM oauth_refresh_tokens WHERE token_hash = ?1",
                [token_hash],
                |row| row.get::<_, String>(0),
            )
            .optional()
        })
        .await
        .map_err(OAuthError::server)?;
    let Some(user) = user else {
        return Err(OAuthError::invalid_grant("unknown refresh token"));
    };
    access_token(state, user).await
}

async fn access_token(state: &AppState, user: String) -> Result<TokenResponse, OAuthError> {
    let ttl = state.settings.access_token_ttl;
    let tokens = state.tokens.clone();
    let token = tokio::task::spawn_blocking(move || tokens.try_issue_expiring(&user, ttl))
        .await
        .map_err(OAuthError::server)?
        .map_err(|e| OAuthError::server(format!("{e:#}")))?;
    Ok(TokenResponse {
        access_token: token,
        expires_in: ttl.as_secs(),
        refresh_token: None,
        token_type: "Bearer".to_owned(),
        scope: None,
    })
}

/// `GET /oauth/logout`: the browser part of a logout. There is no browser
/// session to end here, so it only confirms.
async fn logout(Query(query): Query<HashMap<String, String>>) -> Response {
    if query.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return page(
            StatusCode::BAD_REQUEST,
            "Logout failed",
            "Unknown client_id.",
        );
    }
    page(
        StatusCode::OK,
        "Logged out",
        "You are logged out of neuro-local. You can close this page.",
    )
}

/// `GET /oauth/show-code`: the headless flow's landing page, showing the code to
/// paste into the terminal.
async fn show_code(Query(query): Query<HashMap<String, String>>) -> Response {
    match query.get("code") {
        Some(code) => page(
            StatusCode::OK,
            "Login code",
            &format!(
                "Copy this code into the terminal: <code id=\"code\">{}</code>",
                escape_html(code)
            ),
        ),
        None => page(
            StatusCode::BAD_REQUEST,
            "Login failed",
            &escape_html(
                query
                    .get("error_description")
                    .map(String::as_str)
                    .unwrap_or("no code"),
            ),
        ),
    }
}

/// A small HTML page; `body_html` must already be escaped.
fn page(status: StatusCode, title: &str, body_html: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body><h1>{title}</h1><p>{body_html}</p></body></html>\n"
    );
    let mut response = (status, html).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    no_store(&mut response);
    response
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// 32 random bytes, base64url.
fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64url(&bytes)
}

/// What is stored instead of a code or refresh token.
fn hash(secret: &str) -> String {
    s256_challenge(secret)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::new(
            std::path::PathBuf::from("/tmp/x"),
            Url::parse("http://127.0.0.1:8080").unwrap(),
        )
    }

    #[test]
    fn redirects_are_limited_to_the_announced_callbacks() {
        let s = settings();
        for ok in [
            "http://127.0.0.1:54540",
            "http://127.0.0.1:54542/",
            "http://localhost:54541",
            "http://127.0.0.1:8080/oauth/show-code",
        ] {
            assert!(allowed_redirect(&s, ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "http://127.0.0.1:9999",
            "https://127.0.0.1:54540",
            "http://evil.example:54540",
            "http://127.0.0.1:54540/steal",
            "http://127.0.0.1:54540/?x=1",
            "http://127.0.0.1:8080/oauth/show-code/x",
            "javascript:alert(1)",
        ] {
            assert!(allowed_redirect(&s, bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn pages_escape_input() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
