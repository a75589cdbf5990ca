//! `cargo xtask release <version> [--dry-run]`: bump every crate, release the
//! changelog, check, package, commit and tag.
//!
//! Steps, in order (`--dry-run` prints them and the computed edits, and changes
//! nothing):
//! 1. refuse a dirty work tree, a malformed version or the current one;
//! 2. set `[workspace.package] version` and the `version` of every workspace
//!    crate in `[workspace.dependencies]` (and in any member that pins one);
//! 3. move the Unreleased section of `CHANGELOG.md` under the new version;
//! 4. `cargo update --workspace --offline` (our crates' entries of
//!    `Cargo.lock`), `cargo fmt --check`, `cargo clippy -D warnings`, the test
//!    peers (`tests/setup.sh`, as `cargo xtask ci` runs it) and `cargo test`;
//! 5. `cargo publish --dry-run` of the publishable crates in dependency order
//!    (`--workspace`, so crates that depend on not-yet-published workspace
//!    crates are checked against each other, as they will be published),
//!    after removing what an earlier packaging of the same version left (see
//!    [`package_cache`]);
//! 6. `git commit -s` and an annotated tag `v<version>`.
//!
//! If a step up to the commit fails, the files the release rewrote (manifests,
//! `CHANGELOG.md`, `Cargo.lock`) are put back as they were and unstaged, so the
//! work tree is as before and the release can be run again once the cause is
//! fixed.

mod backup;
mod changelog;
mod manifest;
mod order;
mod package_cache;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::util::{output, run, run_env, target_dir};
use order::Package;

/// Arguments of `cargo xtask release`.
#[derive(Debug, clap::Args)]
pub(crate) struct ReleaseArgs {
    /// The new version, `MAJOR.MINOR.PATCH` with an optional `-pre` suffix.
    version: String,
    /// Print the plan and the edits; change nothing, run nothing.
    #[arg(long)]
    dry_run: bool,
}

/// One file edit of the plan.
struct Edit {
    path: PathBuf,
    text: String,
}

/// Runs (or, with `--dry-run`, prints) the release.
pub(crate) fn release(root: &Path, args: &ReleaseArgs) -> Result<()> {
    let version = args.version.trim_start_matches('v');
    check_version(version)?;
    let root_manifest_path = root.join("Cargo.toml");
    let root_manifest = read(&root_manifest_path)?;
    let current = manifest::workspace_version(&root_manifest)?;
    if current == version {
        bail!("the workspace is already at version {version}");
    }

    let metadata = output(
        root,
        "cargo",
        &[
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ],
    )?;
    let packages = order::workspace_packages(&metadata)?;
    let internal: Vec<String> = packages.iter().map(|p| p.name.clone()).collect();
    let publish_order = order::publish_order(&packages)?;
    let verify_dir = package_cache::verify_dir(&target_dir(root));

    let date = today();
    let mut edits = vec![Edit {
        text: manifest::bump_root(&root_manifest, version, &internal)?,
        path: root_manifest_path,
    }];
    for package in &packages {
        let text = read(&package.manifest_path)?;
        let bumped = manifest::bump_member(&text, version, &internal)?;
        if bumped != text {
            edits.push(Edit {
                path: package.manifest_path.clone(),
                text: bumped,
            });
        }
    }
    let changelog_path = root.join("CHANGELOG.md");
    edits.push(Edit {
        text: changelog::release(&read(&changelog_path)?, version, &date)?,
        path: changelog_path,
    });

    print_plan(
        root,
        &current,
        version,
        &date,
        &edits,
        &publish_order,
        &packages,
    );
    if args.dry_run {
        println!("\n--dry-run: nothing was changed.");
        return Ok(());
    }

    let status = output(root, "git", &["status", "--porcelain"])?;
    if !status.trim().is_empty() {
        bail!("the work tree has uncommitted changes; commit or stash them first:\n{status}");
    }
    let tag = format!("v{version}");
    if !output(root, "git", &["tag", "--list", &tag])?
        .trim()
        .is_empty()
    {
        bail!("tag {tag} already exists");
    }
    let mut touched: Vec<PathBuf> = edits.iter().map(|e| e.path.clone()).collect();
    touched.push(root.join("Cargo.lock"));
    let saved = backup::Backup::take(&touched)?;
    let publish = Publish {
        order: &publish_order,
        verify_dir: &verify_dir,
    };
    if let Err(err) = bump_check_commit(root, version, &edits, &publish) {
        let rel: Vec<String> = touched.iter().map(|p| relative(root, p)).collect();
        match saved.restore() {
            Ok(()) => {
                // Unstage whatever `git add` staged before the failure.
                let mut reset = vec!["reset", "--quiet", "--"];
                reset.extend(rel.iter().map(String::as_str));
                if let Err(e) = run(root, "git", &reset) {
                    eprintln!("warning: cannot unstage the restored files: {e:#}");
                }
                eprintln!(
                    "release {version} failed; restored {} as they were",
                    rel.join(", ")
                );
            }
            Err(e) => {
                eprintln!("release {version} failed, and restoring the files failed too: {e:#}")
            }
        }
        return Err(err);
    }
    run(
        root,
        "git",
        &[
            "tag",
            "--annotate",
            &tag,
            "-m",
            &format!("neuro-rs {version}"),
        ],
    )
    .with_context(|| format!("the release commit is made but tag {tag} is not"))?;
    println!("\nreleased {version}: commit and tag {tag} made; push with `git push --follow-tags`, then `cargo publish --workspace`.");
    Ok(())
}

