//! A single-machine Neuro Platform that speaks the real API, for offline use and tests.
//!
//! [`LocalPlatform`] starts the server in-process (a temporary data directory and
//! a free port by default); the `neuro-local` binary wraps it. The server speaks
//! the wire protocol of `neuro-sdk==22.7.1`, so both our SDK and the Python CLI
//! work against it.
//!
//! Services: `/api/v1/config` ([`config_api`]), storage ([`storage`]), jobs and
//! monitoring ([`jobs`]). Users and bearer tokens live in [`auth`].

pub mod app;
pub mod auth;
pub mod client_config;
pub mod config_api;
pub mod db;
pub mod error;
pub mod jobs;
pub mod linger;
pub mod monitoring;
pub mod ndjson;
pub mod oauth;
pub mod platform;
pub mod settings;
pub mod state;
pub mod storage;

pub use platform::{LocalPlatform, LocalPlatformBuilder, PlatformError, RunningPlatform};
