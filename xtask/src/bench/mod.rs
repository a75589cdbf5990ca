//! `cargo xtask bench`: the Rust SDK against the Python `neuro-sdk==22.7.1`, on a
//! release `neuro-local`.
//!
//! Scenarios are registered in `crates/neuro-bench` (`neuro-bench --list`); the
//! Python counterpart of scenario `a-b` is `xtask/bench/py/a_b.py`. Each side
//! runs [`BenchArgs::runs`] times, the sides taking turns; the report shows
//! medians. Only the scenarios that ran are rewritten in `docs/benchmarks.md`
//! (see [`document`]).

mod document;
mod machine;
mod report;
mod server;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde::Deserialize;

use crate::util::{output, run, target_dir};
use machine::Machine;
use server::LocalServer;

/// Arguments of `cargo xtask bench`.
#[derive(Debug, clap::Args)]
pub(crate) struct BenchArgs {
    /// Scenarios to run (default: all). Only their rows and sections of
    /// docs/benchmarks.md are rewritten; the others keep their numbers.
    scenarios: Vec<String>,
    /// Runs per scenario and client; the report shows the median.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Unmeasured runs of every side before the measured ones: the first run
    /// of a scenario also makes its data (a 1 GiB file, an upload to
    /// download), and the writeback of that slowed whichever run came next.
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Print the results without touching docs/benchmarks.md.
    #[arg(long)]
    no_write: bool,
}

/// One scenario as `neuro-bench --list` prints it.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub(crate) name: String,
    pub(crate) about: String,
    /// The name of its floor (`neuro-bench --floor <name>`), e.g. `cp`.
    pub(crate) floor: Option<String>,
}

/// One JSON line printed by either side.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Sample {
    pub(crate) seconds: f64,
    #[serde(default)]
    pub(crate) bytes: u64,
    #[serde(default)]
    pub(crate) items: u64,
    #[serde(default)]
    pub(crate) peak_rss_kb: u64,
}

/// The runs of one scenario by one client.
#[derive(Debug, Clone, Default)]
pub(crate) struct Runs(pub(crate) Vec<Sample>);

impl Runs {
    fn median_of(&self, f: impl Fn(&Sample) -> f64) -> Option<f64> {
        let mut values: Vec<f64> = self.0.iter().map(f).collect();
        if values.is_empty() {
            return None;
        }
        values.sort_by(f64::total_cmp);
        let mid = values.len() / 2;
        Some(if values.len() % 2 == 1 {
            values[mid]
        } else {
            (values[mid - 1] + values[mid]) / 2.0
        })
    }

    /// Median seconds.
    pub(crate) fn seconds(&self) -> Option<f64> {
        self.median_of(|s| s.seconds)
    }

    /// Median peak RSS in KiB.
    pub(crate) fn peak_rss_kb(&self) -> Option<f64> {
        self.median_of(|s| s.peak_rss_kb as f64)
    }

    /// Median throughput in MiB/s, when the scenario moves bytes.
    pub(crate) fn mib_per_second(&self) -> Option<f64> {
        self.median_of(|s| s.bytes as f64 / (1024.0 * 1024.0) / s.seconds.max(f64::EPSILON))
            .filter(|_| self.0.iter().any(|s| s.bytes > 0))
    }

    /// Items of the last run.
    pub(crate) fn items(&self) -> Option<u64> {
        self.0.last().map(|s| s.items)
    }
}

/// The results of one scenario.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) scenario: Scenario,
    pub(crate) rust: Runs,
    /// `None` when the scenario has no Python counterpart.
    pub(crate) python: Option<Runs>,
    /// The floor's runs, when the scenario has one.
    pub(crate) floor: Option<Runs>,
    /// 1-minute load average before the first and after the last run.
    pub(crate) load: (Option<f64>, Option<f64>),
}

