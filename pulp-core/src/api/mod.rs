//! REST API building blocks: the error type mapped to Pulp's HTTP shapes, field selection,
//! and the core routes under `/pulp/api/v3/`.

mod access_policies;
mod artifacts;
pub mod auth;
pub mod authorize;
pub mod content_upload;
mod declared;
mod error;
mod fields;
pub mod generic;
mod importexport;
mod labels;
pub mod list;
mod multipart;
pub mod observe;
pub mod openapi;
pub mod orphans;
mod rbac;
mod replication;
mod request;
mod routes;
mod routes_doc;
mod serve;
mod signing;
mod strict_query;
mod task_schedules;
mod tasks;
mod transfer;
pub mod uploads;
mod webhooks;

pub use self::observe::{metrics_router, observed};
/// Timestamps as the API writes them (they live with the other wire forms).
pub use crate::wire::timestamp;
pub use crate::wire::API_ROOT;
pub use error::ApiError;
pub use fields::select_fields;
pub use list::{Page, Paging, QueryParams, SqlValue, SqlWhere};
pub use request::{base_url, parse_json};
pub use routes::{api_router, api_routes, register_tasks};
pub use routes_doc::{ApiMounter, ApiRoutes};
pub use serve::serve;
