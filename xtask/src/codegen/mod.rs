//! `cargo xtask codegen [--check]`: files generated from checked-in sources.
//!
//! | source | generated |
//! |---|---|
//! | `xtask/api/endpoints.toml` | `crates/neuro-types/src/endpoints.rs`, `docs/api-endpoints.md` |
//! | `xtask/api/coverage.toml` (checked against `crates/*/src`) | `docs/api-coverage.md` |

mod coverage;
mod endpoints;

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

/// One generated file: where it goes and what it holds.
struct Output {
    path: &'static str,
    text: String,
}

/// Writes every generated file, or with `check` fails when one is stale.
pub(crate) fn codegen(root: &Path, check: bool) -> Result<()> {
    let outputs = generate(root)?;
    let mut stale = Vec::new();
    for out in &outputs {
        let path = root.join(out.path);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if current == out.text {
            continue;
        }
        if check {
            stale.push(out.path);
        } else {
            std::fs::write(&path, &out.text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {}", out.path);
        }
    }
    if !stale.is_empty() {
        bail!(
            "generated files are stale: {}; run `cargo xtask codegen`",
            stale.join(", ")
        );
    }
    if check {
        eprintln!("codegen: {} generated files up to date", outputs.len());
    }
    Ok(())
}

fn read(root: &Path, path: &str) -> Result<String> {
    let path = root.join(path);
    std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))
}

fn generate(root: &Path) -> Result<Vec<Output>> {
    let table = endpoints::Table::parse(&read(root, "xtask/api/endpoints.toml")?)?;
    let sources = coverage::Sources::read(root)?;
    let coverage = coverage::Coverage::parse(&read(root, "xtask/api/coverage.toml")?, &sources)?;
    Ok(vec![
        Output {
            path: "docs/api-coverage.md",
            text: coverage.markdown(),
        },
        Output {
            path: "crates/neuro-types/src/endpoints.rs",
            text: rustfmt(&table.rust()?)?,
        },
        Output {
            path: "docs/api-endpoints.md",
            text: table.markdown(),
        },
    ])
}

/// Formats generated Rust the way `cargo fmt` would, so the check and `cargo fmt
/// --check` agree.
fn rustfmt(source: &str) -> Result<String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot start rustfmt (rustup component add rustfmt)")?;
    child
        .stdin
        .take()
        .context("no stdin pipe")?
        .write_all(source.as_bytes())?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "rustfmt refused the generated code:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8(out.stdout).context("rustfmt printed non-UTF-8")
}
