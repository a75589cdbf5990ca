//! The jobs service: `POST/GET/DELETE /api/v1/jobs...` over local processes.
//!
//! Jobs run as process groups on this machine (see [`runtime`] for how, and
//! [`service`] for the lifecycle, reasons and restart rules), are scheduled
//! against the machine's CPU and memory (strict priority-then-FIFO queue) and are kept in the
//! platform database ([`store`]), so they survive server restarts.

pub mod access;
mod api;
pub mod image;
pub mod ingress;
pub mod io;
pub mod list;
pub mod logs;
pub mod model;
pub mod mounts;
pub mod payload;
pub mod request;
pub mod rootfs;
pub mod runtime;
pub mod sandbox;
mod scheduler;
pub mod service;
pub mod store;
mod sys;
pub mod terminal;

pub use api::router;
pub use list::{JobFilter, ListQuery};
pub use model::{reason, JobRecord, JobSpec, Transition};
pub use request::{parse_submission, Submission};
pub use service::{JobService, LifeSpanChange, KILL_GRACE, MAX_RESTARTS};
