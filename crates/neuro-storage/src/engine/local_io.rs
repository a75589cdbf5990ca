//! Streaming local file I/O for transfers: positional reads and writes on a
//! blocking thread, a few chunks ahead of the network, so memory stays bounded
//! whatever the file size.

use std::io;
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;
use neuro_io::blocks::read_blocks;
use neuro_io::buffers::BufferPool;
use neuro_io::files::write_batch;
use tokio::sync::mpsc;

use super::remote::{LocalSink, LocalSource};

/// Size of each local read or write.
pub const IO_CHUNK: usize = 512 << 10;

/// The largest file the engine opens, reads or writes on the calling task
/// instead of a blocking thread.
///
/// A few system calls on a small file served from the page cache take
/// microseconds, less than the two thread switches of a trip to tokio's
/// blocking pool, which were most of the client's time per file in a tree of
/// small files. Bigger files (and the rare slow disk) keep the blocking pool,
/// where a long read cannot hold up other tasks.
pub const IN_PLACE_BYTES: u64 = 64 << 10;
/// Chunks buffered between the disk and the network.
const AHEAD: usize = 2;

/// Streams `len` bytes of `src` from `offset`, in [`IO_CHUNK`] blocks read a
/// few ahead of the network (see [`read_blocks`]). A file that turns out
/// shorter than that ends the stream with an `UnexpectedEof` error.
pub fn read_range(
    src: &LocalSource,
    offset: u64,
    len: u64,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    read_blocks(Arc::clone(&src.file), offset, len, IO_CHUNK, AHEAD)
}

/// Writes a stream of chunks into a [`LocalSink`] from an offset: chunks are
/// batched into about [`IO_CHUNK`] bytes that a blocking thread writes. The
/// thread starts with the first full batch, so a small file is opened and
/// written by one blocking call in [`FileWriter::finish`]; the batches after
/// the first are copies in recycled blocks (see [`FileWriter::write`]).
pub struct FileWriter {
    sink: LocalSink,
    pending: Vec<Bytes>,
    pending_len: usize,
    pos: u64,
    thread: Option<Writer>,
    /// Blocks the chunks of a big file are copied into, once its writer
    /// thread runs (see [`FileWriter::write`]).
    blocks: Option<BufferPool>,
    /// The block being filled.
    block: Vec<u8>,
}

/// The blocking thread of a [`FileWriter`].
struct Writer {
    tx: Option<mpsc::Sender<(u64, Vec<Bytes>)>>,
    done: Option<tokio::task::JoinHandle<io::Result<()>>>,
}

impl Writer {
    fn start(sink: LocalSink) -> Self {
        let (tx, mut rx) = mpsc::channel::<(u64, Vec<Bytes>)>(AHEAD);
        let done = tokio::task::spawn_blocking(move || {
            let file = sink.open_blocking()?;
            while let Some((pos, batch)) = rx.blocking_recv() {
                write_batch(&file, pos, &batch)?;
            }
            Ok(())
        });
        Self {
            tx: Some(tx),
            done: Some(done),
        }
    }

    /// Stops the thread and returns its outcome.
    async fn join(&mut self) -> io::Result<()> {
        self.tx = None;
        match self.done.take() {
            Some(done) => done
                .await
                .map_err(|e| io::Error::other(format!("file writer failed: {e}")))?,
            None => Err(io::Error::other("the file writer stopped")),
        }
    }
}

/// How many bytes from the start of `file` are surely written: the offset of
/// its first hole, which is its size when it has none (or when the file system
/// cannot tell). A download resumed from a file's size would otherwise keep the
/// zeros of a hole below it (left by a tool that writes out of order, or in a
/// sparse copy).
fn written_prefix(file: &std::fs::File) -> io::Result<u64> {
    let size = file.metadata()?.len();
    match rustix::fs::seek(file, rustix::fs::SeekFrom::Hole(0)) {
        Ok(hole) => Ok(hole.min(size)),
        // EINVAL / ENXIO: no SEEK_HOLE here, or nothing to seek in.
        Err(_) => Ok(size),
    }
}

/// Where a download into `sink` that was to resume from `offset` (the local
/// file's size) starts: below the first hole, if the file has one. A file
/// that cannot be opened keeps `offset`; the writer reports why when it opens
/// it.
pub(crate) async fn resume_point(sink: &LocalSink, offset: u64) -> u64 {
    if offset == 0 {
        return 0;
    }
    let sink = sink.clone();
    tokio::task::spawn_blocking(move || sink.open_blocking().and_then(|file| written_prefix(&file)))
        .await
        .ok()
        .and_then(Result::ok)
        .map_or(offset, |prefix| prefix.min(offset))
}

impl FileWriter {
    /// Starts writing into `sink` at `offset`.
    pub fn new(sink: &LocalSink, offset: u64) -> Self {
        Self {
            sink: sink.clone(),
            pending: Vec::new(),
            pending_len: 0,
            pos: offset,
            thread: None,
            blocks: None,
            block: Vec::new(),
        }
    }

