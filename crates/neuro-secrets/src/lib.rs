//! Secrets API of the Neuro Platform SDK.
//!
//! [`Secrets`] lists, adds (creates or replaces) and removes the user's secrets:
//! named values that jobs read as environment variables (`secret_env`) or files
//! (`secret_volumes`) through their URI `secret://<cluster>/<owner>/<key>`. The
//! platform never sends a value back. The model type
//! ([`Secret`](neuro_types::Secret)) lives in `neuro-types`.

mod error;
mod secrets;

pub use error::SecretsError;
pub use secrets::{SecretOptions, Secrets};
