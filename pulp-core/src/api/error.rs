//! [`ApiError`]: every failure a handler can return, and every conversion of a lower layer's
//! error into it, turned into Pulp's response shapes here and nowhere else.
//!
//! The rule: what the client got wrong answers 4xx with Pulp's shapes (`{"field": ["…"]}` for
//! validation, `{"detail": "…"}` otherwise); what failed on our side (the database, the
//! storage, a bug) answers 500 with a fresh request id in the body, and the real error is
//! logged with that id, never sent to the client.

use std::collections::BTreeMap;

use axum::extract::multipart::MultipartError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::db::DbError;
use crate::models::ModelError;
use crate::repository::VersionError;
use crate::storage::StorageError;
use crate::tasking::TaskingError;
use crate::validation::ValidationErrors;

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
    /// 500; the cause is logged with a request id, the client sees only the id.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    /// A 400 about one field.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(BTreeMap::from([(field.to_string(), vec![message.into()])]))
    }

    /// A 500 whose cause (logged, never answered) is `cause`.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    /// A failure to add content to the repository named by the request's `repository` field:
    /// the client's mistake (a duplicate, a refused change) is a 400 on that field, ours a 500.
    pub fn repository_field(e: VersionError) -> Self {
        match e {
            e @ (VersionError::NoSuchVersion { .. }
            | VersionError::OnlyVersion { .. }
            | VersionError::DuplicateContent { .. }
            | VersionError::WouldOverwrite { .. }
            | VersionError::Refused(_)) => ApiError::field("repository", e.to_string()),
            other => other.into(),
        }
    }
}

/// The body of a 500: what the client may know (a generic sentence and the id to quote).
fn internal_error_response(cause: &str) -> Response {
    let request_id = uuid::Uuid::new_v4().simple().to_string();
    tracing::error!(%request_id, %cause, "internal error");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        Json(serde_json::json!({
            "detail": format!(
                "An internal error occurred; see the server log (request id {request_id})."
            ),
            "request_id": request_id,
        })),
    )
        .into_response()
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
        let basic_challenge = |mut response: Response| {
            response.headers_mut().insert(
                axum::http::header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Basic realm=\"api\""),
            );
            response
        };
        match self {
            ApiError::Validation(fields) => (StatusCode::BAD_REQUEST, Json(fields)).into_response(),
            ApiError::BadRequest(reason) => detail(StatusCode::BAD_REQUEST, reason),
            ApiError::Unauthenticated => basic_challenge(detail(
                StatusCode::UNAUTHORIZED,
                "Authentication credentials were not provided.".into(),
            )),
            ApiError::InvalidCredentials => basic_challenge(detail(
                StatusCode::UNAUTHORIZED,
                "Invalid username/password.".into(),
            )),
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
            ApiError::Internal(cause) => internal_error_response(&cause),
        }
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        ApiError::Validation(errors.into_map())
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        ApiError::internal(e)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::internal(e)
    }
}

impl From<ModelError> for ApiError {
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::NotFound { .. } | ModelError::WrongType { .. } => ApiError::NotFound,
            ModelError::Invalid(errors) => errors.into(),
            ModelError::Encode { field, message } => ApiError::field(&field, message),
            e @ (ModelError::Decode(_) | ModelError::Database(_)) => ApiError::internal(e),
        }
    }
}

impl From<VersionError> for ApiError {
    fn from(e: VersionError) -> Self {
        match e {
            VersionError::NoSuchVersion { .. } => ApiError::NotFound,
            e @ (VersionError::OnlyVersion { .. }
            | VersionError::DuplicateContent { .. }
            | VersionError::WouldOverwrite { .. }
            | VersionError::Refused(_)) => ApiError::BadRequest(e.to_string()),
            VersionError::Model(e) => e.into(),
            VersionError::Database(e) => e.into(),
        }
    }
}

impl From<TaskingError> for ApiError {
    fn from(e: TaskingError) -> Self {
        match e {
            TaskingError::NotFound(_) => ApiError::NotFound,
            TaskingError::Invalid(message) => ApiError::field("non_field_errors", message),
            e @ TaskingError::NotCancelable { .. } => ApiError::Conflict(e.to_string()),
            TaskingError::Database(e) => e.into(),
        }
    }
}

