//! Clock skew between this machine and the storage server, and the `update` /
//! `continue_` decisions that depend on it (wire-protocol-data §2.5).

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

/// Slack, in seconds, for modification times compared across machines.
const TIME_THRESHOLD: f64 = 1.0;

/// The last measured difference `local clock − server clock`, in seconds, as a
/// range: it is at least `min` and at most `max`. Both start at 0.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TimeDiff {
    /// Lower bound (the server truncates its `Date` to whole seconds).
    pub min: f64,
    /// Upper bound.
    pub max: f64,
}

/// The measurement shared by every clone of one API object (storage, or a
/// blob bucket).
#[derive(Debug, Clone, Default)]
pub struct Clock(Arc<Mutex<TimeDiff>>);

impl Clock {
    /// The current estimate.
    pub fn get(&self) -> TimeDiff {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records the server's `Date` of a response whose request left at
    /// `request_time` (and whose head arrives now). An unparsable or missing
    /// date leaves the estimate as it was.
    pub fn observe(&self, request_time: SystemTime, date: Option<&str>) {
        let Some(server) = date.and_then(|d| httpdate::parse_http_date(d).ok()) else {
            return;
        };
        let server = seconds(server);
        let diff = TimeDiff {
            min: seconds(request_time) - server - 1.0,
            max: seconds(SystemTime::now()) - server,
        };
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = diff;
    }
}

/// Seconds since the epoch (negative before it).
pub(crate) fn seconds(time: SystemTime) -> f64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

/// Size and modification time of one side of a transfer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stamp {
    /// Size in bytes.
    pub size: u64,
    /// Modification time, seconds since the epoch (the remote side truncates
    /// to whole seconds).
    pub mtime: f64,
}

/// What to do with a file whose destination exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Transfer from this byte offset (0 = the whole file).
    From(u64),
    /// Leave the destination alone.
    Skip,
}

/// Upload decision (`_check_upload`): the local file is likely newer, so
/// transfer it all; else skip with `update`; with `continue_` skip a complete
/// destination or resume a shorter one.
pub fn check_upload(
    local: Stamp,
    remote: Stamp,
    diff: TimeDiff,
    update: bool,
    continue_: bool,
) -> Decision {
    if local.mtime - remote.mtime > diff.min - TIME_THRESHOLD {
        return Decision::From(0);
    }
    if update {
        return Decision::Skip;
    }
    if continue_ {
        if local.size == remote.size {
            return Decision::Skip;
        }
        if local.size > remote.size {
            return Decision::From(remote.size);
        }
    }
    Decision::From(0)
}

/// Download decision (`_check_download`), the mirror of [`check_upload`]:
/// the remote file is likely newer, so transfer it all; else skip with
/// `update`; with `continue_` skip a complete local file or resume a shorter one.
pub fn check_download(
    local: Stamp,
    remote: Stamp,
    diff: TimeDiff,
    update: bool,
    continue_: bool,
) -> Decision {
    // One more second: the remote time was truncated.
    if local.mtime - remote.mtime < diff.max + TIME_THRESHOLD + 1.0 {
        return Decision::From(0);
    }
    if update {
        return Decision::Skip;
    }
    if continue_ {
        if local.size == remote.size {
            return Decision::Skip;
        }
        if local.size < remote.size {
            return Decision::From(local.size);
        }
    }
    Decision::From(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(size: u64, mtime: f64) -> Stamp {
        Stamp { size, mtime }
    }

    #[test]
    fn upload_decisions() {
        let diff = TimeDiff::default();
        // Local newer: always the whole file.
        assert_eq!(
            check_upload(stamp(5, 100.0), stamp(5, 90.0), diff, true, true),
            Decision::From(0)
        );
        // Remote newer.
        let (l, r) = (stamp(10, 90.0), stamp(4, 100.0));
        assert_eq!(check_upload(l, r, diff, true, false), Decision::Skip);
        assert_eq!(check_upload(l, r, diff, true, true), Decision::Skip);
        assert_eq!(check_upload(l, r, diff, false, true), Decision::From(4));
        assert_eq!(
            check_upload(stamp(4, 90.0), r, diff, false, true),
            Decision::Skip
        );
        assert_eq!(
            check_upload(stamp(3, 90.0), r, diff, false, true),
            Decision::From(0)
        );
        // A server clock 100 s ahead makes remote times look newer than they are.
        let skewed = TimeDiff {
            min: -101.0,
            max: -100.0,
        };
        assert_eq!(
            check_upload(stamp(5, 50.0), stamp(5, 100.0), skewed, true, false),
            Decision::From(0)
        );
    }

    #[test]
    fn download_decisions() {
        let diff = TimeDiff::default();
        // Remote likely newer (within the slack).
        assert_eq!(
            check_download(stamp(5, 101.0), stamp(5, 100.0), diff, true, true),
            Decision::From(0)
        );
        let (l, r) = (stamp(4, 200.0), stamp(10, 100.0));
        assert_eq!(check_download(l, r, diff, true, false), Decision::Skip);
        assert_eq!(check_download(l, r, diff, false, true), Decision::From(4));
        assert_eq!(
            check_download(stamp(10, 200.0), r, diff, false, true),
            Decision::Skip
        );
        assert_eq!(
            check_download(stamp(12, 200.0), r, diff, false, true),
            Decision::From(0)
        );
    }

    #[test]
    fn clock_observation() {
        let clock = Clock::default();
        clock.observe(SystemTime::now(), Some("not a date"));
        assert_eq!(clock.get(), TimeDiff::default());
        let now = SystemTime::now();
        clock.observe(now, Some(&httpdate::fmt_http_date(now)));
        let diff = clock.get();
        assert!(diff.min <= 0.0 && diff.min >= -2.0, "{diff:?}");
        assert!(diff.max >= 0.0 && diff.max < 60.0, "{diff:?}");
    }
}
