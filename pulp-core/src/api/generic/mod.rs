//! Generic REST for every detail type a plugin declares: list with Pulp's filters, create,
//! read, update, delete and labels, documented in the OpenAPI document with Pulp's names.
//! Kinds differ only in data ([`kinds`]): their fields, references and which operations
//! Pulp runs as tasks.

mod body;
mod content;
mod crud;
pub mod kinds;
mod masters;
mod mount;
mod q;
pub mod refs;
mod render;
mod repositories;

pub use body::{body_object, parse_labels, parse_parts, writable_fields};
pub use content::{version_filter_params, version_filters};
pub use crud::{
    common_filters, existing, general_create, general_delete, general_update, ordering_columns,
    page, resource, single, task_response, DetailOps, OpFuture, GENERAL_CREATE, GENERAL_DELETE,
    GENERAL_UPDATE,
};
pub use masters::mount_kind_lists;
pub use mount::{mount_detail, names, schema, Names};
pub use q::apply_q;
pub use render::{latest_versions, render};
pub use repositories::mount_repository_with;
pub use repositories::{
    add_and_remove, delete_version_task, mount_publication, mount_repository, repair_version_task,
    version_response, ADD_AND_REMOVE, DELETE_VERSION, REPAIR_VERSION,
};
