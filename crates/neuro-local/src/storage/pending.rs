//! Atomic creates: an uploaded file is written where nobody sees it and put
//! under its final name in one step once complete, so a dropped upload never
//! leaves a torn file behind.
//!
//! Where the filesystem supports it the file is anonymous (`O_TMPFILE`): the
//! kernel allocates it without locking the directory, and linking it under
//! the target's name is one short directory operation (a rename over the
//! target when one exists). Elsewhere it is a hidden `.neuro-upload-*` file
//! next to the target, renamed into place. Either way a failed or dropped
//! upload leaves nothing: the anonymous file vanishes when closed, the hidden
//! one is removed on drop.

use std::fs::File;
use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use super::error::StorageError;
use super::paths::Target;
use super::UPLOAD_PREFIX;
use crate::unnamed;

/// Mode of files created by CREATE (existing files keep theirs).
const NEW_FILE_MODE: u32 = 0o644;

/// A file being uploaded, not yet visible under its name.
pub(super) struct PendingFile {
    file: Arc<File>,
    /// The hidden name of a named temporary file (removed on drop); `None`
    /// for an anonymous one.
    temp_path: Option<tempfile::TempPath>,
    /// The mode the final file gets.
    mode: u32,
    /// The mode the file has now, when known: the final `chmod` is skipped
    /// when it is already right.
    has_mode: Option<u32>,
    /// Whether something was at the target's name when the upload started.
    replaces: bool,
}

impl PendingFile {
    /// Starts an upload to `target`, failing if it is a directory. The final
    /// file keeps the mode of the file it replaces.
    pub(super) fn create(target: &Target) -> Result<Self, StorageError> {
        if target.is_root() {
            return Err(StorageError::os("Is a directory", "EISDIR"));
        }
        let (mode, replaces) = existing(target)?;
        Self::open_in(target, mode, replaces)
    }

    /// Starts an upload to `target` as if its name were free, without looking:
    /// for a body already received, which [`PendingFile::commit_new`] puts in
    /// place with one directory operation when the name is indeed free (the
    /// usual case), saving the lookup [`PendingFile::create`] makes.
    pub(super) fn create_unchecked(target: &Target) -> Result<Self, StorageError> {
        if target.is_root() {
            return Err(StorageError::os("Is a directory", "EISDIR"));
        }
        Self::open_in(target, NEW_FILE_MODE, false)
    }

    /// [`PendingFile::create_unchecked`] for the path `rest` of `owner`'s root
    /// below the canonical storage directory, resolving the path and creating
    /// the file in one system call ([`super::paths::open_parent_direct`]). `None`
    /// when that fast way does not apply (a symlink or a missing directory on
    /// the way, no `O_TMPFILE` here): then resolve the path and use
    /// [`PendingFile::create_unchecked`].
    pub(super) fn create_direct(
        storage_dir: &Path,
        owner: &str,
        rest: &[String],
    ) -> Option<(Target, Self)> {
        use rustix::fs::{Mode, OFlags};
        let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
        let mode = Mode::from_raw_mode(NEW_FILE_MODE);
        let (target, fd) = super::paths::open_parent_direct(storage_dir, owner, rest, flags, mode)?;
        let pending = Self {
            file: Arc::new(File::from(fd)),
            temp_path: None,
            mode: NEW_FILE_MODE,
            has_mode: created_mode(NEW_FILE_MODE),
            replaces: false,
        };
        Some((target, pending))
    }

