//! Users and their passwords (argon2 hashes); HTTP authentication builds on this.

mod users;

pub use users::{random_password, AuthError, StoredUser, Users};
