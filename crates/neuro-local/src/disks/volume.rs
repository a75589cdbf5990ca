//! Where a disk's bytes live, and how its capacity is enforced.
//!
//! A real platform disk is a persistent volume of a fixed size: writing past it
//! fails with `ENOSPC`. neuro-local does the same with a per-disk filesystem
//! image when the kernel lets it:
//!
//! - [`Backing::Image`] (neuro-local runs as root with `CAP_SYS_ADMIN`,
//!   `/dev/loop-control` exists, the kernel has ext4, and `mkfs.ext4` and `mount`
//!   are installed): the disk is a sparse file `{data_dir}/disks/<id>.img` of
//!   `storage` bytes (at least [`MIN_IMAGE_BYTES`]) holding an ext4 filesystem
//!   without journal or reserved blocks, loop-mounted (`nosuid,nodev`, loop
//!   device auto-cleared on unmount) at `{data_dir}/disks/<id>` while the
//!   platform runs. Jobs bind-mount that directory as before, so their writes go
//!   through the kernel's ext4 and stop at the capacity with `ENOSPC`. The
//!   images are mounted when the platform starts ([`restore`](super::restore)) and unmounted
//!   when it stops ([`release_all`](super::release_all)).
//! - [`Backing::Directory`] otherwise (not root, inside a container without
//!   `CAP_SYS_ADMIN`, no loop devices, or `NEURO_LOCAL_DISK_IMAGES=0`): the disk
//!   is a plain directory and the capacity is advertised but not enforced. The
//!   reason is logged once.
//!
//! An unprivileged process cannot do better with the kernel alone: ext4, XFS
//! and loop devices need the initial user namespace's `CAP_SYS_ADMIN`, project
//! quotas need root too, and the file systems a user namespace may mount
//! (tmpfs, overlay, FUSE) either do not persist or need a FUSE driver.

use std::io;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use nix::mount::{umount2, MntFlags};

/// The smallest filesystem image made for a disk; smaller disks get this size
/// (ext4 needs room for its own metadata).
pub const MIN_IMAGE_BYTES: u64 = 1 << 20;

/// Environment variable that turns images off (`0`, `off`, `false`, `no`).
pub const IMAGES_ENV: &str = "NEURO_LOCAL_DISK_IMAGES";

/// How disks are stored on this machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backing {
    /// A loop-mounted ext4 image per disk: the capacity is enforced.
    Image,
    /// A plain directory per disk: the capacity is not enforced, for the
    /// reason given.
    Directory(String),
}

/// The backing of this process's disks (probed once).
pub fn backing() -> &'static Backing {
    static BACKING: OnceLock<Backing> = OnceLock::new();
    BACKING.get_or_init(|| {
        let backing = probe();
        match &backing {
            Backing::Image => {
                tracing::info!("disks are loop-mounted ext4 images (capacity enforced)")
            }
            Backing::Directory(why) => {
                tracing::info!(reason = %why, "disks are plain directories (capacity not enforced)")
            }
        }
        backing
    })
}

fn probe() -> Backing {
    if let Ok(value) = std::env::var(IMAGES_ENV) {
        if matches!(
            value.trim().to_ascii_lowercase().as_str(),
            "0" | "off" | "false" | "no"
        ) {
            return Backing::Directory(format!("{IMAGES_ENV}={value}"));
        }
    }
    if !nix::unistd::geteuid().is_root() {
        return Backing::Directory("neuro-local does not run as root".into());
    }
    if !has_sys_admin() {
        return Backing::Directory("no CAP_SYS_ADMIN (an unprivileged container?)".into());
    }
    if !Path::new("/dev/loop-control").exists() {
        return Backing::Directory("no /dev/loop-control".into());
    }
    let ext4 = std::fs::read_to_string("/proc/filesystems")
        .map(|list| list.split_whitespace().any(|fs| fs == "ext4"))
        .unwrap_or(false);
    if !ext4 {
        return Backing::Directory("the kernel has no ext4".into());
    }
    for program in ["mkfs.ext4", "mount"] {
        if find_program(program).is_none() {
            return Backing::Directory(format!("{program} is not installed"));
        }
    }
    Backing::Image
}

