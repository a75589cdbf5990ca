//! Job processes: start, wait, terminate.
//!
//! A job runs as `/bin/sh -c <command>` in a process group of its own (the
//! group id is the shell's pid), with a clean environment. Without a terminal,
//! stdin, stdout and stderr are three pipes: neuro-local holds stdin open for
//! `attach` (the platform starts every container with `stdin: true`), and keeps
//! the two output streams apart so `attach` can send each on its own channel;
//! with `tty` the job gets a pseudo-terminal ([`Terminal`]) and its own
//! session. Either way the output is read by a pump into the job's log
//! ([`super::logs`]), the two streams interleaved in arrival order. Signals go to the whole group, so the
//! shell's children go with it. A job with mounts starts in a sandbox of its
//! own ([`super::sandbox`]); `exec` processes join it. A job whose image is in
//! the platform's registry runs its image's process (`argv`, no shell) inside
//! the image's root file system (`image`).

use std::io;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use nix::fcntl::OFlag;
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command};

use super::sandbox::{ImageRoot, JobMounts, Sandbox};
use super::sys::{self, ChildSetup};
use super::terminal::{Terminal, TerminalReader, DEFAULT_SIZE};

/// `PATH` given to jobs when the server has none.
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What to start. `Debug` shows the environment's names only: its values may
/// be secrets (`secret_env`) or a token (the passed config).
#[derive(Clone)]
pub(crate) struct Launch {
    /// Shell command line; `None` starts a bare `/bin/sh`, which reads its
    /// commands from stdin (the terminal, or the pipe `attach` types into) as
    /// an image's default shell does on the platform.
    pub command: Option<String>,
    /// Environment, applied in order over an empty one.
    pub env: Vec<(String, String)>,
    /// Working directory (a path in the job's view when it has mounts).
    pub cwd: PathBuf,
    /// Give the job a pseudo-terminal.
    pub tty: bool,
    /// The job's mounts; when not empty the job gets a sandbox.
    pub mounts: JobMounts,
    /// Empty directory for the sandbox's root.
    pub root_dir: PathBuf,
    /// The program and its arguments, started directly instead of the shell
    /// `command` (image jobs).
    pub argv: Option<Vec<String>>,
    /// The image root file system the job runs in, if any.
    pub image: Option<ImageRoot>,
    /// The description of the job's first `Running` transition (e.g. that its
    /// image runs on the host's file system).
    pub note: Option<String>,
}

impl std::fmt::Debug for Launch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env: Vec<&str> = self.env.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Launch")
            .field("command", &self.command)
            .field("env", &env)
            .field("cwd", &self.cwd)
            .field("tty", &self.tty)
            .field("mounts", &self.mounts)
            .field("root_dir", &self.root_dir)
            .field("argv", &self.argv)
            .field("image", &self.image)
            .field("note", &self.note)
            .finish()
    }
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

/// Where a started job's output comes from.
pub(crate) enum Output {
    /// The read ends of the stdout and stderr pipes.
    Pipes {
        stdout: std::fs::File,
        stderr: std::fs::File,
    },
    /// The terminal's master side (both streams).
    Terminal(TerminalReader),
}

/// A started job: the process, its output, its terminal if it has one, else
/// the write end of its stdin.
pub(crate) struct Started {
    pub process: JobProcess,
    pub output: Output,
    pub terminal: Option<Arc<Terminal>>,
    pub stdin: Option<OwnedFd>,
}

/// The `PATH` a job starts with.
pub(crate) fn default_path() -> String {
    std::env::var("PATH")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_PATH.to_owned())
}

/// A close-on-exec pipe: (read end, write end).
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    Ok(nix::unistd::pipe2(OFlag::O_CLOEXEC)?)
}

fn shell(command: Option<&str>, env: &[(String, String)]) -> Command {
    let mut cmd = Command::new("/bin/sh");
    if let Some(command) = command {
        cmd.arg("-c").arg(command);
    }
    cmd.env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .kill_on_drop(false);
    cmd
}

/// Points stdin, stdout and stderr at a new terminal; the child becomes a
/// session leader with it as its controlling terminal.
fn attach_terminal(
    cmd: &mut Command,
    setup: &mut ChildSetup,
) -> io::Result<(Terminal, TerminalReader)> {
    let (rows, cols) = DEFAULT_SIZE;
    let new = Terminal::open(rows, cols)?;
    cmd.stdin(Stdio::from(new.slave.try_clone()?))
        .stdout(Stdio::from(new.slave.try_clone()?))
        .stderr(Stdio::from(new.slave));
    setup.controlling_tty = true;
    Ok((new.terminal, new.reader))
}

