//! Session logins, as Django's sessions serve Pulp's `/login/`: a random key handed to the
//! client in a cookie, kept here only as its SHA-256, valid for two weeks, until logout, or
//! until the user's password changes. Also the CSRF secrets that protect session requests.

use chrono::{Duration, Utc};
use rand::distributions::{Alphanumeric, DistString};
use rand::Rng;
use sha2::{Digest, Sha256};

use super::users::AuthError;
use crate::db::{Database, PulpId};

/// How long a session lasts (Django's `SESSION_COOKIE_AGE`).
pub const SESSION_AGE_SECONDS: i64 = 14 * 24 * 3600;

/// The user a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUser {
    /// The user's id.
    pub id: PulpId,
    /// The user's name.
    pub username: String,
    /// Holds every permission.
    pub is_superuser: bool,
}

fn digest(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Opens a session for `user` and answers its key (32 lowercase letters and digits).
pub async fn open(db: &Database, user: PulpId) -> Result<String, AuthError> {
    let key: String = {
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let mut rng = rand::thread_rng();
        (0..32)
            .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
            .collect()
    };
    let now = Utc::now();
    let expires = now + Duration::seconds(SESSION_AGE_SECONDS);
    crate::on_pool!(db, pool => {
        // Expired sessions go when new ones come (no sweeper needed).
        sqlx::query("DELETE FROM core_session WHERE expire_date < $1")
            .bind(now)
            .execute(pool)
            .await?;
        let password: Option<String> =
            sqlx::query_scalar("SELECT password FROM core_user WHERE pulp_id = $1")
                .bind(user)
                .fetch_optional(pool)
                .await?;
        let password = password.ok_or(AuthError::NotFound)?;
        sqlx::query(
            "INSERT INTO core_session (session_hash, user_id, auth_hash, expire_date) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(digest(&key))
        .bind(user)
        .bind(digest(&password))
        .bind(expires)
        .execute(pool)
        .await?;
    });
    Ok(key)
}

/// The active user of the session `key`, if it is open, unexpired, and the user's password
/// is the one it was opened with.
pub async fn user_of(db: &Database, key: &str) -> Result<Option<SessionUser>, AuthError> {
    if key.is_empty() || key.len() > 64 {
        return Ok(None);
    }
    let row: Option<(PulpId, String, bool, String, String)> = crate::on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT u.pulp_id, u.username, u.is_superuser, u.password, s.auth_hash \
             FROM core_session s JOIN core_user u ON u.pulp_id = s.user_id \
             WHERE s.session_hash = $1 AND s.expire_date > $2 AND u.is_active = TRUE",
        )
        .bind(digest(key))
        .bind(Utc::now())
        .fetch_optional(pool)
        .await?
    });
    Ok(row
        .filter(|(.., password, auth_hash)| digest(password) == *auth_hash)
        .map(|(id, username, is_superuser, ..)| SessionUser {
            id,
            username,
            is_superuser,
        }))
}

/// Ends the session `key` (nothing when there is none).
pub async fn close(db: &Database, key: &str) -> Result<(), AuthError> {
    crate::on_pool!(db, pool => {
        sqlx::query("DELETE FROM core_session WHERE session_hash = $1")
            .bind(digest(key))
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// The characters of CSRF secrets and masks (Django's).
const CSRF_CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const CSRF_SECRET_LENGTH: usize = 32;

/// A new CSRF secret (32 letters and digits), for the `csrftoken` cookie.
pub fn new_csrf_secret() -> String {
    Alphanumeric.sample_string(&mut rand::thread_rng(), CSRF_SECRET_LENGTH)
}

/// The secret a CSRF token stands for: the token itself (32 characters) or, for a masked
/// 64-character token, its second half shifted back by its first, as Django masks them.
fn unmask(token: &str) -> Option<String> {
    let index = |c: u8| CSRF_CHARS.iter().position(|x| *x == c);
    let bytes = token.as_bytes();
    if bytes.iter().any(|b| index(*b).is_none()) {
        return None;
    }
    match bytes.len() {
        CSRF_SECRET_LENGTH => Some(token.to_string()),
        n if n == 2 * CSRF_SECRET_LENGTH => {
            let (mask, cipher) = bytes.split_at(CSRF_SECRET_LENGTH);
            let n = CSRF_CHARS.len();
            mask.iter()
                .zip(cipher)
                .map(|(m, c)| {
                    let (m, c) = (index(*m)?, index(*c)?);
                    Some(CSRF_CHARS[(c + n - m) % n] as char)
                })
                .collect()
        }
        _ => None,
    }
}

/// Whether the CSRF token a request sent (`X-CSRFToken`) matches the secret of its
/// `csrftoken` cookie (both may be masked). Compared in constant time.
pub fn csrf_matches(cookie: &str, token: &str) -> bool {
    let (Some(secret), Some(sent)) = (unmask(cookie), unmask(token)) else {
        return false;
    };
    secret.len() == sent.len()
        && secret
            .bytes()
            .zip(sent.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_and_plain_csrf_tokens_match_their_secret() {
        let secret = "abcdefghijklmnopqrstuvwxyzABCDEF";
        assert!(csrf_matches(secret, secret));
        // Mask "b…" (index 1) shifts every character by one.
        let mask = "b".repeat(32);
        let cipher: String = secret
            .bytes()
            .map(|c| {
                let i = CSRF_CHARS.iter().position(|x| *x == c).unwrap_or(0);
                CSRF_CHARS[(i + 1) % CSRF_CHARS.len()] as char
            })
            .collect();
        assert!(csrf_matches(secret, &format!("{mask}{cipher}")));
        assert!(!csrf_matches(secret, &"a".repeat(32)));
        assert!(!csrf_matches(secret, ""));
        assert!(!csrf_matches(secret, "short"));
        assert!(!csrf_matches(secret, &format!("{}!", &secret[..31])));
        assert_eq!(new_csrf_secret().len(), 32);
    }
}
