//! REST API building blocks: the error type mapped to Pulp's HTTP shapes, field selection,
//! and the core routes under `/pulp/api/v3/`.

mod error;
mod fields;
mod routes;
mod serve;
pub mod timestamp;

pub use error::ApiError;
pub use fields::select_fields;
pub use routes::{api_router, API_ROOT};
pub use serve::serve;
