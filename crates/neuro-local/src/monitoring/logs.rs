//! `GET {monitoring}/{id}/log_ws`: a job's log as BINARY frames, archived part
//! first, then live output until the job ends, then the server closes
//! (wire-protocol-core §8.1).
//!
//! * `since` (ISO 8601 with offset) drops the lines that arrived earlier;
//! * `timestamps=true` prefixes each line with its arrival time
//!   (`2022-01-01T00:00:00.123456000Z `);
//! * `separator`: for a job that restarted and runs again, the output of the
//!   earlier runs is the archive; the separator goes between it and the live
//!   output of the current run.

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use bytes::Bytes;
use neuro_types::permission::Action;
use serde::Deserialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::jobs::logs::{log_path, LogIndex};
use crate::jobs::JobService;
use crate::state::AppState;

use super::{flag, WsError};

/// Most bytes read from the log for one frame.
const FRAME: usize = 1024 * 1024;

/// How often a job that has not started yet is looked at again.
const START_POLL: Duration = Duration::from_millis(100);

/// Query of `log_ws`.
#[derive(Debug, Deserialize)]
pub struct LogQuery {
    since: Option<String>,
    timestamps: Option<String>,
    separator: Option<String>,
}

/// How the log is sent.
#[derive(Debug, Clone, Default)]
struct LogOptions {
    /// Arrival-time floor in µs.
    since_us: Option<i64>,
    timestamps: bool,
    separator: Option<String>,
}

