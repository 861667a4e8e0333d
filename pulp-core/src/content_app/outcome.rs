//! What a content-app answer was, for the metrics (`pulp_content_requests_total`).

use axum::http::header;
use axum::response::Response;

use crate::observe::names;

/// Set on a response by the branch that made it when its status alone does not say what it
/// was (an artifact from storage, fetched on demand, relayed).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outcome(pub(crate) &'static str);

/// Marks `response` as made by `outcome`.
pub(crate) fn mark(mut response: Response, outcome: &'static str) -> Response {
    response.extensions_mut().insert(Outcome(outcome));
    response
}

/// Counts `response` by outcome, with the body bytes it announces.
pub(crate) fn record(response: &Response) {
    let status = response.status();
    let outcome = if status.is_redirection() {
        "redirect"
    } else if status.as_u16() == 404 {
        "not_found"
    } else if status.as_u16() == 403 {
        "forbidden"
    } else if status.is_server_error() {
        "error"
    } else if let Some(Outcome(marked)) = response.extensions().get::<Outcome>() {
        marked
    } else if status.is_success() {
        "listing"
    } else {
        "other"
    };
    metrics::counter!(names::CONTENT_REQUESTS, "outcome" => outcome).increment(1);
    let bytes = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(bytes) = bytes {
        metrics::counter!(names::CONTENT_BYTES, "outcome" => outcome).increment(bytes);
    }
}
