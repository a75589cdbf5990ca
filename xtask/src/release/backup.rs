//! The files a release rewrites, kept as they were so a failed release can put
//! them back.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The contents of some files (or their absence) at one moment.
#[derive(Debug)]
pub(crate) struct Backup {
    files: Vec<(PathBuf, Option<Vec<u8>>)>,
}

impl Backup {
    /// Reads `paths` now; a missing file is remembered as missing.
    pub(crate) fn take(paths: &[PathBuf]) -> Result<Self> {
        let files = paths
            .iter()
            .map(|path| match std::fs::read(path) {
                Ok(bytes) => Ok((path.clone(), Some(bytes))),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((path.clone(), None)),
                Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
            })
            .collect::<Result<_>>()?;
        Ok(Self { files })
    }

    /// Writes every file back as it was (removing those that did not exist);
    /// tries them all and reports the first failure.
    pub(crate) fn restore(&self) -> Result<()> {
        let mut first_error = None;
        for (path, bytes) in &self.files {
            if let Err(e) = put_back(path, bytes.as_deref()) {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

fn put_back(path: &Path, bytes: Option<&[u8]>) -> Result<()> {
    match bytes {
        Some(bytes) => std::fs::write(path, bytes),
        None => match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        },
    }
    .with_context(|| format!("cannot restore {}", path.display()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn restore_puts_back_contents_and_absence() {
        let dir = tempfile::tempdir().unwrap();
        let kept = dir.path().join("Cargo.toml");
        let absent = dir.path().join("Cargo.lock");
        std::fs::write(&kept, "version = \"0.1.0\"\n").unwrap();
        let backup = Backup::take(&[kept.clone(), absent.clone()]).unwrap();
        std::fs::write(&kept, "version = \"0.2.0\"\n").unwrap();
        std::fs::write(&absent, "new").unwrap();
        backup.restore().unwrap();
        assert_eq!(
            std::fs::read_to_string(&kept).unwrap(),
            "version = \"0.1.0\"\n"
        );
        assert!(!absent.exists());
    }
}
