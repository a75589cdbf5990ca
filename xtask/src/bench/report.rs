//! The benchmark table, as terminal text and as `docs/benchmarks.md`.

use std::fmt::Write as _;

use super::machine::Machine;
use super::{Outcome, Runs};

const HEADERS: [&str; 8] = [
    "scenario",
    "Rust (s)",
    "Python (s)",
    "Python/Rust",
    "Rust peak RSS (MiB)",
    "Python peak RSS (MiB)",
    "Rust MiB/s",
    "Python MiB/s",
];

fn cells(outcome: &Outcome) -> [String; 8] {
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
    [
        outcome.scenario.name.clone(),
        secs(Some(&outcome.rust)),
        secs(python),
        ratio,
        rss(Some(&outcome.rust)),
        rss(python),
        rate(Some(&outcome.rust)),
        rate(python),
    ]
}

/// A fixed-width table for the terminal.
pub(crate) fn table(outcomes: &[Outcome]) -> String {
    let rows: Vec<[String; 8]> = outcomes.iter().map(cells).collect();
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

/// The whole `docs/benchmarks.md`.
pub(crate) fn markdown(
    outcomes: &[Outcome],
    machine: &Machine,
    date: time::OffsetDateTime,
    runs: usize,
) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# Benchmarks\n\n\
         Written by `cargo xtask bench` (do not edit by hand). Rust is this SDK\n\
         (`crates/neuro-bench`, release build); Python is `neuro-sdk==22.7.1` / `neuro-cli`\n\
         from the conformance venv (`xtask/bench/py/`). Both talk to the same release\n\
         `neuro-local` on this machine over loopback. Times are the median of {runs} runs;\n\
         \"Python/Rust\" is how many times faster the Rust side was. Peak RSS is the\n\
         `VmHWM` of the process that did the work.\n"
    );
    let _ = writeln!(md, "## Machine\n");
    let _ = writeln!(
        md,
        "- date: {}-{:02}-{:02} (UTC)",
        date.year(),
        u8::from(date.month()),
        date.day()
    );
    let _ = writeln!(
        md,
        "- CPU: {} ({} cores available)",
        machine.cpu_model, machine.cores
    );
    let _ = writeln!(md, "- memory: {:.1} GiB", machine.memory_gib);
    let _ = writeln!(md, "- OS: {}", machine.kernel);
    let _ = writeln!(md, "- {}", machine.rustc);
    let _ = writeln!(md, "- {}\n", machine.python);
    let _ = writeln!(md, "## Results\n");
    let _ = writeln!(md, "| {} |", HEADERS.join(" | "));
    let _ = writeln!(md, "|{}", "---|".repeat(HEADERS.len()));
    for outcome in outcomes {
        let _ = writeln!(md, "| {} |", cells(outcome).join(" | "));
    }
    let _ = writeln!(md, "\n## Scenarios\n");
    for outcome in outcomes {
        let all = |r: &Runs| {
            r.0.iter()
                .map(|s| format!("{:.4}", s.seconds))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let _ = writeln!(
            md,
            "- `{}`: {}. Items per run: {}. Rust runs (s): {}. Python runs (s): {}.",
            outcome.scenario.name,
            outcome.scenario.about,
            outcome.rust.items().unwrap_or(0),
            all(&outcome.rust),
            outcome.python.as_ref().map_or("no counterpart".into(), all),
        );
    }
    md
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
            },
            rust: runs(&[0.02, 0.01, 0.03]),
            python: Some(runs(&[0.5, 0.4, 0.9])),
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
    fn missing_python_side_is_a_dash() {
        let outcome = Outcome {
            scenario: Scenario {
                name: "only-rust".into(),
                about: "x".into(),
            },
            rust: runs(&[1.0, 2.0]),
            python: None,
        };
        let row = cells(&outcome);
        assert_eq!(row[1], "1.5000");
        assert_eq!(row[2], "-");
        assert_eq!(row[3], "-");
    }
}
