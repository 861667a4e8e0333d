//! [`ApiError`]: every failure a handler can return, turned into Pulp's response shapes here
//! and nowhere else.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// An error answered to an API client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 with `{"field": ["message", …]}`.
    #[error("invalid input: {0:?}")]
    Validation(BTreeMap<String, Vec<String>>),
    /// 400 with `{"detail": "…"}` (a body that is not JSON, or not an object).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 401.
    #[error("authentication credentials were not provided or are wrong")]
    Unauthenticated,
    /// 401: the credentials given are wrong.
    #[error("invalid username or password")]
    InvalidCredentials,
    /// 403.
    #[error("you do not have permission to perform this action")]
    Forbidden,
    /// 403 with a reason.
    #[error("forbidden: {0}")]
    ForbiddenBecause(String),
    /// 404.
    #[error("not found")]
    NotFound,
    /// 409 with a reason.
    #[error("conflict: {0}")]
    Conflict(String),
    /// 413.
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The limit.
        limit: u64,
    },
    /// 500; the cause is logged, the client sees a generic message.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 400 about one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(BTreeMap::from([(field.to_string(), vec![message.into()])]))
    }
}

impl From<crate::rbac::RbacError> for ApiError {
    fn from(e: crate::rbac::RbacError) -> Self {
        use crate::rbac::RbacError;
        match e {
            RbacError::Database(e) => e.into(),
            RbacError::NotFound => ApiError::NotFound,
            RbacError::Locked => ApiError::ForbiddenBecause("The role is locked.".into()),
            RbacError::Invalid { field, messages } => {
                ApiError::Validation(BTreeMap::from([(field.to_string(), messages)]))
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let detail = |status: StatusCode, text: String| {
            (status, Json(serde_json::json!({ "detail": text }))).into_response()
        };
        match self {
            ApiError::Validation(fields) => (StatusCode::BAD_REQUEST, Json(fields)).into_response(),
            ApiError::BadRequest(reason) => detail(StatusCode::BAD_REQUEST, reason),
            ApiError::Unauthenticated => {
                let mut response = detail(
                    StatusCode::UNAUTHORIZED,
                    "Authentication credentials were not provided.".into(),
                );
                response.headers_mut().insert(
                    axum::http::header::WWW_AUTHENTICATE,
                    axum::http::HeaderValue::from_static("Basic realm=\"api\""),
                );
                response
            }
            ApiError::InvalidCredentials => {
                let mut response = detail(
                    StatusCode::UNAUTHORIZED,
                    "Invalid username/password.".into(),
                );
                response.headers_mut().insert(
                    axum::http::header::WWW_AUTHENTICATE,
                    axum::http::HeaderValue::from_static("Basic realm=\"api\""),
                );
                response
            }
            ApiError::Forbidden => detail(
                StatusCode::FORBIDDEN,
                "You do not have permission to perform this action.".into(),
            ),
            ApiError::ForbiddenBecause(reason) => detail(StatusCode::FORBIDDEN, reason),
            ApiError::NotFound => detail(StatusCode::NOT_FOUND, "Not found.".into()),
            ApiError::Conflict(reason) => detail(StatusCode::CONFLICT, reason),
            ApiError::PayloadTooLarge { limit } => detail(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The request body is larger than {limit} bytes."),
            ),
            ApiError::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                detail(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "An internal error occurred; see the server log.".into(),
                )
            }
        }
    }
}
