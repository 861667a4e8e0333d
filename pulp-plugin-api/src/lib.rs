//! # pulp-plugin-api
//!
//! The stable face of pulp-rs for plugin authors. A plugin depends on this crate only,
//! never on `pulp-core` directly: when a plugin needs something that is not here, this
//! crate grows.
//!
//! ## A plugin in four steps
//! 1. Write a value that implements [`Plugin`] (any `Fn(&mut Registry)` already does).
//! 2. In [`Plugin::register`], declare your [`Component`] (name and version shown by
//!    `/pulp/api/v3/status/`), your settings defaults and validators, and your
//!    [`Migration`]s (SQL for SQLite and for PostgreSQL, applied after pulp-core's).
//! 3. Add it to the app: `App::builder(sources).plugin(MyPlugin).build()`.
//! 4. Read your settings at run time with [`Settings::extra_value`].
//!
//! ```
//! use pulp_plugin_api::{Component, Plugin, Registry, SettingError};
//!
//! struct HelloPlugin;
//!
//! impl Plugin for HelloPlugin {
//!     fn register(&self, r: &mut Registry) {
//!         r.component(Component::new("hello", "hello-plugin", "0.1.0", "pulp_hello.app"));
//!         r.settings_defaults(serde_json::json!({ "hello_greeting": "hi" }));
//!         r.settings_validator(|s| match s.extra_value::<String>("hello_greeting")? {
//!             Some(g) if g.is_empty() => Err(SettingError::new("hello_greeting", "must not be empty")),
//!             _ => Ok(()),
//!         });
//!     }
//! }
//! # let _ = HelloPlugin;
//! ```
//!
//! What the plugin API covers grows with pulp-rs: content types, tasks, sync stages and
//! routes are added here as they are built. See `docs/plugin-api.md` for the deprecation
//! policy.

#![warn(missing_docs, rust_2018_idioms)]

pub use pulp_core::app::{App, AppBuilder, AppError};
pub use pulp_core::db::{Backend, Database, DbError, Migration, PulpId};
pub use pulp_core::plugin::{Component, Plugin, Registry, PULP_API_VERSION};
pub use pulp_core::settings::{SettingError, Settings, SettingsSources};
pub use pulp_core::storage::{
    AllowedChecksums, ArtifactStorage, ChecksumType, Digests, ExpectedArtifact, StorageError,
    StoredArtifact, TemporaryFile,
};

/// Crates the plugin API exposes, re-exported so that plugins use the same versions.
pub mod deps {
    pub use pulp_core::deps::*;
}

/// Test support for plugins: temporary SQLite and PostgreSQL databases.
pub mod testing {
    pub use pulp_core::db_tests;
    pub use pulp_core::testing::*;
}
