//! Storage paths: decoding, validation, access levels and confinement to a
//! user's root directory.
//!
//! A request path is `/<owner>/<rest...>`. Each segment is percent-decoded on its
//! own and must not be empty-after-decoding-with-slashes, `.`, `..`, or contain
//! `/`, `\` or NUL; anything else is rejected with `404` before the filesystem is
//! touched. Resolution then walks the path from the owner's root and never goes
//! through a symlink whose target leaves that root.
//!
//! The server and its jobs run as one OS user, so a job could race a path check
//! by swapping in a symlink; that gives it nothing it could not read directly.
//! The checks here protect against remote callers, who cannot create symlinks.

use std::ffi::OsString;
use std::fs::Metadata;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use neuro_types::permission::Action;
use percent_encoding::percent_decode_str;
use rustix::fs::{Mode, OFlags, ResolveFlags, CWD};

use super::error::StorageError;
use crate::permissions::{AccessView, Level, ResourcePath};

/// The access `user` has on `path`, or `None` if the path must look absent.
/// [`Action::Read`] lists, stats and reads; [`Action::Write`] also creates,
/// writes, renames and deletes; [`Action::Manage`] also shares.
///
/// This is the single place storage access is decided, by the permission tree
/// (`storage://<cluster>/<path>`, see [`crate::permissions`]): a user manages
/// their own tree (`/<user>/...`); another user's path is reachable only when it
/// or an ancestor was shared, with exactly the shared action. A directory on the
/// way to something shared (and the cluster root) reads as [`Action::Read`] so it
/// can be listed; listings show only the entries the caller reaches. A path the
/// caller does not reach at all is `None` and answers `404`, as the real storage
/// service answers for another user's tree; a reachable path with too weak a
/// permission answers `403`.
pub fn permission_for(view: &AccessView, cluster: &str, path: &StoragePath) -> Option<Action> {
    if path.is_cluster_root() {
        return Some(Action::Read);
    }
    let resource = ResourcePath::new(
        "storage",
        std::iter::once(cluster).chain(path.segments.iter().map(String::as_str)),
    );
    match view.level(&resource)? {
        Level::List => Some(Action::Read),
        Level::Act(action) => Some(action),
    }
}

/// A validated path inside the storage namespace, `/<owner>/<rest...>`; no
/// segment at all is the cluster root.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StoragePath {
    segments: Vec<String>,
}

impl StoragePath {
    /// Parses the still percent-encoded part of a request path after the
    /// `/api/v1/storage/` prefix. Empty segments (`//`, trailing `/`) are skipped.
    pub fn from_encoded(raw: &str) -> Result<StoragePath, StorageError> {
        let mut segments = Vec::new();
        for raw_segment in raw.split('/') {
            if raw_segment.is_empty() {
                continue;
            }
            let decoded = percent_decode_str(raw_segment)
                .decode_utf8()
                .map_err(|_| StorageError::NotFound)?;
            if decoded.is_empty() {
                continue;
            }
            check_segment(&decoded)?;
            segments.push(decoded.into_owned());
        }
        Ok(StoragePath { segments })
    }

    /// Parses an already decoded absolute path such as the RENAME `destination`
    /// query value (`/<owner>/<rest...>`).
    pub fn from_decoded(path: &str) -> Result<StoragePath, StorageError> {
        if !path.starts_with('/') {
            return Err(StorageError::BadRequest(format!(
                "destination {path:?} must be an absolute path"
            )));
        }
        let mut segments = Vec::new();
        for segment in path.split('/').filter(|s| !s.is_empty()) {
            check_segment(segment)?;
            segments.push(segment.to_owned());
        }
        Ok(StoragePath { segments })
    }

    /// Whether this is the cluster root `/`.
    pub fn is_cluster_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// The first segment: the owner of the tree.
    pub fn owner(&self) -> Option<&str> {
        self.segments.first().map(String::as_str)
    }

    /// The segments below the owner's root.
    pub fn rest(&self) -> &[String] {
        self.segments.get(1..).unwrap_or(&[])
    }

    /// The last segment, if any.
    pub fn name(&self) -> Option<&str> {
        self.segments.last().map(String::as_str)
    }

