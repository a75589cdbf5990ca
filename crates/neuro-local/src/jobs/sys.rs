//! The system calls without a safe wrapper, in one place: the `pre_exec` hook
//! that gives a child its controlling terminal and its sandbox, and the
//! terminal-size ioctl.
//!
//! The hook runs in the forked child of a multi-threaded process, where only
//! async-signal-safe calls are allowed: everything it needs (paths as C strings,
//! file descriptors, map contents) is prepared before the fork, and the hook only
//! makes system calls.

#![allow(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd};

use super::sandbox::Sandbox;

/// What a child does between `fork` and `exec`.
#[derive(Debug, Default)]
pub(crate) struct ChildSetup {
    /// Start a new session and make stdin (a pseudo-terminal) its controlling
    /// terminal, so the job gets job control and `SIGWINCH`.
    pub controlling_tty: bool,
    /// Enter this sandbox (namespaces and mounts).
    pub sandbox: Option<Sandbox>,
}

impl ChildSetup {
    /// Whether the child needs the hook at all.
    pub fn is_empty(&self) -> bool {
        !self.controlling_tty && self.sandbox.is_none()
    }

    /// Runs in the child: only system calls, no allocation.
    fn run(&self) -> io::Result<()> {
        if let Some(sandbox) = &self.sandbox {
            sandbox.enter()?;
        }
        if self.controlling_tty {
            nix::unistd::setsid()?;
            // SAFETY: TIOCSCTTY takes an integer argument; fd 0 is the child's
            // stdin, the terminal's slave side.
            if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } == -1 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

/// Installs `setup` to run in the child of `command` before it executes.
pub(crate) fn install(command: &mut tokio::process::Command, setup: ChildSetup) {
    if setup.is_empty() {
        return;
    }
    // SAFETY: `ChildSetup::run` only makes system calls on data prepared before
    // the fork (no allocation, no locks), which is what `pre_exec` requires.
    unsafe {
        command.pre_exec(move || setup.run());
    }
}

/// Sets the window size of the terminal whose master side is `fd`.
pub(crate) fn set_window_size(fd: BorrowedFd<'_>, rows: u16, cols: u16) -> io::Result<()> {
    let size = libc::winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: `fd` is open for the duration of the call and `size` is a valid
    // `winsize` that TIOCSWINSZ only reads.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::TIOCSWINSZ, &size) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
