//! Jobs API of the Neuro Platform SDK.
//!
//! [`Jobs`] starts jobs from a preset ([`Jobs::start`]) or with explicit
//! resources ([`Jobs::run`]), reads their status, lists them as a stream
//! filtered by [`JobFilter`], and kills them. Through the monitoring service
//! it streams a job's logs ([`Jobs::monitor`]) and telemetry ([`Jobs::top`]),
//! attaches to it or runs commands in it ([`StdStream`]), forwards ports
//! ([`PortForward`]) and signals it. The job model
//! ([`JobDescription`](neuro_types::jobs::JobDescription),
//! [`JobStart`](neuro_types::jobs::JobStart), ...) lives in `neuro-types`.

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
