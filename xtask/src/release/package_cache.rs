//! What an earlier `cargo publish --dry-run` of the same version left behind.
//!
//! `cargo publish --workspace --dry-run` packages the crates, serves them from
//! an overlay registry in the target directory, extracts each package it
//! verifies into `$CARGO_HOME/registry/src/-<hash>/<crate>-<version>` (the `-`
//! is the empty host of a `file://` registry) and builds it there. Cargo takes
//! registry crates as immutable: it reuses an extracted directory as it is, and
//! the compiled artifacts of `<crate> <version>` from that registry as they
//! are. A second run for the same version (after a failed release was fixed)
//! would so verify against the first run's code. The release therefore
//! packages in a target directory of its own, removed before and after, and
//! removes the extracted sources of its crates at that version first.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// `$CARGO_HOME`, else `~/.cargo`.
pub(crate) fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cargo")))
}

/// The target directory the release packages and verifies in.
pub(crate) fn verify_dir(target_dir: &Path) -> PathBuf {
    target_dir.join("release-verify")
}

/// Removes `verify_dir` and the extracted sources of `crates` at `version`
/// from local overlay registries under `cargo_home`; returns what it removed.
/// Sources from crates.io and other versions are left alone.
pub(crate) fn clear(
    verify_dir: &Path,
    cargo_home: Option<&Path>,
    crates: &[String],
    version: &str,
) -> Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    if verify_dir.is_dir() {
        remove(verify_dir, &mut removed)?;
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

/// Removes `dir` and everything in it.
pub(crate) fn remove(dir: &Path, removed: &mut Vec<PathBuf>) -> Result<()> {
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
        let verify = verify_dir(&dir.path().join("target"));
        let home = dir.path().join("cargo");
        let local = home.join("registry/src/-a1dc5a85f86295e8");
        let crates_io = home.join("registry/src/index.crates.io-1949cf8c6b5b557f");
        for d in [
            verify.join("package/tmp-registry"),
            local.join("neuro-types-0.2.0"),
            local.join("neuro-types-0.1.0"),
            local.join("other-0.2.0"),
            crates_io.join("neuro-types-0.2.0"),
        ] {
            std::fs::create_dir_all(d).unwrap();
        }
        let removed = clear(&verify, Some(&home), &["neuro-types".into()], "0.2.0").unwrap();
        assert_eq!(removed, [verify.clone(), local.join("neuro-types-0.2.0")]);
        assert!(local.join("neuro-types-0.1.0").is_dir());
        assert!(local.join("other-0.2.0").is_dir());
        assert!(crates_io.join("neuro-types-0.2.0").is_dir());
    }
}
