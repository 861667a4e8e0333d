//! A small complete pulp-rs plugin whose content units reference other units: a *bundle*
//! lists member *blobs*, as a container manifest lists its layers. It shows why plugins own
//! their add/remove logic:
//!
//! - adding a bundle brings its members along ([`add_bundle`], and the repository type's
//!   `finalize_new_version` for bundles added any other way);
//! - removing a blob that a bundle in the version still needs is refused with a clear error;
//! - a newer bundle with the same name replaces the older one (its repository key);
//! - a sync ([`sync::synchronize`]) reads a remote's index and brings bundles and their member
//!   blobs into one repository version, through one pipeline carrying both content types: its
//!   first stage ([`sync::BundleFirstStage`]) waits for each member's saved id before it emits
//!   the bundle naming them (Pulp's content futures).
//!
//! Written against `pulp-plugin-api` only.

#![warn(missing_docs)]

mod models;
pub mod sync;

pub use models::{Blob, Bundle, BundleRemote, BundleRepository};
pub use sync::{synchronize, SYNC_TASK};

use pulp_plugin_api::access_policy::{AccessPolicy, Statement};
use pulp_plugin_api::models::{self as pulp_models, Labels, Model, ModelError, RepositoryFields};
use pulp_plugin_api::repository::{NewVersion, RepositoryVersion, VersionError};
use pulp_plugin_api::{App, Component, Migration, Plugin, PulpId, Registry};

/// The bundle plugin.
#[derive(Debug, Clone, Copy, Default)]
pub struct BundlePlugin;

/// The plugin's migrations (app `bundle`): one detail table per type.
pub const MIGRATIONS: [Migration; 2] = [
    Migration {
        app: "bundle",
        name: "0001_initial",
        sqlite: include_str!("migrations/bundle_0001_initial.sqlite.sql"),
        postgres: include_str!("migrations/bundle_0001_initial.postgres.sql"),
    },
    Migration {
        app: "bundle",
        name: "0002_remote",
        sqlite: include_str!("migrations/bundle_0002_remote.sqlite.sql"),
        postgres: include_str!("migrations/bundle_0002_remote.postgres.sql"),
    },
];

impl Plugin for BundlePlugin {
    fn register(&self, r: &mut Registry) {
        r.component(Component::new(
            "bundle",
            "bundle-plugin",
            env!("CARGO_PKG_VERSION"),
            "pulp_bundle.app",
        ));
        r.migrations(MIGRATIONS);
        r.content::<Blob>()
            .content::<Bundle>()
            .remote::<BundleRemote>();
        r.repository::<BundleRepository>()
            .sync(SYNC_TASK, sync::sync_task);
        // Who may do what through the plugin's endpoints (users other than superusers).
        let authenticated = &["authenticated"];
        let content = || {
            AccessPolicy::new(vec![
                Statement::allow(&["list", "retrieve"], authenticated),
                Statement::allow(&["set_label", "unset_label"], authenticated)
                    .when("has_model_or_domain_perms:bundle.change_bundlecontent"),
            ])
        };
        r.access_policy("content/bundle/blobs", content())
            .access_policy("content/bundle/bundles", content())
            .access_policy(
                "repositories/bundle/bundle",
                AccessPolicy::new(vec![
                    Statement::allow(&["list"], authenticated),
                    Statement::allow(&["retrieve"], authenticated)
                        .when("has_model_or_domain_or_obj_perms:bundle.view_bundlerepository"),
                    Statement::allow(&["my_permissions"], authenticated),
                    Statement::allow(&["list_roles", "add_role", "remove_role"], authenticated)
                        .when(
                            "has_model_or_domain_or_obj_perms:bundle.manage_roles_bundlerepository",
                        ),
                    Statement::allow(
                        &[
                            "create",
                            "update",
                            "partial_update",
                            "set_label",
                            "unset_label",
                            "destroy",
                            "modify",
                            "sync",
                        ],
                        authenticated,
                    )
                    .when("has_model_or_domain_perms:bundle.change_bundlerepository"),
                ])
                .scoped(),
            )
            .access_policy(
                "remotes/bundle/bundle",
                AccessPolicy::new(vec![
                    Statement::allow(&["list"], authenticated),
                    Statement::allow(&["retrieve"], authenticated)
                        .when("has_model_or_domain_or_obj_perms:bundle.view_bundleremote"),
                    Statement::allow(&["my_permissions"], authenticated),
                    Statement::allow(&["list_roles", "add_role", "remove_role"], authenticated)
                        .when("has_model_or_domain_or_obj_perms:bundle.manage_roles_bundleremote"),
                    Statement::allow(
                        &[
                            "create",
                            "update",
                            "partial_update",
                            "set_label",
                            "unset_label",
                            "destroy",
                        ],
                        authenticated,
                    )
                    .when("has_model_or_domain_perms:bundle.change_bundleremote"),
                ])
                .scoped(),
            )
            .access_policy(
                "repositories/bundle/bundle/versions",
                AccessPolicy::new(vec![
                    Statement::allow(&["list", "retrieve"], authenticated),
                    Statement::allow(&["destroy", "repair"], authenticated)
                        .when("has_model_or_domain_perms:bundle.change_bundlerepository"),
                ]),
            );
    }

