//! Retrying idempotent steps of transfers, as the Python SDK does.

use std::future::Future;
use std::time::Duration;

use crate::StorageError;

/// Attempts of one transfer step before its error is returned.
pub const ATTEMPTS: u32 = 10;

/// Runs `step` until it succeeds, retrying transport failures (never HTTP error
/// statuses) up to [`ATTEMPTS`] times, sleeping `0.1 s × n` after the n-th
/// failure.
pub(crate) async fn with_retries<T, F, Fut>(what: &str, mut step: F) -> Result<T, StorageError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StorageError>>,
{
    let mut attempt = 1;
    loop {
        match step().await {
            Err(StorageError::Http(e)) if e.is_retryable_transport() && attempt < ATTEMPTS => {
                tracing::info!("{what}: {e}. Retry...");
                tokio::time::sleep(Duration::from_millis(100 * u64::from(attempt))).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}
