//! The content app: serves distributions under `CONTENT_PATH_PREFIX`.
//!
//! Until distributions exist (they come with the publication work), it answers the root
//! listing and 404 for everything else.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::app::App;

/// The content app's routes.
pub fn content_router(app: App) -> Router {
    let prefix = app.settings().content_path_prefix.clone();
    Router::new()
        .route(&prefix, get(root_listing))
        .fallback(not_found)
        .with_state(app)
}

async fn root_listing(State(app): State<App>) -> Html<String> {
    let prefix = &app.settings().content_path_prefix;
    Html(format!(
        "<!DOCTYPE html>\n<html><head><title>Index of {prefix}</title></head>\
         <body><h1>Index of {prefix}</h1><ul></ul></body></html>\n"
    ))
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "404: Not Found\n").into_response()
}

/// Checks a distribution's `base_path`: relative, confined, and not overlapping the base path
/// of another distribution (`exclude` is the distribution being updated).
pub async fn check_base_path(
    db: &crate::db::Database,
    base_path: &str,
    exclude: Option<crate::db::PulpId>,
) -> Result<(), crate::validation::ValidationErrors> {
    let mut errors = crate::validation::ValidationErrors::new();
    if let Err(e) = crate::validation::validate_relative_path(base_path) {
        errors.add("base_path", e.to_string());
        return Err(errors);
    }
    let trimmed = base_path.trim_matches('/').to_string();
    let exclude = exclude.unwrap_or(crate::db::PulpId(uuid::Uuid::nil()));
    let rows: Vec<(String, String)> = match crate::on_pool!(db, pool => {
        sqlx::query_as("SELECT name, base_path FROM core_distribution WHERE pulp_id <> $1")
            .bind(exclude)
            .fetch_all(pool)
            .await
    }) {
        Ok(rows) => rows,
        Err(e) => {
            errors.add("base_path", format!("cannot check for overlaps: {e}"));
            return Err(errors);
        }
    };
    for (name, other) in rows {
        let other = other.trim_matches('/');
        let overlaps = other == trimmed
            || other.starts_with(&format!("{trimmed}/"))
            || trimmed.starts_with(&format!("{other}/"));
        if overlaps {
            errors.add(
                "base_path",
                format!("Overlaps with existing distribution '{name}'"),
            );
        }
    }
    errors.into_result()
}
