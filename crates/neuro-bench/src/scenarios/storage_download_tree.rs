//! `storage-download-tree`: `download_dir` of 5,000 files of 4 KiB in 10
//! folders.
//!
//! Set-up (untimed): the remote tree, uploaded when missing. Timed: one
//! `download_dir` with default options into a new local directory (see
//! [`fresh`]). Floor: `cp -r` of the same tree on the same disk.

use neuro_sdk::storage::engine::TransferOptions;

use crate::env::BenchEnv;
use crate::measure::Measurement;

use super::storage_data::{
    ensure_remote_tree, fresh, timed, Leftover, Moved, REMOTE_TREE, TREE_BYTES, TREE_FILES,
};

pub(crate) fn run(env: &BenchEnv, _args: &[String]) -> anyhow::Result<Measurement> {
    let moved = Moved {
        bytes: TREE_BYTES,
        items: TREE_FILES as u64,
    };
    timed(
        env,
        moved,
        |storage, work| async move {
            ensure_remote_tree(&storage, &work).await?;
            Ok::<_, anyhow::Error>(work.join(fresh("tree.download")))
        },
        |storage, _, dst| async move {
            storage
                .download_dir(REMOTE_TREE, &dst?, &TransferOptions::new())
                .await?;
            Ok(Leftover::Nothing)
        },
    )
}

pub(super) use super::storage_data::cp_tree as floor;
