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

//!
//! ## What this crate exports
//! Every item is named here one by one (no glob re-exports) and documented where it is
//! defined; `public-api.txt` next to this crate's `Cargo.toml` is the checked-in list of them
//! with their signatures, compared by `tests/public_api.rs`, so that every change to the
//! surface shows in review. pulp-core's internals (workers, pools and raw SQL, the stage
//! runner, the registry's stored forms) are not here. Test support ([`testing`], the
//! worker, `sqlx`, `on_pool!`/`on_tx!`) needs the cargo feature `testing`, which plugins
//! enable in their `[dev-dependencies]`.

#![warn(missing_docs, rust_2018_idioms)]

pub use pulp_core::api::ApiError;
pub use pulp_core::app::{App, AppBuilder, AppError};
pub use pulp_core::db::{Backend, Database, DbError, DbTransaction, Migration, PulpId};
/// Raw SQL on the app's pool, for tests (feature `testing`).
#[cfg(feature = "testing")]
pub use pulp_core::on_pool;
/// Raw SQL in a transaction, for tests (feature `testing`).
#[cfg(feature = "testing")]
pub use pulp_core::on_tx;
pub use pulp_core::plugin::{
    Component, ContentHeaders, ContentRoutes, DetailType, Plugin, Registry, RepositoryRegistration,
    TaskFunction, PULP_API_VERSION,
};
pub use pulp_core::settings::{SettingError, Settings, SettingsSources};
pub use pulp_core::storage::{
    AllowedChecksums, ArtifactStorage, ChecksumType, Digester, Digests, ExpectedArtifact,
    StorageError, StoredArtifact, TemporaryFile,
};

/// Master/detail models: the six master kinds and their common fields, the [`Detail`](models::Detail)
/// and [`ContentDetail`](models::ContentDetail) traits, typed [`Model`](models::Model)s,
/// artifacts, and the functions reading and writing them (`create`, `get`, `cast`, `list`,
/// `update`, `delete`, `save_content`), plus Pulp's hrefs, PRNs and response shapes.
pub mod models {
    pub use pulp_core::models::{
        artifact_id_from_href, href, id_from_href, prn, to_response, version_from_href,
        version_href,
    };
    pub use pulp_core::models::{
        artifacts_by_id, content_artifacts, create_content_artifacts, create_remote_artifacts,
        find_artifact, find_artifacts, forget_artifacts, remote_artifacts, save_artifact,
        save_artifacts, save_content_artifacts, save_remote_artifacts, Artifact, ContentArtifact,
        RemoteArtifact,
    };
    pub use pulp_core::models::{
        count, create, delete, find_content, get, get_many, get_many_of_type, get_master, list,
        list_masters, save_content, save_new_content, update,
    };
    pub use pulp_core::models::{
        Column, ColumnType, Content, ContentDetail, ContentGuard, Detail, DetailTable,
        Distribution, Labels, Master, Model, ModelError, Publication, Remote, Repository,
        SingleArtifactContent, DEFAULT_DOMAIN,
    };
    pub use pulp_core::models::{
        ContentFields, ContentGuardFields, ContentGuardKind, ContentKind, DistributionFields,
        DistributionKind, MasterKind, Policy, PublicationFields, PublicationKind, RemoteFields,
        RemoteKind, RepositoryFields, RepositoryKind, REMOTE_SECRET_FIELDS,
    };
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
    /// Stores policies as `migrate` does (feature `testing`: tests of a changed default).
    #[cfg(feature = "testing")]
    pub use pulp_core::access_policy::seed;
    pub use pulp_core::access_policy::{parse_statements, AccessPolicy, Effect, Statement};
}

/// Role-based access control: the permissions ([`PermissionDecl`](rbac::PermissionDecl)) and
/// locked roles ([`LockedRole`](rbac::LockedRole)) a plugin declares with
/// [`Registry::permission`] and [`Registry::locked_role`] (every declared detail type has its
/// `view_`/`add_`/`change_`/`delete_` permissions already), and
/// [`standard_roles`](rbac::standard_roles), the usual creator / owner / viewer trio.
pub mod rbac {
    pub use pulp_core::rbac::{standard_roles, LockedRole, PermissionDecl};
}

