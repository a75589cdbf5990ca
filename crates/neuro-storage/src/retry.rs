//! Retrying idempotent steps of transfers, as the Python SDK does
//! (`_utils.py: retries`, wire-protocol-data §1.6).

use std::future::Future;
use std::time::Duration;

use crate::engine::RemoteError;

/// Attempts of one transfer step before its error is returned.
pub const ATTEMPTS: u32 = 10;

/// The retry budget of one step: up to [`ATTEMPTS`] attempts, with a pause of
/// `0.1 s × n` after the n-th failure. [`Retries::reset`] (data received) starts
/// the count and the pause over, from a first pause of zero, as the SDK's helper
/// does.
#[derive(Debug, Default)]
pub(crate) struct Retries {
    attempt: u32,
    pause_tenths: u64,
}

impl Retries {
    /// Called before each attempt.
    pub(crate) fn start_attempt(&mut self) {
        self.attempt += 1;
        self.pause_tenths += 1;
    }

    /// Data arrived: the budget starts over.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
        self.pause_tenths = 0;
    }

    /// Called after a retryable failure: the pause before the next attempt, or
    /// `None` when the budget is spent.
    pub(crate) fn pause_after_failure(&self) -> Option<Duration> {
        (self.attempt < ATTEMPTS).then(|| Duration::from_millis(100 * self.pause_tenths))
    }
}

/// Runs `step` until it succeeds, retrying transport failures (never HTTP error
/// statuses) within one budget of [`ATTEMPTS`] attempts, as the engine does for
/// its own steps (remote file systems use it for theirs).
pub async fn with_retries<T, E, F, Fut>(what: &str, mut step: F) -> Result<T, E>
where
    E: RemoteError,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut retries = Retries::default();
    loop {
        retries.start_attempt();
        match step().await {
            Err(e) if e.is_retryable() => {
                let Some(pause) = retries.pause_after_failure() else {
                    return Err(e);
                };
                tracing::info!("{what}: {e}. Retry...");
                tokio::time::sleep(pause).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pauses(retries: &mut Retries, failures: usize) -> Vec<Option<u128>> {
        (0..failures)
            .map(|_| {
                retries.start_attempt();
                retries.pause_after_failure().map(|d| d.as_millis())
            })
            .collect()
    }

    #[test]
    fn budget_and_pauses_match_the_sdk() {
        let mut retries = Retries::default();
        // 0.1, 0.2, ..., 0.9 s, then the 10th failure is final.
        let expected: Vec<Option<u128>> = (1..=9).map(|n| Some(100 * n)).chain([None]).collect();
        assert_eq!(pauses(&mut retries, 10), expected);

        // Progress during an attempt: that failure is retried at once, and ten
        // more attempts follow.
        let mut retries = Retries::default();
        pauses(&mut retries, 5);
        retries.start_attempt();
        retries.reset();
        assert_eq!(retries.pause_after_failure(), Some(Duration::ZERO));
        assert_eq!(pauses(&mut retries, 10), expected);
    }
}
