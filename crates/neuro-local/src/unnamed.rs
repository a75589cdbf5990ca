//! Unnamed files (`O_TMPFILE`): written where nobody sees them, then given
//! their name in one step, so a reader never finds a half-written file and a
//! dropped upload leaves nothing (the file vanishes when closed). Storage
//! uploads and small bucket objects both create their files this way.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use nix::fcntl::AtFlags;

/// Opens a new unnamed file with `mode` (less the umask) on the file system
/// of the directory `dir`. Fails (see [`is_unsupported`]) where the file
/// system or kernel has no `O_TMPFILE`.
pub fn open_in(dir: &Path, mode: u32) -> io::Result<File> {
    std::fs::OpenOptions::new()
        .write(true)
        .mode(mode)
        .custom_flags(libc::O_TMPFILE)
        .open(dir)
}

/// Gives the unnamed (or any) open `file` the name `dst`, which must be free:
/// [`io::ErrorKind::AlreadyExists`] when it is taken.
pub fn link(file: &File, dst: &Path) -> io::Result<()> {
    let fd_path = format!("/proc/self/fd/{}", file.as_raw_fd());
    nix::unistd::linkat(
        None,
        Path::new(&fd_path),
        None,
        dst,
        AtFlags::AT_SYMLINK_FOLLOW,
    )
    .map_err(io::Error::from)
}

/// Errors by which [`open_in`] says `O_TMPFILE` is not supported there.
pub fn is_unsupported(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL)
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn an_unnamed_file_appears_only_when_linked() {
        let dir = tempfile::tempdir().unwrap();
        let mut file = open_in(dir.path(), 0o600).unwrap();
        file.write_all(b"data").unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let dst = dir.path().join("f");
        link(&file, &dst).unwrap();
        assert_eq!(std::fs::read(&dst).unwrap(), b"data");
        let again = link(&file, &dst).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
    }
}
