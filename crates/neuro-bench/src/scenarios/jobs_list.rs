//! `jobs-list` and `jobs-list-first`: listing 10,000 jobs as a stream.
//!
//! Set-up (untimed): [`COUNT`] jobs tagged `bench-list` exist (seeded through
//! the API as jobs that cannot fit the machine and fail after their one-second
//! schedule timeout, so no process runs). Timed: the whole listing, items
//! counted and dropped (`jobs-list`), or the wait for its first item
//! (`jobs-list-first`).

use futures::{StreamExt as _, TryStreamExt as _};
use neuro_sdk::{Client, Container, JobFilter, JobRun, RemoteImage, Resources};

use crate::env::BenchEnv;
use crate::measure::{peak_rss_kb, Measurement};
use crate::runtime;

use super::job_setup::login;

/// Jobs listed.
const COUNT: usize = 10_000;
/// Their tag.
const TAG: &str = "bench-list";
/// Submissions in flight while seeding.
const SEED_PARALLEL: usize = 16;

fn filter() -> JobFilter {
    JobFilter {
        tags: vec![TAG.to_owned()],
        ..JobFilter::default()
    }
}

/// Submits jobs until [`COUNT`] are tagged [`TAG`].
async fn seed(client: &Client) -> anyhow::Result<()> {
    let present = client
        .jobs()
        .list(filter())
        .try_fold(0usize, |n, _| async move { Ok(n + 1) })
        .await?;
    if present >= COUNT {
        return Ok(());
    }
    let image = RemoteImage::new_external_image("ubuntu", None, Some("latest".into()));
    // More CPU than any machine has: queued, never started, failed after 1 s.
    let mut run = JobRun::new(Container::new(image, Resources::new(64 << 20, 100_000.0)));
    run.options.tags = vec![TAG.to_owned()];
    run.options.schedule_timeout = Some(1.0);
    let jobs = client.jobs();
    futures::stream::iter(present..COUNT)
        .map(|_| jobs.run(run.clone()))
        .buffer_unordered(SEED_PARALLEL)
        .try_for_each(|_| async { Ok(()) })
        .await?;
    Ok(())
}

/// `jobs-list`: the whole listing.
pub(crate) fn run_all(env: &BenchEnv, _args: &[String]) -> anyhow::Result<Measurement> {
    runtime::single_threaded()?.block_on(async {
        let client = login(env, "jobs-list-config").await?;
        seed(&client).await?;
        let started = std::time::Instant::now();
        let items = client
            .jobs()
            .list(filter())
            .try_fold(0u64, |n, _| async move { Ok(n + 1) })
            .await?;
        let seconds = started.elapsed().as_secs_f64();
        anyhow::ensure!(items >= COUNT as u64, "listed only {items} jobs");
        Ok(Measurement {
            seconds,
            bytes: 0,
            items,
            peak_rss_kb: peak_rss_kb(),
        })
    })
}

/// `jobs-list-first`: from the request to the first item.
pub(crate) fn run_first(env: &BenchEnv, _args: &[String]) -> anyhow::Result<Measurement> {
    runtime::single_threaded()?.block_on(async {
        let client = login(env, "jobs-list-config").await?;
        seed(&client).await?;
        let started = std::time::Instant::now();
        let mut jobs = std::pin::pin!(client.jobs().list(filter()));
        let first = jobs.try_next().await?;
        let seconds = started.elapsed().as_secs_f64();
        anyhow::ensure!(first.is_some(), "no job listed");
        Ok(Measurement {
            seconds,
            bytes: 0,
            items: 1,
            peak_rss_kb: peak_rss_kb(),
        })
    })
}
