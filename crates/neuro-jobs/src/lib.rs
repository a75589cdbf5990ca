//! Jobs API of the Neuro Platform SDK.
//!
//! [`Jobs`] starts jobs from a preset ([`Jobs::start`]) or with explicit
//! resources ([`Jobs::run`]), reads their status, lists them as a stream
//! filtered by [`JobFilter`], and kills them. The job model
//! ([`JobDescription`](neuro_types::jobs::JobDescription),
//! [`JobStart`](neuro_types::jobs::JobStart), ...) lives in `neuro-types`.

mod error;
mod filter;
mod jobs;

pub use error::JobsError;
pub use filter::JobFilter;
pub use jobs::Jobs;