/// The crates to package, in order, and the target directory they are
/// packaged and verified in.
struct Publish<'a> {
    order: &'a [String],
    verify_dir: &'a Path,
}

/// Steps 2 to the commit: writes the edits, checks, packages and commits.
fn bump_check_commit(
    root: &Path,
    version: &str,
    edits: &[Edit],
    publish: &Publish<'_>,
) -> Result<()> {
    for edit in edits {
        std::fs::write(&edit.path, &edit.text)
            .with_context(|| format!("cannot write {}", edit.path.display()))?;
    }
    // Moves the workspace crates to the new version in Cargo.lock, and nothing
    // else (`cargo metadata --offline` would need every dependency of every
    // platform downloaded; this needs only the local index).
    run(root, "cargo", &["update", "--workspace", "--offline"])?;
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
    // The real peers and the Python client some tests talk to (a fresh clone
    // has no conformance venv yet), as `cargo xtask ci` does.
    run(root, "bash", &["tests/setup.sh"])?;
    run(root, "cargo", &["test", "--workspace"])?;
    for stale in package_cache::clear(
        publish.verify_dir,
        package_cache::cargo_home().as_deref(),
        publish.order,
        version,
    )? {
        println!("removed {} (left by an earlier packaging)", stale.display());
    }
    publish_dry_run(root, publish)?;
    // Gigabytes of dependencies built for the verification only.
    package_cache::remove(publish.verify_dir, &mut Vec::new())?;

    let mut add = vec!["add", "Cargo.lock"];
    let rel: Vec<String> = edits.iter().map(|e| relative(root, &e.path)).collect();
    add.extend(rel.iter().map(String::as_str));
    run(root, "git", &add)?;
    let message = format!("Release {version}");
    run(
        root,
        "git",
        &["commit", "--signoff", "--quiet", "-m", &message],
    )
}

/// `cargo publish --dry-run` for every publishable crate, in dependency order.
fn publish_dry_run(root: &Path, publish: &Publish<'_>) -> Result<()> {
    let help = output(root, "cargo", &["publish", "--help"])?;
    let verify_dir = publish.verify_dir.to_string_lossy();
    let env = [("CARGO_TARGET_DIR", verify_dir.as_ref())];
    if help.contains("--workspace") {
        // Packages and verifies the crates in dependency order against each
        // other (a local overlay registry), so a crate depending on a workspace
        // crate that is not on crates.io yet is still checked.
        run_env(
            root,
            "cargo",
            &["publish", "--workspace", "--dry-run", "--allow-dirty"],
            &env,
        )
    } else {
        // An older cargo resolves every dependency on crates.io, where the new
        // versions of our crates do not exist yet: package without the
        // verifying build.
        for name in publish.order {
            run_env(
                root,
                "cargo",
                &["package", "--package", name, "--no-verify", "--allow-dirty"],
                &env,
            )?;
        }
        Ok(())
    }
}

fn print_plan(
    root: &Path,
    current: &str,
    version: &str,
    date: &str,
    edits: &[Edit],
    order: &[String],
    packages: &[Package],
) {
    println!("release {current} -> {version} ({date})");
    println!("\nfiles to change:");
    for edit in edits {
        println!("  {}", relative(root, &edit.path));
    }
    let unpublished: Vec<&str> = packages
        .iter()
        .filter(|p| !p.publish)
        .map(|p| p.name.as_str())
        .collect();
    println!("\npublish order: {}", order.join(" -> "));
    println!("not published: {}", unpublished.join(", "));
    println!("\nsteps:");
    for step in [
        "cargo update --workspace --offline (our crates' entries of Cargo.lock)".to_owned(),
        "cargo fmt --all -- --check".to_owned(),
        "cargo clippy --workspace --all-targets -- -D warnings".to_owned(),
        "bash tests/setup.sh (the test peers and the conformance venv)".to_owned(),
        "cargo test --workspace".to_owned(),
        "remove <target>/release-verify and the sources an earlier packaging of this version extracted into $CARGO_HOME/registry/src".to_owned(),
        "cargo publish --workspace --dry-run --allow-dirty (crates in the order above; CARGO_TARGET_DIR=<target>/release-verify, removed afterwards)".to_owned(),
        format!("git commit --signoff -m \"Release {version}\""),
        format!("git tag --annotate v{version}"),
    ] {
        println!("  {step}");
    }
}

fn check_version(version: &str) -> Result<()> {
    let (core, pre) = match version.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (version, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = |s: &&str| {
        !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) && (*s == "0" || !s.starts_with('0'))
    };
    let pre_ok = pre.is_none_or(|p| {
        !p.is_empty()
            && p.split('.').all(|id| {
                !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
    });
    if parts.len() != 3 || !parts.iter().all(numeric) || !pre_ok {
        bail!("{version:?} is not a version (MAJOR.MINOR.PATCH[-PRE])");
    }
    Ok(())
}

fn today() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{}-{:02}-{:02}",
        now.year(),
        u8::from(now.month()),
        now.day()
    )
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_checked() {
        for ok in ["0.2.0", "1.0.0", "10.20.30", "1.0.0-rc.1", "0.1.0-alpha"] {
            assert!(check_version(ok).is_ok(), "{ok}");
        }
        for bad in [
            "0.2",
            "1.0.0.0",
            "01.0.0",
            "a.b.c",
            "1.0.0-",
            "1.0.0-rc..1",
            "",
        ] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
    }
}
