//! Storage API of the Neuro Platform SDK.
//!
//! [`Storage`] lists, globs, stats, creates, reads, writes, moves and removes
//! files in the platform's storage, and transfers files and whole trees to and
//! from the local disk ([`Storage::upload_file`], [`Storage::download_file`],
//! [`Storage::upload_dir`], [`Storage::download_dir`]) with constant memory,
//! several files at a time, with progress reports ([`progress`]).
//!
//! The recursive transfer machinery lives in [`engine`], written against a
//! small remote file system trait ([`engine::RemoteFs`]) so other remote
//! stores can reuse it.
//!
//! The wire protocol is that of `neuro-sdk==22.7.1`: `op=LISTSTATUS`,
//! `GETFILESTATUS`, `MKDIRS`, `CREATE`, `WRITE`, `OPEN`, `DELETE`, `RENAME`,
//! `GETDISKUSAGE` on the cluster's `storage_url`.

pub mod clock;
pub mod engine;
mod error;
mod glob;
pub mod progress;
mod range;
mod retry;
mod storage;
mod transfer;

pub use error::StorageError;
pub use glob::{fnmatch, has_magic};
pub use retry::ATTEMPTS as RETRY_ATTEMPTS;
pub use storage::Storage;
pub use transfer::StorageFs;
