//! Async runtimes for scenarios (each scenario picks the one its work needs).

use anyhow::Context as _;

/// A single-threaded runtime: what a short-lived command-line tool would use.
pub(crate) fn single_threaded() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// A multi-threaded runtime with one worker per core: for throughput scenarios.
pub(crate) fn multi_threaded() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
