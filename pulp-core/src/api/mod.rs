//! REST API building blocks: the error type mapped to Pulp's HTTP shapes, field selection,
//! and the core routes under `/pulp/api/v3/`.

pub mod auth;
mod error;
mod fields;
pub mod generic;
mod labels;
pub mod list;
pub mod openapi;
mod request;
mod routes;
mod routes_doc;
mod serve;
mod tasks;
pub mod timestamp;

pub use error::ApiError;
pub use fields::select_fields;
pub use list::{Page, Paging, QueryParams, SqlValue, SqlWhere};
pub use request::{base_url, parse_json};
pub use routes::{api_router, register_tasks, API_ROOT};
pub use routes_doc::{ApiMounter, ApiRoutes};
pub use serve::serve;