fn start(mut cmd: Command) -> io::Result<(Child, i32)> {
    let child = cmd.spawn()?;
    let pid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .ok_or_else(|| io::Error::other("the process exited before its pid was read"))?;
    Ok((child, pid))
}

/// Starts the job's process in a new process group (or session, with a
/// terminal), in its sandbox if it has mounts.
pub(crate) fn spawn(launch: &Launch) -> io::Result<Started> {
    let mut cmd = match launch.argv.as_deref() {
        Some([program, args @ ..]) => {
            let mut cmd = Command::new(program);
            cmd.args(args)
                .env_clear()
                .envs(launch.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .kill_on_drop(false);
            cmd
        }
        _ => shell(launch.command.as_deref(), &launch.env),
    };
    let mut setup = ChildSetup::default();
    if let Some(image) = &launch.image {
        setup.sandbox = Some(
            Sandbox::create_in_image(&launch.root_dir, image, &launch.mounts, &launch.cwd)
                .map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("cannot prepare the job's image root: {e}"),
                    )
                })?,
        );
    } else if launch.mounts.is_empty() {
        cmd.current_dir(&launch.cwd);
    } else {
        setup.sandbox = Some(
            Sandbox::create(&launch.root_dir, &launch.mounts, &launch.cwd).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot prepare the job's mounts: {e}"))
            })?,
        );
    }
    let (output, terminal, stdin) = if launch.tty {
        let (terminal, reader) = attach_terminal(&mut cmd, &mut setup)?;
        (Output::Terminal(reader), Some(Arc::new(terminal)), None)
    } else {
        let (stdin_read, stdin_write) = pipe()?;
        let (stdout_read, stdout_write) = pipe()?;
        let (stderr_read, stderr_write) = pipe()?;
        cmd.stdin(Stdio::from(stdin_read))
            .stdout(Stdio::from(stdout_write))
            .stderr(Stdio::from(stderr_write))
            .process_group(0);
        let output = Output::Pipes {
            stdout: std::fs::File::from(stdout_read),
            stderr: std::fs::File::from(stderr_read),
        };
        (output, None, Some(stdin_write))
    };
    let sandboxed = setup.sandbox.is_some();
    sys::install(&mut cmd, setup);
    let (child, pid) = start(cmd).map_err(|e| {
        if sandboxed {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot enter the job's sandbox (Linux user and mount namespaces \
                     with bind mounts are needed for jobs with volumes or a registry image): {e}"
                ),
            )
        } else {
            e
        }
    })?;
    Ok(Started {
        process: JobProcess {
            child,
            pid,
            start_ticks: process_start_ticks(pid),
        },
        output,
        terminal,
        stdin,
    })
}

/// How an `exec` session wants the new process's standard streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ExecStdio {
    /// A pseudo-terminal for all three.
    pub tty: bool,
    /// Keep stdin open for the client (else `/dev/null`).
    pub stdin: bool,
}

/// A process started by `exec`.
pub(crate) struct ExecProcess {
    pub child: Child,
    /// Process group (and, with a terminal, session) id.
    pub pgid: i32,
    pub stdin: Option<ChildStdin>,
    pub stdout: Option<ChildStdout>,
    pub stderr: Option<ChildStderr>,
    /// With `tty`: the terminal and its output.
    pub terminal: Option<(Arc<Terminal>, TerminalReader)>,
}