/// Storage errors of an upload: the data the client sent is wrong (size, digest, an
/// unreadable body) or the storage failed.
impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::TooLarge { limit } => ApiError::PayloadTooLarge { limit },
            StorageError::SizeMismatch { .. } => {
                ApiError::field("size", "The size did not match actual size of file.")
            }
            StorageError::DigestMismatch { checksum, .. } => ApiError::field(
                checksum.as_str(),
                format!("The {checksum} checksum did not match."),
            ),
            StorageError::DisallowedChecksum { checksum, .. } => ApiError::field(
                checksum.as_str(),
                format!("Checksum algorithm {checksum} forbidden for this Pulp instance."),
            ),
            StorageError::InvalidDigest { checksum, value } => ApiError::field(
                checksum.as_str(),
                format!("'{value}' is not a valid {checksum} digest."),
            ),
            StorageError::Source(e) => {
                ApiError::BadRequest(format!("Multipart form parse error - {e}"))
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(e: crate::auth::AuthError) -> Self {
        use crate::auth::AuthError;
        match e {
            AuthError::InvalidPassword(message) => ApiError::field("password", message),
            AuthError::UsernameTaken => {
                ApiError::field("username", "A user with that username already exists.")
            }
            AuthError::NotFound => ApiError::NotFound,
            e @ AuthError::Hashing(_) => ApiError::internal(e),
            AuthError::Database(e) => e.into(),
        }
    }
}

impl From<MultipartError> for ApiError {
    fn from(e: MultipartError) -> Self {
        ApiError::BadRequest(format!("Multipart form parse error - {}", e.body_text()))
    }
}

