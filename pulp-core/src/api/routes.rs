//! The core API routes.

use axum::extract::{RawQuery, State};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};

use super::{select_fields, ApiError};
use crate::app::App;
use crate::status::status_report;

/// Prefix of every API path.
pub const API_ROOT: &str = "/pulp/api/v3";

/// The REST API of pulp-core (plugins' routes are merged in by the server).
pub fn api_router(app: App) -> Router {
    Router::new()
        .route(&format!("{API_ROOT}/status/"), get(status))
        .merge(super::tasks::routes())
        // Only matched routes are authenticated: unknown paths answer 404 to anyone.
        .route_layer(axum::middleware::from_fn_with_state(
            app.clone(),
            super::auth::require_user,
        ))
        .fallback(not_found)
        .with_state(app)
}

async fn status(
    State(app): State<App>,
    RawQuery(query): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let report = serde_json::to_value(status_report(&app).await)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(select_fields(report, query.as_deref())))
}

async fn not_found() -> ApiError {
    ApiError::NotFound
}
