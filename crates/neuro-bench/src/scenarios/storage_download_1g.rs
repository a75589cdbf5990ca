//! `storage-download-1g`: `download_file` of one 1 GiB file.
//!
//! Set-up (untimed): the remote file, uploaded when missing, and no local
//! copy. Timed: one `download_file` with default options; the copy is removed
//! after the clock stops. Floor: `cp` of the same file on the same disk.

use neuro_sdk::storage::engine::TransferOptions;

use crate::env::BenchEnv;
use crate::measure::Measurement;

use super::storage_data::{ensure_remote_big, remove, timed, Leftover, Moved, BIG, REMOTE_BIG};

pub(crate) fn run(env: &BenchEnv, _args: &[String]) -> anyhow::Result<Measurement> {
    let moved = Moved {
        bytes: BIG,
        items: 1,
    };
    timed(
        env,
        moved,
        |storage, work| async move {
            ensure_remote_big(&storage, &work).await?;
            let dst = work.join("big.download");
            remove(&dst)?;
            Ok::<_, anyhow::Error>(dst)
        },
        |storage, _, dst| async move {
            let dst = dst?;
            storage
                .download_file(REMOTE_BIG, &dst, &TransferOptions::new())
                .await?;
            Ok(Leftover::Local(dst))
        },
    )
}

pub(super) use super::storage_data::cp_big as floor;
