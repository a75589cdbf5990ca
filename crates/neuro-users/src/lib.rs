//! Users, permissions, roles and service accounts APIs of the Neuro Platform SDK.
//!
//! [`Users`] reads and changes the permission tree: a user's permissions
//! ([`Users::get_acl`]), what they shared ([`Users::get_shares`]), their roles
//! ([`Users::get_subroles`]), sharing and revoking, and creating and removing
//! roles. [`ServiceAccounts`] manages service accounts.
//!
//! Service accounts live in this crate rather than their own: an account *is*
//! a role of the users service (`<owner>/service-accounts/<name>`) with a
//! token, its endpoints sit beside the users API under the platform's
//! `api_url`, and what its token may do is decided by the permissions this
//! crate shares with that role.
//!
//! The model ([`Action`](neuro_types::Action), [`Permission`](neuro_types::Permission),
//! [`Share`](neuro_types::Share), [`ServiceAccount`](neuro_types::ServiceAccount))
//! lives in `neuro-types`.

mod error;
mod request;
mod service_accounts;
mod users;

pub use error::UsersError;
pub use service_accounts::{ServiceAccountToken, ServiceAccounts};
pub use users::{AclFilter, Users};
