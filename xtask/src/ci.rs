//! `cargo xtask ci` and `cargo xtask conformance`.

use std::path::Path;

use anyhow::Result;

use crate::util::{run, run_env};

/// Everything CI runs, in order.
pub(crate) fn ci(root: &Path, skip_conformance: bool) -> Result<()> {
    crate::codegen::codegen(root, true)?;
    // The real peers (Podman, skopeo, a registry, SeaweedFS) and the Python
    // client, before any test that talks to them.
    run(root, "bash", &["tests/setup.sh"])?;
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

/// `cargo xtask conformance`: the test build, then the Python suite.
pub(crate) fn conformance_only(root: &Path, pytest_args: &[String]) -> Result<()> {
    // The same build as `cargo test --workspace` (same features, same
    // artifacts), so `ci` and this command share one build.
    run(root, "cargo", &["test", "--workspace", "--no-run"])?;
    conformance(root, pytest_args)
}

/// Runs the Python suite against the debug binaries `cargo test --workspace`
/// left in the target dir (no build of its own).
fn conformance(root: &Path, pytest_args: &[String]) -> Result<()> {
    let mut args = vec!["tests/conformance/run.sh"];
    args.extend(pytest_args.iter().map(String::as_str));
    run(root, "bash", &args)
}