/// The handler.
pub async fn log_ws(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Query(query): Query<LogQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, WsError> {
    let job = state.jobs.job(&user.name, &id, Action::Read).await?;
    let since_us = match &query.since {
        None => None,
        Some(text) => {
            let at = OffsetDateTime::parse(text, &Rfc3339)
                .map_err(|e| ApiError::bad_request(format!("Invalid since {text:?}: {e}")))?;
            Some(i64::try_from(at.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX))
        }
    };
    let options = LogOptions {
        since_us,
        timestamps: flag(query.timestamps.as_deref(), false)?,
        separator: query.separator.filter(|s| !s.is_empty()),
    };
    let jobs = state.jobs.clone();
    let owner = job.owner.clone();
    Ok(ws.on_upgrade(move |socket| async move {
        let mut session = LogSession {
            socket,
            sender: LogSender::new(jobs.job_dir(&job.id), &options),
            options,
        };
        if let Err(e) = session.run(&jobs, &owner, &job.id).await {
            tracing::debug!(job = %job.id, error = %e, "log stream ended early");
        }
        let _ = session.socket.send(Message::Close(None)).await;
    }))
}

struct LogSession {
    socket: WebSocket,
    sender: LogSender,
    options: LogOptions,
}

impl LogSession {
    /// Sends the log until the job has ended, or the client has gone.
    async fn run(&mut self, jobs: &JobService, owner: &str, id: &str) -> io::Result<()> {
        // Wait for the job's start (or its end, if it never starts).
        let io = loop {
            if let Some(io) = jobs.io(id) {
                break io;
            }
            let finished = jobs
                .job(owner, id, Action::Read)
                .await
                .map_or(true, |job| job.status.is_finished());
            if finished {
                // Whatever the job wrote before it ended.
                return self.send_to(u64::MAX, true).await;
            }
            tokio::select! {
                () = tokio::time::sleep(START_POLL) => {}
                gone = client_gone(&mut self.socket) => if gone { return Ok(()) },
            }
        };
        let mut state = io.subscribe();
        let first = state.borrow_and_update().clone();
        if let Some(separator) = self.options.separator.clone() {
            if first.run > 1 && first.pid.is_some() && first.run_start > 0 {
                self.send_to(first.run_start, true).await?;
                self.send(Bytes::from(format!("{separator}\n"))).await?;
            }
        }
        loop {
            let now = state.borrow_and_update().clone();
            if now.ended {
                return self.send_to(u64::MAX, true).await;
            }
            self.send_to(now.log_len, false).await?;
            tokio::select! {
                changed = state.changed() => if changed.is_err() {
                    return self.send_to(u64::MAX, true).await;
                },
                gone = client_gone(&mut self.socket) => if gone { return Ok(()) },
            }
        }
    }

    /// Sends the log up to offset `end` (`u64::MAX`: to its current end);
    /// `last` also flushes a final line without a newline.
    async fn send_to(&mut self, end: u64, last: bool) -> io::Result<()> {
        loop {
            let frame = self.sender.next_frame(end, last)?;
            match frame {
                Some(frame) if frame.is_empty() => continue,
                Some(frame) => self.send(frame).await?,
                None => return Ok(()),
            }
        }
    }

    async fn send(&mut self, data: Bytes) -> io::Result<()> {
        self.socket
            .send(Message::Binary(data))
            .await
            .map_err(io::Error::other)
    }
}

/// Reads the client side: whether it closed (`true`) or sent something to be
/// ignored (`false`). Pings are answered by the next read or write.
pub(crate) async fn client_gone(socket: &mut WebSocket) -> bool {
    match socket.recv().await {
        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => true,
        Some(Ok(_)) => false,
    }
}

/// Reads the log file from where it stopped and shapes frames.
pub(crate) struct LogSender {
    dir: PathBuf,
    file: Option<File>,
    /// Offset of the next byte to read.
    pos: u64,
    lines: Option<Lines>,
}

/// Line mode, for `since` and `timestamps`.
struct Lines {
    index: LogIndex,
    /// Read bytes of a line not complete yet, and the offset of its start.
    pending: Vec<u8>,
    pending_start: u64,
    since_us: Option<i64>,
    timestamps: bool,
}

impl LogSender {
    fn new(dir: PathBuf, options: &LogOptions) -> LogSender {
        let lines = (options.since_us.is_some() || options.timestamps).then(|| Lines {
            index: LogIndex::default(),
            pending: Vec::new(),
            pending_start: 0,
            since_us: options.since_us,
            timestamps: options.timestamps,
        });
        LogSender {
            dir,
            file: None,
            pos: 0,
            lines,
        }
    }

    /// The next frame of the log before offset `end`: `None` when there is no
    /// more, an empty frame when the bytes read were all filtered out.
    pub(crate) fn next_frame(&mut self, end: u64, last: bool) -> io::Result<Option<Bytes>> {
        let raw = self.read_chunk(end)?;
        let Some(lines) = &mut self.lines else {
            return Ok(raw.map(Bytes::from));
        };
        match raw {
            Some(raw) => {
                lines.index.refresh(&self.dir)?;
                Ok(Some(lines.take(&raw, false)))
            }
            None if last && !lines.pending.is_empty() => {
                lines.index.refresh(&self.dir)?;
                Ok(Some(lines.take(&[], true)))
            }
            None => Ok(None),
        }
    }

    /// Up to [`FRAME`] bytes from `pos`, not past `end`; `None` at the end.
    fn read_chunk(&mut self, end: u64) -> io::Result<Option<Vec<u8>>> {
        if self.pos >= end {
            return Ok(None);
        }
        if self.file.is_none() {
            match File::open(log_path(&self.dir)) {
                Ok(file) => self.file = Some(file),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        let Some(file) = self.file.as_mut() else {
            return Ok(None);
        };
        let want = (end - self.pos).min(FRAME as u64);
        // Read into spare capacity: nothing is zeroed first.
        let mut buf = Vec::with_capacity(usize::try_from(want).unwrap_or(FRAME));
        file.seek(SeekFrom::Start(self.pos))?;
        let n = file.by_ref().take(want).read_to_end(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        self.pos += n as u64;
        Ok(Some(buf))
    }
}

impl Lines {
    /// Appends `raw` and returns the complete lines (all of them if `flush`),
    /// filtered by `since` and prefixed with timestamps.
    fn take(&mut self, raw: &[u8], flush: bool) -> Bytes {
        self.pending.extend_from_slice(raw);
        let mut out = Vec::with_capacity(self.pending.len() + 64);
        let mut start = 0;
        while let Some(nl) = self.pending[start..].iter().position(|b| *b == b'\n') {
            let end = start + nl + 1;
            self.emit(start, end, &mut out);
            start = end;
        }
        if flush && start < self.pending.len() {
            let end = self.pending.len();
            self.emit(start, end, &mut out);
            start = end;
        }
        self.pending.drain(..start);
        self.pending_start += start as u64;
        Bytes::from(out)
    }

    fn emit(&self, start: usize, end: usize, out: &mut Vec<u8>) {
        let time = self.index.time_at(self.pending_start + start as u64);
        if let (Some(since), Some(time)) = (self.since_us, time) {
            if time < since {
                return;
            }
        }
        if self.timestamps {
            out.extend_from_slice(format_time(time.unwrap_or(0)).as_bytes());
            out.push(b' ');
        }
        out.extend_from_slice(&self.pending[start..end]);
    }
}

/// `2022-01-01T00:00:00.123456000Z`: RFC 3339 in UTC with nanoseconds, as
/// Kubernetes writes log timestamps.
fn format_time(us: i64) -> String {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.nanosecond()
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::jobs::logs::LogWriter;

    #[test]
    fn times_are_rfc3339_nanos() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(
            format_time(1_641_000_000_123_456),
            "2022-01-01T01:20:00.123456000Z"
        );
    }

    fn collect(sender: &mut LogSender) -> Vec<u8> {
        let mut all = Vec::new();
        while let Some(frame) = sender.next_frame(u64::MAX, true).unwrap() {
            all.extend_from_slice(&frame);
        }
        all
    }

    #[test]
    fn raw_lines_timestamps_and_since() {
        let dir = tempfile::tempdir().unwrap();
        LogWriter::open(dir.path())
            .unwrap()
            .append(b"one\ntwo\nthree")
            .unwrap();
        let raw = collect(&mut LogSender::new(
            dir.path().to_path_buf(),
            &LogOptions::default(),
        ));
        assert_eq!(raw, b"one\ntwo\nthree");
        let stamped = collect(&mut LogSender::new(
            dir.path().to_path_buf(),
            &LogOptions {
                timestamps: true,
                ..LogOptions::default()
            },
        ));
        let text = String::from_utf8(stamped).unwrap();
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        assert_eq!(lines.len(), 3);
        for (line, body) in lines.iter().zip(["one\n", "two\n", "three"]) {
            let (stamp, rest) = line.split_once(' ').unwrap();
            assert!(OffsetDateTime::parse(stamp, &Rfc3339).is_ok(), "{stamp}");
            assert_eq!(rest, body);
        }
        let later = collect(&mut LogSender::new(
            dir.path().to_path_buf(),
            &LogOptions {
                since_us: Some(i64::MAX),
                ..LogOptions::default()
            },
        ));
        assert!(later.is_empty());
        let all = collect(&mut LogSender::new(
            dir.path().to_path_buf(),
            &LogOptions {
                since_us: Some(0),
                ..LogOptions::default()
            },
        ));
        assert_eq!(all, b"one\ntwo\nthree");
    }
}
