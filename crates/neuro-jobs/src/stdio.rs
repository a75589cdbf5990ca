//! [`StdStream`]: the standard streams of `attach` and `exec` sessions.
//!
//! Every frame carries a channel byte (wire-protocol-core §8.4): `0` stdin,
//! `1` stdout, `2` stderr, `3` the exit code (which ends the session, also for
//! code 0), `4` a terminal resize.

use bytes::{BufMut as _, Bytes, BytesMut};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt as _, StreamExt as _};
use neuro_http::{Message as WsMessage, WsStream};
use neuro_types::wire::{ExitPayload, ResizePayload};

use crate::monitor::ws_error;
use crate::JobsError;

const STDIN: u8 = 0;
const EXIT: u8 = 3;
const RESIZE: u8 = 4;

/// Which streams an `attach` or `exec` session carries. The platform refuses
/// a session with none of stdin, stdout and stderr, and one with a terminal
/// and both stdout and stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StdStreamOptions {
    /// A pseudo-terminal (output comes on stdout only).
    pub tty: bool,
    /// Send input.
    pub stdin: bool,
    /// Receive standard output.
    pub stdout: bool,
    /// Receive standard error.
    pub stderr: bool,
}

impl StdStreamOptions {
    /// An interactive terminal: tty, stdin and stdout (what `neuro exec -t` asks for).
    pub fn terminal() -> Self {
        StdStreamOptions {
            tty: true,
            stdin: true,
            stdout: true,
            stderr: false,
        }
    }

    /// Plain pipes: stdin, stdout and stderr without a terminal (what
    /// `neuro exec` asks for without `-t`).
    pub fn pipes() -> Self {
        StdStreamOptions {
            tty: false,
            stdin: true,
            stdout: true,
            stderr: true,
        }
    }

    pub(crate) fn query(self) -> [(&'static str, &'static str); 4] {
        let bit = |on: bool| if on { "1" } else { "0" };
        [
            ("tty", bit(self.tty)),
            ("stdin", bit(self.stdin)),
            ("stdout", bit(self.stdout)),
            ("stderr", bit(self.stderr)),
        ]
    }
}

/// Output of a session: `fileno` 1 is stdout, 2 stderr (other channels are
/// passed through as the server sent them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The channel: 1 stdout, 2 stderr.
    pub fileno: u8,
    /// The bytes.
    pub data: Bytes,
}

/// How the process of a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitStatus {
    /// Its exit code (1 when the server's message had none).
    pub code: i32,
    /// The server's explanation, if any.
    pub message: Option<String>,
}

impl ExitStatus {
    /// Whether the process exited with code 0.
    pub fn success(&self) -> bool {
        self.code == 0
    }

    fn parse(data: &[u8]) -> ExitStatus {
        match serde_json::from_slice::<ExitPayload>(data) {
            Ok(p) => ExitStatus {
                code: p.exit_code,
                message: p.message,
            },
            Err(_) => ExitStatus {
                code: 1,
                message: None,
            },
        }
    }
}

/// An open `attach` or `exec` session.
///
/// [`read_out`](StdStream::read_out) returns output until the session ends;
/// then [`exit_status`](StdStream::exit_status) tells how the process ended
/// (`None` when the server closed without saying). Split it with
/// [`into_split`](StdStream::into_split) to read and write from different tasks.
///
/// ```no_run
/// # // no_run: `job-1` stands for a running job of the caller (docs/jobs.md runs this call on a real one)
/// # async fn demo(jobs: neuro_jobs::Jobs) -> Result<(), neuro_jobs::JobsError> {
/// use neuro_jobs::StdStreamOptions;
///
/// let mut session = jobs.exec("job-1", "cat", StdStreamOptions::pipes()).await?;
/// session.write_in(b"hello\n").await?;
/// while let Some(out) = session.read_out().await? {
///     print!("{}", String::from_utf8_lossy(&out.data));
///     # break;
/// }
/// session.close().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct StdStream {
    reader: StdReader,
    writer: StdWriter,
}

/// The reading half of a [`StdStream`].
#[derive(Debug)]
pub struct StdReader {
    source: SplitStream<WsStream>,
    done: bool,
    exit: Option<ExitStatus>,
}

/// The writing half of a [`StdStream`].
#[derive(Debug)]
pub struct StdWriter {
    sink: SplitSink<WsStream, WsMessage>,
    closed: bool,
}

impl StdStream {
    pub(crate) fn new(ws: WsStream) -> StdStream {
        let (sink, source) = ws.split();
        StdStream {
            reader: StdReader {
                source,
                done: false,
                exit: None,
            },
            writer: StdWriter {
                sink,
                closed: false,
            },
        }
    }

    /// The next output; `None` once the session has ended.
    pub async fn read_out(&mut self) -> Result<Option<Message>, JobsError> {
        self.reader.read_out().await
    }

