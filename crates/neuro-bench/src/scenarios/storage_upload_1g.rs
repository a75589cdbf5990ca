//! `storage-upload-1g`: `upload_file` of one 1 GiB file.
//!
//! Set-up (untimed): the local file (see [`super::storage_data`]). Timed: one
//! `upload_file` with default options to a new remote name (see [`fresh`]:
//! replacing a 1 GiB file would time the freeing of its blocks, which this
//! disk discards synchronously); the copy is removed after the clock stops.
//! Floor: `cp` of the same file on the same disk.

use neuro_sdk::storage::engine::TransferOptions;

use crate::env::BenchEnv;
use crate::measure::Measurement;

use super::storage_data::{big_file, fresh, timed, Leftover, Moved, BIG, REMOTE_BIG};

pub(crate) fn run(env: &BenchEnv, _args: &[String]) -> anyhow::Result<Measurement> {
    let moved = Moved {
        bytes: BIG,
        items: 1,
    };
    timed(
        env,
        moved,
        |_, work| async move { big_file(&work) },
        |storage, _, src| async move {
            let dst = fresh(REMOTE_BIG);
            storage
                .upload_file(&src?, dst.as_str(), &TransferOptions::new())
                .await?;
            Ok(Leftover::Remote(dst))
        },
    )
}

pub(super) use super::storage_data::cp_big as floor;
