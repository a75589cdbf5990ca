//! Helpers for the files that streamed bodies are written into.

use std::fs::File;
use std::io;

/// Batches shorter than this are written without [`preallocate`]: the saving
/// is per page written, the call is not free.
pub const PREALLOCATE_FROM: u64 = 256 << 10;

/// Reserves disk space for the `len` bytes of `file` from `offset` that the
/// caller is about to write (when `len` is at least [`PREALLOCATE_FROM`]),
/// without changing the file's size.
///
/// Writing into reserved space skips the file system's delayed-allocation
/// bookkeeping for every page (on ext4, that cut the CPU time neuro-local
/// spends on a 1 GiB upload by about a seventh). Reserve only what is already
/// in hand: space reserved past the end of a file stays allocated until the
/// file is truncated or removed, so a body that stopped early would leave it
/// behind. A full disk or quota is an error (the write would fail the same
/// way); where the file system cannot preallocate (some FUSE and network file
/// systems, special files), the bytes are written as usual.
///
/// ```
/// use std::os::unix::fs::FileExt as _;
///
/// let path = std::env::temp_dir().join(format!("prealloc-doc-{}", std::process::id()));
/// let file = std::fs::File::create(&path)?;
/// let batch = vec![7u8; 1 << 20];
/// neuro_io::files::preallocate(&file, 0, batch.len() as u64)?;
/// assert_eq!(file.metadata()?.len(), 0); // the size is unchanged ...
/// file.write_all_at(&batch, 0)?;
/// assert_eq!(file.metadata()?.len(), 1 << 20); // ... until the bytes are written
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn preallocate(file: &File, offset: u64, len: u64) -> io::Result<()> {
    if len < PREALLOCATE_FROM {
        return Ok(());
    }
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::KEEP_SIZE, offset, len) {
        Ok(()) => Ok(()),
        Err(e @ (rustix::io::Errno::NOSPC | rustix::io::Errno::DQUOT)) => Err(e.into()),
        // Not supported here (EOPNOTSUPP; EINVAL or ENODEV on some file
        // systems and special files): the writes allocate as they go.
        Err(_) => Ok(()),
    }
}

/// Writes `batch`, chunk after chunk, at `pos` of `file`, into space
/// reserved for the whole batch first (see [`preallocate`]): how both the
/// SDK's downloads and neuro-local's uploads put a batch of network chunks on
/// disk.
///
/// ```
/// let path = std::env::temp_dir().join(format!("write-batch-doc-{}", std::process::id()));
/// let file = std::fs::File::create(&path)?;
/// let batch = [bytes::Bytes::from_static(b"abc"), bytes::Bytes::from_static(b"def")];
/// neuro_io::files::write_batch(&file, 2, &batch)?;
/// assert_eq!(std::fs::read(&path)?, b"\0\0abcdef");
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn write_batch(file: &File, mut pos: u64, batch: &[bytes::Bytes]) -> io::Result<()> {
    use std::os::unix::fs::FileExt as _;

    let len = batch.iter().map(|chunk| chunk.len() as u64).sum();
    preallocate(file, pos, len)?;
    for chunk in batch {
        file.write_all_at(chunk, pos)?;
        pos += chunk.len() as u64;
    }
    Ok(())
}

/// How many bytes of disk `meta`'s file holds past its end (beyond its size
/// rounded up to 4 KiB pages): space reserved and never written, such as
/// [`preallocate`] leaves when a caller reserves more than it then writes.
///
/// ```
/// let path = std::env::temp_dir().join(format!("past-end-doc-{}", std::process::id()));
/// let file = std::fs::File::create(&path)?;
/// neuro_io::files::preallocate(&file, 0, 1 << 20)?; // reserved, nothing written
/// assert!(neuro_io::files::reserved_past_end(&file.metadata()?) >= 1 << 20);
/// std::fs::remove_file(&path)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn reserved_past_end(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt as _;

    let allocated = meta.blocks() * 512;
    allocated.saturating_sub(meta.len().div_ceil(4096) * 4096)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{FileExt as _, MetadataExt as _};

    #[test]
    fn reserves_without_changing_the_size() -> io::Result<()> {
        let dir = std::env::temp_dir().join(format!("prealloc-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("f");
        let file = File::create(&path)?;
        preallocate(&file, 0, 4096)?;
        assert_eq!(file.metadata()?.blocks(), 0, "small batches are left alone");
        preallocate(&file, 0, 1 << 20)?;
        // Reserved (ext4, XFS, btrfs and tmpfs all count it in `st_blocks`),
        // but not part of the file.
        assert!(
            file.metadata()?.blocks() * 512 >= 1 << 20,
            "nothing reserved"
        );
        assert_eq!(file.metadata()?.len(), 0);
        file.write_all_at(b"data", 0)?;
        assert_eq!(file.metadata()?.len(), 4);
        assert_eq!(std::fs::read(&path)?, b"data");
        std::fs::remove_dir_all(&dir)
    }
}
