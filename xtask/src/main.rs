//! `cargo xtask`: workspace automation for neuro-rs.
//!
//! Run `cargo xtask --help` for the list of commands.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
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
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let root = workspace_root()?;
    match cli.command {
        Cmd::Ci { skip_conformance } => ci(&root, skip_conformance),
        Cmd::Conformance { pytest_args } => {
            // The same build as `cargo test --workspace` (same features, same
            // artifacts), so `ci` and this command share one build.
            run(
                root.as_path(),
                "cargo",
                &["test", "--workspace", "--no-run"],
            )?;
            conformance(&root, &pytest_args)
        }
    }
}

fn workspace_root() -> Result<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .parent()
        .map(Path::to_path_buf)
        .context("xtask must live one level below the workspace root")
}

fn ci(root: &Path, skip_conformance: bool) -> Result<()> {
    run(root, "cargo", &["fmt", "--all", "--", "--check"])?;
    run(
        root,
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    run(root, "cargo", &["test", "--workspace"])?;
    run_env(
        root,
        "cargo",
        &["doc", "--workspace", "--no-deps"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    if !skip_conformance {
        // `cargo test --workspace` above built neuro-local and the probe.
        conformance(root, &[])?;
    }
    Ok(())
}

/// Runs the Python suite against the debug binaries `cargo test --workspace`
/// left in the target dir (no build of its own).
fn conformance(root: &Path, pytest_args: &[String]) -> Result<()> {
    let mut args = vec!["tests/conformance/run.sh"];
    args.extend(pytest_args.iter().map(String::as_str));
    run(root, "bash", &args)
}

fn run(dir: &Path, program: &str, args: &[&str]) -> Result<()> {
    run_env(dir, program, args, &[])
}

fn run_env(dir: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    eprintln!("$ {program} {}", args.join(" "));
    let status = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .status()
        .with_context(|| format!("cannot start {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed with {status}", args.join(" "));
    }
    Ok(())
}
