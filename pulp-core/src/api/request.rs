//! Reading requests: JSON bodies with Pulp's error shapes, the base URL for links.

use axum::http::HeaderMap;
use serde::de::DeserializeOwned;

use super::ApiError;
use crate::db::PulpId;

/// Deserializes a JSON body; problems become Pulp's 400 answers: an unknown field or a
/// missing one is a field error naming it, other type errors name the field when serde can.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
        return Err(ApiError::BadRequest(
            "Null characters are not allowed.".into(),
        ));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    match serde_path_to_error::deserialize(&mut deserializer) {
        Ok(value) => Ok(value),
        Err(error) => {
            let path = error.path().to_string();
            let inner = error.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(ApiError::BadRequest(format!("JSON parse error - {inner}")));
            }
            let message = inner.to_string();
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_string();
            if let Some(field) = backticked(&message, "unknown field `") {
                return Err(ApiError::field(&field, "Unexpected field."));
            }
            if let Some(field) = backticked(&message, "missing field `") {
                let field = if path == "." {
                    field
                } else {
                    format!("{path}.{field}")
                };
                return Err(ApiError::field(&field, "This field is required."));
            }
            let field = if path == "." || path.is_empty() {
                "non_field_errors".to_string()
            } else {
                path
            };
            Err(ApiError::field(&field, message))
        }
    }
}

fn backticked(message: &str, prefix: &str) -> Option<String> {
    let rest = message.split(prefix).nth(1)?;
    Some(rest.split('`').next()?.to_string())
}

/// `scheme://host` of the request, for absolute links (honours `X-Forwarded-Proto`).
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| *p == "https" || *p == "http")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// The id in a request path (`/…/{id}/`): an object that cannot exist when it is not a UUID,
/// so 404.
pub(crate) fn path_id(raw: &str) -> Result<PulpId, ApiError> {
    uuid::Uuid::parse_str(raw)
        .map(PulpId)
        .map_err(|_| ApiError::NotFound)
}
