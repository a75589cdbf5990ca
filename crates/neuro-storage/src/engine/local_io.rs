//! Streaming local file I/O for transfers: positional reads and writes on a
//! blocking thread, a few chunks ahead of the network, so memory stays bounded
//! whatever the file size.

use std::io;
use std::os::unix::fs::FileExt as _;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::Stream;
use tokio::sync::mpsc;

use super::remote::{LocalSink, LocalSource};

/// Size of each local read or write.
pub const IO_CHUNK: usize = 512 << 10;
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
        let mut pos = offset;
        let end = offset.saturating_add(len);
        while pos < end {
            let want = usize::try_from(end - pos).map_or(IO_CHUNK, |n| n.min(IO_CHUNK));
            let mut buf = BytesMut::zeroed(want);
            let item = match file.read_at(&mut buf, pos) {
                Ok(0) => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the file became shorter during the upload",
                )),
                Ok(n) => {
                    buf.truncate(n);
                    pos += n as u64;
                    Ok(buf.freeze())
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

/// Writes a stream of chunks into a file from an offset, gathering them into
/// [`IO_CHUNK`]s written by a blocking thread.
pub struct FileWriter {
    pending: BytesMut,
    pos: u64,
    tx: Option<mpsc::Sender<(u64, Bytes)>>,
    done: Option<tokio::task::JoinHandle<io::Result<()>>>,
}

impl FileWriter {
    /// Starts writing into `sink` at `offset`.
    pub fn new(sink: &LocalSink, offset: u64) -> Self {
        let (tx, mut rx) = mpsc::channel::<(u64, Bytes)>(AHEAD);
        let file = Arc::clone(&sink.file);
        let done = tokio::task::spawn_blocking(move || {
            while let Some((pos, chunk)) = rx.blocking_recv() {
                file.write_all_at(&chunk, pos)?;
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

    /// Queues `chunk` after what was written so far.
    pub async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        if self.pending.is_empty() && chunk.len() >= IO_CHUNK {
            // Large chunks go as they are, without a copy.
            return self.send(chunk).await;
        }
        self.pending.extend_from_slice(&chunk);
        if self.pending.len() >= IO_CHUNK {
            self.flush_pending().await?;
        }
        Ok(())
    }

    async fn flush_pending(&mut self) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let chunk = self.pending.split().freeze();
        self.send(chunk).await
    }

    async fn send(&mut self, chunk: Bytes) -> io::Result<()> {
        let len = chunk.len() as u64;
        let sent = match &self.tx {
            Some(tx) => tx.send((self.pos, chunk)).await.is_ok(),
            None => false,
        };
        if !sent {
            // The writer stopped: its error says why.
            return Err(self
                .finish_inner()
                .await
                .err()
                .unwrap_or_else(|| io::Error::other("the file writer stopped")));
        }
        self.pos += len;
        Ok(())
    }

    async fn finish_inner(&mut self) -> io::Result<()> {
        self.tx = None;
        match self.done.take() {
            Some(done) => done
                .await
                .map_err(|e| io::Error::other(format!("file writer failed: {e}")))?,
            None => Err(io::Error::other("the file writer stopped")),
        }
    }

    /// Writes what is left and waits until everything is on disk (in the page
    /// cache); returns the first write error.
    pub async fn finish(mut self) -> io::Result<()> {
        self.flush_pending().await?;
        self.finish_inner().await
    }
}
