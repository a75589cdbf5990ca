//! File bodies on blocking threads: reads and writes of large blocks with
//! positional I/O, a couple of blocks ahead of the socket, so big transfers
//! cost one system call per block instead of one thread hop per network chunk.

use std::io;
use std::os::unix::fs::FileExt as _;

use bytes::{Bytes, BytesMut};
use futures::Stream;
use tokio::sync::mpsc;

/// Size of each disk read or write.
pub(super) const BLOCK: usize = 1 << 20;
/// Blocks queued between the disk and the socket.
const QUEUE: usize = 2;

/// Streams `len` bytes of `file` from `offset`. A file that ends early ends
/// the stream with an error, so the response is cut rather than short.
pub(super) fn read_blocks(
    file: std::fs::File,
    offset: u64,
    len: u64,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::task::spawn_blocking(move || {
        let (mut pos, end) = (offset, offset.saturating_add(len));
        while pos < end {
            let want = usize::try_from(end - pos).map_or(BLOCK, |n| n.min(BLOCK));
            let mut block = BytesMut::zeroed(want);
            let item = match file.read_at(&mut block, pos) {
                Ok(0) => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file shrank while being read",
                )),
                Ok(n) => {
                    block.truncate(n);
                    pos += n as u64;
                    Ok(block.freeze())
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
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

/// Writes a body into a file from an offset: network chunks are gathered into
/// [`BLOCK`]s that a blocking thread writes.
pub(super) struct BlockWriter {
    pending: BytesMut,
    pos: u64,
    tx: Option<mpsc::Sender<(u64, Bytes)>>,
    done: Option<tokio::task::JoinHandle<io::Result<()>>>,
}

impl BlockWriter {
    /// Writes into `file` from `offset`.
    pub(super) fn new(file: std::fs::File, offset: u64) -> Self {
        let (tx, mut rx) = mpsc::channel::<(u64, Bytes)>(QUEUE);
        let done = tokio::task::spawn_blocking(move || {
            while let Some((pos, block)) = rx.blocking_recv() {
                file.write_all_at(&block, pos)?;
            }
            Ok(())
        });
        Self {
            pending: BytesMut::new(),
            pos: offset,
            tx: Some(tx),
            done: Some(done),
        }
    }

    /// Appends `chunk`.
    pub(super) async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        if self.pending.is_empty() && chunk.len() >= BLOCK {
            // Large chunks go as they are, without a copy.
            return self.send(chunk).await;
        }
        self.pending.extend_from_slice(&chunk);
        if self.pending.len() >= BLOCK {
            let block = self.pending.split().freeze();
            self.send(block).await?;
        }
        Ok(())
    }

    async fn send(&mut self, block: Bytes) -> io::Result<()> {
        let len = block.len() as u64;
        let sent = match &self.tx {
            Some(tx) => tx.send((self.pos, block)).await.is_ok(),
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

    async fn join(&mut self) -> io::Result<()> {
        self.tx = None;
        match self.done.take() {
            Some(done) => done.await.map_err(io::Error::other)?,
            None => Err(io::Error::other("the file writer stopped")),
        }
    }

    /// Writes what is left and waits for the disk writes to finish.
    pub(super) async fn finish(mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            let block = self.pending.split().freeze();
            self.send(block).await?;
        }
        self.join().await
    }
}
