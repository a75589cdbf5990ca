//! Job mounts: a private view of the file system built with Linux mount (and,
//! when not root, user) namespaces and bind mounts.
//!
//! A job with mounts gets a new root: a `tmpfs` on which every top-level entry
//! of the host's `/` is bind-mounted (or, for symlinks, copied), except along the
//! paths that lead to a mount's container path. Those directories are
//! recreated in the `tmpfs` and filled the same way one level down, so a mount at
//! `/var/storage` shows the host's `/var/*` beside it without touching the host's
//! `/var`. The job's mounts are then bind-mounted at their container paths
//! (remounted read-only for `:ro`), and the process `pivot_root`s into the new root.
//!
//! A job whose image is in the platform's registry gets an overlay instead of
//! the `tmpfs`: the image's root file system below, a fresh writable directory
//! of the job above (`Sandbox::create_in_image`); the host's `/dev`, `/proc`
//! and `/sys` and the job's mounts are bound into it, and nothing else of the host.
//!
//! The plan is computed before the fork (`Sandbox::create`) as C strings, so the
//! child (`Sandbox::enter`) only makes system calls. A process started later in
//! the same job (`exec`) joins the job's namespaces instead (`Sandbox::join`).

use std::collections::BTreeSet;
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::io::{self, Write as _};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Component, Path, PathBuf};

use nix::fcntl::OFlag;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{setns, unshare, CloneFlags};
use nix::sys::stat::Mode;
use nix::sys::statvfs::{statvfs, FsFlags};

/// One bind mount of a job: `host` seen at `container`, read-only or not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    /// The file or directory on this machine.
    pub host: PathBuf,
    /// Absolute path inside the job.
    pub container: String,
    /// Whether the job may only read it.
    pub read_only: bool,
}

/// The resolved mounts of one job, prepared at its start. Storage volumes are
/// resolved by the jobs service; other sources (secret files, disks) add their
/// entries here the same way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobMounts {
    /// The bind mounts, in request order.
    pub binds: Vec<BindMount>,
}

impl JobMounts {
    /// Whether the job needs a sandbox at all.
    pub fn is_empty(&self) -> bool {
        self.binds.is_empty()
    }
}

/// The root file system of an image job: the image below, the job's writable
/// layer above (an overlay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRoot {
    /// The image's unpacked root file system (read-only, shared).
    pub lower: PathBuf,
    /// The job's writable layer, emptied at each start.
    pub upper: PathBuf,
    /// The overlay's work directory (same file system as `upper`).
    pub work: PathBuf,
}

/// The host directories an image job sees besides its image and mounts.
const HOST_SYSTEM_DIRS: [&str; 3] = ["dev", "proc", "sys"];

/// How a child enters its sandbox.
#[derive(Debug)]
pub(crate) enum Sandbox {
    /// New namespaces and a new root.
    Create(Plan),
    /// The namespaces of a running job.
    Join(Join),
}

/// New namespaces, the operations that build the new root, and where to start.
#[derive(Debug)]
pub(crate) struct Plan {
    user_ns: Option<IdMaps>,
    root: CString,
    /// Mount options of the image overlay; `None` for a `tmpfs` root.
    overlay: Option<CString>,
    ops: Vec<Op>,
    cwd: CString,
}

/// A running job's namespaces, opened before the fork.
#[derive(Debug)]
pub(crate) struct Join {
    namespaces: Vec<(OwnedFd, CloneFlags)>,
    cwd: CString,
}

/// The single-id maps of an unprivileged user namespace.
#[derive(Debug)]
struct IdMaps {
    uid_map: Vec<u8>,
    gid_map: Vec<u8>,
}

#[derive(Debug)]
enum Op {
    Mkdir(CString),
    Touch(CString),
    Symlink {
        target: CString,
        path: CString,
    },
    Bind {
        src: CString,
        dst: CString,
        read_only: Option<MsFlags>,
    },
}

fn c_path(path: &Path) -> io::Result<CString> {
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path contains a NUL byte"))
}

/// The components of an absolute container path, refusing `..` and relative
/// paths.
fn container_components(path: &str) -> io::Result<Vec<&OsStr>> {
    let p = Path::new(path);
    if !p.is_absolute() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("the container path {path} is not absolute"),
        ));
    }
    p.components()
        .filter_map(|c| match c {
            Component::RootDir | Component::CurDir => None,
            Component::Normal(name) => Some(Ok(name)),
            Component::ParentDir | Component::Prefix(_) => Some(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the container path {path} contains '..'"),
            ))),
        })
        .collect()
}

