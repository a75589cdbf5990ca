//! A job's log on disk: `log` holds the bytes of stdout and stderr (or of the
//! terminal) in arrival order, `log.idx` records when each chunk arrived, so
//! the monitoring service can answer `since` and `timestamps`.
//!
//! `log.idx` is a sequence of 16-byte records: the chunk's offset in `log` and
//! its arrival time in microseconds since the epoch, both little-endian.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write as _};
use std::os::fd::AsFd as _;
use std::path::{Path, PathBuf};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use super::io::OutputStream;
use super::model::now_us;
use super::runtime::Output;

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

    /// Appends `data` (one chunk, with its arrival time); returns the new
    /// length of the log.
    pub fn append(&mut self, data: &[u8]) -> io::Result<u64> {
        let mut record = [0u8; RECORD];
        record[..8].copy_from_slice(&self.len.to_le_bytes());
        record[8..].copy_from_slice(&now_us().to_le_bytes());
        self.index.write_all(&record)?;
        self.log.write_all(data)?;
        self.len += data.len() as u64;
        Ok(self.len)
    }

    /// Copies the job's output into the log until every stream of it has
    /// ended, calling `chunk` with each piece, the stream it came from and the
    /// log's new length. A failing log write is reported once; the output is
    /// still drained (and passed to `chunk`) so the process never blocks on a
    /// full pipe.
    pub fn pump(mut self, output: Output, chunk: impl Fn(OutputStream, &[u8], u64)) {
        let mut failed = false;
        let mut write = |stream: OutputStream, data: &[u8]| {
            if !failed {
                if let Err(e) = self.append(data) {
                    tracing::error!(error = %e, "cannot write a job's log");
                    failed = true;
                }
            }
            chunk(stream, data, self.len);
        };
        let result = match output {
            Output::Terminal(mut reader) => {
                copy_chunks(&mut reader, |data| write(OutputStream::Stdout, data))
            }
            Output::Pipes { stdout, stderr } => pump_pipes(stdout, stderr, write),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot read a job's output");
        }
    }
}

/// Reads `source` to its end, passing each chunk to `write`.
fn copy_chunks(source: &mut impl Read, mut write: impl FnMut(&[u8])) -> io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match source.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => write(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reads both pipes, in the order their data arrives, until both have ended.
fn pump_pipes(
    stdout: File,
    stderr: File,
    mut write: impl FnMut(OutputStream, &[u8]),
) -> io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let mut open = [
        Some((OutputStream::Stdout, stdout)),
        Some((OutputStream::Stderr, stderr)),
    ];
    while open.iter().any(Option::is_some) {
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd<'_>> = open
                .iter()
                .flatten()
                .map(|(_, file)| PollFd::new(file.as_fd(), PollFlags::POLLIN))
                .collect();
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
            fds.iter()
                .map(|fd| fd.revents().is_some_and(|r| !r.is_empty()))
                .collect()
        };
        let mut ready = ready.into_iter();
        for slot in &mut open {
            let Some((stream, file)) = slot else { continue };
            if !ready.next().unwrap_or(false) {
                continue;
            }
            match file.read(&mut buf) {
                Ok(0) => *slot = None,
                Ok(n) => write(*stream, &buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
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

    /// The read end of a pipe that holds `data` and then ends.
    fn pipe_with(data: &[u8]) -> File {
        let (read, write) = nix::unistd::pipe().unwrap();
        let mut write = File::from(write);
        write.write_all(data).unwrap();
        File::from(read)
    }

    #[test]
    fn both_streams_reach_the_log_tagged() {
        let dir = tempfile::tempdir().unwrap();
        let writer = LogWriter::open(dir.path()).unwrap();
        let seen = std::sync::Mutex::new(Vec::new());
        let (stdout, stderr) = (pipe_with(b"out\n"), pipe_with(b"err\n"));
        writer.pump(Output::Pipes { stdout, stderr }, |stream, data, _| {
            seen.lock().unwrap().push((stream, data.to_vec()))
        });
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        assert_eq!(
            seen,
            [
                (OutputStream::Stdout, b"out\n".to_vec()),
                (OutputStream::Stderr, b"err\n".to_vec())
            ]
        );
        assert_eq!(std::fs::read(log_path(dir.path())).unwrap().len(), 8);
    }

    #[test]
    fn pump_writes_log_and_index() {
        let dir = tempfile::tempdir().unwrap();
        let writer = LogWriter::open(dir.path()).unwrap();
        assert_eq!(writer.len, 0);
        let seen = std::sync::Mutex::new(Vec::new());
        let (stdout, stderr) = (pipe_with(b"hello\nworld\n"), pipe_with(b""));
        writer.pump(Output::Pipes { stdout, stderr }, |stream, data, len| {
            seen.lock().unwrap().push((stream, data.to_vec(), len))
        });
        assert_eq!(
            *seen.lock().unwrap(),
            [(OutputStream::Stdout, b"hello\nworld\n".to_vec(), 12)]
        );
        let mut writer = LogWriter::open(dir.path()).unwrap();
        assert_eq!(writer.len, 12);
        writer.append(b"more\n").unwrap();
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
