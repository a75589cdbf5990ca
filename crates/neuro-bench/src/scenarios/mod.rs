//! The registered scenarios: one module each, one line each in [`SCENARIOS`].

use crate::env::BenchEnv;
use crate::measure::Measurement;

mod blob_transfer;
mod job_setup;
mod jobs_exec;
mod jobs_list;
mod jobs_logs;
mod ls_cold;
mod storage_data;
mod storage_download_1g;
mod storage_download_tree;
mod storage_upload_1g;
mod storage_upload_tree;

/// One benchmark scenario.
pub(crate) struct Scenario {
    /// Name on the command line and in the report; the Python counterpart is
    /// `xtask/bench/py/<name with - as _>.py`.
    pub(crate) name: &'static str,
    /// One line saying what is measured.
    pub(crate) about: &'static str,
    /// Runs the scenario once (set-up untimed) and returns the measurement.
    pub(crate) run: fn(&BenchEnv, &[String]) -> anyhow::Result<Measurement>,
    /// What the scenario is compared with besides Python, if anything.
    pub(crate) floor: Option<Floor>,
}

/// A baseline measured in the same run as a scenario (`neuro-bench --floor
/// <scenario>`), e.g. `cp` of the same data for transfers: the time the
/// scenario cannot beat.
pub(crate) struct Floor {
    /// Its name in the report and the `client` of its JSON line.
    pub(crate) name: &'static str,
    /// Measures it once (set-up untimed).
    pub(crate) run: fn(&BenchEnv) -> anyhow::Result<Measurement>,
}

/// Every scenario, in report order.
pub(crate) const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "ls-cold",
        about: "process start to a storage listing of 100 entries, from a stored login",
        run: ls_cold::run,
        floor: None,
    },
    Scenario {
        name: "jobs-logs",
        about: "streaming the 101 MB log of a finished job (log_ws)",
        run: jobs_logs::run,
        floor: None,
    },
    Scenario {
        name: "jobs-exec",
        about: "one `exec true` round trip into a running job, handshake to exit code",
        run: jobs_exec::run,
        floor: None,
    },
    Scenario {
        name: "jobs-list",
        about: "listing 10,000 jobs as a stream",
        run: jobs_list::run_all,
        floor: None,
    },
    Scenario {
        name: "jobs-list-first",
        about: "the first item of a listing of 10,000 jobs",
        run: jobs_list::run_first,
        floor: None,
    },
    Scenario {
        name: "storage-upload-1g",
        about: "upload_file of one 1 GiB file",
        run: storage_upload_1g::run,
        floor: Some(Floor {
            name: "cp",
            run: storage_upload_1g::floor,
        }),
    },
    Scenario {
        name: "storage-download-1g",
        about: "download_file of one 1 GiB file",
        run: storage_download_1g::run,
        floor: Some(Floor {
            name: "cp",
            run: storage_download_1g::floor,
        }),
    },
    Scenario {
        name: "storage-upload-tree",
        about: "upload_dir of 5,000 files of 4 KiB in 10 folders",
        run: storage_upload_tree::run,
        floor: Some(Floor {
            name: "cp",
            run: storage_upload_tree::floor,
        }),
    },
    Scenario {
        name: "storage-download-tree",
        about: "download_dir of 5,000 files of 4 KiB in 10 folders",
        run: storage_download_tree::run,
        floor: Some(Floor {
            name: "cp",
            run: storage_download_tree::floor,
        }),
    },
    Scenario {
        name: "blob-upload-1g",
        about: "upload_file of one 1 GiB file to a bucket",
        run: blob_transfer::upload_1g,
        floor: None,
    },
    Scenario {
        name: "blob-download-1g",
        about: "download_file of one 1 GiB object",
        run: blob_transfer::download_1g,
        floor: None,
    },
    Scenario {
        name: "blob-upload-tree",
        about: "upload_dir of 5,000 files of 4 KiB in 10 folders to a bucket",
        run: blob_transfer::upload_tree,
        floor: None,
    },
    Scenario {
        name: "blob-download-tree",
        about: "download_dir of 5,000 objects of 4 KiB in 10 folders",
        run: blob_transfer::download_tree,
        floor: None,
    },
];

/// The scenario called `name`.
pub(crate) fn find(name: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.name == name)
}