/// Runs the benchmarks and reports them.
pub(crate) fn bench(root: &Path, args: &BenchArgs) -> Result<()> {
    if args.runs == 0 {
        bail!("--runs must be at least 1");
    }
    run(
        root,
        "cargo",
        &[
            "build",
            "--release",
            "--package",
            "neuro-local",
            "--package",
            "neuro-bench",
            "--bins",
        ],
    )?;
    run(root, "bash", &["tests/conformance/setup.sh"])?;
    let venv = match std::env::var_os("NEURO_CONFORMANCE_VENV") {
        Some(v) if !v.is_empty() => PathBuf::from(v),
        _ => root.join("tests/conformance/.venv"),
    };
    let python = venv.join("bin/python");
    let release = target_dir(root).join("release");
    let bench_bin = release.join("neuro-bench");

    let all = list_scenarios(root, &bench_bin)?;
    let selected: Vec<Scenario> = if args.scenarios.is_empty() {
        all.clone()
    } else {
        args.scenarios
            .iter()
            .map(|name| {
                all.iter()
                    .find(|s| &s.name == name)
                    .cloned()
                    .with_context(|| format!("unknown scenario {name:?}"))
            })
            .collect::<Result<_>>()?
    };

    let temp = tempfile::Builder::new()
        .prefix("neuro-xtask-bench-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let server = LocalServer::start(
        &release.join("neuro-local"),
        &temp.path().join("data"),
        &temp.path().join("neuro-local.log"),
    )?;
    let token = server.token("bench")?;
    let env = [
        ("NEURO_BENCH_API_URL", server.api_url().to_owned()),
        ("NEURO_BENCH_TOKEN", token),
    ];

    let mut outcomes = Vec::new();
    for scenario in selected {
        eprintln!("== {} ({})", scenario.name, scenario.about);
        let load_before = machine::load_average();
        let work = temp.path().join("work").join(&scenario.name);
        let script = root
            .join("xtask/bench/py")
            .join(format!("{}.py", scenario.name.replace('-', "_")));
        let mut sides = vec![Side {
            client: "rust".to_owned(),
            work: work.join("rust"),
            command: Command::new(&bench_bin),
        }];
        sides[0].command.arg(&scenario.name);
        if script.is_file() {
            let mut command = Command::new(&python);
            command.arg(&script);
            sides.push(Side {
                client: "python".to_owned(),
                work: work.join("python"),
                command,
            });
        } else {
            eprintln!(
                "   no Python counterpart ({} does not exist)",
                script.display()
            );
        }
        // The floor works on the Rust side's data (e.g. `cp` of the same files).
        if let Some(floor) = &scenario.floor {
            let mut command = Command::new(&bench_bin);
            command.args(["--floor", &scenario.name]);
            sides.push(Side {
                client: floor.clone(),
                work: work.join("rust"),
                command,
            });
        }
        let mut runs = measure(&scenario, &mut sides, args, &env)?.into_iter();
        let rust = runs.next().unwrap_or_default();
        let python = script.is_file().then(|| runs.next().unwrap_or_default());
        let floor = scenario
            .floor
            .as_ref()
            .map(|_| runs.next().unwrap_or_default());
        outcomes.push(Outcome {
            scenario,
            rust,
            python,
            floor,
            load: (load_before, machine::load_average()),
        });
    }
    drop(server);

    let machine = Machine::probe(root, &python);
    let date = time::OffsetDateTime::now_utc();
    println!("{}", report::table(&outcomes));
    if args.no_write {
        eprintln!("docs/benchmarks.md left unchanged (--no-write)");
    } else {
        let path = root.join("docs/benchmarks.md");
        let order: Vec<String> = all.iter().map(|s| s.name.clone()).collect();
        write_document(&path, &outcomes, &machine, date, args.runs, &order)?;
        eprintln!("updated {} for: {}", path.display(), names(&outcomes));
    }
    Ok(())
}

