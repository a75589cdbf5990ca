//! `ls-cold`: a fresh process lists a storage directory from a stored login.
//!
//! The parent logs in once into a private config directory and makes sure
//! `storage:bench/ls-cold` holds [`ENTRIES`] files (both untimed), then starts
//! `neuro-bench ls-cold --child <config dir>` and times it from spawn to exit: what
//! a user waits for when typing a listing command. The Python counterpart times
//! `neuro ls` the same way. The child reports its own peak RSS.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context as _};
use futures::TryStreamExt as _;
use neuro_sdk::Factory;

use crate::env::BenchEnv;
use crate::measure::{peak_rss_kb, Measurement};
use crate::runtime;

/// The directory listed, relative to the user's storage home.
const DIR: &str = "storage:bench/ls-cold";
/// How many files it holds.
const ENTRIES: usize = 100;

pub(crate) fn run(env: &BenchEnv, args: &[String]) -> anyhow::Result<Measurement> {
    match args {
        [flag, config_dir] if flag == "--child" => child(Path::new(config_dir)),
        [] => parent(env),
        _ => bail!("usage: neuro-bench ls-cold"),
    }
}

fn parent(env: &BenchEnv) -> anyhow::Result<Measurement> {
    let config_dir = env.work_dir().join("ls-cold-config");
    runtime::single_threaded()?.block_on(prepare(env, &config_dir))?;
    let exe = std::env::current_exe().context("cannot find the neuro-bench executable")?;
    let started = Instant::now();
    let output = Command::new(exe)
        .arg("ls-cold")
        .arg("--child")
        .arg(&config_dir)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("cannot start the child process")?;
    let seconds = started.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!("the child process failed with {}", output.status);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = Measurement::from_json_line(&stdout)
        .with_context(|| format!("the child process printed no measurement: {stdout:?}"))?;
    if report.items != ENTRIES as u64 {
        bail!("listed {} entries, expected {ENTRIES}", report.items);
    }
    Ok(Measurement {
        seconds,
        bytes: 0,
        items: report.items,
        peak_rss_kb: report.peak_rss_kb,
    })
}

/// Logs in into `config_dir` and fills [`DIR`] (idempotent).
async fn prepare(env: &BenchEnv, config_dir: &Path) -> anyhow::Result<()> {
    let factory = Factory::with_path(config_dir);
    if factory.is_config_present() {
        factory.logout().await?;
    }
    factory
        .login_with_token(env.token(), env.api_url())
        .await
        .context("login with the benchmark token failed")?;
    let client = factory.get().await?;
    let storage = client.storage();
    storage.mkdir(DIR, true, true).await?;
    let present: Vec<_> = storage.list(DIR).try_collect().await?;
    if present.len() != ENTRIES {
        for entry in &present {
            storage
                .rm(format!("{DIR}/{}", entry.name()).as_str(), true)
                .await?;
        }
        for i in 0..ENTRIES {
            let data = futures::stream::iter([Ok(bytes::Bytes::from(format!("file {i}\n")))]);
            storage
                .create(format!("{DIR}/f{i:03}.txt").as_str(), data)
                .await?;
        }
    }
    Ok(())
}

/// The timed process: load the stored config, list [`DIR`]. Its measurement line
/// carries the item count and its own peak RSS; the parent replaces the seconds
/// with the spawn-to-exit time.
fn child(config_dir: &Path) -> anyhow::Result<Measurement> {
    let started = Instant::now();
    let items = runtime::single_threaded()?.block_on(async {
        let client = Factory::with_path(config_dir).get().await?;
        let entries: Vec<_> = client.storage().list(DIR).try_collect().await?;
        anyhow::Ok(entries.len() as u64)
    })?;
    Ok(Measurement {
        seconds: started.elapsed().as_secs_f64(),
        bytes: 0,
        items,
        peak_rss_kb: peak_rss_kb(),
    })
}
