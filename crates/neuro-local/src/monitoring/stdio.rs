//! `GET {monitoring}/{id}/attach` and `GET {monitoring}/{id}/exec`: the
//! standard streams of a job's process, or of a new process in the job's
//! environment, over one websocket (wire-protocol-core §8.3-§8.4).
//!
//! Every BINARY frame starts with a channel byte: `0` stdin (client to server),
//! `1` stdout, `2` stderr, `3` the exit (`{"exit_code": n}`, then the server
//! closes), `4` a terminal resize (`{"height": h, "width": w}`, keys in any
//! case). The subprotocol `v2.channels.neu.ro` is echoed when asked for.
//!
//! `attach` shows the job's output from the moment of attaching (stdout on
//! channel 1 and stderr on 2; a `tty` job's terminal on 1), types into the
//! job's stdin (its terminal for a `tty` job) when asked to, and ends with the
//! exit code of the run it attached to.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::response::Response;
use bytes::{BufMut as _, Bytes, BytesMut};
use futures::{SinkExt as _, StreamExt as _};
use neuro_types::permission::Action;
use neuro_types::wire::ExitPayload;
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWriteExt as _};
use tokio::sync::{mpsc, watch};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::jobs::io::{IoState, JobIo, OutputStream};
use crate::jobs::runtime::{self, ExecProcess, ExecStdio};
use crate::jobs::terminal::Terminal;
use crate::state::AppState;

use super::{flag, running_job, WsError};

/// The subprotocol of attach and exec.
pub const PROTOCOL: &str = "v2.channels.neu.ro";

/// Channel bytes.
const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const EXIT: u8 = 3;
const RESIZE: u8 = 4;

/// How long an exec session waits, after its process exited, for output still
/// held open by processes it left behind.
const OUTPUT_GRACE: Duration = Duration::from_secs(2);

/// Query of attach and exec.
#[derive(Debug, Deserialize)]
pub struct StdQuery {
    cmd: Option<String>,
    tty: Option<String>,
    stdin: Option<String>,
    stdout: Option<String>,
    stderr: Option<String>,
}

/// Which streams a session carries.
#[derive(Debug, Clone, Copy)]
struct Streams {
    tty: bool,
    stdin: bool,
    stdout: bool,
    stderr: bool,
}

impl Streams {
    /// platform-monitoring's defaults and checks.
    fn parse(q: &StdQuery) -> Result<Streams, ApiError> {
        let streams = Streams {
            tty: flag(q.tty.as_deref(), false)?,
            stdin: flag(q.stdin.as_deref(), false)?,
            stdout: flag(q.stdout.as_deref(), true)?,
            stderr: flag(q.stderr.as_deref(), true)?,
        };
        if !(streams.stdin || streams.stdout || streams.stderr) {
            return Err(ApiError::bad_request(
                "Required at least one of stdin, stdout or stderr",
            ));
        }
        if streams.tty && streams.stdout && streams.stderr {
            return Err(ApiError::bad_request(
                "Stdout and stderr cannot be multiplexed in tty mode",
            ));
        }
        Ok(streams)
    }
}

/// A frame: the channel byte, then `data`.
fn frame(channel: u8, data: &[u8]) -> Message {
    let mut buf = BytesMut::with_capacity(data.len() + 1);
    buf.put_u8(channel);
    buf.put_slice(data);
    Message::Binary(buf.freeze())
}

fn exit_frame(code: i32) -> Message {
    let body = serde_json::to_vec(&ExitPayload {
        exit_code: code,
        message: None,
    })
    .unwrap_or_default();
    frame(EXIT, &body)
}

/// `{"height": h, "width": w}` with keys in any case.
fn parse_resize(data: &[u8]) -> Option<(u16, u16)> {
    let value: serde_json::Value = serde_json::from_slice(data).ok()?;
    let object = value.as_object()?;
    let get = |name: &str| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_u64())
            .and_then(|v| u16::try_from(v).ok())
    };
    Some((get("height")?, get("width")?))
}

/// Types `data` into `terminal` without blocking the runtime.
async fn type_into(terminal: Arc<Terminal>, data: Bytes) {
    let written = tokio::task::spawn_blocking(move || terminal.write_all(&data)).await;
    if let Ok(Err(e)) = written {
        tracing::debug!(error = %e, "cannot write to a terminal");
    }
}

fn resize(terminal: Option<&Arc<Terminal>>, data: &[u8]) {
    if let (Some(terminal), Some((rows, cols))) = (terminal, parse_resize(data)) {
        if let Err(e) = terminal.resize(rows, cols) {
            tracing::debug!(error = %e, "cannot resize a terminal");
        }
    }
}

/// What the client sent: a frame to handle, or the end of the session.
enum Input {
    Frame(Bytes),
    Other,
    Gone,
}

fn input(message: Option<Result<Message, axum::Error>>) -> Input {
    match message {
        Some(Ok(Message::Binary(data))) if !data.is_empty() => Input::Frame(data),
        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => Input::Gone,
        Some(Ok(_)) => Input::Other,
    }
}