    /// The path with a leading `/`, as GETFILESTATUS and DELETE report it.
    pub fn display(&self) -> String {
        format!("/{}", self.segments.join("/"))
    }
}

impl std::fmt::Display for StoragePath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

fn check_segment(segment: &str) -> Result<(), StorageError> {
    let bad = segment == "."
        || segment == ".."
        || segment.chars().any(|c| c == '/' || c == '\\' || c == '\0');
    if bad {
        Err(StorageError::NotFound)
    } else {
        Ok(())
    }
}

/// The canonical root directory of `owner` inside the canonical storage
/// directory `storage_dir`, created if missing (the data directory above it is
/// private). It must be a real directory right below the storage directory: a
/// symlink or a file in its place is refused. `owner` is one validated segment
/// ([`StoragePath`]), so the storage directory joined with it is canonical too.
pub fn user_root(storage_dir: &Path, owner: &str) -> io::Result<PathBuf> {
    let root = storage_dir.join(owner);
    let escapes = || {
        io::Error::new(
            io::ErrorKind::NotFound,
            "user root escapes the storage directory",
        )
    };
    match std::fs::symlink_metadata(&root) {
        Ok(meta) if meta.is_dir() => return Ok(root),
        Ok(_) => return Err(escapes()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    match std::fs::create_dir(&root) {
        Ok(()) => Ok(root),
        // Created by a concurrent request: check it as above.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            if std::fs::symlink_metadata(&root)?.is_dir() {
                Ok(root)
            } else {
                Err(escapes())
            }
        }
        Err(e) => Err(e),
    }
}

/// How [`resolve`] treats the directories leading to the final component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parents {
    /// They must exist; a missing one or a file in the way is `404`.
    Lookup,
    /// They must exist; a missing one is `404`, a file is `ENOTDIR`.
    Existing,
    /// Missing ones are created; a file in the way is `ENOTDIR`.
    Create,
}

/// A path resolved inside a user's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The canonical user root.
    pub root: PathBuf,
    /// The canonical directory holding the final component (the root itself
    /// for a top-level entry).
    pub parent: PathBuf,
    /// The final component; `None` when the path is the user root.
    pub name: Option<OsString>,
}

impl Target {
    /// The filesystem path of the entry (not resolved if it is a symlink).
    pub fn path(&self) -> PathBuf {
        match &self.name {
            Some(name) => self.parent.join(name),
            None => self.root.clone(),
        }
    }

    /// Whether the entry is the user root itself.
    pub fn is_root(&self) -> bool {
        self.name.is_none()
    }

    /// Whether `path` lies inside the user root.
    pub fn contains(&self, path: &Path) -> bool {
        path.starts_with(&self.root)
    }

    /// `lstat` of the entry: symlinks are not followed.
    pub fn symlink_metadata(&self) -> io::Result<Metadata> {
        std::fs::symlink_metadata(self.path())
    }

    /// The entry's path with a final symlink followed, if its target stays inside
    /// the root; `404` otherwise.
    pub fn follow(&self) -> Result<PathBuf, StorageError> {
        let path = self.path();
        let meta = std::fs::symlink_metadata(&path)?;
        if !meta.file_type().is_symlink() {
            return Ok(path);
        }
        let canonical = path.canonicalize()?;
        if self.contains(&canonical) {
            Ok(canonical)
        } else {
            Err(StorageError::NotFound)
        }
    }
}

/// [`resolve`] below [`user_root`] in one system call, for the usual case: when
/// every directory from the canonical `storage_dir` down to the one holding
/// the final component of `rest` is a real directory (no symlink on the way,
/// nothing missing), an `openat2` with `RESOLVE_NO_SYMLINKS` proves it, and the
/// result is what the step-by-step walk would find. Anything else (a symlink
/// to follow and check, a directory to create, an error to report, the user
/// root itself) is `None`, left to that walk.
pub fn resolve_direct(storage_dir: &Path, owner: &str, rest: &[String]) -> Option<Target> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    // The descriptor only proves the walk; it is closed right away.
    open_parent_direct(storage_dir, owner, rest, flags, Mode::empty()).map(|(target, _)| target)
}

