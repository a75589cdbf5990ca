//! Operating-system error numbers as the platform reports them.
//!
//! Storage and monitoring servers answer some failures with `{"error": …, "errno": …}`.
//! The errno is normally a symbolic name (`"ENOENT"`) and sometimes an integer. The Python
//! SDK looks names up in its `errno` module and passes unknown values through unchanged;
//! [`Errno`] keeps whichever form the server sent and translates between the two for the
//! common Linux numbers (the servers run on Linux).

use std::fmt;
use std::io::ErrorKind;

use serde_json::Value;

/// An errno value from the server: a symbolic name or a number, kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Errno {
    /// A numeric errno, e.g. `2`.
    Code(i64),
    /// A symbolic name, e.g. `"ENOENT"`. Unknown names are kept as they are.
    Name(String),
}

/// Linux errno names and numbers. The first name of a number is its canonical name;
/// aliases (`EWOULDBLOCK`, `EDEADLOCK`, `ENOTSUP`) follow it.
const TABLE: &[(&str, i32)] = &[
    ("EPERM", 1),
    ("ENOENT", 2),
    ("ESRCH", 3),
    ("EINTR", 4),
    ("EIO", 5),
    ("ENXIO", 6),
    ("E2BIG", 7),
    ("ENOEXEC", 8),
    ("EBADF", 9),
    ("ECHILD", 10),
    ("EAGAIN", 11),
    ("EWOULDBLOCK", 11),
    ("ENOMEM", 12),
    ("EACCES", 13),
    ("EFAULT", 14),
    ("ENOTBLK", 15),
    ("EBUSY", 16),
    ("EEXIST", 17),
    ("EXDEV", 18),
    ("ENODEV", 19),
    ("ENOTDIR", 20),
    ("EISDIR", 21),
    ("EINVAL", 22),
    ("ENFILE", 23),
    ("EMFILE", 24),
    ("ENOTTY", 25),
    ("ETXTBSY", 26),
    ("EFBIG", 27),
    ("ENOSPC", 28),
    ("ESPIPE", 29),
    ("EROFS", 30),
    ("EMLINK", 31),
    ("EPIPE", 32),
    ("EDOM", 33),
    ("ERANGE", 34),
    ("EDEADLK", 35),
    ("EDEADLOCK", 35),
    ("ENAMETOOLONG", 36),
    ("ENOLCK", 37),
    ("ENOSYS", 38),
    ("ENOTEMPTY", 39),
    ("ELOOP", 40),
    ("ENODATA", 61),
    ("ETIME", 62),
    ("EOVERFLOW", 75),
    ("EILSEQ", 84),
    ("ENOTSOCK", 88),
    ("EMSGSIZE", 90),
    ("EOPNOTSUPP", 95),
    ("ENOTSUP", 95),
    ("EADDRINUSE", 98),
    ("EADDRNOTAVAIL", 99),
    ("ENETDOWN", 100),
    ("ENETUNREACH", 101),
    ("ECONNABORTED", 103),
    ("ECONNRESET", 104),
    ("ENOBUFS", 105),
    ("ENOTCONN", 107),
    ("ESHUTDOWN", 108),
    ("ETIMEDOUT", 110),
    ("ECONNREFUSED", 111),
    ("EHOSTDOWN", 112),
    ("EHOSTUNREACH", 113),
    ("EALREADY", 114),
    ("EINPROGRESS", 115),
    ("ESTALE", 116),
    ("EDQUOT", 122),
    ("ECANCELED", 125),
];

impl Errno {
    /// The errno for a Linux error number.
    pub fn from_code(code: i64) -> Self {
        Errno::Code(code)
    }

    /// The errno for a symbolic name such as `"ENOENT"`.
    pub fn from_name(name: impl Into<String>) -> Self {
        Errno::Name(name.into())
    }

    /// Reads the `errno` member of a server error object.
    ///
    /// `null` means "no errno" and gives `None`. Strings become [`Errno::Name`], integers
    /// [`Errno::Code`]; any other JSON value is kept as its JSON text.
    pub fn from_json(value: &Value) -> Option<Self> {
        match value {
            Value::Null => None,
            Value::String(name) => Some(Errno::Name(name.clone())),
            Value::Number(n) => Some(match n.as_i64() {
                Some(code) => Errno::Code(code),
                None => Errno::Name(n.to_string()),
            }),
            other => Some(Errno::Name(other.to_string())),
        }
    }

    /// The Linux error number: the number itself, or the number of a known name.
    pub fn code(&self) -> Option<i32> {
        match self {
            Errno::Code(code) => i32::try_from(*code).ok(),
            Errno::Name(name) => name_to_code(name),
        }
    }

