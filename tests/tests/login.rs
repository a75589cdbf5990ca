//! Login, stored config and authentication errors against a real neuro-local.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::Env;
use neuro_sdk::{ConfigError, Error, Factory};

#[tokio::test]
async fn login_stores_a_python_compatible_config() {
    let env = Env::start().await;
    let config = env.client.config();
    assert_eq!(config.username(), "admin");
    assert_eq!(config.cluster_name(), "default");
    assert_eq!(config.org_name(), None);
    assert!(config.presets().get("cpu-small").is_some());
    assert!(config.presets().get("cpu-large").is_some());
    assert_eq!(config.api_url(), &env.platform.api_url());
    assert!(config.storage_url().as_str().ends_with("/api/v1/storage"));
    assert!(config.monitoring_url().as_str().ends_with("/api/v1/jobs"));

    let dir = env.factory.path();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(dir), 0o700);
    assert_eq!(mode(&dir.join("db")), 0o600);

    // A second login over an existing config is refused; logout removes it.
    let again = env
        .factory
        .login_with_token(env.platform.admin_token(), &env.platform.api_url())
        .await;
    assert!(matches!(
        again,
        Err(Error::Config(ConfigError::AlreadyExists { .. }))
    ));
    env.factory.logout().await.unwrap();
    assert!(!env.factory.is_config_present());
    assert!(matches!(
        env.factory.get().await,
        Err(Error::Config(ConfigError::NotFound { .. }))
    ));
}

#[tokio::test]
async fn missing_or_corrupt_config_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let factory = Factory::with_path(dir.path().join("nothing-here"));
    let err = factory.get().await.unwrap_err();
    assert!(err.to_string().contains("Please login"), "{err}");

    // Garbage where the database should be.
    let cfg = dir.path().join("corrupt");
    std::fs::create_dir(&cfg).unwrap();
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(cfg.join("db"), b"this is not sqlite").unwrap();
    std::fs::set_permissions(cfg.join("db"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let err = Factory::with_path(&cfg).get().await.unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");

    // Loose permissions are refused, as the Python CLI does.
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o755)).unwrap();
    let err = Factory::with_path(&cfg).get().await.unwrap_err();
    assert!(
        matches!(err, Error::Config(ConfigError::Permissions { .. })),
        "{err:?}"
    );
}

#[tokio::test]
async fn bad_tokens_are_refused() {
    let env = Env::start().await;
    let dir = tempfile::tempdir().unwrap();
    let factory = Factory::with_path(dir.path().join("cfg"));

    // Not a JWT at all: refused before any request.
    let err = factory
        .login_with_token("not-a-jwt", &env.platform.api_url())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Config(ConfigError::InvalidToken { .. })),
        "{err:?}"
    );

    // A well-formed JWT the server did not sign: /config says authorized=false.
    let forged = forged_jwt("admin");
    let err = factory
        .login_with_token(&forged, &env.platform.api_url())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Config(ConfigError::NotAuthorized)),
        "{err:?}"
    );
    assert!(err.is_auth());
    assert!(!factory.is_config_present());

    // A revoked token: API calls answer 401, mapped to an authentication error.
    let token = env.platform.issue_token("admin").await.unwrap();
    factory
        .login_with_token(&token, &env.platform.api_url())
        .await
        .unwrap();
    let client = factory.get().await.unwrap();
    assert!(env.platform.revoke_token(&token).await.unwrap());
    let err = client.storage().stat("storage:").await.unwrap_err();
    let err = Error::from(err);
    assert!(err.is_auth(), "{err:?}");
    let err = client.jobs().status("job-0").await.unwrap_err();
    let status = err.http().and_then(|e| e.status());
    assert_eq!(status, Some(401), "{err:?}");
}

#[tokio::test]
async fn factory_reads_the_config_neuro_local_writes() {
    let dir = tempfile::tempdir().unwrap();
    let config_dir = dir.path().join("neuro");
    let platform = neuro_local::LocalPlatform::builder()
        .client_config_dir(config_dir.clone())
        .start()
        .await
        .unwrap();
    let client = Factory::with_path(&config_dir).get().await.unwrap();
    assert_eq!(client.username(), platform.admin_user());
    let status = client.storage().stat("storage:").await.unwrap();
    assert!(status.is_dir());
}

fn forged_jwt(user: &str) -> String {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = URL_SAFE_NO_PAD.encode(format!(r#"{{"identity":"{user}"}}"#));
    format!("{header}.{claims}.c2lnbmF0dXJl")
}