impl Sandbox {
    /// Plans a new root under `root_dir` (an empty directory, created here) with
    /// `mounts`; the job starts in `cwd` (a container path).
    pub fn create(root_dir: &Path, mounts: &JobMounts, cwd: &Path) -> io::Result<Sandbox> {
        std::fs::create_dir_all(root_dir)?;
        let mut targets = Vec::new();
        for bind in &mounts.binds {
            let parts: PathBuf = container_components(&bind.container)?.iter().collect();
            if parts.as_os_str().is_empty() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "a mount cannot replace the root directory",
                ));
            }
            targets.push(parts);
        }
        let mut builder = Builder {
            root: root_dir.to_path_buf(),
            targets: &targets,
            made: BTreeSet::new(),
            ops: Vec::new(),
        };
        builder.shadow(Path::new("/"), Path::new(""))?;
        builder.mount_all(mounts, &targets)?;
        Self::plan(root_dir, builder.ops, None, cwd)
    }

    /// Plans a new root under `root_dir`: the overlay of `image` with the
    /// host's system directories and `mounts` bound in; the job starts in `cwd`
    /// (created when the image lacks it). A mount path may not cross a symlink
    /// of the image.
    pub fn create_in_image(
        root_dir: &Path,
        image: &ImageRoot,
        mounts: &JobMounts,
        cwd: &Path,
    ) -> io::Result<Sandbox> {
        for dir in [&image.upper, &image.work] {
            if dir.exists() {
                std::fs::remove_dir_all(dir)?;
            }
            std::fs::create_dir_all(dir)?;
        }
        std::fs::create_dir_all(root_dir)?;
        let mut options = Vec::new();
        for (key, dir) in [
            ("lowerdir", &image.lower),
            ("upperdir", &image.upper),
            ("workdir", &image.work),
        ] {
            let text = dir
                .to_str()
                .filter(|t| !t.contains([',', ':']))
                .ok_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!("unusable overlay path {}", dir.display()),
                    )
                })?;
            options.push(format!("{key}={text}"));
        }
        let mut targets = Vec::new();
        for bind in &mounts.binds {
            let parts: PathBuf = container_components(&bind.container)?.iter().collect();
            let mut at = image.lower.clone();
            for part in parts.components() {
                at.push(part);
                if std::fs::symlink_metadata(&at).is_ok_and(|m| m.file_type().is_symlink()) {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "the mount path {} crosses a symlink of the image",
                            bind.container
                        ),
                    ));
                }
            }
            targets.push(parts);
        }
        let mut builder = Builder {
            root: root_dir.to_path_buf(),
            targets: &targets,
            made: BTreeSet::new(),
            ops: Vec::new(),
        };
        let system: Vec<BindMount> = HOST_SYSTEM_DIRS
            .iter()
            .map(|dir| BindMount {
                host: Path::new("/").join(dir),
                container: format!("/{dir}"),
                read_only: false,
            })
            .collect();
        for bind in &system {
            builder.mount(bind, Path::new(bind.container.trim_start_matches('/')))?;
        }
        builder.mount_all(mounts, &targets)?;
        let cwd_parts: PathBuf = container_components(&cwd.to_string_lossy())?
            .iter()
            .collect();
        builder.mkdir(&cwd_parts)?;
        let overlay = CString::new(options.join(",")).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "a path contains a NUL byte")
        })?;
        Self::plan(root_dir, builder.ops, Some(overlay), cwd)
    }

    fn plan(
        root_dir: &Path,
        ops: Vec<Op>,
        overlay: Option<CString>,
        cwd: &Path,
    ) -> io::Result<Sandbox> {
        let uid = nix::unistd::geteuid();
        let user_ns = (!uid.is_root()).then(|| {
            let gid = nix::unistd::getegid();
            IdMaps {
                uid_map: format!("{uid} {uid} 1\n").into_bytes(),
                gid_map: format!("{gid} {gid} 1\n").into_bytes(),
            }
        });
        Ok(Sandbox::Create(Plan {
            user_ns,
            root: c_path(root_dir)?,
            overlay,
            ops,
            cwd: c_path(cwd)?,
        }))
    }

    /// Joins the namespaces of the running process `pid` (a sandboxed job's
    /// main process); the new process starts in `cwd`.
    pub fn join(pid: i32, cwd: &Path) -> io::Result<Sandbox> {
        let own_user_ns = std::fs::read_link("/proc/self/ns/user")?;
        let user_ns = format!("/proc/{pid}/ns/user");
        let mut namespaces = Vec::new();
        // Joining one's own user namespace is refused (EINVAL): only a job
        // started by an unprivileged server has a user namespace of its own.
        if std::fs::read_link(&user_ns)? != own_user_ns {
            namespaces.push((File::open(&user_ns)?.into(), CloneFlags::CLONE_NEWUSER));
        }
        let mnt = File::open(format!("/proc/{pid}/ns/mnt"))?;
        namespaces.push((mnt.into(), CloneFlags::CLONE_NEWNS));
        Ok(Sandbox::Join(Join {
            namespaces,
            cwd: c_path(cwd)?,
        }))
    }

    /// Enters the sandbox. Runs in the forked child: system calls only.
    pub(crate) fn enter(&self) -> io::Result<()> {
        match self {
            Sandbox::Create(plan) => plan.enter(),
            Sandbox::Join(join) => {
                for (fd, kind) in &join.namespaces {
                    setns(fd, *kind)?;
                }
                nix::unistd::chdir(join.cwd.as_c_str())?;
                Ok(())
            }
        }
    }
}

