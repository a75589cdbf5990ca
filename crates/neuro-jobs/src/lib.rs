#![doc = include_str!("../README.md")]

mod error;
mod filter;
mod jobs;
mod monitor;
mod port_forward;
mod stdio;

pub use error::JobsError;
pub use filter::JobFilter;
pub use jobs::Jobs;
pub use monitor::MonitorOptions;
pub use port_forward::PortForward;
pub use stdio::{ExitStatus, Message, StdReader, StdStream, StdStreamOptions, StdWriter};
