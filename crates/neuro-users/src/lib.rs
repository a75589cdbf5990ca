#![doc = include_str!("../README.md")]

mod error;
mod request;
mod service_accounts;
mod users;

pub use error::UsersError;
pub use service_accounts::{ServiceAccountToken, ServiceAccounts};
pub use users::{AclFilter, Users};
