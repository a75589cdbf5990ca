//! Disks API of the Neuro Platform SDK.
//!
//! [`Disks`] creates, lists, reads and removes persistent disks: storage that
//! jobs mount (`disk_volumes`) through the URI `disk://<cluster>/<owner>/<id>`.
//! A disk unused for longer than its `timeout_unused` is deleted by the
//! platform. The model ([`Disk`](neuro_types::Disk),
//! [`DiskStatus`](neuro_types::DiskStatus)) lives in `neuro-types`.

mod disks;
mod error;

pub use disks::{DiskCreate, DiskLookup, Disks};
pub use error::DisksError;
