//! The benchmark table, as terminal text and as `docs/benchmarks.md`.

use std::fmt::Write as _;

use super::document::Entry;
use super::machine::Machine;
use super::{Outcome, Runs};

const HEADERS: [&str; 10] = [
    "scenario",
    "Rust (s)",
    "Python (s)",
    "Python/Rust",
    "Rust peak RSS (MiB)",
    "Python peak RSS (MiB)",
    "Rust MiB/s",
    "Python MiB/s",
    "floor (s)",
    "Rust/floor",
];

fn cells(outcome: &Outcome) -> [String; 10] {
    let secs = |r: Option<&Runs>| {
        r.and_then(Runs::seconds)
            .map_or("-".into(), |s| format!("{s:.4}"))
    };
    let rss = |r: Option<&Runs>| {
        r.and_then(Runs::peak_rss_kb)
            .map_or("-".into(), |kb| format!("{:.1}", kb / 1024.0))
    };
    let rate = |r: Option<&Runs>| {
        r.and_then(Runs::mib_per_second)
            .map_or("-".into(), |v| format!("{v:.1}"))
    };
    let python = outcome.python.as_ref();
    let ratio = match (outcome.rust.seconds(), python.and_then(Runs::seconds)) {
        (Some(r), Some(p)) if r > 0.0 => format!("{:.1}x", p / r),
        _ => "-".into(),
    };
    let floor = outcome.floor.as_ref().and_then(Runs::seconds);
    let floor_name = outcome.scenario.floor.as_deref().unwrap_or("floor");
    let floor_secs = floor.map_or("-".into(), |f| format!("{f:.4} ({floor_name})"));
    let floor_ratio = match (outcome.rust.seconds(), floor) {
        (Some(r), Some(f)) if f > 0.0 => format!("{:.2}x", r / f),
        _ => "-".into(),
    };
    [
        outcome.scenario.name.clone(),
        secs(Some(&outcome.rust)),
        secs(python),
        ratio,
        rss(Some(&outcome.rust)),
        rss(python),
        rate(Some(&outcome.rust)),
        rate(python),
        floor_secs,
        floor_ratio,
    ]
}

