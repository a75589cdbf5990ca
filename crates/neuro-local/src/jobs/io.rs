//! [`JobIo`]: the live side of a started job, shared by its supervisor and the
//! monitoring service (logs, top, attach, exec).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;

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

/// The live side of a job from its start to its end (across restarts).
#[derive(Debug)]
pub struct JobIo {
    state: watch::Sender<IoState>,
    terminal: Mutex<Option<Arc<Terminal>>>,
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

    /// How the job's processes are started (for `exec`).
    pub(crate) fn launch(&self) -> &Launch {
        &self.launch
    }

    /// The job's directory (log, work, root).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub(crate) fn run_started(&self, pid: i32, terminal: Option<Arc<Terminal>>) {
        *lock(&self.terminal) = terminal;
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
        self.state.send_modify(|s| {
            s.pid = None;
            s.last_exit = Some((s.run, code));
        });
    }

    pub(crate) fn end(&self) {
        *lock(&self.terminal) = None;
        self.state.send_modify(|s| {
            s.pid = None;
            s.ended = true;
        });
    }
}
