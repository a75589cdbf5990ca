//! [`JobIo`]: the live side of a started job, shared by its supervisor and the
//! monitoring service (logs, top, attach, exec).

use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::net::unix::pipe;
use tokio::sync::{mpsc, watch};

use super::runtime::Launch;
use super::terminal::Terminal;

/// What the monitoring service can observe of a started job.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IoState {
    /// Bytes in the job's log.
    pub log_len: u64,
    /// Runs started so far (1 for the first, +1 per restart).
    pub run: u32,
    /// Log offset where the current (or last) run began.
    pub run_start: u64,
    /// Process group of the running process, if one runs.
    pub pid: Option<i32>,
    /// The run that exited last and its exit code.
    pub last_exit: Option<(u32, i32)>,
    /// The job is over: no further run and no further output.
    pub ended: bool,
}

/// Which of a job's output streams a chunk came from (a terminal's output
/// counts as stdout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OutputStream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// Chunks of output a subscriber may have queued; one that falls further
/// behind is dropped (its receiver ends) rather than slowing the job down.
const OUTPUT_BACKLOG: usize = 256;

/// The write end of a job's stdin, shared by the sessions that type into it.
pub type JobStdin = Arc<tokio::sync::Mutex<pipe::Sender>>;

/// The live side of a job from its start to its end (across restarts).
#[derive(Debug)]
pub struct JobIo {
    state: watch::Sender<IoState>,
    terminal: Mutex<Option<Arc<Terminal>>>,
    stdin: Mutex<Option<JobStdin>>,
    subscribers: Mutex<Vec<mpsc::Sender<(OutputStream, Bytes)>>>,
    launch: Launch,
    dir: PathBuf,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl JobIo {
    pub(crate) fn new(dir: PathBuf, launch: Launch, log_len: u64) -> JobIo {
        JobIo {
            state: watch::Sender::new(IoState {
                log_len,
                ..IoState::default()
            }),
            terminal: Mutex::new(None),
            stdin: Mutex::new(None),
            subscribers: Mutex::new(Vec::new()),
            launch,
            dir,
        }
    }

    /// Watches the state; every change wakes the receiver.
    pub fn subscribe(&self) -> watch::Receiver<IoState> {
        self.state.subscribe()
    }

    /// The state now.
    pub fn state(&self) -> IoState {
        self.state.borrow().clone()
    }

    /// The terminal of the running process, for a `tty` job.
    pub fn terminal(&self) -> Option<Arc<Terminal>> {
        lock(&self.terminal).clone()
    }

    /// The stdin of the running process, for a job without a terminal.
    pub fn stdin(&self) -> Option<JobStdin> {
        lock(&self.stdin).clone()
    }

    /// The job's output from now on, each chunk with its stream. The receiver
    /// ends if it falls more than `OUTPUT_BACKLOG` (256) chunks behind.
    pub fn subscribe_output(&self) -> mpsc::Receiver<(OutputStream, Bytes)> {
        let (tx, rx) = mpsc::channel(OUTPUT_BACKLOG);
        lock(&self.subscribers).push(tx);
        rx
    }

    /// A chunk of output has reached the log, which is now `log_len` long.
    pub(crate) fn output(&self, stream: OutputStream, data: &[u8], log_len: u64) {
        {
            let mut subscribers = lock(&self.subscribers);
            if !subscribers.is_empty() {
                let chunk = Bytes::copy_from_slice(data);
                subscribers.retain(|tx| match tx.try_send((stream, chunk.clone())) {
                    Ok(()) => true,
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        tracing::info!("dropping an attached client that fell behind the output");
                        false
                    }
                });
            }
        }
        if self.state.borrow().log_len != log_len {
            self.log_grew(log_len);
        }
    }

    /// How the job's processes are started (for `exec`).
    pub(crate) fn launch(&self) -> &Launch {
        &self.launch
    }

    /// The job's directory (log, work, root).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A run has started: its process group, terminal, and stdin's write end
    /// (which must be registered with the runtime, so call this from a task).
    pub(crate) fn run_started(
        &self,
        pid: i32,
        terminal: Option<Arc<Terminal>>,
        stdin: Option<OwnedFd>,
    ) {
        *lock(&self.terminal) = terminal;
        *lock(&self.stdin) = stdin.and_then(|fd| match pipe::Sender::from_owned_fd(fd) {
            Ok(sender) => Some(Arc::new(tokio::sync::Mutex::new(sender))),
            Err(e) => {
                tracing::warn!(error = %e, "cannot hold a job's stdin");
                None
            }
        });
        self.state.send_modify(|s| {
            s.run += 1;
            s.run_start = s.log_len;
            s.pid = Some(pid);
        });
    }

    pub(crate) fn log_grew(&self, len: u64) {
        self.state.send_modify(|s| s.log_len = len);
    }

    pub(crate) fn run_exited(&self, code: i32) {
        *lock(&self.terminal) = None;
        *lock(&self.stdin) = None;
        self.state.send_modify(|s| {
            s.pid = None;
            s.last_exit = Some((s.run, code));
        });
    }

    pub(crate) fn end(&self) {
        *lock(&self.terminal) = None;
        *lock(&self.stdin) = None;
        self.state.send_modify(|s| {
            s.pid = None;
            s.ended = true;
        });
    }
}