/// Starts `command` (a shell command line) in the environment of a running job:
/// its variables, its working directory and, when `job_pid` runs in a sandbox,
/// its namespaces.
pub(crate) fn spawn_exec(
    launch: &Launch,
    job_pid: Option<i32>,
    command: &str,
    stdio: ExecStdio,
) -> io::Result<ExecProcess> {
    let mut cmd = shell(Some(command), &launch.env);
    let mut setup = ChildSetup::default();
    match job_pid {
        Some(pid) if !launch.mounts.is_empty() || launch.image.is_some() => {
            setup.sandbox = Some(Sandbox::join(pid, &launch.cwd)?);
        }
        _ => {
            cmd.current_dir(&launch.cwd);
        }
    }
    let terminal = if stdio.tty {
        let (terminal, reader) = attach_terminal(&mut cmd, &mut setup)?;
        Some((Arc::new(terminal), reader))
    } else {
        cmd.stdin(if stdio.stdin {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
        None
    };
    sys::install(&mut cmd, setup);
    let (mut child, pgid) = start(cmd)?;
    Ok(ExecProcess {
        stdin: child.stdin.take(),
        stdout: child.stdout.take(),
        stderr: child.stderr.take(),
        child,
        pgid,
        terminal,
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

/// The exit code of a finished process: its code, or 128 + the signal that
/// killed it.
pub(crate) fn exit_code(status: ExitStatus) -> i32 {
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
    use std::path::Path;

    fn launch(dir: &Path, command: &str) -> Launch {
        Launch {
            command: Some(command.to_owned()),
            env: vec![
                ("PATH".to_owned(), default_path()),
                ("GREETING".to_owned(), "hi".to_owned()),
            ],
            cwd: dir.to_path_buf(),
            tty: false,
            mounts: JobMounts::default(),
            root_dir: dir.join("root"),
            argv: None,
            image: None,
            note: None,
        }
    }

    #[test]
    fn debug_shows_env_names_not_values() {
        let dir = tempfile::tempdir().unwrap();
        let text = format!("{:?}", launch(dir.path(), "true"));
        assert!(text.contains("GREETING"));
        assert!(!text.contains("\"hi\""), "{text}");
    }

    /// Starts `launch` with its output pumped into `dir/log` by a thread.
    fn spawn_logged(launch: &Launch, dir: &Path) -> (JobProcess, std::thread::JoinHandle<()>) {
        let started = spawn(launch).unwrap();
        let writer = super::super::logs::LogWriter::open(dir).unwrap();
        let output = started.output;
        // The job reads end-of-file from its stdin.
        drop(started.stdin);
        let pump = std::thread::spawn(move || writer.pump(output, |_, _, _| {}));
        (started.process, pump)
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
        let (mut p, pump) = spawn_logged(
            &launch(
                dir.path(),
                "echo $GREETING; pwd; echo oops >&2; read x; echo \"stdin:$x\"; exit 3",
            ),
            dir.path(),
        );
        assert!(p.start_ticks.is_some());
        assert_eq!(p.wait().await.unwrap(), 3);
        pump.join().unwrap();
        let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
        let cwd = dir.path().canonicalize().unwrap();
        // Each stream keeps its order; the two interleave as they arrive.
        assert!(log.contains("oops\n"), "{log}");
        assert_eq!(
            log.replacen("oops\n", "", 1),
            format!("hi\n{}\nstdin:\n", cwd.display())
        );
    }

    #[tokio::test]
    async fn terminate_kills_the_group() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = spawn(&launch(dir.path(), "sleep 30 & sleep 30; wait"))
            .unwrap()
            .process;
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
        let mut p = spawn(&launch(dir.path(), "trap '' TERM; sleep 30"))
            .unwrap()
            .process;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let code = p.terminate(Duration::from_millis(300)).await.unwrap();
        assert_eq!(code, 128 + 9);
        assert!(wait_gone(p.pid).await);
    }

    #[tokio::test]
    async fn leftovers_die_with_the_main_process() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = spawn(&launch(dir.path(), "sleep 30 & exit 0"))
            .unwrap()
            .process;
        assert_eq!(p.wait().await.unwrap(), 0);
        assert!(wait_gone(p.pid).await);
    }

    /// A file mounted read-only at a container path, as a secret file is.
    #[tokio::test]
    async fn a_read_only_file_mount_holds_the_files_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, b"s3cr3t").unwrap();
        let mut l = launch(
            dir.path(),
            "cat /run/neuro-test/secret; echo; \
             if echo x > /run/neuro-test/secret; then echo writable; else echo refused; fi",
        );
        l.cwd = PathBuf::from("/");
        l.mounts = JobMounts {
            binds: vec![super::super::sandbox::BindMount {
                host: secret.clone(),
                container: "/run/neuro-test/secret".into(),
                read_only: true,
            }],
        };
        let (mut p, pump) = spawn_logged(&l, dir.path());
        assert_eq!(p.wait().await.unwrap(), 0);
        pump.join().unwrap();
        let log = std::fs::read_to_string(dir.path().join("log")).unwrap();
        assert!(log.starts_with("s3cr3t\n"), "{log}");
        assert!(
            log.contains("refused\n") && !log.contains("writable"),
            "{log}"
        );
        assert_eq!(std::fs::read(&secret).unwrap(), b"s3cr3t");
        assert!(!Path::new("/run/neuro-test").exists());
    }

    #[test]
    fn start_ticks_of_self() {
        let me = i32::try_from(std::process::id()).unwrap();
        assert!(process_start_ticks(me).is_some());
        assert!(!kill_orphan(me, Some(0)));
        assert!(!kill_orphan(me, None));
    }
}