/// Whether the effective capabilities include `CAP_SYS_ADMIN` (bit 21).
fn has_sys_admin() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        })
        .is_some_and(|caps| caps & (1 << 21) != 0)
}

/// `program` on `PATH` or in the system binary directories.
fn find_program(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// The image file of the disk whose directory is `dir`.
pub fn image_of(dir: &Path) -> PathBuf {
    dir.with_extension("img")
}

/// Makes a disk of `storage` bytes at `dir`: the directory, and with
/// [`Backing::Image`] its formatted image, mounted there. Blocking.
pub fn create(dir: &Path, storage: u64) -> io::Result<()> {
    make_private_dir(dir)?;
    if *backing() != Backing::Image {
        return Ok(());
    }
    let image = image_of(dir);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&image)?;
    file.set_len(storage.max(MIN_IMAGE_BYTES))?;
    drop(file);
    run(
        Command::new(find_program("mkfs.ext4").unwrap_or_else(|| "mkfs.ext4".into()))
            .args([
                "-q",
                "-F",
                "-m",
                "0",
                "-O",
                "^has_journal",
                "-L",
                "neuro-disk",
            ])
            .arg(&image),
    )?;
    mount(dir)
}

/// Mounts the image of the disk at `dir` there, unless it is mounted already
/// or the disk has no image. Blocking.
pub fn mount(dir: &Path) -> io::Result<()> {
    let image = image_of(dir);
    if !image.is_file() {
        return if *backing() == Backing::Image {
            Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("the disk image {} is missing", image.display()),
            ))
        } else {
            Ok(())
        };
    }
    if is_mounted(dir) {
        return Ok(());
    }
    make_private_dir(dir)?;
    run(
        Command::new(find_program("mount").unwrap_or_else(|| "mount".into()))
            .args(["-t", "ext4", "-o", "loop,nosuid,nodev"])
            .arg(&image)
            .arg(dir),
    )?;
    // The filesystem's root replaces the directory: keep it private.
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
}

/// Unmounts the disk at `dir` if it is mounted (lazily: a running job keeps
/// its own view until it ends). Blocking.
pub fn unmount(dir: &Path) {
    if !is_mounted(dir) {
        return;
    }
    if let Err(err) = umount2(dir, MntFlags::MNT_DETACH) {
        tracing::warn!(dir = %dir.display(), error = %err, "cannot unmount a disk");
    }
}

/// Removes the disk at `dir`: unmounts it, then deletes the directory and the
/// image. Blocking.
pub fn remove(dir: &Path) -> io::Result<()> {
    unmount(dir);
    for result in [
        std::fs::remove_dir_all(dir),
        std::fs::remove_file(image_of(dir)),
    ] {
        match result {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(())
}

/// Unmounts every disk under `disks_dir` (when the platform stops). Blocking.
pub fn release_all(disks_dir: &Path) {
    let Ok(root) = disks_dir.canonicalize() else {
        return;
    };
    for point in mount_points() {
        if point.parent() == Some(root.as_path()) {
            unmount(&point);
        }
    }
}

/// Whether something is mounted at `dir`.
pub fn is_mounted(dir: &Path) -> bool {
    let Ok(dir) = dir.canonicalize() else {
        return false;
    };
    mount_points().contains(&dir)
}

/// The mount points of this process's mount namespace.
fn mount_points() -> Vec<PathBuf> {
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_mountinfo(field)))
        .collect()
}

/// `/proc/self/mountinfo` writes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut rest = field;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let code = rest.get(i + 1..i + 4);
        match code.and_then(|c| u8::from_str_radix(c, 8).ok()) {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[i + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn make_private_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        other => other,
    }
}

fn run(command: &mut Command) -> io::Result<()> {
    let out = command.output()?;
    if out.status.success() {
        return Ok(());
    }
    Err(io::Error::other(format!(
        "{:?} failed ({}): {}",
        command.get_program(),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo(r"/tmp/a\040b"), "/tmp/a b");
        assert_eq!(unescape_mountinfo(r"/x\134y"), r"/x\y");
        assert_eq!(unescape_mountinfo(r"/odd\9"), r"/odd\9");
        assert_eq!(
            image_of(Path::new("/d/disks/disk-1")),
            Path::new("/d/disks/disk-1.img")
        );
    }
}