    /// Queues `chunk` after what was written so far.
    ///
    /// The first [`IO_CHUNK`] bytes are kept as they come. After that (a big
    /// file, written by a thread) chunks are copied into a few recycled
    /// blocks and dropped at once: the network's buffers are then free again
    /// by its next read and get reused. Kept until the thread has written
    /// them, they would be replaced by new allocations, which the allocator
    /// takes from the kernel and gives back, faulting in every page again;
    /// that cost more than the copy.
    pub async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        if self.thread.is_none() {
            self.pending_len += chunk.len();
            self.pending.push(chunk);
            if self.pending_len >= IO_CHUNK {
                self.send().await?;
            }
            return Ok(());
        }
        let blocks = self
            .blocks
            .get_or_insert_with(|| BufferPool::new(IO_CHUNK, AHEAD + 2))
            .clone();
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            if self.block.capacity() == 0 {
                self.block = blocks.take();
            }
            let n = rest.len().min(IO_CHUNK.saturating_sub(self.block.len()));
            self.block.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if self.block.len() >= IO_CHUNK {
                let full = blocks.freeze(std::mem::take(&mut self.block));
                self.pending_len = full.len();
                self.pending.push(full);
                self.send().await?;
            }
        }
        Ok(())
    }

    async fn send(&mut self) -> io::Result<()> {
        let batch = std::mem::take(&mut self.pending);
        let len = std::mem::take(&mut self.pending_len) as u64;
        let sink = &self.sink;
        let thread = self
            .thread
            .get_or_insert_with(|| Writer::start(sink.clone()));
        let sent = match &thread.tx {
            Some(tx) => tx.send((self.pos, batch)).await.is_ok(),
            None => false,
        };
        if !sent {
            // The writer stopped: its error says why.
            return Err(thread
                .join()
                .await
                .err()
                .unwrap_or_else(|| io::Error::other("the file writer stopped")));
        }
        self.pos += len;
        Ok(())
    }

    /// Writes what is left and waits until everything is on disk (in the page
    /// cache); returns the first error, opening the file included. The file
    /// exists afterwards even when nothing was written.
    pub async fn finish(mut self) -> io::Result<()> {
        if self.thread.is_none() && self.pending_len as u64 <= IN_PLACE_BYTES {
            // A small file: open and write it here (see [`IN_PLACE_BYTES`]).
            return write_batch(&*self.sink.open_blocking()?, self.pos, &self.pending);
        }
        if self.thread.is_none() {
            let (sink, pos, batch) = (self.sink, self.pos, self.pending);
            return tokio::task::spawn_blocking(move || {
                write_batch(&*sink.open_blocking()?, pos, &batch)
            })
            .await
            .map_err(|e| io::Error::other(format!("file writer failed: {e}")))?;
        }
        if !self.block.is_empty() {
            let rest = std::mem::take(&mut self.block);
            self.pending_len = rest.len();
            self.pending.push(Bytes::from(rest));
        }
        if !self.pending.is_empty() {
            self.send().await?;
        }
        match self.thread.as_mut() {
            Some(thread) => thread.join().await,
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A download written through a [`FileWriter`] in network-sized chunks
    /// ends byte for byte in the file, and the space reserved for its batches
    /// is the space its bytes take: none is left past the end of the file.
    #[tokio::test]
    async fn writes_the_bytes_and_reserves_only_what_it_writes() -> io::Result<()> {
        let dir = std::env::temp_dir().join(format!("file-writer-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("download");
        let body: Vec<u8> = (0..5 * IO_CHUNK + 777).map(|i| (i % 253) as u8).collect();
        let sink = LocalSink::new(&path, true);
        let mut writer = FileWriter::new(&sink, 0);
        for chunk in body.chunks(65_536 + 3) {
            writer.write(Bytes::copy_from_slice(chunk)).await?;
        }
        writer.finish().await?;

        let written = std::fs::read(&path)?;
        assert!(written == body, "the bytes differ");
        let past_end = neuro_io::files::reserved_past_end(&std::fs::metadata(&path)?);
        assert!(
            past_end <= 64 * 1024,
            "{past_end} bytes reserved past the end"
        );
        std::fs::remove_dir_all(&dir)
    }

    /// Once a big file's thread writes, the chunks handed to
    /// [`FileWriter::write`] are copied and let go of at once (so the
    /// network reuses its buffers), and the file still gets every byte.
    #[tokio::test]
    async fn lets_go_of_network_chunks_once_a_thread_writes() -> io::Result<()> {
        let dir = std::env::temp_dir().join(format!("file-writer-copy-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("download");
        let body: Vec<u8> = (0..3 * IO_CHUNK + 12_345)
            .map(|i| (i % 251) as u8)
            .collect();
        let sink = LocalSink::new(&path, true);
        let mut writer = FileWriter::new(&sink, 0);
        let (first, rest) = body.split_at(IO_CHUNK);
        // A whole batch: the thread starts.
        writer.write(Bytes::copy_from_slice(first)).await?;
        for piece in rest.chunks(100_003) {
            let chunk = Bytes::copy_from_slice(piece);
            let ours = chunk.clone();
            writer.write(chunk).await?;
            assert!(ours.is_unique(), "the writer kept a network chunk");
        }
        writer.finish().await?;
        assert!(std::fs::read(&path)? == body, "the bytes differ");
        std::fs::remove_dir_all(&dir)
    }
}
