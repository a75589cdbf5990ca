//! Where the files of new small objects are created before they are linked
//! into their directories: `{root}/.neuro-staging/<window>-<n>`, a new
//! directory every [`USES`] files or [`WINDOW`] seconds, under a parent
//! marked as the top of a directory hierarchy (ext4's `FS_TOPDIR_FL`).
//!
//! ext4 allocates a file's inode in the block group of the directory it is
//! created in, scanning that group from its start; without a journal it
//! skips every inode freed in the last half minute, one inode-table lookup
//! each. Created in the object's own directory, the objects of a tree
//! uploaded right after the same tree was removed (or next to other
//! programs that create and delete many files) pay for every recent
//! removal: several milliseconds per file. Below a top directory, ext4
//! places each new subdirectory in a group with more free inodes than
//! average and few directories (its Orlov policy), so each directory's files
//! land in a fresh group and allocating them is cheap. Only unnamed files
//! (`O_TMPFILE`) are created here, so the directories stay empty; those of
//! windows older than [`KEEP`] are removed. On file systems without the
//! flag this is a plain directory, and nothing is lost.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// How long one staging directory is used at most.
const WINDOW: u64 = 10;

/// How many files one staging directory gets at most (so a tree uploaded
/// right after the previous one was removed finds fresh groups too).
const USES: u32 = 1_000;

/// Windows kept before a staging directory is removed.
const KEEP: u64 = 30;

/// The staging directories under `{root}/.neuro-staging`, named
/// `<window>-<n>`.
pub struct Staging {
    base: PathBuf,
    /// The directory in use.
    current: Mutex<Option<Current>>,
}

struct Current {
    window: u64,
    /// Directories made in this window so far.
    made: u32,
    /// Files created in this one so far.
    uses: u32,
    dir: PathBuf,
}

impl Staging {
    /// The staging area under `root` (created, emptied of old windows).
    pub fn new(root: &Path) -> std::io::Result<Self> {
        let base = root.join(".neuro-staging");
        std::fs::create_dir_all(&base)?;
        if let Err(e) = mark_top_dir(&base) {
            tracing::debug!(error = %e, "staging directory not marked as a top directory");
        }
        let staging = Self {
            base,
            current: Mutex::new(None),
        };
        staging.prune(u64::MAX);
        Ok(staging)
    }

    /// The directory to create the next file in (a new one when the window
    /// changes or this one has had its share of files).
    pub fn dir(&self) -> std::io::Result<PathBuf> {
        let window = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() / WINDOW)
            .unwrap_or(0);
        let mut current = self
            .current
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let made = match current.as_mut() {
            Some(c) if c.window == window && c.uses < USES => {
                c.uses += 1;
                return Ok(c.dir.clone());
            }
            Some(c) if c.window == window => c.made + 1,
            _ => 0,
        };
        let dir = self.base.join(format!("{window}-{made}"));
        match std::fs::create_dir(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
            _ => {}
        }
        *current = Some(Current {
            window,
            made,
            uses: 1,
            dir: dir.clone(),
        });
        drop(current);
        if made == 0 {
            self.prune(window.saturating_sub(KEEP));
        }
        Ok(dir)
    }

    /// Removes the (empty) directories of windows before `before`.
    fn prune(&self, before: u64) {
        let Ok(entries) = std::fs::read_dir(&self.base) else {
            return;
        };
        for entry in entries.flatten() {
            let old = entry
                .file_name()
                .to_str()
                .and_then(|name| name.split('-').next()?.parse::<u64>().ok())
                .is_some_and(|window| window < before);
            if old {
                let _ = std::fs::remove_dir(entry.path());
            }
        }
    }
}

/// Sets `FS_TOPDIR_FL` (`chattr +T`) on the directory `dir`.
fn mark_top_dir(dir: &Path) -> std::io::Result<()> {
    use rustix::fs::{ioctl_getflags, ioctl_setflags, IFlags};
    let file = std::fs::File::open(dir)?;
    let flags = ioctl_getflags(&file)?;
    if !flags.contains(IFlags::TOPDIR) {
        ioctl_setflags(&file, flags | IFlags::TOPDIR)?;
    }
    Ok(())
}