/// A fixed-width table for the terminal.
pub(crate) fn table(outcomes: &[Outcome]) -> String {
    let rows: Vec<[String; 10]> = outcomes.iter().map(cells).collect();
    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    let mut line = |cols: &[String]| {
        let parts: Vec<String> = cols
            .iter()
            .zip(widths)
            .enumerate()
            .map(|(i, (c, w))| {
                if i == 0 {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect();
        let _ = writeln!(out, "{}", parts.join("  ").trim_end());
    };
    line(&HEADERS.map(String::from));
    for row in &rows {
        line(row);
    }
    out
}

/// The opening of `docs/benchmarks.md`.
pub(crate) const INTRO: &str = "# Benchmarks\n\n\
Written by `cargo xtask bench` (do not edit by hand). Rust is this SDK\n\
(`crates/neuro-bench`, release build); Python is `neuro-sdk==22.7.1` / `neuro-cli`\n\
from the conformance venv (`xtask/bench/py/`). Both talk to the same release\n\
`neuro-local` on the same machine over loopback. Times are medians of the runs\n\
listed in each scenario's section, in which the sides took turns (Rust,\n\
Python, floor, Rust, ...) after one unmeasured warm-up run each (the first run\n\
of a scenario also makes its data); \"Python/Rust\" is how many times faster the\n\
Rust side was. Peak RSS is the `VmHWM` of the process that did the work.\n\
A scenario may have a floor measured in the same run, such as `cp` of the\n\
same data on the same disk for transfers; \"Rust/floor\" is how many times\n\
slower than it the Rust side was.\n\
\n\
`cargo xtask bench <scenario>...` rewrites only the named scenarios' rows and\n\
sections; the others keep their numbers, each with the date, machine and load\n\
average it was measured under (the machine may be shared, so compare a row\n\
with its load).\n\
\n\
The tree scenarios create thousands of files, and on this machine's ext4\n\
(no journal) creating a file costs many times more for about five minutes\n\
after many files were deleted nearby: the kernel skips every recently freed\n\
inode (`recently_deleted`), and a build, a test run or an earlier\n\
benchmark's clean-up deletes thousands. Tree numbers taken while anything\n\
else works on the disk are worth little, for both clients.\n\
\n\
Writing a GiB into the page cache takes 0.16 s here one moment and 1.5 s the\n\
next: this virtual machine hands memory that stays free for a few seconds\n\
back to its host (free page reporting), and the first touch of such a page\n\
is a fault on the host. Downloads and `cp`, which fill the page cache, swing\n\
with it; taking turns spreads the swings over all sides.";

/// The header of the results table in `docs/benchmarks.md`.
pub(crate) fn document_header() -> String {
    let mut cols = vec![HEADERS[0], "measured (UTC)", "load (1 min)"];
    cols.extend_from_slice(&HEADERS[1..]);
    format!("| {} |", cols.join(" | "))
}

/// Under what conditions one scenario was measured.
#[derive(Debug)]
pub(crate) struct Conditions<'a> {
    pub(crate) machine: &'a Machine,
    pub(crate) date: time::OffsetDateTime,
    /// 1-minute load average before the first and after the last run.
    pub(crate) load: (Option<f64>, Option<f64>),
    pub(crate) runs: usize,
}

impl Conditions<'_> {
    fn when(&self) -> String {
        let d = self.date;
        format!(
            "{}-{:02}-{:02} {:02}:{:02}",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute()
        )
    }

    fn load_cell(&self) -> String {
        let show = |l: Option<f64>| l.map_or("?".into(), |l| format!("{l:.2}"));
        format!("{}→{}", show(self.load.0), show(self.load.1))
    }
}

/// One scenario's entry of `docs/benchmarks.md`: its table row and section.
pub(crate) fn entry(outcome: &Outcome, at: &Conditions<'_>) -> Entry {
    let name = outcome.scenario.name.clone();
    let mut cols = cells(outcome).to_vec();
    cols[0] = format!("`{name}`");
    cols.insert(1, at.when());
    cols.insert(2, at.load_cell());
    let row = format!("| {} |", cols.join(" | "));

    let all = |r: &Runs| {
        r.0.iter()
            .map(|s| format!("{:.4}", s.seconds))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let m = at.machine;
    let mut section = String::new();
    let _ = writeln!(section, "### `{name}`\n");
    let _ = writeln!(
        section,
        "{}. Items per run: {}.\n",
        outcome.scenario.about,
        outcome.rust.items().unwrap_or(0)
    );
    let _ = writeln!(
        section,
        "- measured: {} UTC, {} runs per client",
        at.when(),
        at.runs
    );
    let _ = writeln!(
        section,
        "- load average (1 min): {} (before the first run → after the last)",
        at.load_cell()
    );
    let _ = writeln!(
        section,
        "- machine: {} ({} cores available), {:.1} GiB, {}, {}, {}",
        m.cpu_model, m.cores, m.memory_gib, m.kernel, m.rustc, m.python
    );
    let _ = writeln!(section, "- Rust runs (s): {}", all(&outcome.rust));
    let _ = writeln!(
        section,
        "- Python runs (s): {}",
        outcome.python.as_ref().map_or("no counterpart".into(), all)
    );
    if let (Some(name), Some(floor)) = (&outcome.scenario.floor, &outcome.floor) {
        let _ = writeln!(section, "- floor ({name}) runs (s): {}", all(floor));
    }
    Entry { name, row, section }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::{Sample, Scenario};
    use super::*;

    fn runs(seconds: &[f64]) -> Runs {
        Runs(
            seconds
                .iter()
                .map(|&s| Sample {
                    seconds: s,
                    bytes: 0,
                    items: 100,
                    peak_rss_kb: 2048,
                })
                .collect(),
        )
    }

    #[test]
    fn table_shows_medians_and_ratio() {
        let outcome = Outcome {
            scenario: Scenario {
                name: "ls-cold".into(),
                about: "x".into(),
                floor: None,
            },
            rust: runs(&[0.02, 0.01, 0.03]),
            python: Some(runs(&[0.5, 0.4, 0.9])),
            floor: None,
            load: (Some(1.5), None),
        };
        let row = cells(&outcome);
        assert_eq!(row[1], "0.0200");
        assert_eq!(row[2], "0.5000");
        assert_eq!(row[3], "25.0x");
        assert_eq!(row[4], "2.0");
        assert_eq!(row[6], "-");
        let text = table(&[outcome]);
        assert!(text.lines().nth(1).unwrap().starts_with("ls-cold"));
    }

    #[test]
    fn a_floor_shows_its_median_and_how_far_rust_is_from_it() {
        let outcome = Outcome {
            scenario: Scenario {
                name: "storage-upload-1g".into(),
                about: "x".into(),
                floor: Some("cp".into()),
            },
            rust: runs(&[0.6, 0.5, 0.7]),
            python: Some(runs(&[3.0, 3.0, 3.0])),
            floor: Some(runs(&[0.3, 0.2, 0.25])),
            load: (None, None),
        };
        let row = cells(&outcome);
        assert_eq!(row[3], "5.0x");
        assert_eq!(row[8], "0.2500 (cp)");
        assert_eq!(row[9], "2.40x");
        let machine = Machine {
            cpu_model: "CPU".into(),
            cores: 2,
            memory_gib: 4.0,
            kernel: "Linux 6".into(),
            rustc: "rustc 1".into(),
            python: "Python 3".into(),
        };
        let at = Conditions {
            machine: &machine,
            date: time::macros::datetime!(2026-11-24 12:34 UTC),
            load: (None, None),
            runs: 3,
        };
        let section = entry(&outcome, &at).section;
        assert!(section.contains("- floor (cp) runs (s): 0.3000, 0.2000, 0.2500"));
    }

    #[test]
    fn missing_python_side_is_a_dash() {
        let outcome = Outcome {
            scenario: Scenario {
                name: "only-rust".into(),
                about: "x".into(),
                floor: None,
            },
            rust: runs(&[1.0, 2.0]),
            python: None,
            floor: None,
            load: (None, None),
        };
        let row = cells(&outcome);
        assert_eq!(row[1], "1.5000");
        assert_eq!(row[2], "-");
        assert_eq!(row[3], "-");
    }

    #[test]
    fn an_entry_survives_a_rewrite_of_another_scenario() {
        let machine = Machine {
            cpu_model: "CPU".into(),
            cores: 2,
            memory_gib: 4.0,
            kernel: "Linux 6".into(),
            rustc: "rustc 1".into(),
            python: "Python 3".into(),
        };
        let at = Conditions {
            machine: &machine,
            date: time::macros::datetime!(2026-11-24 12:34 UTC),
            load: (Some(1.5), Some(2.25)),
            runs: 3,
        };
        let outcome = Outcome {
            scenario: Scenario {
                name: "ls-cold".into(),
                about: "a listing".into(),
                floor: None,
            },
            rust: runs(&[0.02, 0.01, 0.03]),
            python: Some(runs(&[0.5, 0.4, 0.9])),
            floor: None,
            load: at.load,
        };
        let e = entry(&outcome, &at);
        assert_eq!(
            e.row,
            "| `ls-cold` | 2026-11-24 12:34 | 1.50→2.25 | 0.0200 | 0.5000 | 25.0x | 2.0 | 2.0 | - | - | - | - |"
        );
        assert!(e
            .section
            .contains("- machine: CPU (2 cores available), 4.0 GiB"));
        let mut doc = super::super::document::Document::default();
        doc.upsert(e.clone());
        let header = document_header();
        let text = doc.render(INTRO, &header);
        let (parsed, dropped) = super::super::document::Document::parse(&text, &header);
        assert!(dropped.is_empty());
        assert_eq!(parsed.render(INTRO, &header), text);
        assert_eq!(parsed.names(), ["ls-cold"]);
    }
}