/// [`resolve_direct`] that opens the parent directory with `flags` and `mode`
/// (e.g. an anonymous file in it with `O_TMPFILE`) in the same system call.
/// `None` when any directory on the way is not a real one, or the open fails.
pub fn open_parent_direct(
    storage_dir: &Path,
    owner: &str,
    rest: &[String],
    flags: OFlags,
    mode: Mode,
) -> Option<(Target, OwnedFd)> {
    let target = direct_target(storage_dir, owner, rest)?;
    let fd = open_no_symlinks(&target.parent, flags, mode)?;
    Some((target, fd))
}

/// [`resolve_direct`] that opens the entry itself with `flags`, in the same
/// system call. `None` when the entry or any directory on the way is a
/// symlink or missing, or the open fails.
pub fn open_entry_direct(
    storage_dir: &Path,
    owner: &str,
    rest: &[String],
    flags: OFlags,
) -> Option<(Target, OwnedFd)> {
    let target = direct_target(storage_dir, owner, rest)?;
    let fd = open_no_symlinks(&target.path(), flags, Mode::empty())?;
    Some((target, fd))
}

/// The target below `owner`'s root in the canonical `storage_dir` that the
/// step-by-step walk finds when there is no symlink on the way; `None` for the
/// user root itself.
fn direct_target(storage_dir: &Path, owner: &str, rest: &[String]) -> Option<Target> {
    let (last, dirs) = rest.split_last()?;
    let root = storage_dir.join(owner);
    let mut parent = root.clone();
    parent.extend(dirs);
    Some(Target {
        root,
        parent,
        name: Some(OsString::from(last)),
    })
}

/// Opens `path` if no component of it is a symlink (`RESOLVE_NO_SYMLINKS`).
fn open_no_symlinks(path: &Path, flags: OFlags, mode: Mode) -> Option<OwnedFd> {
    rustix::fs::openat2(CWD, path, flags, mode, ResolveFlags::NO_SYMLINKS).ok()
}

