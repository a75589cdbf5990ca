//! `GET {api_url}/config`: the server configuration (wire-protocol-core §2).

use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use neuro_types::endpoints::Base;
use neuro_types::wire::{ClusterPayload, ServerConfigPayload};

use crate::auth::authenticate;
use crate::settings::Settings;
use crate::state::AppState;

/// OAuth client id announced to clients.
pub const CLIENT_ID: &str = "neuro-local";

/// The default loopback callback URLs of the browser login.
pub const CALLBACK_URLS: [&str; 3] = [
    "http://127.0.0.1:54540",
    "http://127.0.0.1:54541",
    "http://127.0.0.1:54542",
];

/// The configuration as seen by a caller; `authorized` adds the cluster.
///
/// Unauthenticated callers get no clusters, so the stock CLI does not switch to
/// the "standalone" login flow (wire-protocol-core §3.6).
pub fn server_config(settings: &Settings, authorized: bool) -> ServerConfigPayload {
    let oauth = |base: Base| settings.url(base).to_string();
    ServerConfigPayload {
        authorized,
        auth_url: oauth(Base::AuthUrl),
        token_url: oauth(Base::TokenUrl),
        logout_url: oauth(Base::LogoutUrl),
        client_id: CLIENT_ID.to_owned(),
        audience: settings.base_url.as_str().trim_end_matches('/').to_owned(),
        headless_callback_url: oauth(Base::HeadlessCallbackUrl),
        callback_urls: Some(CALLBACK_URLS.iter().map(|u| (*u).to_owned()).collect()),
        success_redirect_url: None,
        admin_url: None,
        clusters: if authorized {
            clusters(settings)
        } else {
            Vec::new()
        },
    }
}

/// The default cluster, then the extra ones of [`Settings::extra_clusters`].
pub fn clusters(settings: &Settings) -> Vec<ClusterPayload> {
    let mut all = vec![cluster(settings)];
    all.extend(settings.extra_clusters.iter().map(|extra| ClusterPayload {
        name: extra.name.clone(),
        orgs: Some(extra.orgs.clone()),
        ..cluster(settings)
    }));
    all
}

/// The default cluster of this platform.
pub fn cluster(settings: &Settings) -> ClusterPayload {
    ClusterPayload {
        name: settings.cluster_name.clone(),
        registry_url: settings.registry_url().to_string(),
        storage_url: settings.storage_url().to_string(),
        users_url: settings.users_url().to_string(),
        monitoring_url: settings.monitoring_url().to_string(),
        secrets_url: settings.secrets_url().to_string(),
        disks_url: settings.disks_url().to_string(),
        buckets_url: settings.buckets_url().to_string(),
        resource_presets: settings.presets.clone(),
        orgs: Some(settings.orgs.clone()),
    }
}

/// The handler. An invalid token is not an error: it gets `authorized: false`,
/// as on the real platform.
pub async fn get_config(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let authorized = authenticate(&headers, &state).is_some();
    crate::error::json_response(StatusCode::OK, &server_config(&state.settings, authorized))
}
