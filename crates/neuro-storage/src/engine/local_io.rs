//! Streaming local file I/O for transfers: positional reads and writes on a
//! blocking thread, a few chunks ahead of the network, so memory stays bounded
//! whatever the file size.

use std::io;
use std::os::unix::fs::FileExt as _;
use std::sync::Arc;

use bytes::Bytes;
use futures::Stream;
use neuro_types::buffers::BufferPool;
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

/// Streams `len` bytes of `src` from `offset`. A file that turns out shorter
/// than that ends the stream with an `UnexpectedEof` error.
pub fn read_range(
    src: &LocalSource,
    offset: u64,
    len: u64,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(AHEAD);
    let file = Arc::clone(&src.file);
    tokio::task::spawn_blocking(move || {
        // The queued chunks, the one being read and the one being sent.
        let pool = BufferPool::new(IO_CHUNK, AHEAD + 2);
        let mut pos = offset;
        let end = offset.saturating_add(len);
        while pos < end {
            let want = usize::try_from(end - pos).map_or(IO_CHUNK, |n| n.min(IO_CHUNK));
            let mut buf = pool.take();
            buf.reserve_exact(want);
            // Into the spare capacity: nothing is zeroed first.
            let spare = rustix::buffer::spare_capacity(&mut buf);
            let item = match rustix::io::pread(&*file, spare, pos) {
                Ok(0) => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file became shorter during the upload",
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

/// Writes a stream of chunks into a [`LocalSink`] from an offset: chunks are
/// batched (without copying) into about [`IO_CHUNK`] bytes that blocking
/// threads write. The first thread starts with the first full batch, so a
/// small file is opened and written by one blocking call in
/// [`FileWriter::finish`]; a file of several batches gets up to
/// [`WRITE_LANES`] threads, which take the batches in turn.
///
/// Batches are written with positional writes, so a later batch may land
/// before an earlier one. Everything handed over is written before
/// [`FileWriter::finish`] returns; only a process killed in the middle can
/// leave a hole of at most a few batches below the file's size, and a resumed
/// download starts below the first hole it finds.
pub struct FileWriter {
    sink: LocalSink,
    pending: Vec<Bytes>,
    pending_len: usize,
    pos: u64,
    lanes: Vec<Lane>,
    /// Batches handed to the lanes so far.
    sent: usize,
}

/// Blocking threads writing one file at once.
///
/// Filling the page cache costs the writer most of a download's time: every
/// new page is allocated, charged and copied into. Two threads do that about
/// twice as fast as one while the network side keeps up, and even more on a
/// virtual machine whose idle memory the host takes back, where a first touch
/// of a page is a fault on the host. More than two did not help on two cores.
pub const WRITE_LANES: usize = 2;

/// Writes `batch` at `pos`, chunk after chunk.
fn write_batch(file: &std::fs::File, mut pos: u64, batch: &[Bytes]) -> io::Result<()> {
    for chunk in batch {
        file.write_all_at(chunk, pos)?;
        pos += chunk.len() as u64;
    }
    Ok(())
}

/// One blocking thread of a [`FileWriter`].
struct Lane {
    tx: Option<mpsc::Sender<(u64, Vec<Bytes>)>>,
    done: Option<tokio::task::JoinHandle<io::Result<()>>>,
}

impl Lane {
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
            None => Ok(()),
        }
    }
}

/// Stops every lane (each finishes what it was handed) and returns the first
/// error.
async fn join_all(lanes: &mut [Lane]) -> io::Result<()> {
    let mut first = Ok(());
    for lane in lanes {
        let outcome = lane.join().await;
        if first.is_ok() {
            first = outcome;
        }
    }
    first
}

/// How many bytes from the start of `file` are surely written: the offset of
/// its first hole, which is its size when it has none (or when the file system
/// cannot tell). A download resumed from a file's size would otherwise keep the
/// zeros of a hole that an interrupted [`FileWriter`] left below it.
fn written_prefix(file: &std::fs::File) -> io::Result<u64> {
    let size = file.metadata()?.len();
    match rustix::fs::seek(file, rustix::fs::SeekFrom::Hole(0)) {
        Ok(hole) => Ok(hole.min(size)),
        // EINVAL / ENXIO: no SEEK_HOLE here, or nothing to seek in.
        Err(_) => Ok(size),
    }
}

/// Where a download into `sink` that was to resume from `offset` (the local
/// file's size) starts: below the first hole, when an interrupted
/// [`FileWriter`] left one. A file that cannot be opened keeps `offset`; the
/// writer reports why when it opens it.
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
            lanes: Vec::new(),
            sent: 0,
        }
    }

    /// Queues `chunk` after what was written so far.
    pub async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        self.pending_len += chunk.len();
        self.pending.push(chunk);
        if self.pending_len >= IO_CHUNK {
            self.send().await?;
        }
        Ok(())
    }

    async fn send(&mut self) -> io::Result<()> {
        let batch = std::mem::take(&mut self.pending);
        let len = std::mem::take(&mut self.pending_len) as u64;
        let index = self.sent % WRITE_LANES;
        if index == self.lanes.len() {
            self.lanes.push(Lane::start(self.sink.clone()));
        }
        let sent = match self.lanes.get(index).and_then(|lane| lane.tx.as_ref()) {
            Some(tx) => tx.send((self.pos, batch)).await.is_ok(),
            None => false,
        };
        if !sent {
            // A lane stopped: its error says why.
            return Err(join_all(&mut self.lanes)
                .await
                .err()
                .unwrap_or_else(|| io::Error::other("the file writer stopped")));
        }
        self.sent += 1;
        self.pos += len;
        Ok(())
    }

    /// Writes what is left and waits until everything is on disk (in the page
    /// cache); returns the first error, opening the file included. The file
    /// exists afterwards even when nothing was written.
    pub async fn finish(mut self) -> io::Result<()> {
        if self.lanes.is_empty() && self.pending_len as u64 <= IN_PLACE_BYTES {
            // A small file: open and write it here (see [`IN_PLACE_BYTES`]).
            return write_batch(&*self.sink.open_blocking()?, self.pos, &self.pending);
        }
        if self.lanes.is_empty() {
            let (sink, pos, batch) = (self.sink, self.pos, self.pending);
            return tokio::task::spawn_blocking(move || {
                write_batch(&*sink.open_blocking()?, pos, &batch)
            })
            .await
            .map_err(|e| io::Error::other(format!("file writer failed: {e}")))?;
        }
        let sent = if self.pending.is_empty() {
            Ok(())
        } else {
            self.send().await
        };
        let joined = join_all(&mut self.lanes).await;
        sent.and(joined)
    }
}
