#![doc = include_str!("../README.md")]

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