    /// The canonical symbolic name: the name of a known number, or a known name itself.
    pub fn name(&self) -> Option<&'static str> {
        self.code().and_then(code_to_name)
    }

    /// The [`std::io::ErrorKind`] closest to this errno, like the `OSError` subclass that
    /// Python picks (`ENOENT` → `NotFound`, `EEXIST` → `AlreadyExists`, …). Unknown values
    /// give [`ErrorKind::Other`].
    pub fn io_error_kind(&self) -> ErrorKind {
        match self.code() {
            Some(code) => code_to_kind(code),
            None => ErrorKind::Other,
        }
    }
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Errno::Code(code) => write!(f, "{code}"),
            Errno::Name(name) => f.write_str(name),
        }
    }
}

impl From<i64> for Errno {
    fn from(code: i64) -> Self {
        Errno::Code(code)
    }
}

impl From<&str> for Errno {
    fn from(name: &str) -> Self {
        Errno::Name(name.to_owned())
    }
}

fn name_to_code(name: &str) -> Option<i32> {
    TABLE.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

fn code_to_name(code: i32) -> Option<&'static str> {
    TABLE.iter().find(|(_, c)| *c == code).map(|(n, _)| *n)
}

fn code_to_kind(code: i32) -> ErrorKind {
    match code {
        1 | 13 => ErrorKind::PermissionDenied,
        2 => ErrorKind::NotFound,
        4 => ErrorKind::Interrupted,
        11 | 114 | 115 => ErrorKind::WouldBlock,
        12 => ErrorKind::OutOfMemory,
        16 => ErrorKind::ResourceBusy,
        17 => ErrorKind::AlreadyExists,
        18 => ErrorKind::CrossesDevices,
        20 => ErrorKind::NotADirectory,
        21 => ErrorKind::IsADirectory,
        22 => ErrorKind::InvalidInput,
        26 => ErrorKind::ExecutableFileBusy,
        27 => ErrorKind::FileTooLarge,
        28 => ErrorKind::StorageFull,
        29 => ErrorKind::NotSeekable,
        30 => ErrorKind::ReadOnlyFilesystem,
        31 => ErrorKind::TooManyLinks,
        32 | 108 => ErrorKind::BrokenPipe,
        35 => ErrorKind::Deadlock,
        36 => ErrorKind::InvalidFilename,
        7 => ErrorKind::ArgumentListTooLong,
        38 | 95 => ErrorKind::Unsupported,
        39 => ErrorKind::DirectoryNotEmpty,
        98 => ErrorKind::AddrInUse,
        99 => ErrorKind::AddrNotAvailable,
        100 => ErrorKind::NetworkDown,
        101 => ErrorKind::NetworkUnreachable,
        103 => ErrorKind::ConnectionAborted,
        104 => ErrorKind::ConnectionReset,
        107 => ErrorKind::NotConnected,
        110 => ErrorKind::TimedOut,
        111 => ErrorKind::ConnectionRefused,
        113 => ErrorKind::HostUnreachable,
        116 => ErrorKind::StaleNetworkFileHandle,
        122 => ErrorKind::QuotaExceeded,
        _ => ErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_codes_map_both_ways() {
        assert_eq!(Errno::from_name("ENOENT").code(), Some(2));
        assert_eq!(Errno::from_code(2).name(), Some("ENOENT"));
        assert_eq!(Errno::from_name("EWOULDBLOCK").name(), Some("EAGAIN"));
        assert_eq!(Errno::from_name("ENOTEMPTY").code(), Some(39));
        assert_eq!(Errno::from_name("EFOO").code(), None);
        assert_eq!(Errno::from_name("EFOO").name(), None);
        assert_eq!(Errno::from_code(100_000).name(), None);
    }

    #[test]
    fn io_kinds() {
        let cases = [
            ("ENOENT", ErrorKind::NotFound),
            ("EEXIST", ErrorKind::AlreadyExists),
            ("EACCES", ErrorKind::PermissionDenied),
            ("EPERM", ErrorKind::PermissionDenied),
            ("EISDIR", ErrorKind::IsADirectory),
            ("ENOTDIR", ErrorKind::NotADirectory),
            ("ENOTEMPTY", ErrorKind::DirectoryNotEmpty),
            ("EINVAL", ErrorKind::InvalidInput),
            ("EBUSY", ErrorKind::ResourceBusy),
            ("EIO", ErrorKind::Other),
            ("EUNKNOWN", ErrorKind::Other),
        ];
        for (name, kind) in cases {
            assert_eq!(Errno::from_name(name).io_error_kind(), kind, "{name}");
        }
        assert_eq!(Errno::from_code(2).io_error_kind(), ErrorKind::NotFound);
    }

    #[test]
    fn from_json_values() {
        assert_eq!(Errno::from_json(&json!(null)), None);
        assert_eq!(
            Errno::from_json(&json!("ENOENT")),
            Some(Errno::Name("ENOENT".into()))
        );
        assert_eq!(Errno::from_json(&json!(17)), Some(Errno::Code(17)));
        assert_eq!(
            Errno::from_json(&json!(1.5)),
            Some(Errno::Name("1.5".into()))
        );
        assert_eq!(Errno::Code(5).to_string(), "5");
        assert_eq!(Errno::Name("EIO".into()).to_string(), "EIO");
    }
}
