//! Login, server configuration and local config storage for the Neuro Platform SDK.
//!
//! - [`ConfigFactory`] logs in (`login_with_token`), loads the stored config
//!   ([`ConfigFactory::load`]) and logs out.
//! - [`Config`] is the loaded configuration: user, clusters, presets, service URLs
//!   and a [`neuro_http::Transport`] that carries the user's token.
//! - The config lives in `~/.neuro/db` (or `$NEUROMATION_CONFIG`), a SQLite file in
//!   the same layout as the Python CLI's, written with 0700/0600 permissions.

mod config;
mod error;
mod factory;
mod server;
pub mod store;
pub mod token;

pub use config::Config;
pub use error::ConfigError;
pub use factory::{
    default_config_path, ConfigFactory, CONFIG_ENV_NAME, DEFAULT_API_URL, DEFAULT_CONFIG_DIR,
};
pub use server::fetch_server_config;
pub use token::AuthToken;
