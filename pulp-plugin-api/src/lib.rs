//! # pulp-plugin-api
//!
//! The stable face of pulp-rs for plugin authors. A plugin depends on this crate only,
//! never on `pulp-core` directly: when a plugin needs something that is not here, this
//! crate grows.
//!
//! ## A plugin in five steps
//! 1. Write a value that implements [`Plugin`] (any `Fn(&mut Registry)` already does).
//! 2. In [`Plugin::register`], declare your [`Component`] (name and version shown by
//!    `/pulp/api/v3/status/`), your settings defaults and validators, and your
//!    [`Migration`]s (SQL for SQLite and for PostgreSQL, applied after pulp-core's).
//! 3. Declare your detail types: `r.content::<MyUnit>()`, `r.repository::<MyRepository>()`,
//!    `r.remote::<…>()`, `r.publication::<…>()`, `r.distribution::<…>()` (see below).
//! 4. Add it to the app: `App::builder(sources).plugin(MyPlugin).build()`.
//! 5. Read your settings at run time with [`Settings::extra_value`].
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
//! ## Declaring a content type
//! Pulp's models are master/detail: a master table per kind (`core_content`,
//! `core_repository`, …) holds what every type has, and each plugin type adds a *detail*
//! table keyed by the master's `pulp_id`. A detail type is a serde struct implementing
//! [`models::Detail`] (which columns, which table, its `pulp_type`, href and PRN names) and
//! [`validation::Validate`] (the checks the API and the sync pipeline both run). A content
//! type also implements [`models::ContentDetail`]: its natural key (saving a unit whose key
//! exists returns the existing one) and its repository key (a newer unit with the same key
//! replaces the older one in a new version).
//!
//! ```
//! use pulp_plugin_api::models::{Column, ContentDetail, ContentKind, Detail};
//! use pulp_plugin_api::validation::{validate_relative_path, Validate, ValidationErrors};
//! use pulp_plugin_api::deps::serde_json;
//!
//! #[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
//! pub struct Page { pub relative_path: String, pub digest: String }
//!
//! impl Validate for Page {
//!     fn validate(&self, errors: &mut ValidationErrors) {
//!         if let Err(e) = validate_relative_path(&self.relative_path) {
//!             errors.add("relative_path", e.to_string());
//!         }
//!     }
//! }
//!
//! impl Detail for Page {
//!     type Kind = ContentKind;
//!     const PULP_TYPE: &'static str = "wiki.page";
//!     const TABLE: &'static str = "wiki_page";
//!     const COLUMNS: &'static [Column] = &[Column::text("relative_path"), Column::text("digest")];
//!     const PRN_MODEL: &'static str = "wiki.page";
//!     const ENDPOINT: &'static str = "wiki/pages";
//! }
//!
//! impl ContentDetail for Page {
//!     const NATURAL_KEY: &'static [&'static str] = &["relative_path", "digest"];
//!     const REPO_KEY: &'static [&'static str] = &["relative_path"];
//! }
//! # let _ = serde_json::json!({});
//! ```
//! Its migration creates `wiki_page (pulp_id PRIMARY KEY REFERENCES core_content ON DELETE
//! CASCADE, pulp_domain TEXT NOT NULL, relative_path, digest, UNIQUE (relative_path, digest,
//! pulp_domain))`. Then [`models::save_content`] stores units, [`repository::NewVersion`]
//! makes versions of repositories holding them, and [`repository::RepositoryType`] lets a
//! repository type enforce its invariants before each version becomes visible. A type whose
//! units are one file implements [`models::SingleArtifactContent`] and registers
//! `r.content_upload::<T>()` to be creatable through the REST API from an upload. The crate
//! `examples/bundle-plugin` is a complete plugin whose units reference other units.
//!
//! See `docs/plugin-api.md` for the deprecation policy.

#![warn(missing_docs, rust_2018_idioms)]

pub use pulp_core::api::ApiError;
pub use pulp_core::app::{App, AppBuilder, AppError};
pub use pulp_core::db::{Backend, Database, DbError, DbTransaction, Migration, PulpId};
pub use pulp_core::plugin::{
    Component, ContentHeaders, ContentRoutes, DetailType, Plugin, Registry, RepositoryRegistration,
    TaskFunction, PULP_API_VERSION,
};
pub use pulp_core::settings::{SettingError, Settings, SettingsSources};
pub use pulp_core::storage::{
    AllowedChecksums, ArtifactStorage, ChecksumType, Digester, Digests, ExpectedArtifact,
    StorageError, StoredArtifact, TemporaryFile,
};
pub use pulp_core::{on_pool, on_tx};

/// Master/detail models: the six master kinds and their common fields, the [`Detail`](models::Detail)
/// and [`ContentDetail`](models::ContentDetail) traits, typed [`Model`](models::Model)s,
/// artifacts, and the functions reading and writing them (`create`, `get`, `cast`, `list`,
/// `update`, `delete`, `save_content`), plus Pulp's hrefs, PRNs and response shapes.
pub mod models {
    pub use pulp_core::models::*;
    pub use pulp_plugin_api_derive::Detail;
}

