//! Moving bytes in and out: artifacts, chunked uploads and orphan cleanup (mounted from
//! `api_routes`), plus the tasks they dispatch.

use super::ApiRoutes;
use crate::tasking::TaskFunctions;

/// Mounts `/artifacts/`, `/uploads/` and `/orphans/`.
pub(crate) fn mount(routes: &mut ApiRoutes) {
    super::artifacts::mount(routes);
    super::uploads::mount(routes);
    super::orphans::mount(routes);
}

/// Registers the upload commit, orphan cleanup and content create tasks.
pub(crate) fn register_tasks(tasks: &mut TaskFunctions) {
    tasks.register(super::uploads::COMMIT_TASK, super::uploads::commit_task);
    tasks.register(super::orphans::ORPHAN_CLEANUP, super::orphans::cleanup_task);
    tasks.register(
        super::content_upload::GENERAL_CREATE_CONTENT,
        super::content_upload::general_create_content,
    );
}