impl Plan {
    fn enter(&self) -> io::Result<()> {
        let none: Option<&str> = None;
        match &self.user_ns {
            Some(maps) => {
                unshare(CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS)?;
                write_file("/proc/self/setgroups", b"deny")?;
                write_file("/proc/self/uid_map", &maps.uid_map)?;
                write_file("/proc/self/gid_map", &maps.gid_map)?;
            }
            None => unshare(CloneFlags::CLONE_NEWNS)?,
        }
        mount(none, "/", none, MsFlags::MS_REC | MsFlags::MS_PRIVATE, none)?;
        match &self.overlay {
            Some(options) => mount(
                Some("overlay"),
                self.root.as_c_str(),
                Some("overlay"),
                MsFlags::empty(),
                Some(options.as_c_str()),
            )?,
            None => mount(
                Some("tmpfs"),
                self.root.as_c_str(),
                Some("tmpfs"),
                MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                Some("mode=0755"),
            )?,
        }
        for op in &self.ops {
            match op {
                // An image may have the directory already.
                Op::Mkdir(path) => {
                    match nix::unistd::mkdir(path.as_c_str(), Mode::from_bits_truncate(0o755)) {
                        Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Op::Touch(path) => {
                    let fd = nix::fcntl::open(
                        path.as_c_str(),
                        OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_CLOEXEC,
                        Mode::from_bits_truncate(0o644),
                    )?;
                    nix::unistd::close(fd)?;
                }
                Op::Symlink { target, path } => {
                    nix::unistd::symlinkat(target.as_c_str(), None, path.as_c_str())?
                }
                Op::Bind {
                    src,
                    dst,
                    read_only,
                } => {
                    mount(
                        Some(src.as_c_str()),
                        dst.as_c_str(),
                        none,
                        MsFlags::MS_BIND | MsFlags::MS_REC,
                        none,
                    )?;
                    if let Some(locked) = read_only {
                        mount(
                            none,
                            dst.as_c_str(),
                            none,
                            MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | *locked,
                            none,
                        )?;
                    }
                }
            }
        }
        nix::unistd::chdir(self.root.as_c_str())?;
        nix::unistd::pivot_root(".", ".")?;
        umount2(".", MntFlags::MNT_DETACH)?;
        nix::unistd::chdir(self.cwd.as_c_str())?;
        Ok(())
    }
}

fn write_file(path: &str, data: &[u8]) -> io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .open(path)?
        .write_all(data)
}

/// The mount flags a read-only remount must keep: a user namespace may not
/// drop the `nosuid`, `nodev` and `noexec` flags of the mount it copies.
fn locked_flags(host: &Path) -> io::Result<MsFlags> {
    let flags = statvfs(host)?.flags();
    let mut locked = MsFlags::empty();
    for (fs, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
    ] {
        if flags.contains(fs) {
            locked |= ms;
        }
    }
    Ok(locked)
}

/// Builds the operations of a [`Plan`].
struct Builder<'a> {
    root: PathBuf,
    /// Container paths of the mounts, relative to `/`.
    targets: &'a [PathBuf],
    /// Directories the plan creates in the new root (relative paths).
    made: BTreeSet<PathBuf>,
    ops: Vec<Op>,
}

