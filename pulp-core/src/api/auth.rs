//! HTTP Basic authentication of API requests against `core_user` (argon2 hashes).
//!
//! Verifying an argon2 hash costs tens of milliseconds by design, so successful checks are
//! remembered for a short while, keyed by a SHA-256 of the credentials *and the stored hash*
//! (the password itself is never kept): a changed password or a deactivated user takes effect
//! at the next request, even when the change was made by another process. Status and the API
//! docs are open to anonymous clients, as in Pulp.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::{ApiError, API_ROOT};
use crate::app::App;
use crate::auth::Users;

/// How long a verified password is trusted without checking the hash again.
const REMEMBER: Duration = Duration::from_secs(300);
/// At most this many verified credentials are remembered.
const REMEMBER_MAX: usize = 1024;

/// SHA-256 of (user, password, stored hash) → (user, when verified).
type Verified = HashMap<[u8; 32], (String, Instant)>;

/// Credentials verified recently.
#[derive(Debug, Clone, Default)]
pub struct VerifiedCredentials {
    entries: Arc<Mutex<Verified>>,
}

impl VerifiedCredentials {
    fn key(user: &str, password: &str, stored_hash: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for part in [user, password, stored_hash] {
            hasher.update(part.as_bytes());
            hasher.update([0]);
        }
        hasher.finalize().into()
    }

    fn lookup(&self, key: &[u8; 32]) -> Option<String> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(_, at)| at.elapsed() < REMEMBER)
            .map(|(user, _)| user.clone())
    }

    fn remember(&self, key: [u8; 32], user: String) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= REMEMBER_MAX {
                entries.retain(|_, (_, at)| at.elapsed() < REMEMBER);
                if entries.len() >= REMEMBER_MAX {
                    entries.clear();
                }
            }
            entries.insert(key, (user, Instant::now()));
        }
    }

    /// Forgets everything (after a password change).
    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

/// The authenticated user of a request (an extension set by [`require_user`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser(pub String);

fn is_anonymous_path(path: &str) -> bool {
    path == format!("{API_ROOT}/status/") || path.starts_with(&format!("{API_ROOT}/docs/"))
}

/// Middleware: lets anonymous requests reach status and docs only; everything else needs
/// valid Basic credentials (401 otherwise).
pub async fn require_user(State(app): State<App>, mut request: Request, next: Next) -> Response {
    if is_anonymous_path(request.uri().path()) {
        return next.run(request).await;
    }
    let Some(header) = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
    else {
        return ApiError::Unauthenticated.into_response();
    };
    let Some((user, password)) = parse_basic(header) else {
        return ApiError::InvalidCredentials.into_response();
    };
    let users = Users::new(app.db());
    let stored = match users.stored_hash(&user).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return ApiError::InvalidCredentials.into_response(),
        Err(e) => return ApiError::Internal(e.to_string()).into_response(),
    };
    let key = VerifiedCredentials::key(&user, &password, &stored);
    let cache = app.verified_credentials();
    if cache.lookup(&key).is_none() {
        if !Users::check_hash(&stored, &password).await {
            return ApiError::InvalidCredentials.into_response();
        }
        cache.remember(key, user.clone());
    }
    request.extensions_mut().insert(AuthenticatedUser(user));
    next.run(request).await
}

fn parse_basic(header: &str) -> Option<(String, String)> {
    use base64::Engine;
    let encoded = header
        .strip_prefix("Basic ")
        .or_else(|| header.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}