    /// How the process ended, once [`read_out`](StdStream::read_out) has
    /// returned `None` after the server's exit message.
    pub fn exit_status(&self) -> Option<&ExitStatus> {
        self.reader.exit_status()
    }

    /// Sends `data` to the process's stdin (nothing after the end).
    pub async fn write_in(&mut self, data: &[u8]) -> Result<(), JobsError> {
        self.writer.write_in(data).await
    }

    /// Resizes the process's terminal to `height` rows and `width` columns.
    pub async fn resize(&mut self, height: u16, width: u16) -> Result<(), JobsError> {
        self.writer.resize(height, width).await
    }

    /// Closes the session (the platform ends an exec'd process that is still
    /// running).
    pub async fn close(&mut self) -> Result<(), JobsError> {
        self.reader.done = true;
        self.writer.close().await
    }

    /// Splits the session into a reader and a writer.
    pub fn into_split(self) -> (StdReader, StdWriter) {
        (self.reader, self.writer)
    }
}

impl StdReader {
    /// The next output; `None` once the session has ended.
    pub async fn read_out(&mut self) -> Result<Option<Message>, JobsError> {
        while !self.done {
            let message = match self.source.next().await {
                None | Some(Ok(WsMessage::Close(_))) => {
                    self.done = true;
                    return Ok(None);
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Err(ws_error(e));
                }
                Some(Ok(message)) => message,
            };
            match message {
                WsMessage::Binary(data) => match data.first() {
                    None => {
                        return Err(JobsError::Protocol(
                            "an empty frame in a standard stream".into(),
                        ))
                    }
                    Some(&EXIT) => {
                        self.exit = Some(ExitStatus::parse(&data[1..]));
                        self.done = true;
                    }
                    Some(&fileno) => {
                        return Ok(Some(Message {
                            fileno,
                            data: data.slice(1..),
                        }))
                    }
                },
                WsMessage::Text(_) => {
                    return Err(JobsError::Protocol(
                        "a text frame in a standard stream".into(),
                    ))
                }
                _ => {}
            }
        }
        Ok(None)
    }

    /// How the process ended, once the session has ended with an exit message.
    pub fn exit_status(&self) -> Option<&ExitStatus> {
        self.exit.as_ref()
    }
}

impl StdWriter {
    async fn send(&mut self, channel: u8, data: &[u8]) -> Result<(), JobsError> {
        if self.closed {
            return Ok(());
        }
        let mut buf = BytesMut::with_capacity(data.len() + 1);
        buf.put_u8(channel);
        buf.put_slice(data);
        self.sink
            .send(WsMessage::Binary(buf.freeze()))
            .await
            .map_err(ws_error)
    }

    /// Sends `data` to the process's stdin.
    pub async fn write_in(&mut self, data: &[u8]) -> Result<(), JobsError> {
        self.send(STDIN, data).await
    }

    /// Resizes the process's terminal (`{"height":h,"width":w}`).
    pub async fn resize(&mut self, height: u16, width: u16) -> Result<(), JobsError> {
        let body = serde_json::to_vec(&ResizePayload { height, width })
            .map_err(|e| JobsError::Protocol(e.to_string()))?;
        self.send(RESIZE, &body).await
    }

    /// Closes the session.
    pub async fn close(&mut self) -> Result<(), JobsError> {
        if std::mem::replace(&mut self.closed, true) {
            return Ok(());
        }
        match self.sink.close().await {
            Ok(()) | Err(neuro_http::tungstenite::Error::ConnectionClosed) => Ok(()),
            Err(e) => Err(ws_error(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_messages() {
        assert_eq!(ExitStatus::parse(br#"{"exit_code": 42}"#).code, 42);
        let with = ExitStatus::parse(br#"{"exit_code": 0, "message": "done"}"#);
        assert!(with.success());
        assert_eq!(with.message.as_deref(), Some("done"));
        assert_eq!(ExitStatus::parse(b"not json").code, 1);
        assert_eq!(ExitStatus::parse(b"{}").code, 1);
    }

    #[test]
    fn resize_body_is_compact_height_first() {
        let body = serde_json::to_vec(&ResizePayload {
            height: 24,
            width: 80,
        })
        .unwrap_or_default();
        assert_eq!(body, br#"{"height":24,"width":80}"#);
    }

    #[test]
    fn option_queries() {
        assert_eq!(
            StdStreamOptions::terminal().query(),
            [
                ("tty", "1"),
                ("stdin", "1"),
                ("stdout", "1"),
                ("stderr", "0")
            ]
        );
        assert_eq!(
            StdStreamOptions::pipes().query(),
            [
                ("tty", "0"),
                ("stdin", "1"),
                ("stdout", "1"),
                ("stderr", "1")
            ]
        );
    }
}
