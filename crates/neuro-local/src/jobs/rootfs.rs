//! Image root file systems: an image's layers unpacked, base first, into one
//! directory that is cached by manifest digest under
//! `{data_dir}/registry/rootfs/<hex>` and shared (read-only, as the lower
//! layer of an overlay) by every job of that image.
//!
//! Layers are tar archives, gzipped or not. Whiteouts are honoured: an entry
//! `.wh.<name>` deletes `<name>` of the layers below, and `.wh..wh..opq` empties
//! its directory of what the layers below put there. Entries are unpacked with
//! the `tar` crate's `unpack_in`, which refuses paths that leave the root (`..`,
//! absolute paths, links followed out of it); device nodes are skipped.

use std::collections::HashSet;
use std::fs;
use std::io::{self, BufRead as _, BufReader, Read};
use std::path::{Component, Path, PathBuf};

use crate::registry::digest::Digest;

/// The prefix of a whiteout entry's name.
const WHITEOUT: &str = ".wh.";
/// The name of an opaque-directory marker.
const OPAQUE: &str = ".wh..wh..opq";

/// The cached root file system of the image whose manifest is `manifest`
/// (blocking): unpacks `layers` (files, base first) on first use. Concurrent
/// first uses each unpack into a directory of their own; the first to finish
/// wins.
pub fn ensure(cache_dir: &Path, manifest: &Digest, layers: &[PathBuf]) -> io::Result<PathBuf> {
    let target = cache_dir.join(manifest.hex());
    if target.is_dir() {
        return Ok(target);
    }
    fs::create_dir_all(cache_dir)?;
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{}-", manifest.hex()))
        .tempdir_in(cache_dir)?;
    for layer in layers {
        unpack_layer(layer, staging.path()).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot unpack layer {}: {e}", layer.display()),
            )
        })?;
    }
    let staged = staging.keep();
    match fs::rename(&staged, &target) {
        Ok(()) => Ok(target),
        Err(_) if target.is_dir() => {
            fs::remove_dir_all(&staged)?;
            Ok(target)
        }
        Err(e) => {
            let _ = fs::remove_dir_all(&staged);
            Err(e)
        }
    }
}

/// Opens a layer, gunzipping it when it starts with the gzip magic.
fn open_layer(path: &Path) -> io::Result<Box<dyn Read>> {
    let mut reader = BufReader::new(fs::File::open(path)?);
    let gzipped = reader.fill_buf()?.starts_with(&[0x1f, 0x8b]);
    Ok(if gzipped {
        Box::new(flate2::read::GzDecoder::new(reader))
    } else {
        Box::new(reader)
    })
}

/// The normal components of an entry path; `None` for `..` or anything that
/// is not a plain relative path.
fn clean(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::Normal(name) => out.push(name),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Removes `path` whatever it is; a missing path is fine.
fn remove(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Whether `path` (inside `root`) has no symlink among its parents, so that a
/// removal there stays inside `root`.
fn parents_are_real(root: &Path, rel: &Path) -> bool {
    let mut at = root.to_path_buf();
    let Some(parent) = rel.parent() else {
        return true;
    };
    for part in parent.components() {
        at.push(part);
        if fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
            return false;
        }
    }
    true
}

/// Applies one layer on top of `root`.
pub fn unpack_layer(layer: &Path, root: &Path) -> io::Result<()> {
    let mut archive = tar::Archive::new(open_layer(layer)?);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_unpack_xattrs(false);
    archive.set_overwrite(true);
    // Paths this layer created: an opaque marker hides only the layers below.
    let mut created: HashSet<PathBuf> = HashSet::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let Some(rel) = clean(&entry.path()?) else {
            continue;
        };
        let Some(name) = rel.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if !parents_are_real(root, &rel) {
            continue;
        }
        if name == OPAQUE {
            let dir = root.join(rel.parent().unwrap_or(Path::new("")));
            if let Ok(children) = fs::read_dir(&dir) {
                for child in children.flatten() {
                    let child_rel = rel.with_file_name(child.file_name());
                    if !created.contains(&child_rel) {
                        remove(&child.path())?;
                    }
                }
            }
            continue;
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT) {
            remove(&root.join(rel.with_file_name(hidden)))?;
            continue;
        }
        let kind = entry.header().entry_type();
        if matches!(
            kind,
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo
        ) {
            continue;
        }
        let dst = root.join(&rel);
        // A layer replaces what is below, except that directories merge.
        if let Ok(meta) = fs::symlink_metadata(&dst) {
            if !(meta.is_dir() && kind.is_dir()) {
                remove(&dst)?;
            }
        }
        entry.unpack_in(root)?;
        created.insert(rel);
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tar_of(entries: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, data) in entries {
            let mut h = tar::Header::new_gnu();
            match data {
                Some(data) => {
                    h.set_entry_type(tar::EntryType::Regular);
                    h.set_size(data.len() as u64);
                    h.set_mode(0o644);
                    h.set_path(path).unwrap();
                    h.set_cksum();
                    tar.append(&h, *data).unwrap();
                }
                None => {
                    h.set_entry_type(tar::EntryType::Directory);
                    h.set_size(0);
                    h.set_mode(0o755);
                    h.set_path(path).unwrap();
                    h.set_cksum();
                    tar.append(&h, io::empty()).unwrap();
                }
            }
        }
        tar.into_inner().unwrap()
    }

    #[test]
    fn whiteouts_delete_and_opaque_dirs_empty_the_layers_below() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("base.tar");
        let top = dir.path().join("top.tar");
        fs::write(
            &base,
            tar_of(&[
                ("etc/", None),
                ("etc/a", Some(b"a")),
                ("etc/b", Some(b"b")),
                ("opt/", None),
                ("opt/old", Some(b"old")),
            ]),
        )
        .unwrap();
        fs::write(
            &top,
            tar_of(&[
                ("etc/.wh.a", Some(b"")),
                ("opt/", None),
                ("opt/new", Some(b"new")),
                ("opt/.wh..wh..opq", Some(b"")),
                ("etc/b", Some(b"B")),
            ]),
        )
        .unwrap();
        let cache = dir.path().join("cache");
        let digest = Digest::of(b"manifest");
        let root = ensure(&cache, &digest, &[base, top]).unwrap();
        assert!(!root.join("etc/a").exists());
        assert_eq!(fs::read(root.join("etc/b")).unwrap(), b"B");
        assert!(!root.join("opt/old").exists());
        assert_eq!(fs::read(root.join("opt/new")).unwrap(), b"new");
        assert!(!root.join("etc/.wh.a").exists());
        // Cached: a second call reuses the directory.
        assert_eq!(ensure(&cache, &digest, &[]).unwrap(), root);
    }

    #[test]
    fn entries_cannot_leave_the_root() {
        assert!(clean(Path::new("../x")).is_none());
        assert!(clean(Path::new("a/../../x")).is_none());
        assert_eq!(clean(Path::new("/etc/x")).unwrap(), PathBuf::from("etc/x"));
    }
}
