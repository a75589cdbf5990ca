//! The registered scenarios: one module each, one line each in [`SCENARIOS`].

use crate::env::BenchEnv;
use crate::measure::Measurement;

mod ls_cold;

/// One benchmark scenario.
pub(crate) struct Scenario {
    /// Name on the command line and in the report; the Python counterpart is
    /// `xtask/bench/py/<name with - as _>.py`.
    pub(crate) name: &'static str,
    /// One line saying what is measured.
    pub(crate) about: &'static str,
    /// Runs the scenario once (set-up untimed) and returns the measurement.
    pub(crate) run: fn(&BenchEnv, &[String]) -> anyhow::Result<Measurement>,
}

/// Every scenario, in report order.
pub(crate) const SCENARIOS: &[Scenario] = &[Scenario {
    name: "ls-cold",
    about: "process start to a storage listing of 100 entries, from a stored login",
    run: ls_cold::run,
}];

/// The scenario called `name`.
pub(crate) fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}
