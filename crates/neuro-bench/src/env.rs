//! The platform a benchmark talks to, taken from the environment.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use url::Url;

/// Where and as whom the scenarios run.
pub(crate) struct BenchEnv {
    api_url: Url,
    token: String,
    work_dir: PathBuf,
    /// Keeps a temporary work directory alive for the run.
    _temp: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for BenchEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BenchEnv")
            .field("api_url", &self.api_url.as_str())
            .field("token", &"<redacted>")
            .field("work_dir", &self.work_dir)
            .finish()
    }
}

impl BenchEnv {
    /// Reads `NEURO_BENCH_API_URL`, `NEURO_BENCH_TOKEN` and the optional
    /// `NEURO_BENCH_WORK_DIR` (a fresh temporary directory when unset).
    pub(crate) fn from_env() -> anyhow::Result<Self> {
        let api_url = std::env::var("NEURO_BENCH_API_URL")
            .context("NEURO_BENCH_API_URL is not set (the API URL of a running neuro-local)")?;
        let api_url = Url::parse(&api_url)
            .with_context(|| format!("NEURO_BENCH_API_URL is not a URL: {api_url:?}"))?;
        let token = std::env::var("NEURO_BENCH_TOKEN")
            .context("NEURO_BENCH_TOKEN is not set (a token of the benchmark user)")?;
        let (work_dir, temp) = match std::env::var_os("NEURO_BENCH_WORK_DIR") {
            Some(dir) if !dir.is_empty() => {
                let dir = PathBuf::from(dir);
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                (dir, None)
            }
            _ => {
                let temp = tempfile::Builder::new()
                    .prefix("neuro-bench-")
                    .tempdir()
                    .context("cannot create a temporary work directory")?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        Ok(Self {
            api_url,
            token,
            work_dir,
            _temp: temp,
        })
    }

    /// The API URL of the platform.
    pub(crate) fn api_url(&self) -> &Url {
        &self.api_url
    }

    /// The benchmark user's token.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// A scratch directory for this run (config dirs, local files).
    pub(crate) fn work_dir(&self) -> &Path {
        &self.work_dir
    }
}
