#![doc = include_str!("../README.md")]

mod bench;
mod ci;
mod codegen;
mod release;
mod util;

use anyhow::Result;
use clap::{Parser, Subcommand};

/// Workspace automation for neuro-rs.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Run everything CI runs: fmt check, clippy -D warnings, all tests, the Python
    /// conformance suite and the doc build.
    Ci {
        /// Skip the Python conformance suite (it needs PyPI the first time).
        #[arg(long)]
        skip_conformance: bool,
    },
    /// Run only the Python conformance suite against the binaries of the test build
    /// (neuro-local and neuro-conformance-probe); extra arguments go to pytest.
    Conformance {
        /// Arguments for pytest (e.g. `-- -k storage -x`).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        pytest_args: Vec<String>,
    },
    /// Regenerate the files made from checked-in sources (the endpoint table, API
    /// docs); with --check, fail when one is stale instead.
    Codegen {
        /// Change nothing; fail if a generated file differs from what would be written.
        #[arg(long)]
        check: bool,
    },
    /// Release a new version: bump every crate, move the changelog's Unreleased
    /// section, run the checks and `cargo publish --dry-run`, commit (signed off)
    /// and tag. `--dry-run` prints the plan and changes nothing.
    Release(release::ReleaseArgs),
    /// Benchmark the Rust SDK against the Python neuro-sdk 22.7.1 on a release
    /// neuro-local; prints a table and writes docs/benchmarks.md.
    Bench(bench::BenchArgs),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = util::workspace_root()?;
    match cli.command {
        Cmd::Ci { skip_conformance } => ci::ci(&root, skip_conformance),
        Cmd::Conformance { pytest_args } => ci::conformance_only(&root, &pytest_args),
        Cmd::Codegen { check } => codegen::codegen(&root, check),
        Cmd::Release(args) => release::release(&root, &args),
        Cmd::Bench(args) => bench::bench(&root, &args),
    }
}