impl Builder<'_> {
    /// Reproduces the host directory `host` at `rel` of the new root: entries
    /// off the mounts' paths are bind-mounted, entries on them are recreated
    /// and filled one level down.
    fn shadow(&mut self, host: &Path, rel: &Path) -> io::Result<()> {
        let mut names: Vec<_> = std::fs::read_dir(host)?
            .filter_map(|e| e.ok().map(|e| e.file_name()))
            .collect();
        names.sort();
        for name in names {
            let entry_rel = rel.join(&name);
            let entry_host = host.join(&name);
            let on_path = self
                .targets
                .iter()
                .any(|t| t.starts_with(&entry_rel) && t != &entry_rel);
            let is_target = self.targets.iter().any(|t| t == &entry_rel);
            let Ok(meta) = std::fs::symlink_metadata(&entry_host) else {
                continue;
            };
            if is_target && !on_path {
                // Replaced by the mount.
                continue;
            }
            if on_path {
                // Directories (or symlinks to them) leading to a mount.
                let dir = std::fs::canonicalize(&entry_host)?;
                if dir.is_dir() {
                    self.mkdir(&entry_rel)?;
                    self.shadow(&dir, &entry_rel)?;
                }
                continue;
            }
            let dst = c_path(&self.root.join(&entry_rel))?;
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&entry_host)?;
                self.ops.push(Op::Symlink {
                    target: c_path(&target)?,
                    path: dst,
                });
                continue;
            }
            self.ops.push(if meta.is_dir() {
                Op::Mkdir(dst.clone())
            } else {
                Op::Touch(dst.clone())
            });
            self.ops.push(Op::Bind {
                src: c_path(&entry_host)?,
                dst,
                read_only: None,
            });
        }
        Ok(())
    }

    /// Mounts every bind of `mounts` at its target, in depth order so that a
    /// mount inside another one comes after it.
    fn mount_all(&mut self, mounts: &JobMounts, targets: &[PathBuf]) -> io::Result<()> {
        let mut order: Vec<usize> = (0..targets.len()).collect();
        order.sort_by_key(|i| targets[*i].components().count());
        for i in order {
            self.mount(&mounts.binds[i], &targets[i])?;
        }
        Ok(())
    }

    /// Creates `rel` (and its missing parents) in the new root.
    fn mkdir(&mut self, rel: &Path) -> io::Result<()> {
        let mut at = PathBuf::new();
        for part in rel.components() {
            at.push(part);
            if self.made.insert(at.clone()) {
                self.ops.push(Op::Mkdir(c_path(&self.root.join(&at))?));
            }
        }
        Ok(())
    }

    /// Mounts `bind` at `rel`.
    fn mount(&mut self, bind: &BindMount, rel: &Path) -> io::Result<()> {
        let meta = std::fs::metadata(&bind.host).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot mount {}: {e}", bind.host.display()),
            )
        })?;
        if let Some(parent) = rel.parent() {
            self.mkdir(parent)?;
        }
        let dst = c_path(&self.root.join(rel))?;
        if meta.is_dir() {
            self.mkdir(rel)?;
        } else if self.made.insert(rel.to_path_buf()) {
            self.ops.push(Op::Touch(dst.clone()));
        }
        let read_only = if bind.read_only {
            Some(locked_flags(&bind.host)?)
        } else {
            None
        };
        self.ops.push(Op::Bind {
            src: c_path(&bind.host)?,
            dst,
            read_only,
        });
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn container_paths_are_checked() {
        assert!(container_components("relative/x").is_err());
        assert!(container_components("/a/../b").is_err());
        assert_eq!(
            container_components("/var/./storage/").unwrap(),
            vec![OsStr::new("var"), OsStr::new("storage")]
        );
    }

    #[test]
    fn plan_recreates_the_path_to_a_mount() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let mounts = JobMounts {
            binds: vec![BindMount {
                host: data.clone(),
                container: "/var/neuro-test/volume".into(),
                read_only: true,
            }],
        };
        let root = dir.path().join("root");
        let Sandbox::Create(plan) = Sandbox::create(&root, &mounts, Path::new("/")).unwrap() else {
            panic!("expected a new sandbox");
        };
        let text = format!("{:?}", plan.ops);
        let var = root.join("var");
        // /var is recreated, its entries bound one by one, the mount comes last.
        assert!(text.contains(&format!("Mkdir({:?})", var.display().to_string())));
        assert!(!plan.ops.iter().any(|op| matches!(
            op,
            Op::Bind { dst, .. } if dst.to_bytes() == var.as_os_str().as_bytes()
        )));
        match plan.ops.last().unwrap() {
            Op::Bind {
                src,
                dst,
                read_only,
            } => {
                assert_eq!(src.to_bytes(), data.as_os_str().as_bytes());
                assert_eq!(
                    dst.to_bytes(),
                    root.join("var/neuro-test/volume").as_os_str().as_bytes()
                );
                assert!(read_only.is_some());
            }
            other => panic!("unexpected last op {other:?}"),
        }
    }
}