    /// Opens the file that will become `target`.
    fn open_in(target: &Target, mode: u32, replaces: bool) -> Result<Self, StorageError> {
        let anonymous = unnamed::open_in(&target.parent, 0o600);
        let (file, temp_path) = match anonymous {
            Ok(file) => (file, None),
            // No O_TMPFILE on this filesystem (or kernel): a hidden file.
            Err(e) if unnamed::is_unsupported(&e) => {
                let (file, path) = tempfile::Builder::new()
                    .prefix(UPLOAD_PREFIX)
                    .tempfile_in(&target.parent)?
                    .into_parts();
                (file, Some(path))
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Self {
            file: Arc::new(file),
            temp_path,
            mode,
            has_mode: None,
            replaces,
        })
    }

    /// Puts the complete file under the target's name if nothing is there.
    /// Otherwise gives it back, set up as [`PendingFile::create`] would have
    /// done (the mode of the file it replaces; a directory is an error), for
    /// [`PendingFile::commit`].
    pub(super) fn commit_new(mut self, target: &Target) -> Result<Option<Self>, StorageError> {
        self.set_mode()?;
        let dst = target.path();
        match self.temp_path.take() {
            Some(temp_path) => match temp_path.persist_noclobber(&dst) {
                Ok(()) => return Ok(None),
                Err(e) if e.error.kind() == io::ErrorKind::AlreadyExists => {
                    self.temp_path = Some(e.path);
                }
                Err(e) => return Err(e.error.into()),
            },
            None => match unnamed::link(&self.file, &dst) {
                Ok(()) => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e.into()),
            },
        }
        (self.mode, self.replaces) = existing(target)?;
        Ok(Some(self))
    }

    /// Gives the file its final mode, unless it has it already.
    fn set_mode(&mut self) -> io::Result<()> {
        if self.has_mode != Some(self.mode) {
            self.file
                .set_permissions(std::fs::Permissions::from_mode(self.mode))?;
            self.has_mode = Some(self.mode);
        }
        Ok(())
    }

    /// Whether committing replaces an existing entry (whose blocks are then
    /// freed: not brief work on a disk that discards them synchronously).
    pub(super) fn replaces(&self) -> bool {
        self.replaces
    }

    /// The open file, to write the body into.
    pub(super) fn file(&self) -> Arc<File> {
        Arc::clone(&self.file)
    }

    /// Gives the complete file its mode and puts it under the target's name,
    /// replacing what is there.
    pub(super) fn commit(mut self, target: &Target) -> Result<(), StorageError> {
        self.set_mode()?;
        let dst = target.path();
        if let Some(temp_path) = self.temp_path {
            return temp_path
                .persist(&dst)
                .map_err(|e| StorageError::from(e.error));
        }
        match unnamed::link(&self.file, &dst) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
        // Replacing a file: link under a hidden name, then rename over it.
        let hidden = tempfile::Builder::new()
            .prefix(UPLOAD_PREFIX)
            .make_in(&target.parent, |path| unnamed::link(&self.file, path))?;
        hidden
            .into_temp_path()
            .persist(&dst)
            .map_err(|e| StorageError::from(e.error))
    }
}

/// The mode a file created with `mode` gets: `mode` less the process's umask,
/// read once from `/proc/self/status` (`None` if that cannot be read).
fn created_mode(mode: u32) -> Option<u32> {
    static UMASK: OnceLock<Option<u32>> = OnceLock::new();
    let umask = UMASK.get_or_init(|| {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let value = status.lines().find_map(|l| l.strip_prefix("Umask:"))?;
        u32::from_str_radix(value.trim(), 8).ok()
    });
    umask.map(|umask| mode & !umask)
}

