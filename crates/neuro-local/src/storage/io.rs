//! File bodies on blocking threads: reads and writes of large blocks with
//! positional I/O, a couple of blocks ahead of the socket, so big transfers
//! cost one system call per block instead of one thread hop per network chunk.

use std::io;

use bytes::Bytes;
use futures::Stream;
use neuro_io::files::write_batch;
use tokio::sync::mpsc;

/// Size of each disk read or write.
pub(super) const BLOCK: usize = 1 << 20;
/// Blocks queued between the disk and the socket.
const QUEUE: usize = 2;

/// Streams `len` bytes of `file` from `offset` in [`BLOCK`]s, [`QUEUE`]
/// ahead of the socket (see [`neuro_io::blocks::read_blocks`]). A file that
/// ends early ends the stream with an error, so the response is cut rather
/// than short.
pub(crate) fn read_blocks(
    file: std::fs::File,
    offset: u64,
    len: u64,
) -> impl Stream<Item = io::Result<Bytes>> + Send + Sync + 'static {
    neuro_io::blocks::read_blocks(file, offset, len, BLOCK, QUEUE)
}

/// What sees every chunk a [`BlockWriter`] writes, on its blocking thread
/// (a hash of the body, say), and is handed back by [`BlockWriter::finish`].
pub(crate) trait Inspect: Send + 'static {
    /// Sees the next `chunk`, in the body's order.
    fn inspect(&mut self, chunk: &[u8]);
}

/// Nothing to see.
impl Inspect for () {
    fn inspect(&mut self, _chunk: &[u8]) {}
}

/// Writes a body into a file from an offset: network chunks are batched
/// (without copying) into about [`BLOCK`] bytes that a blocking thread
/// reserves on disk and writes ([`write_batch`]), showing each chunk to an
/// [`Inspect`] first.
pub(crate) struct BlockWriter<I = ()> {
    pending: Vec<Bytes>,
    pending_len: usize,
    pos: u64,
    tx: Option<mpsc::Sender<(u64, Vec<Bytes>)>>,
    done: Option<tokio::task::JoinHandle<io::Result<I>>>,
}

impl BlockWriter {
    /// Writes into `file` from `offset`.
    pub(crate) fn new(file: std::sync::Arc<std::fs::File>, offset: u64) -> Self {
        Self::inspected(file, offset, ())
    }
}

impl<I: Inspect> BlockWriter<I> {
    /// Writes into `file` from `offset`, showing every chunk to `inspector`.
    pub(crate) fn inspected(
        file: std::sync::Arc<std::fs::File>,
        offset: u64,
        mut inspector: I,
    ) -> Self {
        let (tx, mut rx) = mpsc::channel::<(u64, Vec<Bytes>)>(QUEUE);
        let done = tokio::task::spawn_blocking(move || {
            while let Some((pos, batch)) = rx.blocking_recv() {
                for chunk in &batch {
                    inspector.inspect(chunk);
                }
                write_batch(&file, pos, &batch)?;
            }
            Ok(inspector)
        });
        Self {
            pending: Vec::new(),
            pending_len: 0,
            pos: offset,
            tx: Some(tx),
            done: Some(done),
        }
    }

    /// Appends `chunk`.
    pub(crate) async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        self.pending_len += chunk.len();
        self.pending.push(chunk);
        if self.pending_len >= BLOCK {
            self.send().await?;
        }
        Ok(())
    }

    async fn send(&mut self) -> io::Result<()> {
        let batch = std::mem::take(&mut self.pending);
        let len = std::mem::take(&mut self.pending_len) as u64;
        let sent = match &self.tx {
            Some(tx) => tx.send((self.pos, batch)).await.is_ok(),
            None => false,
        };
        if !sent {
            return Err(self
                .join()
                .await
                .err()
                .unwrap_or_else(|| io::Error::other("the file writer stopped")));
        }
        self.pos += len;
        Ok(())
    }

    async fn join(&mut self) -> io::Result<I> {
        self.tx = None;
        match self.done.take() {
            Some(done) => done.await.map_err(io::Error::other)?,
            None => Err(io::Error::other("the file writer stopped")),
        }
    }

    /// Writes what is left, waits for the disk writes to finish and gives
    /// the inspector back.
    pub(crate) async fn finish(mut self) -> io::Result<I> {
        if !self.pending.is_empty() {
            self.send().await?;
        }
        self.join().await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    /// A body in odd-sized chunks lands byte for byte at its offset, and the
    /// space reserved for each batch is the space its bytes take: nothing is
    /// left reserved past the end of the file.
    #[tokio::test]
    async fn writes_at_the_offset_and_reserves_only_what_it_writes() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("body");
        std::fs::write(&path, b"head:")?;
        let file = Arc::new(std::fs::OpenOptions::new().write(true).open(&path)?);
        let body: Vec<u8> = (0..3 * BLOCK + 12_345).map(|i| (i % 251) as u8).collect();
        let mut writer = BlockWriter::new(Arc::clone(&file), 5);
        for chunk in body.chunks(70_001) {
            writer.write(Bytes::copy_from_slice(chunk)).await?;
        }
        writer.finish().await?;

        let written = std::fs::read(&path)?;
        assert_eq!(&written[..5], b"head:");
        assert!(written[5..] == body[..], "the body differs");
        let past_end = neuro_io::files::reserved_past_end(&std::fs::metadata(&path)?);
        assert!(
            past_end <= 64 * 1024,
            "{past_end} bytes reserved past the end"
        );
        Ok(())
    }
}
