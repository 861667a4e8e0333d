//! # pulp-core
//!
//! The engine of pulp-rs: layered [`settings`], one [`db::Database`] handle over SQLite or
//! PostgreSQL with per-application migrations, content-addressed artifact [`storage`],
//! process heartbeats and the [`status`] report, [`auth`] users, and the REST and content-app
//! building blocks ([`api`], [`content_app`]). [`app::App`] ties them together; plugins add to it
//! through [`plugin::Plugin`] (re-exported for plugin authors by `pulp-plugin-api`).
//!
//! ```no_run
//! # async fn run() -> Result<(), pulp_core::app::AppError> {
//! use pulp_core::app::App;
//! use pulp_core::settings::SettingsSources;
//!
//! let app = App::builder(SettingsSources::from_environment()).build().await?;
//! app.migrate().await?;
//! let router = pulp_core::api::api_router(app.clone());
//! # let _ = router; Ok(()) }
//! ```

#![warn(missing_docs, rust_2018_idioms)]

pub mod access_policy;
pub mod api;
pub mod app;
pub mod auth;
mod compose;
pub mod content_app;
pub mod content_guard;
pub mod db;
pub mod download;
pub mod guards;
pub mod importexport;
pub mod models;
pub mod observe;
pub mod pipeline;
pub mod plugin;
pub mod publication;
pub mod rbac;
pub mod replication;
pub mod repository;
pub mod settings;
pub mod signing;
pub mod status;
pub mod storage;
pub mod tasking;
pub mod validation;
pub mod webhooks;
pub mod wire;

#[cfg(feature = "testing")]
pub mod testing;

pub use app::{App, AppBuilder, AppError};
pub use plugin::{Component, DetailType, Plugin, Registry};

/// Crates pulp-core's public API exposes, for plugins and embedders to use the same versions.
pub mod deps {
    pub use axum;
    pub use bytes;
    pub use chrono;
    pub use futures;
    pub use serde_json;
    pub use sqlx;
    pub use tokio;
    pub use tracing;
    pub use url;
    pub use uuid;
}
