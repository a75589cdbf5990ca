//! What an earlier `cargo publish --dry-run` of the same version left behind.
//!
//! `cargo publish --workspace --dry-run` packages the crates into
//! `<target>/package`, serves them from an overlay registry there, and extracts
//! each package it verifies into `$CARGO_HOME/registry/src/-<hash>/<crate>-<version>`
//! (the `-` is the empty host of a `file://` registry). Cargo reuses an
//! extracted directory as it is, so a second run for the same version (after
//! a failed release was fixed) would verify against the first run's sources.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

#[derive(Deserialize)]
struct TargetDirectory {
    target_directory: PathBuf,
}

/// The target directory named by `cargo metadata` output.
pub(crate) fn target_directory(metadata_json: &str) -> Result<PathBuf> {
    let meta: TargetDirectory =
        serde_json::from_str(metadata_json).context("cargo metadata output")?;
    Ok(meta.target_directory)
}

/// `$CARGO_HOME`, else `~/.cargo`.
pub(crate) fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
}

/// Removes `<target>/package` and the extracted sources of `crates` at
/// `version` from local overlay registries under `cargo_home`; returns what
/// it removed. Sources from crates.io and other versions are left alone.
pub(crate) fn clear(
    target_dir: &Path,
    cargo_home: Option<&Path>,
    crates: &[String],
    version: &str,
) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let package = target_dir.join("package");
    if package.is_dir() {
        remove(&package, &mut removed)?;
    }
    let Some(src) = cargo_home.map(|home| home.join("registry").join("src")) else {
        return Ok(removed);
    };
    let Ok(registries) = std::fs::read_dir(&src) else {
        return Ok(removed);
    };
    for registry in registries {
        let registry = registry.with_context(|| format!("cannot list {}", src.display()))?;
        if !registry.file_name().to_string_lossy().starts_with('-') {
            continue;
        }
        for name in crates {
            let extracted = registry.path().join(format!("{name}-{version}"));
            if extracted.is_dir() {
                remove(&extracted, &mut removed)?;
            }
        }
    }
    Ok(removed)
}

fn remove(dir: &Path, removed: &mut Vec<PathBuf>) -> Result<()> {
    std::fs::remove_dir_all(dir).with_context(|| format!("cannot remove {}", dir.display()))?;
    removed.push(dir.to_path_buf());
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn only_our_crates_at_this_version_from_local_registries_go() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let home = dir.path().join("cargo");
        let local = home.join("registry/src/-a1dc5a85f86295e8");
        let crates_io = home.join("registry/src/index.crates.io-1949cf8c6b5b557f");
        for d in [
            target.join("package/tmp-registry"),
            local.join("neuro-types-0.2.0"),
            local.join("neuro-types-0.1.0"),
            local.join("other-0.2.0"),
            crates_io.join("neuro-types-0.2.0"),
        ] {
            std::fs::create_dir_all(d).unwrap();
        }
        let removed = clear(&target, Some(&home), &["neuro-types".into()], "0.2.0").unwrap();
        assert_eq!(
            removed,
            [target.join("package"), local.join("neuro-types-0.2.0")]
        );
        assert!(local.join("neuro-types-0.1.0").is_dir());
        assert!(local.join("other-0.2.0").is_dir());
        assert!(crates_io.join("neuro-types-0.2.0").is_dir());
    }

    #[test]
    fn the_target_directory_comes_from_metadata() {
        let json = r#"{"packages": [], "target_directory": "/w/target", "version": 1}"#;
        assert_eq!(target_directory(json).unwrap(), Path::new("/w/target"));
    }
}
