//! # pulp-file
//!
//! The file plugin: repositories of plain files described by a `PULP_MANIFEST`
//! (`relative_path,sha256,size` per line). This release declares the plugin's component,
//! settings, migrations and detail types ([`FileContent`], [`FileRemote`],
//! [`FileRepository`] with Pulp's repo-key de-duplication, [`FilePublication`],
//! [`FileDistribution`]), the sync task
//! ([`SYNC_TASK`], [`sync::synchronize`] with [`sync::FileFirstStage`]) and the publish task
//! ([`PUBLISH_TASK`], [`publish::publish`]; autopublish on new versions).

#![warn(missing_docs, rust_2018_idioms)]

mod access;
pub mod manifest;
mod models;
pub mod publish;
pub mod replica;
pub mod sync;

pub use models::{FileContent, FileDistribution, FilePublication, FileRemote, FileRepository};
pub use publish::{publish, PublishArgs, PublishError, PUBLISH_TASK};
pub use sync::{synchronize, SyncArgs, SYNC_TASK};

use pulp_plugin_api::{Component, Migration, Plugin, Registry, SettingError};

/// The file plugin.
#[derive(Debug, Clone, Copy, Default)]
pub struct FilePlugin;

/// Default name of the manifest a file repository is published with.
pub const DEFAULT_MANIFEST: &str = "PULP_MANIFEST";

/// The plugin's migrations (app `file`).
pub const MIGRATIONS: [Migration; 3] = [
    Migration {
        app: "file",
        name: "0001_initial",
        sqlite: include_str!("migrations/file_0001_initial.sqlite.sql"),
        postgres: include_str!("migrations/file_0001_initial.postgres.sql"),
    },
    Migration {
        app: "file",
        name: "0002_set_based_keys",
        sqlite: include_str!("migrations/file_0002_set_based_keys.sqlite.sql"),
        postgres: include_str!("migrations/file_0002_set_based_keys.postgres.sql"),
    },
    Migration {
        app: "file",
        name: "0003_last_sync_details",
        sqlite: include_str!("migrations/file_0003_last_sync_details.sqlite.sql"),
        postgres: include_str!("migrations/file_0003_last_sync_details.postgres.sql"),
    },
];

impl Plugin for FilePlugin {
    fn register(&self, r: &mut Registry) {
        r.component(Component::new(
            "file",
            "pulp-file",
            env!("CARGO_PKG_VERSION"),
            "pulp_file.app",
        ));
        r.settings_defaults(serde_json::json!({ "file_default_manifest": DEFAULT_MANIFEST }));
        r.settings_validator(|settings| {
            match settings.extra_value::<String>("file_default_manifest")? {
                Some(name) if name.is_empty() || name.contains('/') || name == ".." => {
                    Err(SettingError::new(
                        "file_default_manifest",
                        format!("'{name}' is not a file name"),
                    ))
                }
                _ => Ok(()),
            }
        });
        r.migrations(MIGRATIONS);
        r.content::<FileContent>().remote::<FileRemote>();
        r.repository::<FileRepository>()
            .sync(SYNC_TASK, sync::sync_task)
            .publish::<FilePublication>(PUBLISH_TASK, publish::publish_task)
            .distribution::<FileDistribution>();
        r.serve_from_publication::<FileDistribution>();
        r.content_upload::<FileContent>();
        r.export_content::<FileContent>("pulp_file.app.modelresource.FileContentResource")
            .export_repository::<FileRepository>(
                "pulp_file.app.modelresource.FileRepositoryResource",
            );
        for (viewset, policy) in access::access_policies() {
            r.access_policy(viewset, policy);
        }
        access::register_roles(r);
        r.replicator(replica::FileReplicator);
    }

    fn name(&self) -> &str {
        "pulp-file"
    }
}
