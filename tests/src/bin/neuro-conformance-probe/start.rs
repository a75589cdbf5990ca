//! `job-start`: the options of `neuro_sdk.Jobs.start` as command-line flags,
//! turned into the Rust SDK's [`JobStart`].

use neuro_sdk::types::jobs::{JobPriority, JobRestartPolicy};
use neuro_sdk::{HttpPort, JobStart, RemoteImage, Volume};
use url::Url;

use crate::BoxError;

/// A job to start from a preset (the Python SDK's `Jobs.start` arguments).
#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// Preset name.
    #[arg(long)]
    preset: String,
    /// External image name.
    #[arg(long)]
    image: String,
    /// Image tag.
    #[arg(long)]
    image_tag: Option<String>,
    /// Command line.
    #[arg(long)]
    command: Option<String>,
    /// Entrypoint.
    #[arg(long)]
    entrypoint: Option<String>,
    /// Working directory.
    #[arg(long)]
    workdir: Option<String>,
    /// Environment variable `NAME=VALUE` (repeatable).
    #[arg(long = "env")]
    env: Vec<String>,
    /// Storage volume `URI:CONTAINER_PATH[:ro]` (repeatable; the URI is a full
    /// `storage://cluster/user/path`).
    #[arg(long = "volume")]
    volumes: Vec<String>,
    /// HTTP port to expose.
    #[arg(long)]
    http_port: Option<i64>,
    /// The HTTP port needs no authentication.
    #[arg(long)]
    no_http_auth: bool,
    /// Job name.
    #[arg(long)]
    name: Option<String>,
    /// Tag (repeatable).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    /// Life span in seconds.
    #[arg(long)]
    life_span: Option<f64>,
    /// Seconds the job may wait in the queue.
    #[arg(long)]
    schedule_timeout: Option<f64>,
    /// `never`, `on-failure` or `always`.
    #[arg(long, default_value = "never")]
    restart: String,
    /// `low`, `normal` or `high`.
    #[arg(long)]
    priority: Option<String>,
    /// Extended `/dev/shm`.
    #[arg(long)]
    shm: bool,
    /// Allocate a TTY.
    #[arg(long)]
    tty: bool,
}

impl StartArgs {
    /// The Rust SDK's request for these flags.
    pub fn job_start(self) -> Result<JobStart, BoxError> {
        let image = RemoteImage::new_external_image(self.image, None, self.image_tag);
        let mut job = JobStart::new(image, self.preset);
        let c = &mut job.container;
        c.command = self.command;
        c.entrypoint = self.entrypoint;
        c.working_dir = self.workdir;
        c.tty = self.tty;
        for pair in &self.env {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("--env {pair}: expected NAME=VALUE"))?;
            c.env.insert(name.to_owned(), value.to_owned());
        }
        for spec in &self.volumes {
            c.volumes.push(volume(spec)?);
        }
        c.http = self.http_port.map(|port| HttpPort {
            port,
            requires_auth: !self.no_http_auth,
        });
        job.shm = self.shm;
        let o = &mut job.options;
        o.name = self.name;
        o.tags = self.tags;
        o.description = self.description;
        o.life_span = self.life_span;
        o.schedule_timeout = self.schedule_timeout;
        o.restart_policy = self.restart.parse::<JobRestartPolicy>()?;
        o.priority = self
            .priority
            .map(|p| p.parse::<JobPriority>())
            .transpose()?;
        Ok(job)
    }
}

/// `storage://cluster/user/path:/container/path[:ro]`.
fn volume(spec: &str) -> Result<Volume, BoxError> {
    let (rest, read_only) = match spec.strip_suffix(":ro") {
        Some(rest) => (rest, true),
        None => (spec.strip_suffix(":rw").unwrap_or(spec), false),
    };
    let (uri, path) = rest
        .rsplit_once(':')
        .ok_or_else(|| format!("--volume {spec}: expected URI:CONTAINER_PATH[:ro]"))?;
    Ok(Volume::new(Url::parse(uri)?, path, read_only))
}
