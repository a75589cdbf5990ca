#![doc = include_str!("../README.md")]

mod error;
mod secrets;

pub use error::SecretsError;
pub use secrets::{SecretOptions, Secrets};
