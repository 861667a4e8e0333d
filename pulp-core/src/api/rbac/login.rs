//! `/login/` as pulpcore has it: `POST` opens a session for the authenticated user (the
//! `sessionid` and `csrftoken` cookies, as Django's `login()` sets them), `GET` says who is
//! asking, `PATCH` changes one's own name, e-mail or password, `DELETE` ends the session.

use axum::body::Bytes;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json};
use chrono::{Duration, Utc};
use serde_json::{json, Map, Value};

use super::{read_only, schema, string, users::user_href};
use crate::api::auth::{cookie, AuthenticatedUser, CurrentUser, CSRF_COOKIE, SESSION_COOKIE};
use crate::api::openapi::{field_params, Operation, RequestBody, Response as Doc};
use crate::api::{parse_json, ApiError, ApiRoutes, API_ROOT};
use crate::app::App;
use crate::auth::accounts;
use crate::auth::sessions::{self, SESSION_AGE_SECONDS};
use crate::auth::Users;

const TAG: &str = "Login";
/// How long the CSRF cookie lasts (Django's `CSRF_COOKIE_AGE`, a year).
const CSRF_AGE_SECONDS: i64 = 31_449_600;

pub(super) fn mount(routes: &mut ApiRoutes) {
    let response = [
        (
            "pulp_href",
            read_only(json!({"type": "string", "format": "uri"})),
        ),
        ("prn", read_only(string())),
        ("username", read_only(string())),
    ];
    let update = [
        (
            "username",
            json!({"type": "string", "minLength": 1, "maxLength": 150}),
        ),
        (
            "old_password",
            json!({"type": "string", "writeOnly": true, "minLength": 1}),
        ),
        (
            "new_password",
            json!({"type": "string", "writeOnly": true, "minLength": 1}),
        ),
        ("first_name", json!({"type": "string", "maxLength": 150})),
        ("last_name", json!({"type": "string", "maxLength": 150})),
        ("email", json!({"type": "string", "format": "email"})),
    ];
    let update_response: Vec<(&str, Value)> = update
        .iter()
        .filter(|(n, _)| !n.ends_with("_password"))
        .cloned()
        .collect();
    routes
        .raw_schema("LoginResponse", schema("", &response, &[]))
        .raw_schema("PatchedLoginUpdate", schema("", &update, &[]))
        .raw_schema("LoginUpdateResponse", schema("", &update_response, &[]));
    let path = format!("{API_ROOT}/login/");
    routes.route(
        &path,
        get(who_am_i).post(login).patch(update_me).delete(logout),
        [
            Operation::new("get", &path, "login_read", TAG)
                .params(field_params())
                .response(200, Doc::Schema("LoginResponse".into())),
            Operation::new("post", &path, "login", TAG)
                .response(201, Doc::Schema("LoginResponse".into())),
            Operation::new("patch", &path, "login_update", TAG)
                .body(RequestBody::Schema("PatchedLoginUpdate".into()))
                .response(200, Doc::Schema("LoginUpdateResponse".into())),
            Operation::new("delete", &path, "logout", TAG).response(204, Doc::Empty),
        ],
    );
}

fn body_of(user: &CurrentUser, username: &str) -> Value {
    json!({
        "pulp_href": user_href(user.id),
        "prn": format!("prn:auth.user:{}", user.id),
        "username": username,
    })
}

/// A `Set-Cookie` value as Django writes it (`max_age` 0 deletes the cookie).
fn set_cookie(name: &str, value: &str, max_age: i64, http_only: bool) -> Option<HeaderValue> {
    let expires = if max_age > 0 {
        (Utc::now() + Duration::seconds(max_age))
            .format("%a, %d %b %Y %H:%M:%S GMT")
            .to_string()
    } else {
        "Thu, 01 Jan 1970 00:00:00 GMT".to_string()
    };
    let http_only = if http_only { " HttpOnly;" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; expires={expires};{http_only} Max-Age={max_age}; Path=/; SameSite=Lax"
    ))
    .ok()
}

async fn who_am_i(
    Extension(user): Extension<CurrentUser>,
    Extension(AuthenticatedUser(username)): Extension<AuthenticatedUser>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Json<Value> {
    Json(crate::api::select_fields(
        body_of(&user, &username),
        raw.as_deref(),
    ))
}

async fn login(
    axum::extract::State(app): axum::extract::State<App>,
    Extension(user): Extension<CurrentUser>,
    Extension(AuthenticatedUser(username)): Extension<AuthenticatedUser>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // A new login replaces the session the client had (Django cycles the key).
    if let Some(old) = cookie(&headers, SESSION_COOKIE) {
        sessions::close(app.db(), old).await?;
    }
    let key = sessions::open(app.db(), user.id).await?;
    let mut response = (StatusCode::CREATED, Json(body_of(&user, &username))).into_response();
    let out = response.headers_mut();
    out.extend(
        [
            set_cookie(SESSION_COOKIE, &key, SESSION_AGE_SECONDS, true),
            set_cookie(
                CSRF_COOKIE,
                &sessions::new_csrf_secret(),
                CSRF_AGE_SECONDS,
                false,
            ),
        ]
        .into_iter()
        .flatten()
        .map(|v| (SET_COOKIE, v)),
    );
    Ok(response)
}

async fn logout(
    axum::extract::State(app): axum::extract::State<App>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(key) = cookie(&headers, SESSION_COOKIE) {
        sessions::close(app.db(), key).await?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Some(v) = set_cookie(SESSION_COOKIE, "\"\"", 0, false) {
        response.headers_mut().insert(SET_COOKIE, v);
    }
    Ok(response)
}

/// `PATCH /login/`: one's own `username`, `first_name`, `last_name`, `email`, and the
/// password (`new_password` with the right `old_password`).
async fn update_me(
    axum::extract::State(app): axum::extract::State<App>,
    Extension(user): Extension<CurrentUser>,
    Extension(AuthenticatedUser(username)): Extension<AuthenticatedUser>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut body: Map<String, Value> = parse_json(&body)?;
    let mut unexpected = std::collections::BTreeMap::<String, Vec<String>>::new();
    for key in body.keys() {
        if !matches!(
            key.as_str(),
            "username" | "old_password" | "new_password" | "first_name" | "last_name" | "email"
        ) {
            unexpected.insert(key.clone(), vec!["Unexpected field.".into()]);
        }
    }
    if !unexpected.is_empty() {
        return Err(ApiError::Validation(unexpected));
    }
    let old = super::text_field(&body, "old_password")?;
    let new = super::text_field(&body, "new_password")?;
    body.remove("old_password");
    body.remove("new_password");
    let mut changes = super::users::changes(&body, true)?;
    let refuse = |message: &str| Err(ApiError::field("non_field_errors", message));
    match (old, new) {
        (None, Some(_)) => return refuse("Old password is required to update the password."),
        (Some(old), Some(new)) => {
            let stored = Users::new(app.db())
                .stored(&username)
                .await?
                .ok_or(ApiError::NotFound)?;
            if !Users::check_hash(&stored.password_hash, &old).await {
                return refuse("Old password is incorrect.");
            }
            if new == old {
                return refuse("New password cannot be the same as the old password.");
            }
            changes.password = Some(Some(new));
        }
        _ => {}
    }
    let account = accounts::update(app.db(), user.id, changes).await?;
    Ok(Json(json!({
        "username": account.username,
        "first_name": account.first_name,
        "last_name": account.last_name,
        "email": account.email,
    }))
    .into_response())
}