/// `attach`.
pub async fn attach(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Query(query): Query<StdQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, WsError> {
    let streams = Streams::parse(&query)?;
    let (_job, io, _pid) = running_job(&state.jobs, &user.name, &id, Action::Write).await?;
    // Subscribed before the handshake answer: the client sees all the output
    // from the moment its attach succeeded.
    let output = io.subscribe_output();
    let job_state = io.subscribe();
    Ok(ws
        .protocols([PROTOCOL])
        .on_upgrade(move |socket| attach_session(socket, io, streams, output, job_state)))
}

async fn attach_session(
    socket: WebSocket,
    io: Arc<JobIo>,
    streams: Streams,
    mut output: mpsc::Receiver<(OutputStream, Bytes)>,
    mut state: watch::Receiver<IoState>,
) {
    let (mut sink, mut source) = socket.split();
    let start = state.borrow_and_update().clone();
    // Look at the state once at once: the run may have ended meanwhile.
    state.mark_changed();
    // Input goes through its own task, so a job that does not read its stdin
    // never stops its output from being forwarded.
    let (in_tx, in_rx) = mpsc::unbounded_channel::<Bytes>();
    if streams.stdin {
        tokio::spawn(feed_stdin(io.clone(), in_rx));
    }
    loop {
        tokio::select! {
            chunk = output.recv() => match chunk {
                Some(chunk) => {
                    if let Some(message) = output_frame(streams, chunk) {
                        if sink.send(message).await.is_err() {
                            return;
                        }
                    }
                }
                None => {
                    let _ = sink.send(Message::Close(Some(CloseFrame {
                        code: close_code::AGAIN,
                        reason: "the client fell behind the job's output".into(),
                    }))).await;
                    return;
                }
            },
            changed = state.changed() => {
                let now = state.borrow_and_update().clone();
                let exited = now.last_exit.filter(|(run, _)| *run == start.run);
                if let Some((_, code)) = exited {
                    // The run's output is all queued before its exit is published.
                    while let Ok(chunk) = output.try_recv() {
                        if let Some(message) = output_frame(streams, chunk) {
                            if sink.send(message).await.is_err() {
                                return;
                            }
                        }
                    }
                    let _ = sink.send(exit_frame(code)).await;
                    break;
                }
                if now.ended || changed.is_err() {
                    break;
                }
            }
            message = source.next() => match input(message) {
                Input::Gone => return,
                Input::Other => {}
                Input::Frame(data) => match data[0] {
                    STDIN if streams.stdin => {
                        let _ = in_tx.send(data.slice(1..));
                    }
                    RESIZE => resize(io.terminal().as_ref(), &data[1..]),
                    _ => {}
                },
            },
        }
    }
    let _ = sink.send(Message::Close(None)).await;
}

/// The frame for a chunk of the job's output, if the session carries its
/// stream.
fn output_frame(streams: Streams, (stream, data): (OutputStream, Bytes)) -> Option<Message> {
    match stream {
        OutputStream::Stdout if streams.stdout => Some(frame(STDOUT, &data)),
        OutputStream::Stderr if streams.stderr => Some(frame(STDERR, &data)),
        _ => None,
    }
}

/// Types what an attached client sends into the job: its terminal, or the
/// stdin pipe of a job without one (of the run that is current at the time).
async fn feed_stdin(io: Arc<JobIo>, mut input: mpsc::UnboundedReceiver<Bytes>) {
    while let Some(data) = input.recv().await {
        if let Some(terminal) = io.terminal() {
            type_into(terminal, data).await;
        } else if let Some(stdin) = io.stdin() {
            if let Err(e) = stdin.lock().await.write_all(&data).await {
                tracing::debug!(error = %e, "cannot write to a job's stdin");
            }
        }
    }
}

/// `exec`: the process starts before the handshake, so a command that cannot
/// start is refused with `400`.
pub async fn exec(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Query(query): Query<StdQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, WsError> {
    let streams = Streams::parse(&query)?;
    let cmd = query
        .cmd
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("Command is required"))?
        .to_owned();
    let (job, io, pid) = running_job(&state.jobs, &user.name, &id, Action::Write).await?;
    let stdio = ExecStdio {
        tty: streams.tty,
        stdin: streams.stdin,
    };
    let process = runtime::spawn_exec(io.launch(), Some(pid), &cmd, stdio)
        .map_err(|e| ApiError::bad_request(format!("Cannot exec in job {}: {e}", job.id)))?;
    let job_state = io.subscribe();
    Ok(ws.protocols([PROTOCOL]).on_upgrade(move |socket| {
        exec_session(
            socket,
            process,
            streams,
            JobWatch {
                state: job_state,
                pid,
            },
        )
    }))
}

/// The job an exec session runs in: when its process ends, so does the
/// session's, as in a container.
struct JobWatch {
    state: watch::Receiver<IoState>,
    pid: i32,
}

/// Copies `reader` to `out` as `channel` frames until its end.
async fn forward(mut reader: impl AsyncRead + Unpin, channel: u8, out: mpsc::Sender<(u8, Bytes)>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if out
                    .send((channel, Bytes::copy_from_slice(&buf[..n])))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

async fn exec_session(
    socket: WebSocket,
    process: ExecProcess,
    streams: Streams,
    mut job: JobWatch,
) {
    let (mut sink, mut source) = socket.split();
    let ExecProcess {
        mut child,
        pgid,
        stdin,
        stdout,
        stderr,
        terminal,
    } = process;
    let (out_tx, mut out_rx) = mpsc::channel::<(u8, Bytes)>(16);
    // Input goes through its own task, so a process that does not read never
    // stops its output from being forwarded.
    let (in_tx, mut in_rx) = mpsc::unbounded_channel::<Bytes>();
    let mut term = None;
    if let Some((shared, mut reader)) = terminal {
        let out = out_tx.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match std::io::Read::read(&mut reader, &mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        let data = Bytes::copy_from_slice(&buf[..n]);
                        if out.blocking_send((STDOUT, data)).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        let writer = shared.clone();
        tokio::spawn(async move {
            while let Some(data) = in_rx.recv().await {
                type_into(writer.clone(), data).await;
            }
        });
        term = Some(shared);
    } else {
        if let Some(stdout) = stdout {
            tokio::spawn(forward(stdout, STDOUT, out_tx.clone()));
        }
        if let Some(stderr) = stderr {
            tokio::spawn(forward(stderr, STDERR, out_tx.clone()));
        }
        if let Some(mut stdin) = stdin {
            tokio::spawn(async move {
                while let Some(data) = in_rx.recv().await {
                    if stdin.write_all(&data).await.is_err() {
                        return;
                    }
                }
            });
        }
    }
    drop(out_tx);
    let mut exit_code = None;
    let mut job_ended = false;
    let mut grace_end = None;
    let mut in_tx = Some(in_tx);
    loop {
        let grace = async {
            match grace_end {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            out = out_rx.recv() => match out {
                Some((channel, data)) => {
                    let wanted = match channel {
                        STDERR => streams.stderr,
                        _ => streams.stdout || streams.tty,
                    };
                    if wanted && sink.send(frame(channel, &data)).await.is_err() {
                        runtime::kill_group(pgid, nix::sys::signal::Signal::SIGKILL);
                        let _ = child.wait().await;
                        return;
                    }
                }
                None if exit_code.is_some() => break,
                None => {
                    exit_code = Some(child.wait().await.map_or(1, runtime::exit_code));
                    break;
                }
            },
            status = child.wait(), if exit_code.is_none() => {
                exit_code = Some(status.map_or(1, runtime::exit_code));
                grace_end = Some(tokio::time::Instant::now() + OUTPUT_GRACE);
                in_tx = None;
            }
            () = grace => break,
            changed = job.state.changed(), if exit_code.is_none() && !job_ended => {
                job_ended = changed.is_err() || job.state.borrow().pid != Some(job.pid);
                if job_ended {
                    runtime::kill_group(pgid, nix::sys::signal::Signal::SIGKILL);
                }
            }
            message = source.next() => match input(message) {
                Input::Gone => {
                    runtime::kill_group(pgid, nix::sys::signal::Signal::SIGKILL);
                    let _ = child.wait().await;
                    return;
                }
                Input::Other => {}
                Input::Frame(data) => match data[0] {
                    STDIN if streams.stdin => {
                        if let Some(tx) = &in_tx {
                            let _ = tx.send(data.slice(1..));
                        }
                    }
                    RESIZE => resize(term.as_ref(), &data[1..]),
                    _ => {}
                },
            },
        }
    }
    // What the process left behind goes with it, as in a container.
    runtime::kill_group(pgid, nix::sys::signal::Signal::SIGKILL);
    if let Some(code) = exit_code {
        let _ = sink.send(exit_frame(code)).await;
    }
    let _ = sink.send(Message::Close(None)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resize_keys_in_any_case() {
        assert_eq!(parse_resize(br#"{"height":24,"width":80}"#), Some((24, 80)));
        assert_eq!(
            parse_resize(br#"{"Width":100,"HEIGHT":30}"#),
            Some((30, 100))
        );
        assert_eq!(parse_resize(br#"{"height":24}"#), None);
        assert_eq!(parse_resize(b"junk"), None);
    }

    #[test]
    fn stream_checks() {
        let q = |tty: &str, stdin: &str, stdout: &str, stderr: &str| StdQuery {
            cmd: None,
            tty: Some(tty.into()),
            stdin: Some(stdin.into()),
            stdout: Some(stdout.into()),
            stderr: Some(stderr.into()),
        };
        assert!(Streams::parse(&q("0", "0", "0", "0")).is_err());
        assert!(Streams::parse(&q("1", "1", "1", "1")).is_err());
        assert!(Streams::parse(&q("1", "1", "1", "0")).is_ok());
        assert!(Streams::parse(&q("0", "1", "1", "1")).is_ok());
        let defaults = Streams::parse(&StdQuery {
            cmd: None,
            tty: None,
            stdin: None,
            stdout: None,
            stderr: None,
        })
        .map(|s| (s.tty, s.stdin, s.stdout, s.stderr));
        assert_eq!(defaults.ok(), Some((false, false, true, true)));
    }
}