/// The mode an upload to `target` gets and whether it replaces an entry: a
/// file keeps its mode, a directory cannot be replaced.
fn existing(target: &Target) -> Result<(u32, bool), StorageError> {
    match target.symlink_metadata() {
        Ok(meta) if meta.is_dir() => Err(StorageError::os("Is a directory", "EISDIR")),
        Ok(meta) if meta.is_file() => Ok((meta.permissions().mode() & 0o7777, true)),
        Ok(_) => Ok((NEW_FILE_MODE, true)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok((NEW_FILE_MODE, false)),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::ffi::OsString;
    use std::io::Write as _;

    use super::*;

    fn target(dir: &Path, name: &str) -> Target {
        Target {
            root: dir.to_path_buf(),
            parent: dir.to_path_buf(),
            name: Some(OsString::from(name)),
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_new_file_appears_complete_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let t = target(dir.path(), "f");
        let pending = PendingFile::create(&t).unwrap();
        assert!(!pending.replaces());
        (&*pending.file()).write_all(b"hello").unwrap();
        assert!(names(dir.path()).is_empty());
        pending.commit(&t).unwrap();
        assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"hello");
        let mode = std::fs::metadata(dir.path().join("f"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, NEW_FILE_MODE);
        assert_eq!(names(dir.path()), ["f"]);
    }

    #[test]
    fn a_replaced_file_keeps_its_mode_and_no_temporary_name_stays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"old content").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let t = target(dir.path(), "f");
        let pending = PendingFile::create(&t).unwrap();
        assert!(pending.replaces());
        (&*pending.file()).write_all(b"new").unwrap();
        pending.commit(&t).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(names(dir.path()), ["f"]);
    }

    #[test]
    fn a_dropped_upload_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), b"kept").unwrap();
        let t = target(dir.path(), "f");
        let pending = PendingFile::create(&t).unwrap();
        (&*pending.file()).write_all(b"partial").unwrap();
        drop(pending);
        assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"kept");
        assert_eq!(names(dir.path()), ["f"]);
    }

    #[test]
    fn an_unchecked_upload_takes_a_free_name_or_learns_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let t = target(dir.path(), "f");
        let pending = PendingFile::create_unchecked(&t).unwrap();
        (&*pending.file()).write_all(b"one").unwrap();
        assert!(pending.commit_new(&t).unwrap().is_none());
        assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"one");
        let mode = std::fs::metadata(dir.path().join("f"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, NEW_FILE_MODE);

        std::fs::set_permissions(dir.path().join("f"), std::fs::Permissions::from_mode(0o600))
            .unwrap();
        let pending = PendingFile::create_unchecked(&t).unwrap();
        (&*pending.file()).write_all(b"two").unwrap();
        let taken = pending.commit_new(&t).unwrap().unwrap();
        assert!(taken.replaces());
        assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"one");
        taken.commit(&t).unwrap();
        assert_eq!(std::fs::read(dir.path().join("f")).unwrap(), b"two");
        let mode = std::fs::metadata(dir.path().join("f"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(names(dir.path()), ["f"]);

        std::fs::create_dir(dir.path().join("d")).unwrap();
        let d = target(dir.path(), "d");
        let pending = PendingFile::create_unchecked(&d).unwrap();
        assert_eq!(
            pending.commit_new(&d).err(),
            Some(StorageError::os("Is a directory", "EISDIR"))
        );
        assert_eq!(names(dir.path()), ["d", "f"]);
    }

    #[test]
    fn a_direct_create_needs_real_directories_all_the_way() {
        let dir = tempfile::tempdir().unwrap();
        let storage = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(storage.join("alice/a")).unwrap();
        std::os::unix::fs::symlink(storage.join("alice/a"), storage.join("alice/link")).unwrap();
        let rest = |s: &str| s.split('/').map(str::to_owned).collect::<Vec<_>>();

        let (t, pending) = PendingFile::create_direct(&storage, "alice", &rest("a/f")).unwrap();
        assert_eq!(t.parent, storage.join("alice/a"));
        (&*pending.file()).write_all(b"data").unwrap();
        assert!(pending.commit_new(&t).unwrap().is_none());
        let path = storage.join("alice/a/f");
        assert_eq!(std::fs::read(&path).unwrap(), b"data");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, NEW_FILE_MODE);

        for path in ["link/f", "missing/f"] {
            assert!(PendingFile::create_direct(&storage, "alice", &rest(path)).is_none());
        }
        assert!(PendingFile::create_direct(&storage, "bob", &rest("f")).is_none());
        assert_eq!(names(&storage.join("alice/a")), ["f"]);
    }

    #[test]
    fn a_directory_is_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        assert_eq!(
            PendingFile::create(&target(dir.path(), "d")).err(),
            Some(StorageError::os("Is a directory", "EISDIR"))
        );
    }
}
