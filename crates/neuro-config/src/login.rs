//! The OAuth2 authorization-code flow with PKCE (`neuro_sdk._login`): the
//! loopback callback server of the browser login, the headless variant, and the
//! token endpoint client (code exchange and refresh).

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use neuro_http::{Method, Transport};
use neuro_types::config::AuthConfig;
use neuro_types::endpoints;
use neuro_types::wire::oauth::{
    base64url, s256_challenge, TokenResponse, CODE_CHALLENGE_METHOD, GRANT_AUTHORIZATION_CODE,
    GRANT_REFRESH_TOKEN, SCOPE,
};
use rand::RngCore as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use url::Url;

use crate::token::{unix_now, AuthToken};
use crate::ConfigError;

/// How long a login waits for the authorization code by default (as the Python
/// SDK: 60 s).
pub const DEFAULT_AUTH_CODE_TIMEOUT: Duration = Duration::from_secs(60);

/// The error a login callback may return.
pub type CallbackError = Box<dyn std::error::Error + Send + Sync>;

/// One PKCE exchange: the verifier, its S256 challenge and the `state` value
/// the callback must bring back.
pub(crate) struct Pkce {
    verifier: String,
    challenge: String,
    state: String,
}

impl Pkce {
    pub(crate) fn new() -> Self {
        let verifier = random_b64(32);
        Self {
            challenge: s256_challenge(&verifier),
            verifier,
            state: random_b64(16),
        }
    }

