//! Unnamed files (`O_TMPFILE`): written where nobody sees them, then given
//! their name in one step, so a reader never finds a half-written file and a
//! dropped upload leaves nothing (the file vanishes when closed). Storage
//! uploads and small bucket objects both create their files this way.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use rustix::fs::AtFlags;

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
///
/// Linked by its descriptor (`AT_EMPTY_PATH`), which Linux allows the
/// process that opened the file since 6.10 (before, only with
/// `CAP_DAC_READ_SEARCH`); elsewhere through its `/proc/self/fd` link, which
/// costs every small upload a path walk through procfs.
pub fn link(file: &File, dst: &Path) -> io::Result<()> {
    match rustix::fs::linkat(file, "", rustix::fs::CWD, dst, AtFlags::EMPTY_PATH) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::PERM | rustix::io::Errno::NOENT | rustix::io::Errno::INVAL) => {
            link_by_proc(file, dst)
        }
        Err(e) => Err(e.into()),
    }
}

fn link_by_proc(file: &File, dst: &Path) -> io::Result<()> {
    let fd_path = format!("/proc/self/fd/{}", file.as_raw_fd());
    rustix::fs::linkat(
        rustix::fs::CWD,
        Path::new(&fd_path),
        rustix::fs::CWD,
        dst,
        AtFlags::SYMLINK_FOLLOW,
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
        // The way older kernels take.
        let other = dir.path().join("g");
        link_by_proc(&file, &other).unwrap();
        assert_eq!(std::fs::read(&other).unwrap(), b"data");
    }
}
