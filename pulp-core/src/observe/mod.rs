//! Watching a running server: correlation ids, the access log and Prometheus metrics.
//!
//! The domain records what happened through [`metrics`]'s macros (names in [`names`]); this
//! module owns the HTTP side: [`observed`] wraps a router with the correlation-id and access
//! log middleware and adds `/metrics`.

pub mod correlation;
mod http;
pub mod metrics;

pub use correlation::{current_correlation_id, CORRELATION_ID_HEADER};
pub use http::{metrics_router, observed};
pub use metrics::{install_recorder, names};
