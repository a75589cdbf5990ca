//! `jobs-logs`: streams the 100 MB log of a finished job (`Jobs::monitor`).
//!
//! Set-up (untimed): the job `bench-logs` prints [`LINES`] numbered lines
//! (about 101 MB) and has finished. Timed: the whole log over `log_ws`, bytes
//! counted, nothing kept.

use futures::TryStreamExt as _;
use neuro_sdk::jobs::MonitorOptions;
use neuro_sdk::JobStatus;

use crate::env::BenchEnv;
use crate::measure::{peak_rss_kb, Measurement};
use crate::runtime;

use super::job_setup::{login, named_job};

/// Lines of the log: `seq 1 LINES` is 101,388,897 bytes.
const LINES: u64 = 12_500_000;

pub(crate) fn run(env: &BenchEnv, _args: &[String]) -> anyhow::Result<Measurement> {
    runtime::single_threaded()?.block_on(async {
        let client = login(env, "jobs-logs-config").await?;
        let job = named_job(&client, "bench-logs", &format!("seq 1 {LINES}"), |j| {
            j.status == JobStatus::Succeeded
        })
        .await?;
        let started = std::time::Instant::now();
        let mut logs = std::pin::pin!(client.jobs().monitor(&job.id, MonitorOptions::new()));
        let mut bytes = 0u64;
        while let Some(chunk) = logs.try_next().await? {
            bytes += chunk.len() as u64;
        }
        let seconds = started.elapsed().as_secs_f64();
        anyhow::ensure!(bytes > 100_000_000, "the log has only {bytes} bytes");
        Ok(Measurement {
            seconds,
            bytes,
            items: 0,
            peak_rss_kb: peak_rss_kb(),
        })
    })
}
