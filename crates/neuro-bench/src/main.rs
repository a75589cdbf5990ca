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

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((name, rest)) = args.split_first() else {
        bail!("usage: neuro-bench <scenario> [args] | neuro-bench --list");
    };
    let mut out = std::io::stdout().lock();
    if name == "--list" {
        for scenario in scenarios::SCENARIOS {
            writeln!(out, "{}\t{}", scenario.name, scenario.about)?;
        }
        return Ok(());
    }
    let scenario = scenarios::find(name).with_context(|| {
        format!("unknown scenario {name:?}; `neuro-bench --list` shows the registered ones")
    })?;
    let env = env::BenchEnv::from_env()?;
    let measurement =
        (scenario.run)(&env, rest).with_context(|| format!("scenario {} failed", scenario.name))?;
    writeln!(out, "{}", measurement.to_json_line(scenario.name)?)?;
    out.flush()?;
    Ok(())
}