/// Plugin REST routes ([`Registry::api_routes`]): the documented route table
/// ([`ApiRoutes`](api::ApiRoutes)), OpenAPI operations, and the JSON body parser answering
/// Pulp's 400 shape.
pub mod api {
    pub use pulp_core::api::openapi::{Operation, RequestBody, Response};
    pub use pulp_core::api::{parse_json, ApiRoutes, API_ROOT};
}

/// Users: checking a user's password ([`Users::verify`](auth::Users::verify)) for plugins
/// that authenticate their own routes (see [`Registry::api_listener_routes`]).
pub mod auth {
    pub use pulp_core::auth::Users;
}

/// Repository versions: the [`NewVersion`](repository::NewVersion) scope, the
/// [`RepositoryType`](repository::RepositoryType) hooks, reading versions and their content
/// (with [`version_content_artifacts`](repository::version_content_artifacts), each unit's
/// relative paths and artifacts or remote artifacts), `content_summary`, deleting versions
/// and `retain_versions`.
pub mod repository {
    pub use pulp_core::repository::{
        contains, content_summary, delete_version, get_version, get_version_by_id, latest_version,
        list_versions, retain_versions, version_content, version_content_artifacts,
        version_content_ids, version_content_ids_after, version_content_of_type,
        version_lacks_artifacts, NewVersion, RepositoryType, RepositoryVersion,
        VersionContentArtifact, VersionCounts, VersionError,
    };
}

/// The downloader of a remote: limits, retries, TLS/proxy/auth options, and size and
/// digest validation while streaming ([`Downloader`](download::Downloader)).
pub mod download {
    pub use pulp_core::download::{
        DownloadError, DownloadResponse, DownloadedFile, Downloader, DEFAULT_DOWNLOAD_CONCURRENCY,
        DEFAULT_MAX_RETRIES,
    };
}

/// The content app: routes plugins add ([`Registry::content_routes`]), content-guard checks
/// ([`ContentGuardCheck`](content_app::ContentGuardCheck), registered with
/// [`Registry::content_guard_check`]), and the base-path checks of distributions
/// ([`check_base_path`](content_app::check_base_path)).
pub mod content_app {
    /// The content app's router, to serve it in a test (feature `testing`).
    #[cfg(feature = "testing")]
    pub use pulp_core::content_app::content_router;
    pub use pulp_core::content_app::{
        check_base_path, validate_base_path, ContentGuardCheck, GuardDenied,
    };
}

/// Content-guard types with their model (`Registry::guard_type`): the decision, who is
/// asking, and evaluating any guard.
pub mod content_guard {
    pub use pulp_core::content_guard::{
        evaluate, ContentGuardCheck, GuardDenied, GuardType, Requester,
    };
}

/// The sync pipeline (Pulp's stages API): write a [`FirstStage`](pipeline::FirstStage) that
/// emits [`DeclarativeContent`](pipeline::DeclarativeContent)s of any of the repository
/// type's content types, and [`DeclarativeVersion`](pipeline::DeclarativeVersion) runs the
/// default stages after it and makes one new repository version of them all. A plugin that
/// needs a stage of its own between them builds the list with [`Stages`](pipeline::Stages).
/// See `docs/plugin-api.md`, "Writing a first stage".
pub mod pipeline {
    pub use pulp_core::pipeline::{
        for_each_batch, ArtifactDownloader, ArtifactSaver, ContentAssociation, ContentFuture,
        ContentSaver, DeclarativeArtifact, DeclarativeContent, DeclarativeVersion, FirstStage,
        PipelineError, Progress, QueryExistingArtifacts, QueryExistingContents,
        RemoteArtifactSaver, ResolveContentFutures, Stage, StageInput, StageOutput, Stages,
        SyncContext, BATCH_IDLE, BATCH_SIZE, CHANNEL_CAPACITY,
    };
}

