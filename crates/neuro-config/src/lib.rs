//! Login, server configuration and local config storage for the Neuro Platform SDK.
//!
//! - [`ConfigFactory`] logs in (browser and headless OAuth2 with PKCE, a token,
//!   or the config passed to a job), loads the stored config
//!   ([`ConfigFactory::load`]) and logs out.
//! - [`user_config`] reads `user.toml` and the project's `.neuro.toml`;
//!   [`plugins`] extends their schema.
//! - [`Config`] is the loaded configuration: user, clusters, presets, service URLs
//!   and a [`neuro_http::Transport`] that carries the user's token.
//! - The config lives in `~/.neuro/db` (or `$NEUROMATION_CONFIG`), a SQLite file in
//!   the same layout as the Python CLI's, written with 0700/0600 permissions.

mod config;
mod error;
mod factory;
pub mod login;
pub mod plugins;
mod server;
pub mod store;
pub mod token;
pub mod user_config;

pub use config::Config;
pub use error::ConfigError;
pub use factory::{
    default_config_path, ConfigFactory, CONFIG_ENV_NAME, DEFAULT_API_URL, DEFAULT_CONFIG_DIR,
};
pub use server::fetch_server_config;
pub use token::AuthToken;