/// Rewrites the entries of the scenarios that ran, keeping the others.
fn write_document(
    path: &Path,
    outcomes: &[Outcome],
    machine: &Machine,
    date: time::OffsetDateTime,
    runs: usize,
    order: &[String],
) -> Result<()> {
    let header = report::document_header();
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let (mut doc, dropped) = document::Document::parse(&existing, &header);
    for name in dropped {
        if !outcomes.iter().any(|o| o.scenario.name == name) {
            eprintln!(
                "   {name}: its old entry is in an older layout and is dropped; run it again"
            );
        }
    }
    for outcome in outcomes {
        let at = report::Conditions {
            machine,
            date,
            load: outcome.load,
            runs,
        };
        doc.upsert(report::entry(outcome, &at));
    }
    doc.sort_by_registration(order);
    let kept: Vec<&str> = doc
        .names()
        .into_iter()
        .filter(|n| !outcomes.iter().any(|o| o.scenario.name == *n))
        .collect();
    if !kept.is_empty() {
        eprintln!("   kept as measured before: {}", kept.join(", "));
    }
    std::fs::write(path, doc.render(report::INTRO, &header))
        .with_context(|| format!("cannot write {}", path.display()))
}

fn names(outcomes: &[Outcome]) -> String {
    outcomes
        .iter()
        .map(|o| o.scenario.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn list_scenarios(root: &Path, bench_bin: &Path) -> Result<Vec<Scenario>> {
    let listing = output(root, &bench_bin.to_string_lossy(), &["--list"])?;
    Ok(listing.lines().filter_map(parse_listed).collect())
}

/// One line of `neuro-bench --list`: name, description and optional floor,
/// separated by tabs.
fn parse_listed(line: &str) -> Option<Scenario> {
    let mut fields = line.split('\t');
    let name = fields.next()?;
    let about = fields.next()?;
    Some(Scenario {
        name: name.to_owned(),
        about: about.to_owned(),
        floor: fields.next().map(str::to_owned),
    })
}

/// One client of a scenario (or its floor) and how to run it.
struct Side {
    client: String,
    work: PathBuf,
    command: Command,
}

/// Runs every side of a scenario `args.warmup` times unmeasured, then
/// `args.runs` times, taking turns (Rust, Python, floor, Rust, ...) so that a
/// slow spell of the machine (writeback, the host reclaiming memory) falls on
/// all of them alike rather than on one side's runs; returns each side's
/// measured runs in the order given.
fn measure(
    scenario: &Scenario,
    sides: &mut [Side],
    args: &BenchArgs,
    env: &[(&str, String)],
) -> Result<Vec<Runs>> {
    for i in 1..=args.warmup {
        for side in sides.iter_mut() {
            let sample = run_once(scenario, side, env)?;
            eprintln!(
                "   {:<6} warm-up {i}/{}: {:.4} s (not counted)",
                side.client, args.warmup, sample.seconds
            );
        }
    }
    let runs = args.runs;
    let mut results = vec![Runs::default(); sides.len()];
    for i in 1..=runs {
        for (side, result) in sides.iter_mut().zip(&mut results) {
            let sample = run_once(scenario, side, env)?;
            eprintln!(
                "   {:<6} run {i}/{runs}: {:.4} s, {} items, {} KiB peak RSS",
                side.client, sample.seconds, sample.items, sample.peak_rss_kb
            );
            result.0.push(sample);
        }
    }
    Ok(results)
}

/// Runs one side once and reads the JSON line it prints.
fn run_once(scenario: &Scenario, side: &mut Side, env: &[(&str, String)]) -> Result<Sample> {
    let client = &side.client;
    let out = side
        .command
        .envs(env.iter().map(|(k, v)| (k, v.as_str())))
        .env("NEURO_BENCH_WORK_DIR", &side.work)
        .output()
        .with_context(|| format!("cannot start the {client} side of {}", scenario.name))?;
    if !out.status.success() {
        bail!(
            "{client} side of {} failed ({}):\n{}",
            scenario.name,
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .with_context(|| {
            format!(
                "{client} side of {} printed no measurement: {stdout:?}",
                scenario.name
            )
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn listed_scenarios_with_and_without_a_floor() {
        let plain = parse_listed("ls-cold\ta listing").unwrap();
        assert_eq!((plain.name.as_str(), plain.floor), ("ls-cold", None));
        let floored = parse_listed("storage-upload-1g\tupload_file of one 1 GiB file\tcp").unwrap();
        assert_eq!(floored.about, "upload_file of one 1 GiB file");
        assert_eq!(floored.floor.as_deref(), Some("cp"));
        assert!(parse_listed("no tab").is_none());
    }
}
