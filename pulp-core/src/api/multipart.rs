//! Reading upload requests: the body-size limit (`upload_max_size`), multipart parts as byte
//! streams (never buffered whole) or short text, and storage errors as Pulp's answers.

use axum::extract::multipart::Field;
use axum::http::{header, HeaderMap};
use bytes::Bytes;
use futures::{Stream, StreamExt};

use super::ApiError;
use crate::app::App;

/// Longest text part read (a label set, an href, a digest).
const TEXT_LIMIT: usize = 1024 * 1024;

/// The upload limit in force.
pub(crate) fn upload_limit(app: &App) -> Option<u64> {
    app.settings().upload_max_size
}

/// Refuses a request whose announced length is over the limit before reading it (413).
pub(crate) fn check_length(headers: &HeaderMap, limit: Option<u64>) -> Result<(), ApiError> {
    let Some(limit) = limit else {
        return Ok(());
    };
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match length {
        Some(n) if n > limit => Err(ApiError::PayloadTooLarge { limit }),
        _ => Ok(()),
    }
}

/// Whether the request body is `multipart/form-data`.
pub(crate) fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// The bytes of a part, as the storage layer reads them.
pub(crate) fn part_stream<'a>(
    field: Field<'a>,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + Unpin + 'a {
    Box::pin(field.map(|item| item.map_err(|e| std::io::Error::other(e.body_text()))))
}

/// A text part (at most 1 MiB).
pub(crate) async fn part_text(mut field: Field<'_>) -> Result<String, ApiError> {
    let name = field.name().unwrap_or_default().to_string();
    let mut data = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(ApiError::from)? {
        if data.len() + chunk.len() > TEXT_LIMIT {
            return Err(ApiError::field(&name, "This value is too long."));
        }
        data.extend_from_slice(&chunk);
    }
    String::from_utf8(data).map_err(|_| ApiError::field(&name, "This value is not UTF-8 text."))
}
