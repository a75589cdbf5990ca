//! `jobs-exec`: round trips of `exec` into a running job.
//!
//! Set-up (untimed): the job `bench-exec` runs. Timed: [`ROUNDS`] sessions of
//! `exec true`, each from the handshake to the exit code; `seconds` is the
//! mean of one round trip.

use neuro_sdk::jobs::StdStreamOptions;

use crate::env::BenchEnv;
use crate::measure::{peak_rss_kb, Measurement};
use crate::runtime;

use super::job_setup::{login, named_job};

/// Sessions per run.
const ROUNDS: u64 = 30;

pub(crate) fn run(env: &BenchEnv, _args: &[String]) -> anyhow::Result<Measurement> {
    runtime::single_threaded()?.block_on(async {
        let client = login(env, "jobs-exec-config").await?;
        let job = named_job(&client, "bench-exec", "sleep 86400", |j| {
            j.status.is_running()
        })
        .await?;
        let jobs = client.jobs();
        let options = StdStreamOptions {
            stdout: true,
            stderr: true,
            ..StdStreamOptions::default()
        };
        let started = std::time::Instant::now();
        for _ in 0..ROUNDS {
            let mut session = jobs.exec(&job.id, "true", options).await?;
            while session.read_out().await?.is_some() {}
            let code = session.exit_status().map(|s| s.code);
            anyhow::ensure!(code == Some(0), "exec true ended with {code:?}");
        }
        Ok(Measurement {
            seconds: started.elapsed().as_secs_f64() / ROUNDS as f64,
            bytes: 0,
            items: ROUNDS,
            peak_rss_kb: peak_rss_kb(),
        })
    })
}
