//! `storage-upload-tree`: `upload_dir` of 5,000 files of 4 KiB in 10 folders.
//!
//! Set-up (untimed): the local tree. Timed: one `upload_dir` with default
//! options into a new remote directory (see [`fresh`]). Floor: `cp -r` of the
//! same tree on the same disk.

use neuro_sdk::storage::engine::TransferOptions;

use crate::env::BenchEnv;
use crate::measure::Measurement;

use super::storage_data::{
    fresh, timed, tree, Leftover, Moved, REMOTE_TREE, TREE_BYTES, TREE_FILES,
};

pub(crate) fn run(env: &BenchEnv, _args: &[String]) -> anyhow::Result<Measurement> {
    let moved = Moved {
        bytes: TREE_BYTES,
        items: TREE_FILES as u64,
    };
    timed(
        env,
        moved,
        |_, work| async move { tree(&work) },
        |storage, _, src| async move {
            let dst = fresh(REMOTE_TREE);
            storage
                .upload_dir(&src?, dst.as_str(), &TransferOptions::new())
                .await?;
            Ok(Leftover::Nothing)
        },
    )
}

pub(super) use super::storage_data::cp_tree as floor;
