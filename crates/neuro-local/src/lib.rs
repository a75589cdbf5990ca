#![doc = include_str!("../README.md")]

pub mod app;
pub mod auth;
pub mod buckets;
pub mod client_config;
pub mod config_api;
pub mod db;
pub mod disks;
pub mod error;
#[doc(hidden)]
pub mod examples;
pub mod hex;
pub mod jobs;
pub mod linger;
pub mod monitoring;
pub mod ndjson;
pub mod oauth;
pub mod permissions;
pub mod platform;
pub mod query;
pub mod registry;
pub mod secrets;
pub mod service_accounts;
pub mod settings;
pub mod state;
pub mod storage;
pub mod unnamed;

pub use platform::{LocalPlatform, LocalPlatformBuilder, PlatformError, RunningPlatform};