impl From<super::uploads::AssembleError> for ApiError {
    fn from(e: super::uploads::AssembleError) -> Self {
        use super::uploads::AssembleError;
        match e {
            AssembleError::Other(message) => ApiError::Internal(message),
            other => ApiError::field("upload", other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::PulpId;
    use crate::storage::ChecksumType;
    use serde_json::{json, Value};

    /// What a client receives for `error`.
    async fn answer(error: impl Into<ApiError>) -> (StatusCode, Value) {
        let response = error.into().into_response();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("body");
        (status, serde_json::from_slice(&bytes).expect("JSON body"))
    }

    /// A database failure whose text must never reach a client.
    fn db_failure() -> DbError {
        DbError::Sqlx(sqlx::Error::Protocol(
            "SELECT secret FROM core_user: relation broken".into(),
        ))
    }

    /// A 500 carries a request id and nothing of the cause.
    fn assert_internal((status, body): (StatusCode, Value)) {
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let id = body["request_id"].as_str().expect("a request id");
        assert_eq!(id.len(), 32, "a uuid: {id}");
        let text = body.to_string();
        assert!(text.contains(id), "the detail quotes the id: {text}");
        assert!(
            !text.contains("SELECT") && !text.contains("secret"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn internal_errors_get_a_fresh_request_id_and_hide_the_cause() {
        let first = answer(ApiError::internal("SELECT secret")).await;
        let second = answer(ApiError::internal("SELECT secret")).await;
        assert_ne!(first.1["request_id"], second.1["request_id"]);
        assert_internal(first);
        assert_internal(second);
    }

    #[tokio::test]
    async fn validation_is_a_400_in_pulps_field_shape() {
        let mut errors = ValidationErrors::new();
        errors.add("name", "This field is required.");
        assert_eq!(
            answer(errors).await,
            (
                StatusCode::BAD_REQUEST,
                json!({"name": ["This field is required."]})
            )
        );
    }

    #[tokio::test]
    async fn database_failures_are_500s() {
        assert_internal(answer(db_failure()).await);
        assert_internal(answer(sqlx::Error::PoolTimedOut).await);
    }

    #[tokio::test]
    async fn model_errors() {
        let id = PulpId::new();
        let (status, _) = answer(ModelError::NotFound { kind: "remote", id }).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let wrong = ModelError::WrongType {
            id,
            expected: "file.file",
            found: "rpm.rpm".into(),
        };
        assert_eq!(answer(wrong).await.0, StatusCode::NOT_FOUND);
        let encode = ModelError::Encode {
            field: "size".into(),
            message: "too big".into(),
        };
        assert_eq!(
            answer(encode).await,
            (StatusCode::BAD_REQUEST, json!({"size": ["too big"]}))
        );
        let invalid = ModelError::Invalid(ValidationErrors::field("url", "bad"));
        assert_eq!(
            answer(invalid).await,
            (StatusCode::BAD_REQUEST, json!({"url": ["bad"]}))
        );
        assert_internal(answer(ModelError::Decode("SELECT secret".into())).await);
        assert_internal(answer(ModelError::Database(db_failure())).await);
    }

    #[tokio::test]
    async fn version_errors_the_client_caused_are_400s_and_database_failures_500s() {
        let missing = VersionError::NoSuchVersion {
            repository: PulpId::new(),
            number: 3,
        };
        assert_eq!(answer(missing).await.0, StatusCode::NOT_FOUND);
        let duplicate = VersionError::DuplicateContent {
            pulp_type: "file.file".into(),
            key: "relative_path=a".into(),
        };
        let (status, body) = answer(duplicate).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("file.file")));
        let only = VersionError::OnlyVersion { number: 0 };
        assert_eq!(answer(only).await.0, StatusCode::BAD_REQUEST);
        assert_eq!(
            answer(VersionError::Refused("no".into())).await.0,
            StatusCode::BAD_REQUEST
        );
        assert_internal(answer(VersionError::Database(db_failure())).await);
        assert_internal(answer(VersionError::Model(ModelError::Database(db_failure()))).await);
    }

    #[tokio::test]
    async fn version_errors_of_the_repository_field() {
        let overwrite = VersionError::WouldOverwrite {
            pulp_type: "file.file".into(),
            key: "relative_path=a".into(),
        };
        let (status, body) = answer(ApiError::repository_field(overwrite)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["repository"][0].is_string(), "{body}");
        assert_internal(
            answer(ApiError::repository_field(VersionError::Database(
                db_failure(),
            )))
            .await,
        );
    }

    #[tokio::test]
    async fn tasking_errors() {
        assert_eq!(
            answer(TaskingError::NotFound("x".into())).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            answer(TaskingError::Invalid("no name".into())).await,
            (
                StatusCode::BAD_REQUEST,
                json!({"non_field_errors": ["no name"]})
            )
        );
        let busy = TaskingError::NotCancelable {
            id: "t".into(),
            state: "completed".into(),
        };
        assert_eq!(answer(busy).await.0, StatusCode::CONFLICT);
        assert_internal(answer(TaskingError::Database(db_failure())).await);
    }

    #[tokio::test]
    async fn storage_errors() {
        assert_eq!(
            answer(StorageError::TooLarge { limit: 10 }).await.0,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let size = StorageError::SizeMismatch {
            expected: 1,
            actual: 2,
        };
        assert_eq!(
            answer(size).await,
            (
                StatusCode::BAD_REQUEST,
                json!({"size": ["The size did not match actual size of file."]})
            )
        );
        let digest = StorageError::DigestMismatch {
            checksum: ChecksumType::Sha256,
            expected: "a".into(),
            actual: "b".into(),
        };
        let (status, body) = answer(digest).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["sha256"][0].is_string(), "{body}");
        let source = StorageError::Source(std::io::Error::other("connection reset"));
        assert_eq!(answer(source).await.0, StatusCode::BAD_REQUEST);
        let io = StorageError::Io {
            action: "writing /var/lib/pulp/secret".into(),
            source: std::io::Error::other("disk full"),
        };
        let (status, body) = answer(io).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.to_string().contains("/var/lib"), "{body}");
    }

    #[tokio::test]
    async fn auth_errors() {
        use crate::auth::AuthError;
        assert_eq!(
            answer(AuthError::InvalidPassword("too short".into())).await,
            (StatusCode::BAD_REQUEST, json!({"password": ["too short"]}))
        );
        assert_internal(answer(AuthError::Database(db_failure())).await);
    }
}