    /// The authorize URL for a callback at `redirect_uri`.
    fn authorize_url(&self, auth: &AuthConfig, redirect_uri: &str) -> Url {
        let mut url = auth.auth_url.clone();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("code_challenge", &self.challenge)
            .append_pair("code_challenge_method", CODE_CHALLENGE_METHOD)
            .append_pair("client_id", &auth.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", SCOPE)
            .append_pair("audience", &auth.audience)
            .append_pair("state", &self.state);
        url
    }
}

fn random_b64(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64url(&bytes)
}

/// `str(URL)` of a loopback callback: `http://host:port`, without a slash (as
/// aiohttp names its site).
fn callback_uri(addr: SocketAddr) -> String {
    format!("http://{addr}")
}

/// Browser login: serves the callback on the first free port of
/// `auth.callback_urls`, calls `show_browser` with the authorize URL, waits for
/// the code, and exchanges it.
pub(crate) async fn browser_login<F, Fut>(
    transport: &Transport,
    auth: &AuthConfig,
    show_browser: F,
    timeout: Duration,
) -> Result<AuthToken, ConfigError>
where
    F: FnOnce(Url) -> Fut,
    Fut: Future<Output = ()>,
{
    let pkce = Pkce::new();
    let (listener, addr) = bind_callback(auth).await?;
    let redirect_uri = callback_uri(addr);
    let (sender, receiver) = oneshot::channel();
    let server = tokio::spawn(serve_callback(
        listener,
        CallbackState {
            expected_state: pkce.state.clone(),
            success_redirect: auth.success_redirect_url.clone(),
            result: Arc::new(Mutex::new(Some(sender))),
        },
    ));
    let url = pkce.authorize_url(auth, &redirect_uri);
    let code = async {
        show_browser(url).await;
        match receiver.await {
            Ok(result) => result,
            Err(_) => Err(ConfigError::auth("failed to get an authorization code")),
        }
    };
    let code = tokio::time::timeout(timeout, code).await;
    server.abort();
    let code = code.map_err(|_| ConfigError::auth("failed to get an authorization code"))??;
    exchange_code(transport, auth, &code, &pkce.verifier, &redirect_uri).await
}

/// Headless login: the callback is the platform's page that shows the code;
/// `get_auth_code` gets the authorize URL and returns the code the user copied.
pub(crate) async fn headless_login<F, Fut, E>(
    transport: &Transport,
    auth: &AuthConfig,
    get_auth_code: F,
    timeout: Duration,
) -> Result<AuthToken, ConfigError>
where
    F: FnOnce(Url) -> Fut,
    Fut: Future<Output = Result<String, E>>,
    E: Into<CallbackError>,
{
    let pkce = Pkce::new();
    let redirect_uri = auth.headless_callback_url.to_string();
    let url = pkce.authorize_url(auth, &redirect_uri);
    let code = tokio::time::timeout(timeout, get_auth_code(url))
        .await
        .map_err(|_| ConfigError::auth("failed to get an authorization code"))?
        .map_err(|e| ConfigError::Callback(e.into()))?;
    let code = code.trim();
    if code.is_empty() {
        return Err(ConfigError::auth("failed to get an authorization code"));
    }
    exchange_code(transport, auth, code, &pkce.verifier, &redirect_uri).await
}

/// Binds the first free port among the callback URLs (skipping ports in use).
async fn bind_callback(auth: &AuthConfig) -> Result<(TcpListener, SocketAddr), ConfigError> {
    let mut ports = Vec::new();
    for url in &auth.callback_urls {
        let host: IpAddr = match url.host_str() {
            Some("localhost") | None => IpAddr::V4(Ipv4Addr::LOCALHOST),
            Some(h) => h
                .trim_matches(|c| c == '[' || c == ']')
                .parse()
                .map_err(|_| ConfigError::InvalidUrl {
                    url: url.to_string(),
                    reason: "callback host must be an IP address or localhost".to_owned(),
                })?,
        };
        let Some(port) = url.port_or_known_default() else {
            continue;
        };
        ports.push(port);
        match TcpListener::bind(SocketAddr::new(host, port)).await {
            Ok(listener) => {
                let addr = listener
                    .local_addr()
                    .map_err(|source| ConfigError::CallbackServer { port, source })?;
                return Ok((listener, addr));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(source) => return Err(ConfigError::CallbackServer { port, source }),
        }
    }
    Err(ConfigError::NoFreeCallbackPort { ports })
}

type CodeResult = Result<String, ConfigError>;

#[derive(Clone)]
struct CallbackState {
    expected_state: String,
    success_redirect: Option<Url>,
    /// Taken by the first request that settles the login.
    result: Arc<Mutex<Option<oneshot::Sender<CodeResult>>>>,
}

impl CallbackState {
    fn settle(&self, result: CodeResult) {
        let sender = match self.result.lock() {
            Ok(mut guard) => guard.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        };
        if let Some(sender) = sender {
            let _ = sender.send(result);
        }
    }
}

async fn serve_callback(listener: TcpListener, state: CallbackState) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(err) => {
                // Out of descriptors and the like: back off instead of spinning;
                // the login times out if this persists.
                tracing::debug!(error = %err, "login callback accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let response = handle_callback(&state, &req);
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// `AuthCodeCallbackHandler.handle`, plus the `state` check.
fn handle_callback<B>(
    state: &CallbackState,
    req: &hyper::Request<B>,
) -> hyper::Response<Full<Bytes>> {
    let text = |status: u16, body: String| {
        let mut response = hyper::Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() =
            hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
        response
    };
    if req.method() != Method::GET || req.uri().path() != "/" {
        return text(404, "Not Found".to_owned());
    }
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let get = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if get("state") != Some(state.expected_state.as_str()) {
        // Not our login (or forged): refuse without settling, so a stray request
        // cannot end the real one.
        return text(
            400,
            "The 'state' query parameter does not match.".to_owned(),
        );
    }
    if let Some(error) = get("error") {
        let description = get("error_description").unwrap_or_default().to_owned();
        let status = match error {
            "unauthorized" => 401,
            "access_denied" => 403,
            _ => 400,
        };
        state.settle(Err(ConfigError::auth(description.clone())));
        return text(status, description);
    }
    let Some(code) = get("code").filter(|c| !c.is_empty()) else {
        state.settle(Err(ConfigError::auth(
            "failed to get an authorization code",
        )));
        return text(400, "The 'code' query parameter is missing.".to_owned());
    };
    state.settle(Ok(code.to_owned()));
    match &state.success_redirect {
        Some(url) => {
            let mut response = text(302, String::new());
            if let Ok(value) = hyper::header::HeaderValue::from_str(url.as_str()) {
                response
                    .headers_mut()
                    .insert(hyper::header::LOCATION, value);
            }
            response
        }
        None => text(200, "OK".to_owned()),
    }
}

/// `grant_type=authorization_code`.
async fn exchange_code(
    transport: &Transport,
    auth: &AuthConfig,
    code: &str,
    verifier: &str,
    redirect_uri: &str,
) -> Result<AuthToken, ConfigError> {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", GRANT_AUTHORIZATION_CODE)
        .append_pair("code_verifier", verifier)
        .append_pair("code", code)
        .append_pair("client_id", &auth.client_id)
        .append_pair("redirect_uri", redirect_uri)
        .finish();
    let answer = post_token(transport, &auth.token_url, form).await?;
    let refresh = answer
        .refresh_token
        .clone()
        .ok_or_else(|| ConfigError::auth("the token endpoint sent no refresh token"))?;
    Ok(AuthToken::from_response(&answer, refresh, unix_now()))
}

/// `grant_type=refresh_token`; the refresh token stays the same, as in the
/// Python SDK.
pub(crate) async fn refresh_token(
    transport: &Transport,
    auth: &AuthConfig,
    token: &AuthToken,
) -> Result<AuthToken, ConfigError> {
    if token.refresh_token.is_empty() {
        return Err(ConfigError::auth(
            "the token has expired and cannot be refreshed. Please logout and login again.",
        ));
    }
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", GRANT_REFRESH_TOKEN)
        .append_pair("refresh_token", &token.refresh_token)
        .append_pair("client_id", &auth.client_id)
        .finish();
    let answer = post_token(transport, &auth.token_url, form).await?;
    Ok(AuthToken::from_response(
        &answer,
        token.refresh_token.clone(),
        unix_now(),
    ))
}

async fn post_token(
    transport: &Transport,
    url: &Url,
    form: String,
) -> Result<TokenResponse, ConfigError> {
    let response = transport
        .request(endpoints::OAUTH_TOKEN.method, url.clone())
        .no_auth()
        .header("accept", "application/json")
        .header("content-type", "application/x-www-form-urlencoded")
        .body_bytes(form)
        .send_raw()
        .await?;
    if !response.status().is_success() {
        return Err(ConfigError::Auth {
            reason: format!(
                "failed to get an access token (HTTP {}).",
                response.status().as_u16()
            ),
        });
    }
    Ok(response.json().await?)
}

/// The browser logout URL: `logout_url` with `client_id` added.
pub(crate) fn logout_url(auth: &AuthConfig) -> Url {
    let mut url = auth.logout_url.clone();
    url.query_pairs_mut()
        .append_pair("client_id", &auth.client_id);
    url
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn auth() -> AuthConfig {
        AuthConfig {
            auth_url: Url::parse("https://auth.example/authorize").unwrap(),
            token_url: Url::parse("https://auth.example/oauth/token").unwrap(),
            logout_url: Url::parse("https://auth.example/v2/logout").unwrap(),
            client_id: "CID".into(),
            audience: "https://aud".into(),
            headless_callback_url: Url::parse("https://p.example/oauth/show-code").unwrap(),
            success_redirect_url: None,
            callback_urls: vec![Url::parse("http://127.0.0.1:54540").unwrap()],
        }
    }

    #[test]
    fn authorize_url_carries_pkce_and_state() {
        let pkce = Pkce::new();
        assert_eq!(pkce.verifier.len(), 43);
        assert_eq!(pkce.challenge, s256_challenge(&pkce.verifier));
        let url = pkce.authorize_url(&auth(), "http://127.0.0.1:54540");
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["code_challenge_method"], "S256");
        assert_eq!(q["code_challenge"], pkce.challenge);
        assert_eq!(q["client_id"], "CID");
        assert_eq!(q["redirect_uri"], "http://127.0.0.1:54540");
        assert_eq!(q["scope"], "offline_access");
        assert_eq!(q["audience"], "https://aud");
        assert_eq!(q["state"], pkce.state);
        assert_ne!(Pkce::new().verifier, pkce.verifier);
    }

    #[test]
    fn logout_url_adds_the_client() {
        assert_eq!(
            logout_url(&auth()).as_str(),
            "https://auth.example/v2/logout?client_id=CID"
        );
    }
}
