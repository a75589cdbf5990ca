//! Job processes: start, wait, terminate.
//!
//! A job runs as `/bin/sh -c <command>` in a process group of its own (the
//! group id is the shell's pid), with a clean environment, stdin from
//! `/dev/null`, and stdout and stderr both appended to one log file, so the two
//! streams interleave in arrival order. Signals go to the whole group, so the
//! shell's children go with it. Processes that leave the group (`setsid`) escape;
//! sandboxing comes later.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

/// `PATH` given to jobs when the server has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What to start.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    /// Shell command line; `None` starts a bare `/bin/sh` (which, with stdin at
    /// `/dev/null`, exits at once like an image's default shell would).
    pub command: Option<String>,
    /// Environment, applied in order over an empty one.
    pub env: Vec<(String, String)>,
    /// Working directory.
    pub cwd: PathBuf,
    /// Log file receiving stdout and stderr (appended).
    pub log: PathBuf,
}

/// A started job process.
#[derive(Debug)]
pub(crate) struct JobProcess {
    child: Child,
    /// Pid of the shell, which is also the process group id.
    pub pid: i32,
    /// Start time of the shell in clock ticks after boot (`/proc/<pid>/stat`),
    /// to recognise it after a server restart.
    pub start_ticks: Option<u64>,
}

/// The `PATH` a job starts with.
pub(crate) fn default_path() -> String {
    std::env::var("PATH")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_PATH.to_owned())
}

fn open_log(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Starts the process in a new process group.
pub(crate) fn spawn(launch: &Launch) -> io::Result<JobProcess> {
    let log = open_log(&launch.log)?;
    let log_err = log.try_clone()?;
    let mut cmd = Command::new("/bin/sh");
    if let Some(command) = &launch.command {
        cmd.arg("-c").arg(command);
    }
    cmd.env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(&launch.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err))
        .process_group(0)
        .kill_on_drop(false);
    let child = cmd.spawn()?;
    let pid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .ok_or_else(|| io::Error::other("the process exited before its pid was read"))?;
    Ok(JobProcess {
        child,
        pid,
        start_ticks: process_start_ticks(pid),
    })
}

impl JobProcess {
    /// Waits for the shell to exit and returns its exit code (128 + signal for a
    /// process killed by a signal, as shells and Docker report it). Whatever is
    /// left of the process group is then killed: when the main process of a
    /// container ends, the container ends.
    pub async fn wait(&mut self) -> io::Result<i32> {
        let status = self.child.wait().await?;
        kill_group(self.pid, Signal::SIGKILL);
        Ok(exit_code(status))
    }

    /// Sends SIGTERM to the group, waits up to `grace` for the shell to exit, then
    /// sends SIGKILL. Returns the exit code.
    pub async fn terminate(&mut self, grace: Duration) -> io::Result<i32> {
        kill_group(self.pid, Signal::SIGTERM);
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(status) => {
                let status = status?;
                kill_group(self.pid, Signal::SIGKILL);
                Ok(exit_code(status))
            }
            Err(_) => {
                kill_group(self.pid, Signal::SIGKILL);
                let status = self.child.wait().await?;
                Ok(exit_code(status))
            }
        }
    }
}

fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt as _;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

/// Sends `signal` to process group `pgid`, ignoring a group that is gone.
pub(crate) fn kill_group(pgid: i32, signal: Signal) {
    if pgid <= 1 {
        return;
    }
    let _ = killpg(Pid::from_raw(pgid), signal);
}

/// Pids of the live (not zombie) processes of group `pgid`, read from `/proc`.
pub fn group_members(pgid: i32) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            stat_fields(*pid).is_some_and(|f| {
                f.first()
                    .is_some_and(|state| *state != "Z" && *state != "X")
                    && f.get(2).and_then(|g| g.parse::<i32>().ok()) == Some(pgid)
            })
        })
        .collect()
}

/// Whether any live process of group `pgid` exists.
pub fn group_alive(pgid: i32) -> bool {
    pgid > 1 && killpg(Pid::from_raw(pgid), None).is_ok() && !group_members(pgid).is_empty()
}

/// Fields 3 and later of `/proc/<pid>/stat` (state, ppid, pgrp, ...).
fn stat_fields(pid: i32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain anything.
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// Start time of `pid` in clock ticks after boot: field 22 of `/proc/<pid>/stat`.
pub(crate) fn process_start_ticks(pid: i32) -> Option<u64> {
    stat_fields(pid)?.get(19)?.parse().ok()
}

/// Kills a process left over from a previous server run: only if `pid` still is
/// the same process (same start time), so a recycled pid is never touched.
/// Returns whether it was killed.
pub(crate) fn kill_orphan(pid: i32, start_ticks: Option<u64>) -> bool {
    match (start_ticks, process_start_ticks(pid)) {
        (Some(recorded), Some(current)) if recorded == current => {
            kill_group(pid, Signal::SIGKILL);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn launch(dir: &Path, command: &str) -> Launch {
        Launch {
            command: Some(command.to_owned()),
            env: vec![
                ("PATH".to_owned(), default_path()),
                ("GREETING".to_owned(), "hi".to_owned()),
            ],
            cwd: dir.to_path_buf(),
            log: dir.join("log"),
        }
    }

    async fn wait_gone(pgid: i32) -> bool {
        for _ in 0..50 {
            if !group_alive(pgid) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    #[tokio::test]
    async fn exit_code_env_cwd_and_log() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = spawn(&launch(
            dir.path(),
            "echo $GREETING; pwd; echo oops >&2; read x; echo \"stdin:$x\"; exit 3",
        ))
        .unwrap();
        assert!(p.start_ticks.is_some());
        assert_eq!(p.wait().await.unwrap(), 3);
        let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
        let cwd = dir.path().canonicalize().unwrap();
        assert_eq!(log, format!("hi\n{}\noops\nstdin:\n", cwd.display()));
    }

    #[tokio::test]
    async fn terminate_kills_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = spawn(&launch(dir.path(), "sleep 30 & sleep 30; wait")).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(group_alive(p.pid));
        assert_eq!(group_members(p.pid).len(), 3);
        let started = std::time::Instant::now();
        let code = p.terminate(Duration::from_secs(5)).await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(code, 128 + 15);
        assert!(wait_gone(p.pid).await);
    }

    #[tokio::test]
    async fn terminate_escalates_to_sigkill() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = spawn(&launch(dir.path(), "trap '' TERM; sleep 30")).unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let code = p.terminate(Duration::from_millis(300)).await.unwrap();
        assert_eq!(code, 128 + 9);
        assert!(wait_gone(p.pid).await);
    }

    #[tokio::test]
    async fn leftovers_die_with_the_main_process() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = spawn(&launch(dir.path(), "sleep 30 & exit 0")).unwrap();
        assert_eq!(p.wait().await.unwrap(), 0);
        assert!(wait_gone(p.pid).await);
    }

    #[test]
    fn start_ticks_of_self() {
        let me = i32::try_from(std::process::id()).unwrap();
        assert!(process_start_ticks(me).is_some());
        assert!(!kill_orphan(me, Some(0)));
        assert!(!kill_orphan(me, None));
    }
}
