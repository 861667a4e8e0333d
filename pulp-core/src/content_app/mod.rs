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
