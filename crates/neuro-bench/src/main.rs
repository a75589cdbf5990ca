#![doc = include_str!("../README.md")]

mod env;
mod measure;
mod runtime;
mod scenarios;

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::{bail, Context as _};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("neuro-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str =
    "usage: neuro-bench <scenario> [args] | neuro-bench --floor <scenario> | neuro-bench --list";

fn find(name: &str) -> anyhow::Result<&'static scenarios::Scenario> {
    scenarios::find(name).with_context(|| {
        format!("unknown scenario {name:?}; `neuro-bench --list` shows the registered ones")
    })
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((name, rest)) = args.split_first() else {
        bail!("{USAGE}");
    };
    let mut out = std::io::stdout().lock();
    if name == "--list" {
        for scenario in scenarios::SCENARIOS {
            write!(out, "{}\t{}", scenario.name, scenario.about)?;
            if let Some(floor) = &scenario.floor {
                write!(out, "\t{}", floor.name)?;
            }
            writeln!(out)?;
        }
        return Ok(());
    }
    let line = if name == "--floor" {
        let [name] = rest else {
            bail!("{USAGE}");
        };
        let scenario = find(name)?;
        let floor = scenario
            .floor
            .as_ref()
            .with_context(|| format!("scenario {name} has no floor"))?;
        let env = env::BenchEnv::from_env()?;
        let measurement = (floor.run)(&env)
            .with_context(|| format!("the {} floor of {name} failed", floor.name))?;
        measurement.to_json_line(scenario.name, floor.name)?
    } else {
        let scenario = find(name)?;
        let env = env::BenchEnv::from_env()?;
        let measurement = (scenario.run)(&env, rest)
            .with_context(|| format!("scenario {} failed", scenario.name))?;
        measurement.to_json_line(scenario.name, "rust")?
    };
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}
