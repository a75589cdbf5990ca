//! One measurement, its JSON line, and the peak memory of this process.

use serde::{Deserialize, Serialize};

/// What one run of a scenario measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Measurement {
    /// Seconds of the timed part.
    pub(crate) seconds: f64,
    /// Bytes moved in the timed part (0 when none).
    pub(crate) bytes: u64,
    /// Items handled in the timed part (entries listed, jobs started ...).
    pub(crate) items: u64,
    /// Peak resident set size, in KiB, of the process that did the work.
    pub(crate) peak_rss_kb: u64,
}

#[derive(Serialize, Deserialize)]
struct Line<'a> {
    scenario: &'a str,
    client: &'a str,
    seconds: f64,
    bytes: u64,
    items: u64,
    peak_rss_kb: u64,
}

impl Measurement {
    /// The JSON line `cargo xtask bench` reads; `client` is `rust`, or the
    /// name of a floor.
    pub(crate) fn to_json_line(&self, scenario: &str, client: &str) -> serde_json::Result<String> {
        serde_json::to_string(&Line {
            scenario,
            client,
            seconds: self.seconds,
            bytes: self.bytes,
            items: self.items,
            peak_rss_kb: self.peak_rss_kb,
        })
    }

    /// Reads back a line written by [`Measurement::to_json_line`] (e.g. by a child
    /// process).
    pub(crate) fn from_json_line(line: &str) -> serde_json::Result<Self> {
        let line: Line<'_> = serde_json::from_str(line.trim())?;
        Ok(Self {
            seconds: line.seconds,
            bytes: line.bytes,
            items: line.items,
            peak_rss_kb: line.peak_rss_kb,
        })
    }
}

/// Peak resident set size of this process in KiB (`VmHWM` of `/proc/self/status`),
/// or 0 where that file does not exist.
pub(crate) fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| parse_vm_hwm(&status))
        .unwrap_or(0)
}

fn parse_vm_hwm(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kb| kb.parse().ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_in_kib() {
        let status =
            "Name:\tneuro-bench\nVmPeak:\t  20000 kB\nVmHWM:\t    8123 kB\nVmRSS:\t 7000 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(8123));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
    }

    #[test]
    fn this_process_has_a_peak_rss() {
        assert!(peak_rss_kb() > 0);
    }

    #[test]
    fn json_line_has_the_agreed_fields() {
        let m = Measurement {
            seconds: 0.5,
            bytes: 10,
            items: 2,
            peak_rss_kb: 300,
        };
        let text = m.to_json_line("ls-cold", "rust").unwrap();
        assert_eq!(Measurement::from_json_line(&text).unwrap(), m);
        let line: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            line,
            serde_json::json!({"scenario":"ls-cold","client":"rust","seconds":0.5,
                               "bytes":10,"items":2,"peak_rss_kb":300})
        );
    }
}
