//! The `core_user` table: creating users, setting and checking passwords.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::distributions::{Alphanumeric, DistString};

use crate::db::{Database, DbError, PulpId};

/// What can go wrong with users.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The password cannot be used.
    #[error("invalid password: {0}")]
    InvalidPassword(String),
    /// Hashing failed.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The database failed.
    #[error(transparent)]
    Database(#[from] DbError),
    /// Another user has this name.
    #[error("A user with that username already exists.")]
    UsernameTaken,
    /// No such user.
    #[error("no such user")]
    NotFound,
}

impl From<sqlx::Error> for AuthError {
    fn from(e: sqlx::Error) -> Self {
        AuthError::Database(e.into())
    }
}

/// An active user, as `core_user` holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUser {
    /// The user's id.
    pub id: PulpId,
    /// The argon2 hash of the password.
    pub password_hash: String,
    /// Holds every permission.
    pub is_superuser: bool,
}

/// Access to the users of one database.
#[derive(Debug, Clone)]
pub struct Users {
    db: Database,
}

impl Users {
    /// Users stored in `db`.
    pub fn new(db: &Database) -> Self {
        Self { db: db.clone() }
    }

    /// Sets the password of `username`, creating the user if needed.
    pub async fn set_password(
        &self,
        username: &str,
        password: &str,
        superuser: bool,
    ) -> Result<(), AuthError> {
        if password.is_empty() {
            return Err(AuthError::InvalidPassword("the password is empty".into()));
        }
        let hash = hash_password(password.to_string()).await?;
        let now = chrono::Utc::now();
        crate::on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO core_user (pulp_id, username, password, is_superuser, is_active, date_joined)
                 VALUES ($1, $2, $3, $4, TRUE, $5)
                 ON CONFLICT (username) DO UPDATE SET password = $3, is_superuser = $4",
            )
            .bind(PulpId::new())
            .bind(username)
            .bind(&hash)
            .bind(superuser)
            .bind(now)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Whether `username` exists, is active and has this password.
    pub async fn verify(&self, username: &str, password: &str) -> Result<bool, AuthError> {
        match self.stored_hash(username).await? {
            Some(stored) => Ok(Self::check_hash(&stored, password).await),
            None => Ok(false),
        }
    }

    /// The stored password hash of an active user.
    pub async fn stored_hash(&self, username: &str) -> Result<Option<String>, AuthError> {
        Ok(self.stored(username).await?.map(|u| u.password_hash))
    }

    /// An active user as stored: id, password hash, superuser or not.
    pub async fn stored(&self, username: &str) -> Result<Option<StoredUser>, AuthError> {
        let row: Option<(PulpId, String, bool)> = crate::on_pool!(&self.db, pool => {
            sqlx::query_as(
                "SELECT pulp_id, password, is_superuser FROM core_user WHERE username = $1 AND is_active = TRUE",
            )
            .bind(username)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|(id, password_hash, is_superuser)| StoredUser {
            id,
            password_hash,
            is_superuser,
        }))
    }

    /// Whether `password` matches the argon2 `stored` hash (checked off the async threads).
    pub async fn check_hash(stored: &str, password: &str) -> bool {
        let (stored, password) = (stored.to_string(), password.to_string());
        tokio::task::spawn_blocking(move || {
            PasswordHash::new(&stored)
                .map(|parsed| {
                    Argon2::default()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok()
                })
                .unwrap_or(false)
        })
        .await
        .unwrap_or(false)
    }

    /// The id of the user named `username`, active or not.
    pub async fn stored_any(&self, username: &str) -> Result<Option<PulpId>, AuthError> {
        let id: Option<PulpId> = crate::on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT pulp_id FROM core_user WHERE username = $1")
                .bind(username)
                .fetch_optional(pool)
                .await?
        });
        Ok(id)
    }

    /// Whether a user with this name exists.
    pub async fn exists(&self, username: &str) -> Result<bool, AuthError> {
        let count: i64 = crate::on_pool!(&self.db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM core_user WHERE username = $1")
                .bind(username)
                .fetch_one(pool)
                .await?
        });
        Ok(count > 0)
    }
}

pub(crate) async fn hash_password(password: String) -> Result<String, AuthError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| AuthError::Hashing(e.to_string()))
    })
    .await
    .map_err(|e| AuthError::Hashing(e.to_string()))?
}

/// A random password of 24 letters and digits.
pub fn random_password() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), 24)
}
