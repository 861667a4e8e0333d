//! HTTP Basic authentication of API requests against `core_user` (argon2 hashes).
//!
//! Verifying an argon2 hash costs tens of milliseconds by design, so successful checks are
//! remembered for a short while, keyed by a SHA-256 of the credentials *and the stored hash*
//! (the password itself is never kept): a changed password or a deactivated user takes effect
//! at the next request, even when the change was made by another process. Status and the API
//! docs are open to anonymous clients, as in Pulp. A request without an `Authorization`
//! header may authenticate with the session cookie `POST /login/` gave (Django's
//! `SessionAuthentication`, CSRF token checked on unsafe methods).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{AUTHORIZATION, COOKIE, HOST, ORIGIN};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sha2::{Digest, Sha256};

use super::authorize::Authorized;
use super::{ApiError, ApiRoutes, API_ROOT};
use crate::access_policy::operation_action;
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

/// What the authentication middleware keeps: the app and the credentials it verified
/// recently (one cache per API router, made by [`api_router`](super::api_router)).
#[derive(Debug, Clone)]
pub(crate) struct AuthState {
    pub(crate) app: App,
    pub(crate) verified: VerifiedCredentials,
}

/// The authenticated user of a request (an extension set by [`require_user`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticatedUser(pub String);

fn is_anonymous_path(path: &str) -> bool {
    path == format!("{API_ROOT}/status/")
        || path == format!("{API_ROOT}/livez/")
        || path.starts_with(&format!("{API_ROOT}/docs/"))
}

/// The value of cookie `name` of a request.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// Django's CSRF check of a request authenticated by its session: unsafe methods must come
/// from this server's origin (when the client says where from) and carry, in `X-CSRFToken`,
/// the token of the `csrftoken` cookie.
fn check_csrf(method: &axum::http::Method, headers: &HeaderMap) -> Result<(), ApiError> {
    if matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS" | "TRACE") {
        return Ok(());
    }
    let fail = |why: &str| Err(ApiError::ForbiddenBecause(format!("CSRF Failed: {why}")));
    if let Some(origin) = headers.get(ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or("");
        if host.is_empty() || !origin_host.eq_ignore_ascii_case(host) {
            return fail(&format!(
                "Origin checking failed - {origin} does not match any trusted origins."
            ));
        }
    }
    let Some(secret) = cookie(headers, CSRF_COOKIE) else {
        return fail("CSRF cookie not set.");
    };
    let Some(token) = headers.get("x-csrftoken").and_then(|v| v.to_str().ok()) else {
        return fail("CSRF token missing.");
    };
    if !crate::auth::sessions::csrf_matches(secret, token) {
        return fail("CSRF token incorrect.");
    }
    Ok(())
}

/// The name of the session cookie (Django's).
pub(crate) const SESSION_COOKIE: &str = "sessionid";
/// The name of the CSRF cookie (Django's).
pub(crate) const CSRF_COOKIE: &str = "csrftoken";

/// Who a request authenticates as: `(id, username, is_superuser)`, from its Basic
/// credentials or, without an `Authorization` header, from its session cookie.
async fn authenticate(
    app: &App,
    verified: &VerifiedCredentials,
    method: &axum::http::Method,
    headers: &HeaderMap,
) -> Result<(crate::db::PulpId, String, bool), ApiError> {
    let Some(header) = headers.get(AUTHORIZATION).and_then(|h| h.to_str().ok()) else {
        let Some(key) = cookie(headers, SESSION_COOKIE) else {
            return Err(ApiError::Unauthenticated);
        };
        let user = crate::auth::sessions::user_of(app.db(), key)
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        check_csrf(method, headers)?;
        return Ok((user.id, user.username, user.is_superuser));
    };
    let (user, password) = parse_basic(header).ok_or(ApiError::InvalidCredentials)?;
    let stored = Users::new(app.db())
        .stored(&user)
        .await?
        .ok_or(ApiError::InvalidCredentials)?;
    let key = VerifiedCredentials::key(&user, &password, &stored.password_hash);
    if verified.lookup(&key).is_none() {
        if !Users::check_hash(&stored.password_hash, &password).await {
            return Err(ApiError::InvalidCredentials);
        }
        verified.remember(key, user.clone());
    }
    Ok((stored.id, user, stored.is_superuser))
}

/// Middleware: lets anonymous requests reach status and docs only; everything else needs
/// valid Basic credentials or a session (401 otherwise), and a user who is not a superuser
/// the access policy's leave (403/404 otherwise).
pub(crate) async fn require_user(
    State(AuthState { app, verified }): State<AuthState>,
    mut request: Request,
    next: Next,
) -> Response {
    if is_anonymous_path(request.uri().path()) {
        return next.run(request).await;
    }
    let found = authenticate(&app, &verified, request.method(), request.headers()).await;
    let (id, user, is_superuser) = match found {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    if !is_superuser {
        let operation = request
            .extensions()
            .get::<MatchedPath>()
            .zip(request.extensions().get::<Arc<OperationActions>>())
            .and_then(|(path, actions)| actions.get(request.method().as_str(), path.as_str()))
            .cloned();
        match super::authorize::authorize(&app, &mut request, operation, id, &user).await {
            Ok(Authorized::Yes) => {}
            Ok(Authorized::Scoped(scope)) => {
                request.extensions_mut().insert(scope);
            }
            Ok(Authorized::EmptyList) => {
                let empty: super::Page<serde_json::Value> = super::Page {
                    count: 0,
                    next: None,
                    previous: None,
                    results: Vec::new(),
                };
                return Json(empty).into_response();
            }
            Err(e) => return e.into_response(),
        }
    }
    request.extensions_mut().insert(AuthenticatedUser(user));
    request
        .extensions_mut()
        .insert(CurrentUser { id, is_superuser });
    // Objects created and tasks dispatched while answering belong to this user.
    crate::rbac::acting_as(Some(id), next.run(request)).await
}

/// The id of the authenticated user of a request and whether they are a superuser (an
/// extension set by [`require_user`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentUser {
    /// The user's id.
    pub id: crate::db::PulpId,
    /// Holds every permission.
    pub is_superuser: bool,
}

/// The viewset and action of each served operation, by `(HTTP method, axum path)` (an
/// extension of the API router, read by [`require_user`]).
#[derive(Debug, Default)]
pub struct OperationActions(HashMap<(String, String), (String, String)>);

impl OperationActions {
    /// Maps every operation of `routes` to the declared viewset (of `app`) it belongs to.
    pub fn new(routes: &ApiRoutes, app: &App) -> Self {
        let viewsets: Vec<String> = app.access_policies().into_iter().map(|(n, _)| n).collect();
        Self(
            routes
                .operations()
                .filter_map(|(key, id)| {
                    operation_action(id, viewsets.iter().map(String::as_str))
                        .or_else(|| {
                            // `/login/`'s operations are named after it, not `login_…`.
                            matches!(id.as_str(), "login" | "logout")
                                .then(|| ("login".to_string(), id.clone()))
                        })
                        .map(|found| (key.clone(), found))
                })
                .collect(),
        )
    }

    /// `(viewset, action)` of the operation answering `method` at the axum path `path`.
    pub fn get(&self, method: &str, path: &str) -> Option<&(String, String)> {
        let method = if method.eq_ignore_ascii_case("HEAD") {
            "GET".to_string()
        } else {
            method.to_ascii_uppercase()
        };
        self.0.get(&(method, path.to_string()))
    }
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