/// Derives a detail type's [`models::Detail`] (and, for content, [`models::ContentDetail`])
/// and [`models::DetailTable`] from its struct: the columns from the fields (their types from
/// the Rust types, `Option` meaning nullable) and the table's DDL on SQLite and PostgreSQL
/// (`pulp_id` referencing the master table with `ON DELETE CASCADE`; for content
/// `pulp_domain` and the natural key unique with it).
///
/// Type attributes, `#[pulp(…)]`: `kind = content|remote|repository|publication|distribution|content_guard`,
/// `pulp_type = "…"`, `table = "…"`, `endpoint = "…"` (all required), `prn_model = "…"`
/// (default `<plugin>.<struct name in lower case>`), `natural_key(field, …)` (required for
/// content), `repo_key(field, …)`, `filter(field, parameter = field, …)` (exact-match list
/// filters), `api_response = path::to::fn` (adjusts the API response). Field attributes:
/// `#[pulp(index)]` (an index on the column), `#[pulp(column = text|int|float|bool|json|id|time)]`
/// (when the Rust type does not say).
///
/// ```
/// use pulp_plugin_api::models::{Detail, DetailTable};
/// use pulp_plugin_api::validation::{Validate, ValidationErrors};
///
/// #[derive(Debug, Clone, serde::Serialize, serde::Deserialize, Detail)]
/// #[pulp(kind = content, pulp_type = "wiki.page", table = "wiki_page", endpoint = "wiki/pages")]
/// #[pulp(natural_key(relative_path, digest), repo_key(relative_path))]
/// pub struct Page {
///     pub relative_path: String,
///     #[pulp(index)]
///     pub digest: String,
///     pub title: Option<String>,
/// }
///
/// impl Validate for Page {
///     fn validate(&self, _: &mut ValidationErrors) {}
/// }
///
/// let migration = Page::migration("wiki", "0001_page");
/// assert!(migration.sqlite.contains("UNIQUE (relative_path, digest, pulp_domain)"));
/// assert_eq!(Page::PRN_MODEL, "wiki.page");
/// ```
pub use pulp_plugin_api_derive::Detail;

/// What `#[derive(Detail)]` generates code against (not part of the API).
#[doc(hidden)]
pub mod __derive {
    pub use pulp_core::deps::serde_json;
    pub use pulp_core::models::{
        Column, ContentDetail, ContentGuardKind, ContentKind, Detail, DetailTable,
        DistributionKind, PublicationKind, RemoteKind, RepositoryKind,
    };
}

/// Access policies: the [`AccessPolicy`](access_policy::AccessPolicy) of each viewset, made
/// of [`Statement`](access_policy::Statement)s (principals, actions, effect, conditions), that
/// a plugin declares with [`Registry::access_policy`] for the API operations it adds.
pub mod access_policy {
    pub use pulp_core::access_policy::*;
}

/// Role-based access control: the permissions ([`PermissionDecl`](rbac::PermissionDecl)) and
/// locked roles ([`LockedRole`](rbac::LockedRole)) a plugin declares with
/// [`Registry::permission`] and [`Registry::locked_role`] (every declared detail type has its
/// `view_`/`add_`/`change_`/`delete_` permissions already), and
/// [`standard_roles`](rbac::standard_roles), the usual creator / owner / viewer trio.
pub mod rbac {
    pub use pulp_core::rbac::{standard_roles, LockedRole, PermissionDecl};
}

/// Repository versions: the [`NewVersion`](repository::NewVersion) scope, the
/// [`RepositoryType`](repository::RepositoryType) hooks, reading versions and their content,
/// `content_summary`, deleting versions and `retain_repo_versions`.
pub mod repository {
    pub use pulp_core::repository::*;
}

/// The downloader of a remote: limits, retries, TLS/proxy/auth options, and size and
/// digest validation while streaming ([`Downloader`](download::Downloader)).
pub mod download {
    pub use pulp_core::download::*;
}

/// The content app: routes plugins add ([`Registry::content_routes`]), content-guard checks
/// ([`ContentGuardCheck`](content_app::ContentGuardCheck), registered with
/// [`Registry::content_guard_check`]), and the base-path checks of distributions
/// ([`check_base_path`](content_app::check_base_path)).
pub mod content_app {
    pub use pulp_core::content_app::*;
}

/// The sync pipeline (Pulp's stages API): write a [`FirstStage`](pipeline::FirstStage) that
/// emits [`DeclarativeContent`](pipeline::DeclarativeContent)s of any of the repository
/// type's content types, and [`DeclarativeVersion`](pipeline::DeclarativeVersion) runs the
/// default stages after it and makes one new repository version of them all. See
/// `docs/plugin-api.md`, "Writing a first stage".
pub mod pipeline {
    pub use pulp_core::pipeline::*;
}

/// Pulp export and import: the model resources plugins declare, the export writer and the
/// import reader.
pub mod importexport {
    pub use pulp_core::importexport::*;
}

/// Publications' files: published artifacts and metadata, recorded by publishers and read
/// by the content app.
pub mod publication {
    pub use pulp_core::publication::*;
}

/// Signing services: [`sign_file`](signing::sign_file) signs a file with a service added by
/// `pulp-server add-signing-service` (its script writes a detached ASCII-armored
/// signature); [`get_by_name`](signing::get_by_name) finds one.
pub mod signing {
    pub use pulp_core::signing::*;
}

/// Tasking: the [`TaskContext`](tasking::TaskContext) a task function gets, dispatching,
/// progress reports, workers.
pub mod tasking {
    pub use pulp_core::tasking::*;
}

/// Serializer-style validation with errors by field, in Pulp's shape; relative-path checks.
pub mod validation {
    pub use pulp_core::validation::*;
}

/// Crates the plugin API exposes, re-exported so that plugins use the same versions.
pub mod deps {
    pub use pulp_core::deps::*;
}

/// Test support for plugins: temporary SQLite and PostgreSQL databases.
pub mod testing {
    pub use pulp_core::db_tests;
    pub use pulp_core::testing::*;
}