/// Resolves `rest` below the canonical `root`, walking every intermediate
/// directory without leaving the root.
pub fn resolve(root: &Path, rest: &[String], parents: Parents) -> Result<Target, StorageError> {
    let Some((last, dirs)) = rest.split_last() else {
        return Ok(Target {
            root: root.to_path_buf(),
            parent: root.to_path_buf(),
            name: None,
        });
    };
    let mut current = root.to_path_buf();
    for segment in dirs {
        let next = current.join(segment);
        match std::fs::symlink_metadata(&next) {
            Ok(meta) if meta.is_dir() => current = next,
            Ok(meta) if meta.file_type().is_symlink() => {
                let canonical = next.canonicalize().map_err(|_| StorageError::NotFound)?;
                if !canonical.starts_with(root) || !canonical.is_dir() {
                    return Err(StorageError::NotFound);
                }
                current = canonical;
            }
            Ok(_) => {
                return Err(match parents {
                    Parents::Lookup => StorageError::NotFound,
                    Parents::Existing | Parents::Create => {
                        StorageError::os("Predecessor is not a directory", "ENOTDIR")
                    }
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound && parents == Parents::Create => {
                match std::fs::create_dir(&next) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists && next.is_dir() => {}
                    Err(e) => return Err(e.into()),
                }
                current = next;
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Target {
        root: root.to_path_buf(),
        parent: current,
        name: Some(OsString::from(last)),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Vec<String>, StorageError> {
        StoragePath::from_encoded(raw).map(|p| p.segments)
    }

    #[test]
    fn decoding() {
        assert_eq!(parse("alice/a%20b/c").unwrap(), ["alice", "a b", "c"]);
        assert_eq!(parse("alice//x/").unwrap(), ["alice", "x"]);
        assert_eq!(parse("").unwrap(), Vec::<String>::new());
        assert_eq!(parse("alice/a+b").unwrap(), ["alice", "a+b"]);
        assert_eq!(parse("alice/.hidden").unwrap(), ["alice", ".hidden"]);
        assert_eq!(parse("alice/...").unwrap(), ["alice", "..."]);
    }

    #[test]
    fn traversal_is_rejected() {
        for raw in [
            "alice/../bob",
            "alice/%2e%2e/bob",
            "alice/%2E./bob",
            "alice/.%2E",
            "alice/.",
            "alice/%2F..",
            "alice/a%2Fb",
            "alice/a%5Cb",
            "alice/a\\b",
            "alice/a%00b",
            "alice/%ff",
            "..",
        ] {
            assert_eq!(parse(raw), Err(StorageError::NotFound), "{raw}");
        }
    }

    #[test]
    fn destination() {
        let p = StoragePath::from_decoded("/alice/x y").unwrap();
        assert_eq!(p.display(), "/alice/x y");
        assert!(StoragePath::from_decoded("/alice/../bob").is_err());
        assert!(StoragePath::from_decoded("alice/x").is_err());
    }

    #[test]
    fn permissions() {
        let own = StoragePath::from_encoded("alice/x").unwrap();
        let other = StoragePath::from_encoded("bob/x").unwrap();
        let shared = StoragePath::from_encoded("bob/shared/f").unwrap();
        let bob = StoragePath::from_encoded("bob").unwrap();
        let root = StoragePath::from_encoded("").unwrap();
        let mut grants = crate::permissions::implicit_grants("alice", "c");
        grants.push(crate::permissions::Grant {
            path: ResourcePath::parse("storage://c/bob/shared").unwrap(),
            action: Action::Write,
        });
        let view = AccessView::new("alice", grants);
        assert_eq!(permission_for(&view, "c", &own), Some(Action::Manage));
        assert_eq!(permission_for(&view, "c", &other), None);
        assert_eq!(permission_for(&view, "c", &shared), Some(Action::Write));
        assert_eq!(permission_for(&view, "c", &bob), Some(Action::Read));
        assert_eq!(permission_for(&view, "c", &root), Some(Action::Read));
        assert!(Action::Read < Action::Write && Action::Write < Action::Manage);
    }

    #[test]
    fn symlinks_do_not_escape() {
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().join("storage");
        std::fs::create_dir(&storage).unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::fs::write(outside.join("secret"), "s").unwrap();
        let root = user_root(&storage.canonicalize().unwrap(), "alice").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("out")).unwrap();
        std::os::unix::fs::symlink(outside.join("secret"), root.join("sec")).unwrap();
        std::fs::create_dir(root.join("in")).unwrap();
        std::os::unix::fs::symlink(root.join("in"), root.join("inlink")).unwrap();

        let rest = |s: &str| s.split('/').map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(
            resolve(&root, &rest("out/secret"), Parents::Lookup),
            Err(StorageError::NotFound)
        );
        let t = resolve(&root, &rest("sec"), Parents::Lookup).unwrap();
        assert_eq!(t.follow(), Err(StorageError::NotFound));
        let t = resolve(&root, &rest("inlink/x"), Parents::Create).unwrap();
        assert_eq!(t.parent, root.join("in"));
        let t = resolve(&root, &rest("new/deep/x"), Parents::Create).unwrap();
        assert!(t.parent.is_dir());
    }

    #[test]
    fn the_direct_resolution_takes_only_real_directories() {
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().canonicalize().unwrap().join("storage");
        std::fs::create_dir(&storage).unwrap();
        let root = user_root(&storage, "alice").unwrap();
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::os::unix::fs::symlink(root.join("a"), root.join("link")).unwrap();
        std::fs::write(root.join("file"), "f").unwrap();
        let rest = |s: &str| s.split('/').map(str::to_owned).collect::<Vec<_>>();

        for path in ["a/b/x", "a/x", "x", "a/b"] {
            let direct = resolve_direct(&storage, "alice", &rest(path)).unwrap();
            let walked = resolve(&root, &rest(path), Parents::Lookup).unwrap();
            assert_eq!(direct, walked, "{path}");
        }
        // A symlink, a file or a missing directory on the way, a missing or
        // symlinked user root, and the root itself: left to the walk.
        for path in ["link/x", "file/x", "missing/x"] {
            assert!(
                resolve_direct(&storage, "alice", &rest(path)).is_none(),
                "{path}"
            );
        }
        assert!(resolve_direct(&storage, "bob", &rest("x")).is_none());
        std::os::unix::fs::symlink(&root, storage.join("eve")).unwrap();
        assert!(resolve_direct(&storage, "eve", &rest("x")).is_none());
        assert!(resolve_direct(&storage, "alice", &[]).is_none());
    }
}
