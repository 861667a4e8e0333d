//! Lists refuse query parameters they do not know, as pulpcore's filter sets do: a client
//! whose filter is silently ignored would act on every object (a script deleting what a
//! misspelt filter returns must get a 400, not the whole list).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::routes_doc::ApiRoutes;
use super::ApiError;

/// Parameters every pulpcore list accepts besides its filters (pulpcore's
/// `BaseFilterSet.is_valid` lets them through).
const ALWAYS_ACCEPTED: &[&str] = &[
    "exclude_fields",
    "fields",
    "limit",
    "minimal",
    "offset",
    "page_size",
    "ordering",
    "format",
];

/// The declared query parameters of each list operation.
#[derive(Debug, Default)]
pub(crate) struct KnownFilters(HashMap<(String, String), HashSet<String>>);

impl KnownFilters {
    /// From the documented list operations of `routes`.
    pub(crate) fn new(routes: &ApiRoutes) -> Self {
        Self(
            routes
                .list_params()
                .iter()
                .map(|(key, names)| (key.clone(), names.iter().cloned().collect()))
                .collect(),
        )
    }

    /// The unknown parameter names of a `GET` at `path` with `query` (in order, once each);
    /// empty for an operation that is not a list.
    pub(crate) fn unknown(&self, path: &str, query: &str) -> Vec<String> {
        let Some(known) = self.0.get(&("GET".to_string(), path.to_string())) else {
            return Vec::new();
        };
        let mut unknown: Vec<String> = Vec::new();
        for (name, _) in url::form_urlencoded::parse(query.as_bytes()) {
            if ALWAYS_ACCEPTED.contains(&name.as_ref()) || known.contains(name.as_ref()) {
                continue;
            }
            if !unknown.iter().any(|seen| *seen == name) {
                unknown.push(name.into_owned());
            }
        }
        unknown
    }
}

/// Middleware: `400 {"errors": ["Invalid Filter: 'name'", …]}` for a list request naming a
/// parameter its operation does not declare (pulpcore's answer, word for word).
pub(crate) async fn refuse_unknown_filters(
    State(known): State<Arc<KnownFilters>>,
    request: Request,
    next: Next,
) -> Response {
    let is_read =
        request.method() == axum::http::Method::GET || request.method() == axum::http::Method::HEAD;
    if let (true, Some(path), Some(query)) = (
        is_read,
        request.extensions().get::<MatchedPath>(),
        request.uri().query(),
    ) {
        let unknown = known.unknown(path.as_str(), query);
        if !unknown.is_empty() {
            let messages = unknown
                .into_iter()
                .map(|name| format!("Invalid Filter: '{name}'"))
                .collect();
            return ApiError::Validation([("errors".to_string(), messages)].into()).into_response();
        }
    }
    next.run(request).await
}
