#![doc = include_str!("../README.md")]

mod disks;
mod error;

pub use disks::{DiskCreate, DiskLookup, Disks};
pub use error::DisksError;
