//! TLS against a public server. Needs the internet, so it is ignored by default:
//! `cargo test -p neuro-http --test tls -- --ignored`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use neuro_http::{tls_config_with_extra_roots, Transport, TransportOptions};

/// A transport that also trusts `SSL_CERT_FILE`: sandboxes and company networks may
/// intercept TLS with their own CA.
fn transport() -> Transport {
    let extra = std::env::var("SSL_CERT_FILE")
        .ok()
        .and_then(|path| std::fs::read(path).ok())
        .unwrap_or_default();
    Transport::new(TransportOptions {
        tls_config: Some(tls_config_with_extra_roots(&extra).unwrap()),
        ..TransportOptions::default()
    })
    .unwrap()
}

#[tokio::test]
#[ignore = "needs network access"]
async fn https_with_webpki_roots() {
    let t = transport();
    let v: serde_json::Value = t
        .get("https://pypi.org/pypi/neuro-sdk/json".parse().unwrap())
        .no_trace()
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["info"]["name"], "neuro-sdk");
}

#[tokio::test]
#[ignore = "needs network access"]
async fn wss_handshake_over_tls() {
    // pypi.org speaks no websocket: the TLS handshake and the HTTP/1.1 upgrade request
    // succeed, the answer is not 101.
    let err = transport()
        .ws_connect("wss://pypi.org/simple/".parse().unwrap())
        .send()
        .await
        .unwrap_err();
    let api = err.as_api().unwrap_or_else(|| panic!("{err:?}"));
    assert_ne!(api.status, 101);
    assert!(
        api.message.contains("message='Invalid response status'"),
        "{api:?}"
    );
}
