//! Pseudo-terminals for `tty` jobs and `tty` exec sessions.

use std::fs::File;
use std::io::{self, Write as _};
use std::os::fd::{AsFd as _, AsRawFd as _, OwnedFd};
use std::sync::Mutex;

use nix::fcntl::{fcntl, FcntlArg, FdFlag};
use nix::pty::{openpty, Winsize};

use super::sys;

/// Size a terminal starts with, like Docker's default.
pub const DEFAULT_SIZE: (u16, u16) = (24, 80);

/// The master side of a pseudo-terminal, shared by the process's output pump
/// (reads) and the attached clients (writes and resizes).
#[derive(Debug)]
pub struct Terminal {
    /// A duplicate of the master for writes (and ioctls).
    writer: Mutex<File>,
}

/// A new terminal: the shared master, a master handle for the output reader, and
/// the slave side for the child.
pub(crate) struct NewTerminal {
    pub terminal: Terminal,
    pub reader: TerminalReader,
    pub slave: OwnedFd,
}

/// Reads what the process writes to its terminal.
#[derive(Debug)]
pub struct TerminalReader {
    master: File,
}

impl Terminal {
    /// Opens a pseudo-terminal of `rows` x `cols`.
    pub(crate) fn open(rows: u16, cols: u16) -> io::Result<NewTerminal> {
        let size = Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = openpty(&size, None)?;
        // Other children must not inherit either side: a stray slave handle
        // would keep the terminal (and the job's output) open.
        for fd in [&pty.master, &pty.slave] {
            fcntl(fd.as_raw_fd(), FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
        }
        let master = File::from(pty.master);
        let writer = master.try_clone()?;
        Ok(NewTerminal {
            terminal: Terminal {
                writer: Mutex::new(writer),
            },
            reader: TerminalReader { master },
            slave: pty.slave,
        })
    }

    /// Types `data` into the terminal (blocking; small writes).
    pub fn write_all(&self, data: &[u8]) -> io::Result<()> {
        let mut writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        writer.write_all(data)
    }

    /// Changes the terminal's size; the foreground process gets `SIGWINCH`.
    pub fn resize(&self, rows: u16, cols: u16) -> io::Result<()> {
        let writer = self
            .writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sys::set_window_size(writer.as_fd(), rows, cols)
    }
}

impl io::Read for TerminalReader {
    /// Reads output; the end (every slave handle closed, which Linux reports as
    /// `EIO`) reads as end of file.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.master.read(buf) {
            Err(e) if e.raw_os_error() == Some(libc::EIO) => Ok(0),
            other => other,
        }
    }
}
