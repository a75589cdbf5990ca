//! A release `neuro-local` on a temporary data directory, for the benchmarks.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::{bail, Context, Result};

/// A running `neuro-local serve`; killed on drop.
pub(crate) struct LocalServer {
    child: Child,
    api_url: String,
    bin: PathBuf,
    data_dir: PathBuf,
}

impl LocalServer {
    /// Starts `bin serve` on a free port with its state under `data_dir` and waits
    /// until it prints its API URL.
    pub(crate) fn start(bin: &Path, data_dir: &Path, log: &Path) -> Result<Self> {
        let log_file = std::fs::File::create(log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut child = Command::new(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--no-client-config"])
            .arg("--data-dir")
            .arg(data_dir)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("cannot start {}", bin.display()))?;
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let mut lines = BufReader::new(stdout);
        let mut api_url = None;
        let mut line = String::new();
        while api_url.is_none() {
            line.clear();
            if lines.read_line(&mut line)? == 0 {
                let status = child.wait()?;
                bail!(
                    "neuro-local exited ({status}) before printing its API URL; see {}",
                    log.display()
                );
            }
            api_url = line.trim().strip_prefix("api url: ").map(str::to_owned);
        }
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut sink = Vec::new();
            let _ = lines.read_to_end(&mut sink);
        });
        Ok(Self {
            child,
            api_url: api_url.context("no API URL")?,
            bin: bin.to_path_buf(),
            data_dir: data_dir.to_path_buf(),
        })
    }

    /// The API URL the server advertises.
    pub(crate) fn api_url(&self) -> &str {
        &self.api_url
    }

    /// Creates `user` if needed and returns a new token for them.
    pub(crate) fn token(&self, user: &str) -> Result<String> {
        let out = Command::new(&self.bin)
            .args(["token", "create", user, "--data-dir"])
            .arg(&self.data_dir)
            .env("RUST_LOG", "warn")
            .output()
            .context("cannot run neuro-local token create")?;
        if !out.status.success() {
            bail!(
                "neuro-local token create failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(String::from_utf8(out.stdout)?.trim().to_owned())
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
