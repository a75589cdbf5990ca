#![doc = include_str!("../README.md")]

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
pub use retry::{with_retries, ATTEMPTS as RETRY_ATTEMPTS};
pub use storage::Storage;
pub use transfer::StorageFs;
