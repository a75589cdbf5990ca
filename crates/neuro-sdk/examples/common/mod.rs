//! What the examples share: a client for the platform named by the environment,
//! or for a neuro-local started in-process.

use std::path::Path;

use neuro_local::{LocalPlatform, RunningPlatform};
use neuro_sdk::{Client, Factory};

/// The error type of the examples' `main`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A client, and the embedded platform to keep alive while it is used (if one
/// was started).
///
/// - `NEURO_USE_CONFIG=1`: the stored login (`~/.neuro` or `$NEUROMATION_CONFIG`);
/// - `NEURO_API_URL` and `NEURO_TOKEN`: a login into `work/neuro-config`;
/// - otherwise a neuro-local on a temporary data directory and a free port,
///   logged in as its admin.
pub async fn connect(work: &Path) -> Result<(Client, Option<RunningPlatform>), BoxError> {
    if std::env::var_os("NEURO_USE_CONFIG").is_some() {
        return Ok((Factory::new().get().await?, None));
    }
    let factory = Factory::with_path(work.join("neuro-config"));
    if let (Ok(url), Ok(token)) = (std::env::var("NEURO_API_URL"), std::env::var("NEURO_TOKEN")) {
        factory.login_with_token(&token, &url.parse()?).await?;
        return Ok((factory.get().await?, None));
    }
    let platform = LocalPlatform::builder().start().await?;
    println!("started neuro-local at {}", platform.api_url());
    factory
        .login_with_token(platform.admin_token(), &platform.api_url())
        .await?;
    Ok((factory.get().await?, Some(platform)))
}
