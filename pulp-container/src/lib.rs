//! # pulp-container
//!
//! The container plugin: OCI and Docker images as three content types that reference each
//! other — [`Blob`] (a layer or config, one artifact), [`Manifest`] (an image manifest or an
//! index, its JSON kept byte for byte, referencing its config, layers and listed manifests)
//! and [`Tag`] (a name pointing at a manifest) — with the remote ([`ContainerRemote`]),
//! repository ([`ContainerRepository`], whose versions always hold the closure of their tags
//! and manifests, see [`repository`]) and distribution ([`ContainerDistribution`]) of
//! pulp_container 2.30, and the sync task ([`SYNC_TASK`], [`sync::synchronize`]) reading a
//! registry in one pipeline. Written against `pulp-plugin-api` only.

#![warn(missing_docs, rust_2018_idioms)]

mod access;
pub mod media;
mod models;
pub mod operations;
pub mod registry_api;
pub mod repository;
pub mod sync;

pub use models::{
    Blob, ContainerDistribution, ContainerRemote, ContainerRepository, ListedManifest, Manifest,
    Tag,
};
pub use sync::{synchronize, SyncArgs, SYNC_TASK};

use pulp_plugin_api::models::DetailTable;
use pulp_plugin_api::{Component, Migration, Plugin, Registry};

/// The container plugin.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContainerPlugin;

/// The plugin's migrations (app `container`): one table per detail type, from the derive.
pub fn migrations() -> Vec<Migration> {
    vec![
        Blob::migration("container", "0001_blob"),
        Manifest::migration("container", "0002_manifest"),
        Tag::migration("container", "0003_tag"),
        ContainerRemote::migration("container", "0004_remote"),
        ContainerRepository::migration("container", "0005_repository"),
        ContainerDistribution::migration("container", "0006_distribution"),
    ]
}

impl Plugin for ContainerPlugin {
    fn register(&self, r: &mut Registry) {
        r.component(Component::new(
            "container",
            "pulp-container",
            env!("CARGO_PKG_VERSION"),
            "pulp_container.app",
        ));
        r.migrations(migrations());
        r.content::<Blob>()
            .content::<Manifest>()
            .content::<Tag>()
            .remote::<ContainerRemote>();
        r.repository::<ContainerRepository>()
            .sync(SYNC_TASK, sync::sync_task)
            .distribution::<ContainerDistribution>();
        for (viewset, policy) in access::access_policies() {
            r.access_policy(viewset, policy);
        }
        access::register_roles(r);
        r.api_listener_routes(registry_api::routes);
        for task in [
            operations::ADD_TASK,
            operations::REMOVE_TASK,
            operations::TAG_TASK,
            operations::UNTAG_TASK,
            operations::COPY_TASK,
        ] {
            r.task(task, operations::operation_task);
        }
        r.api_routes(operations::mount);
    }

    fn name(&self) -> &str {
        "pulp-container"
    }
}
