//! Users and their passwords (argon2 hashes); HTTP authentication builds on this.

pub mod accounts;
pub mod sessions;
mod users;

pub use users::{random_password, AuthError, StoredUser, Users};
