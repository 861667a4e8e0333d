//! Who is asking the content app: HTTP Basic credentials checked against the REST API's
//! users, or the remote-user header a trusted proxy sets (when configured, as Pulp's
//! `REMOTE_USER_ENVIRON_NAME` = `HTTP_<HEADER>` does). Only guarded distributions ask.
//!
//! An argon2 check costs tens of milliseconds, so a verified credential is remembered: for
//! the content app's cache time (`content_distribution_cache_ttl`) without any query, then
//! re-checked against the stored hash with one query (a changed password or a deactivated
//! user is seen then), with argon2 again only after [`REVERIFY`] or a changed hash. The
//! password is never kept: entries are keyed by a SHA-256 of the credentials.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use sha2::{Digest, Sha256};

use crate::app::App;
use crate::auth::Users;
use crate::content_guard::Requester;

/// Setting naming the remote-user header (Pulp's `REMOTE_USER_ENVIRON_NAME`, e.g.
/// `HTTP_REMOTE_USER` for the `Remote-User` header); unset: no remote-user authentication.
pub const REMOTE_USER_SETTING: &str = "remote_user_environ_name";

/// How long a password verified by argon2 is trusted while its stored hash is unchanged.
const REVERIFY: Duration = Duration::from_secs(300);
const ENTRIES_MAX: usize = 4096;

#[derive(Debug, Clone)]
struct Entry {
    requester: Requester,
    stored_hash: String,
    verified: Instant,
    checked: Instant,
}

/// The identities the content app verified recently.
#[derive(Debug)]
pub(crate) struct Identities {
    ttl: Duration,
    remote_user_header: Option<String>,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

fn key(kind: &str, parts: &[&str]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(kind.as_bytes());
    for part in parts {
        hasher.update([0]);
        hasher.update(part.as_bytes());
    }
    hasher.finalize().into()
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

impl Identities {
    pub(crate) fn new(settings: &crate::settings::Settings, ttl: Duration) -> Self {
        let remote_user_header = settings
            .extra_value::<String>(REMOTE_USER_SETTING)
            .ok()
            .flatten()
            .and_then(|name| {
                name.strip_prefix("HTTP_")
                    .map(|h| h.to_ascii_lowercase().replace('_', "-"))
            })
            .filter(|h| !h.is_empty());
        Self {
            ttl,
            remote_user_header,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn fresh(&self, key: &[u8; 32]) -> Option<Requester> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|e| e.checked.elapsed() < self.ttl)
            .map(|e| e.requester.clone())
    }

    fn remember(&self, key: [u8; 32], entry: Entry) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= ENTRIES_MAX {
                entries.retain(|_, e| e.verified.elapsed() < REVERIFY);
                if entries.len() >= ENTRIES_MAX {
                    entries.clear();
                }
            }
            entries.insert(key, entry);
        }
    }

    fn forget(&self, key: &[u8; 32]) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }

    /// The user of the request, `None` for anonymous requests and credentials that do not
    /// verify (a guard then decides as for anyone).
    pub(crate) async fn of(
        &self,
        app: &App,
        parts: &Parts,
    ) -> Result<Option<Requester>, super::ContentAppError> {
        if let Some(header) = &self.remote_user_header {
            if let Some(name) = parts.headers.get(header).and_then(|v| v.to_str().ok()) {
                return self.verified(app, name, None).await;
            }
        }
        let Some((user, password)) = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(parse_basic)
        else {
            return Ok(None);
        };
        self.verified(app, &user, Some(&password)).await
    }

    /// `user`, verified by `password` (or trusted, from the remote-user header).
    async fn verified(
        &self,
        app: &App,
        user: &str,
        password: Option<&str>,
    ) -> Result<Option<Requester>, super::ContentAppError> {
        let key = match password {
            Some(password) => key("basic", &[user, password]),
            None => key("remote", &[user]),
        };
        if let Some(requester) = self.fresh(&key) {
            return Ok(Some(requester));
        }
        let stored = match Users::new(app.db()).stored(user).await {
            Ok(Some(stored)) => stored,
            Ok(None) => {
                self.forget(&key);
                return Ok(None);
            }
            Err(e) => {
                tracing::error!(error = %e, "content app: cannot read a user");
                return Ok(None);
            }
        };
        let previous = self.entries.lock().ok().and_then(|e| e.get(&key).cloned());
        let verified = match (password, previous) {
            (None, _) => Instant::now(),
            (Some(_), Some(entry))
                if entry.stored_hash == stored.password_hash
                    && entry.verified.elapsed() < REVERIFY =>
            {
                entry.verified
            }
            (Some(password), _) => {
                if !Users::check_hash(&stored.password_hash, password).await {
                    self.forget(&key);
                    return Ok(None);
                }
                Instant::now()
            }
        };
        let requester = Requester {
            user_id: stored.id,
            username: user.to_string(),
            is_superuser: stored.is_superuser,
        };
        self.remember(
            key,
            Entry {
                requester: requester.clone(),
                stored_hash: stored.password_hash,
                verified,
                checked: Instant::now(),
            },
        );
        Ok(Some(requester))
    }
}
