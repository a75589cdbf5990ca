//! A job's log on disk: `log` holds the bytes of stdout and stderr (or of the
//! terminal) in arrival order, `log.idx` records when each chunk arrived, so
//! the monitoring service can answer `since` and `timestamps`.
//!
//! `log.idx` is a sequence of 16-byte records: the chunk's offset in `log` and
//! its arrival time in microseconds since the epoch, both little-endian.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write as _};
use std::path::{Path, PathBuf};

use super::model::now_us;

/// Size of one index record.
const RECORD: usize = 16;

/// Read size of the output pump.
const CHUNK: usize = 64 * 1024;

/// `log` in `dir`.
pub fn log_path(dir: &Path) -> PathBuf {
    dir.join("log")
}

/// `log.idx` in `dir`.
pub fn index_path(dir: &Path) -> PathBuf {
    dir.join("log.idx")
}

/// Appends a process's output to a job's log.
#[derive(Debug)]
pub(crate) struct LogWriter {
    log: File,
    index: File,
    len: u64,
}

impl LogWriter {
    /// Opens the log of the job whose directory is `dir`, for appending.
    pub fn open(dir: &Path) -> io::Result<LogWriter> {
        let append = |path: PathBuf| OpenOptions::new().create(true).append(true).open(path);
        let log = append(log_path(dir))?;
        let index = append(index_path(dir))?;
        let len = log.metadata()?.len();
        Ok(LogWriter { log, index, len })
    }

    /// Copies `source` into the log until its end, calling `grew` with the new
    /// length after each chunk. A failing log write is reported once; the source
    /// is still drained so the process never blocks on a full pipe.
    pub fn pump(mut self, mut source: impl Read, grew: impl Fn(u64)) {
        let mut buf = vec![0u8; CHUNK];
        let mut failed = false;
        loop {
            let n = match source.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read a job's output");
                    return;
                }
            };
            if failed {
                continue;
            }
            let mut record = [0u8; RECORD];
            record[..8].copy_from_slice(&self.len.to_le_bytes());
            record[8..].copy_from_slice(&now_us().to_le_bytes());
            let written = self
                .index
                .write_all(&record)
                .and_then(|()| self.log.write_all(&buf[..n]));
            match written {
                Ok(()) => {
                    self.len += n as u64;
                    grew(self.len);
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot write a job's log");
                    failed = true;
                }
            }
        }
    }
}

/// When each chunk of a log arrived.
#[derive(Debug, Default, Clone)]
pub struct LogIndex {
    /// (offset, time in µs), by offset.
    entries: Vec<(u64, i64)>,
    /// Bytes of `log.idx` consumed.
    read: u64,
}

impl LogIndex {
    /// Reads the records added to `log.idx` in `dir` since the last call.
    pub fn refresh(&mut self, dir: &Path) -> io::Result<()> {
        let mut file = match File::open(index_path(dir)) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        io::Seek::seek(&mut file, io::SeekFrom::Start(self.read))?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        for record in data.chunks_exact(RECORD) {
            let mut offset = [0u8; 8];
            let mut time = [0u8; 8];
            offset.copy_from_slice(&record[..8]);
            time.copy_from_slice(&record[8..]);
            self.entries
                .push((u64::from_le_bytes(offset), i64::from_le_bytes(time)));
        }
        self.read += (data.len() - data.len() % RECORD) as u64;
        Ok(())
    }

    /// Arrival time of the byte at `offset` (µs), if it is indexed.
    pub fn time_at(&self, offset: u64) -> Option<i64> {
        let i = self.entries.partition_point(|(o, _)| *o <= offset);
        i.checked_sub(1).map(|i| self.entries[i].1)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pump_writes_log_and_index() {
        let dir = tempfile::tempdir().unwrap();
        let writer = LogWriter::open(dir.path()).unwrap();
        assert_eq!(writer.len, 0);
        let seen = std::sync::Mutex::new(0);
        writer.pump(&b"hello\nworld\n"[..], |len| *seen.lock().unwrap() = len);
        assert_eq!(*seen.lock().unwrap(), 12);
        let writer = LogWriter::open(dir.path()).unwrap();
        assert_eq!(writer.len, 12);
        writer.pump(&b"more\n"[..], |_| {});
        assert_eq!(
            std::fs::read(log_path(dir.path())).unwrap(),
            b"hello\nworld\nmore\n"
        );
        let mut index = LogIndex::default();
        index.refresh(dir.path()).unwrap();
        assert_eq!(index.entries.len(), 2);
        assert_eq!(index.entries[1].0, 12);
        assert!(index.time_at(0).is_some());
        assert!(index.time_at(13).unwrap() >= index.time_at(0).unwrap());
        index.refresh(dir.path()).unwrap();
        assert_eq!(index.entries.len(), 2);
    }
}
