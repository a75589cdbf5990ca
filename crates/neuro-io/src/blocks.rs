//! A range of a file as a stream of blocks.

use std::io;
use std::os::fd::AsFd;

use bytes::Bytes;
use futures::Stream;
use tokio::sync::mpsc;

use crate::buffers::BufferPool;

/// Streams `len` bytes of `file` from `offset` in blocks of at most `block`
/// bytes, read on a blocking thread at most `queue` blocks ahead of the
/// consumer, into blocks that are recycled once the consumer drops them (see
/// [`BufferPool`]): one system call per block, memory bounded by `queue + 2`
/// blocks whatever the length.
///
/// A file that turns out shorter than `offset + len` ends the stream with an
/// [`UnexpectedEof`](io::ErrorKind::UnexpectedEof) error, so that a body
/// made from it is cut rather than short. The reads are positional: the
/// file's own offset is left alone, and several streams may read one shared
/// handle (an `Arc<File>`, say). Dropping the stream stops the reads.
///
/// Must be called within a Tokio runtime. See the [crate docs](crate) for an
/// example.
pub fn read_blocks<F>(
    file: F,
    offset: u64,
    len: u64,
    block: usize,
    queue: usize,
) -> impl Stream<Item = io::Result<Bytes>> + Send + Sync + 'static
where
    F: AsFd + Send + 'static,
{
    let block = block.max(1);
    let queue = queue.max(1);
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(queue);
    tokio::task::spawn_blocking(move || {
        // The queued blocks, the one being read and the one being consumed.
        let pool = BufferPool::new(block, queue + 2);
        let mut pos = offset;
        let end = offset.saturating_add(len);
        while pos < end {
            let want = usize::try_from(end - pos).map_or(block, |n| n.min(block));
            let mut buf = pool.take();
            buf.reserve_exact(want);
            // Into the spare capacity: nothing is zeroed first.
            let spare = rustix::buffer::spare_capacity(&mut buf);
            let item = match rustix::io::pread(&file, spare, pos) {
                Ok(0) => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file became shorter while it was read",
                )),
                Ok(n) => {
                    // A recycled block may have room for more than `want`.
                    let n = n.min(want);
                    buf.truncate(n);
                    pos += n as u64;
                    Ok(pool.freeze(buf))
                }
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => Err(e.into()),
            };
            let stop = item.is_err();
            if tx.blocking_send(item).is_err() || stop {
                break;
            }
        }
    });
    futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::{StreamExt as _, TryStreamExt as _};

    use super::*;

    fn file_with(name: &str, bytes: &[u8]) -> io::Result<(std::path::PathBuf, Arc<std::fs::File>)> {
        let path = std::env::temp_dir().join(format!("neuro-io-{name}-{}", std::process::id()));
        std::fs::write(&path, bytes)?;
        let file = Arc::new(std::fs::File::open(&path)?);
        Ok((path, file))
    }

    /// A range comes back whole, in blocks no bigger than asked for, and the
    /// reads leave the shared handle's offset alone.
    #[tokio::test]
    async fn reads_the_range_in_blocks() -> io::Result<()> {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 241) as u8).collect();
        let (path, file) = file_with("range", &data)?;
        let blocks: Vec<Bytes> = read_blocks(Arc::clone(&file), 1_000, 90_001, 8_192, 2)
            .try_collect()
            .await?;
        assert!(blocks.iter().all(|b| !b.is_empty() && b.len() <= 8_192));
        assert!(blocks.concat() == data[1_000..91_001], "the bytes differ");
        let offset = rustix::fs::seek(&*file, rustix::fs::SeekFrom::Current(0))?;
        assert_eq!(offset, 0, "the handle's offset moved");
        std::fs::remove_file(&path)
    }

    /// Asking for more than the file holds ends in `UnexpectedEof` after the
    /// bytes that are there.
    #[tokio::test]
    async fn a_short_file_ends_in_an_error() -> io::Result<()> {
        let (path, file) = file_with("short", b"0123456789")?;
        let items: Vec<io::Result<Bytes>> = read_blocks(file, 4, 100, 4, 1).collect().await;
        let (read, failed): (Vec<_>, Vec<_>) = items.into_iter().partition(Result::is_ok);
        let got: Vec<u8> = read.into_iter().flatten().flatten().collect();
        let errors: Vec<io::ErrorKind> = failed
            .into_iter()
            .filter_map(Result::err)
            .map(|e| e.kind())
            .collect();
        assert_eq!(errors, [io::ErrorKind::UnexpectedEof]);
        assert_eq!(got, b"456789");
        std::fs::remove_file(&path)
    }

    /// An empty range reads nothing.
    #[tokio::test]
    async fn an_empty_range_is_an_empty_stream() -> io::Result<()> {
        let (path, file) = file_with("empty", b"abc")?;
        let blocks: Vec<Bytes> = read_blocks(file, 1, 0, 4, 1).try_collect().await?;
        assert!(blocks.is_empty());
        std::fs::remove_file(&path)
    }
}
