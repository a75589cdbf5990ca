//! Storage API of the Neuro Platform SDK.
//!
//! [`Storage`] lists, stats, creates, reads, writes, moves and removes files in
//! the platform's storage, and streams single files to and from the local disk
//! ([`Storage::upload_file`], [`Storage::download_file`]) with constant memory.
//! The wire protocol is that of `neuro-sdk==22.7.1`: `op=LISTSTATUS`,
//! `GETFILESTATUS`, `MKDIRS`, `CREATE`, `WRITE`, `OPEN`, `DELETE`, `RENAME`,
//! `GETDISKUSAGE` on the cluster's `storage_url`.

mod error;
mod range;
mod retry;
mod storage;
mod transfer;

pub use error::StorageError;
pub use retry::ATTEMPTS as RETRY_ATTEMPTS;
pub use storage::Storage;
pub use transfer::READ_SIZE;