/// Pulp export and import: the model resources plugins declare
/// ([`Registry::export_content`], [`Registry::export_repository`]), the export writer and
/// the import reader.
pub mod importexport {
    pub use pulp_core::importexport::{
        allowed_path, check_versions, export_versions, filesystem_export,
        import_repository_version, prepare_import, read_export, ChunkedReader, ChunkedWriter,
        ContentResource, ExportContents, ExportFiles, ExportOutput, ExportRequest,
        FilesystemMethod, FilesystemSource, ImportExportError, ImportPlan, PathKind,
        RepositoryImport, RepositoryResource, Row, TableOfContents, ARTIFACT_RESOURCE,
        CONTENT_ARTIFACT_RESOURCE, REPOSITORY_RESOURCE,
    };
}

/// Replication from an upstream Pulp: the [`Replicator`](replication::Replicator) a plugin
/// declares with `r.replicator(…)`, and the client it reads the upstream with.
pub mod replication {
    pub use pulp_core::replication::{
        LocalObject, ReplicatedTypes, ReplicationError, Replicator, UpstreamClient, UPSTREAM_LABEL,
    };
}

/// Publications' files: published artifacts and metadata, recorded by publishers and read
/// by the content app.
pub mod publication {
    pub use pulp_core::publication::{
        add_published_metadata, find_published, list_published, mark_complete,
        publish_version_artifacts, PublishedFile, PublishedSource,
    };
}

/// Signing services: [`sign_file`](signing::sign_file) signs a file with a service added by
/// `pulp-server add-signing-service` (its script writes a detached ASCII-armored
/// signature); [`get_by_name`](signing::get_by_name) finds one.
pub mod signing {
    pub use pulp_core::signing::{
        get, get_by_name, sign_file, SignedFile, SigningError, SigningService, SIGNING_SERVICE_TYPE,
    };
}

/// Tasking: the [`TaskContext`](tasking::TaskContext) a task function gets, dispatching,
/// progress reports, task groups; the worker for tests (feature `testing`).
pub mod tasking {
    pub use pulp_core::tasking::{
        create_task_group, dispatch, mark_group_dispatched, record_created_resource,
        DispatchRequest, GroupProgressReport, ProgressReport, ProgressReporter, Task, TaskContext,
        TaskError, TaskGroup, TaskOutput, TaskState, TaskingError,
    };
    /// A worker running queued tasks, for tests (feature `testing`).
    #[cfg(feature = "testing")]
    pub use pulp_core::tasking::{Worker, WorkerOptions};
}

/// Serializer-style validation with errors by field, in Pulp's shape; relative-path checks.
pub mod validation {
    pub use pulp_core::validation::{
        parse_body, validate_relative_path, Body, RelativePathError, Validate, ValidationErrors,
        NON_FIELD_ERRORS,
    };
}

/// Crates the plugin API exposes, re-exported so that plugins use the same versions.
pub mod deps {
    /// The database driver, for tests that look at rows (feature `testing`).
    #[cfg(feature = "testing")]
    pub use pulp_core::deps::sqlx;
    pub use pulp_core::deps::{
        axum, bytes, chrono, futures, serde_json, tokio, tracing, url, uuid,
    };
}

/// Test support for plugins (feature `testing`): temporary SQLite and PostgreSQL databases,
/// `db_tests!` (each test on both), a served API, S3 buckets, scratch directories.
#[cfg(feature = "testing")]
pub mod testing {
    pub use pulp_core::db_tests;
    pub use pulp_core::testing::{
        core_migration_count, postgres_url, required_service, s3_bucket, s3_endpoint, scratch_dir,
        serve_api, ServedApi, TestDatabase, ADMIN_PASSWORD, POSTGRES_URL_ENV, S3_ENDPOINT_ENV,
    };

    /// Loopback HTTP servers with scripted replies, standing in for remotes.
    pub mod http {
        pub use pulp_core::testing::http::{Reply, TestServer};
    }
}