    fn name(&self) -> &str {
        "bundle-plugin"
    }
}

/// What can go wrong in the plugin's own operations.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// A unit could not be saved or read.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The version could not be made (including a refusal by the plugin's invariants).
    #[error(transparent)]
    Version(#[from] VersionError),
}

/// A bundle to add: its name, version and member blobs (`(name, sha256)` each).
#[derive(Debug, Clone)]
pub struct BundleSpec {
    /// Name (the repository key: a newer bundle of this name replaces the older).
    pub name: String,
    /// Version of the bundle.
    pub version: String,
    /// Member blobs.
    pub members: Vec<Blob>,
}

/// Creates a bundle repository named `name` (with its empty version 0).
pub async fn create_repository(
    app: &App,
    name: &str,
) -> Result<Model<BundleRepository>, BundleError> {
    Ok(pulp_models::create(
        app.db(),
        Labels::new(),
        RepositoryFields::new(name),
        BundleRepository {},
    )
    .await?)
}

/// Adds a bundle and its members to a repository in one new version: what the plugin's
/// `add_bundle` task will run once tasks are registered by name
/// (`"pulp_bundle.app.tasks.add_bundle"`); its API endpoint dispatches that task.
/// Returns the new version (`None` when the bundle and its members were all there already).
pub async fn add_bundle(
    app: &App,
    repository: PulpId,
    spec: BundleSpec,
) -> Result<Option<RepositoryVersion>, BundleError> {
    let blobs = pulp_models::save_content(app.db(), spec.members).await?;
    let bundle = Bundle {
        name: spec.name,
        version: spec.version,
        members: blobs.iter().map(Model::pulp_id).collect(),
    };
    let bundle = pulp_models::save_content(app.db(), vec![bundle]).await?;
    let mut version = NewVersion::start(app, repository).await?;
    // Only the bundle: finalize_new_version brings its members along.
    version.add_content(&[bundle[0].pulp_id()]).await?;
    Ok(version.commit().await?)
}

/// Removes units (bundles or blobs) from a repository in one new version — the plugin's
/// `modify` task. Removing a blob that a remaining bundle needs is refused
/// ([`VersionError::Refused`]) and makes no version.
pub async fn remove_content(
    app: &App,
    repository: PulpId,
    units: &[PulpId],
) -> Result<Option<RepositoryVersion>, BundleError> {
    let mut version = NewVersion::start(app, repository).await?;
    version.remove_content(units).await?;
    Ok(version.commit().await?)
}
