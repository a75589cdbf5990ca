//! `neuro-conformance-probe`: reads platform objects through the Rust SDK and
//! prints them as JSON, for the conformance suite to compare with what the
//! Python SDK (`neuro-sdk==22.7.1`) reads from the same server.
//!
//! ```text
//! neuro-conformance-probe --config DIR config
//! neuro-conformance-probe --config DIR job-status JOB_ID
//! neuro-conformance-probe --config DIR job-list [--status S]... [--name N] [--tag T]...
//!     [--owner O]... [--since RFC3339] [--until RFC3339] [--cluster C] [--reverse] [--limit N]
//! neuro-conformance-probe --config DIR storage-ls URI
//! neuro-conformance-probe --config DIR storage-stat URI
//! neuro-conformance-probe --config DIR job-start --preset P --image I [options]
//! neuro-conformance-probe --config DIR storage-put LOCAL URI
//! neuro-conformance-probe --config DIR storage-get URI LOCAL
//! ```
//!
//! The output is one JSON document on stdout, keyed by the Python SDK's
//! attribute names (see `dump`): the object read, the job started, or the
//! `FileStatus` of the file put or got. Errors go to stderr with exit status 1.

mod dump;
mod start;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use futures::TryStreamExt as _;
use neuro_sdk::types::jobs::JobStatus;
use neuro_sdk::{Client, Factory, JobFilter};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Reads platform objects through the Rust SDK and prints them as JSON.
#[derive(Debug, Parser)]
#[command(name = "neuro-conformance-probe", version, about)]
struct Cli {
    /// Config directory of a logged-in client (as `NEUROMATION_CONFIG`).
    #[arg(long)]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The loaded configuration: user, URLs, clusters and presets.
    Config,
    /// One job.
    JobStatus {
        /// Job id.
        id: String,
    },
    /// Jobs matching a filter, in the order the server sent them.
    JobList(ListArgs),
    /// The entries of a storage directory.
    StorageLs {
        /// `storage:` URI.
        uri: String,
    },
    /// One storage entry.
    StorageStat {
        /// `storage:` URI.
        uri: String,
    },
    /// Starts a job from a preset; prints the job the server answered with.
    JobStart(start::StartArgs),
    /// Uploads a local file; prints the uploaded file's status.
    StoragePut {
        /// Local file.
        local: PathBuf,
        /// `storage:` URI.
        uri: String,
    },
    /// Downloads a file; prints the downloaded file's status.
    StorageGet {
        /// `storage:` URI.
        uri: String,
        /// Local file.
        local: PathBuf,
    },
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    /// Only jobs in this state (repeatable).
    #[arg(long = "status")]
    statuses: Vec<String>,
    /// Only jobs with this name.
    #[arg(long)]
    name: Option<String>,
    /// Only jobs with this tag (repeatable; all must match).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Only jobs of this owner (repeatable).
    #[arg(long = "owner")]
    owners: Vec<String>,
    /// Only jobs created at or after this RFC 3339 time.
    #[arg(long)]
    since: Option<String>,
    /// Only jobs created at or before this RFC 3339 time.
    #[arg(long)]
    until: Option<String>,
    /// Cluster to list.
    #[arg(long)]
    cluster: Option<String>,
    /// Newest first.
    #[arg(long)]
    reverse: bool,
    /// At most this many jobs.
    #[arg(long)]
    limit: Option<u32>,
}

impl ListArgs {
    fn filter(self) -> Result<JobFilter, BoxError> {
        let mut filter = JobFilter::default();
        for status in &self.statuses {
            filter = filter.statuses([JobStatus::parse_known(status)?]);
        }
        for tag in self.tags {
            filter = filter.tag(tag);
        }
        for owner in self.owners {
            filter = filter.owner(owner);
        }
        if let Some(name) = self.name {
            filter = filter.name(name);
        }
        if let Some(since) = self.since {
            filter = filter.since(OffsetDateTime::parse(&since, &Rfc3339)?);
        }
        if let Some(until) = self.until {
            filter = filter.until(OffsetDateTime::parse(&until, &Rfc3339)?);
        }
        if let Some(cluster) = self.cluster {
            filter = filter.cluster_name(cluster);
        }
        if let Some(limit) = self.limit {
            filter = filter.limit(limit);
        }
        Ok(filter.reverse(self.reverse))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(value) => {
            println!("{value}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("neuro-conformance-probe: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<Value, BoxError> {
    let client: Client = Factory::with_path(&cli.config).get().await?;
    Ok(match cli.command {
        Command::Config => dump::config(client.config()),
        Command::JobStatus { id } => dump::job(&client.jobs().status(&id).await?),
        Command::JobList(args) => {
            let jobs: Vec<_> = client.jobs().list(args.filter()?).try_collect().await?;
            jobs.iter().map(dump::job).collect()
        }
        Command::StorageLs { uri } => {
            let entries: Vec<_> = client.storage().list(uri.as_str()).try_collect().await?;
            entries.iter().map(dump::file_status).collect()
        }
        Command::StorageStat { uri } => {
            dump::file_status(&client.storage().stat(uri.as_str()).await?)
        }
        Command::JobStart(args) => {
            let job = args.job_start()?;
            dump::job(&client.jobs().start(job).await?)
        }
        Command::StoragePut { local, uri } => {
            client
                .storage()
                .upload_file(&local, uri.as_str(), &Default::default())
                .await?;
            dump::file_status(&client.storage().stat(uri.as_str()).await?)
        }
        Command::StorageGet { uri, local } => {
            client
                .storage()
                .download_file(uri.as_str(), &local, &Default::default())
                .await?;
            dump::file_status(&client.storage().stat(uri.as_str()).await?)
        }
    })
}
