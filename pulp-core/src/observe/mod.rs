//! Watching a running server: correlation ids and Prometheus metrics, below the HTTP layers.
//!
//! The domain records what happened through [`metrics`]'s macros (names in [`names`]) and
//! reads the correlation id it runs under ([`current_correlation_id`]); the HTTP side (the
//! middleware that sets the id, the access log, `/metrics`) is
//! [`api::observe`](crate::api::observe).

pub mod correlation;
pub mod metrics;

pub use correlation::{current_correlation_id, CORRELATION_ID_HEADER};
pub use metrics::{install_recorder, names};
