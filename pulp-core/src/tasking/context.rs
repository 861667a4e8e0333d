//! [`TaskContext`]: what a running task function is given.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::{DispatchRequest, ProgressReporter, Task, TaskError, TaskingError};
use crate::app::App;
use crate::db::PulpId;

tokio::task_local! {
    /// What the task running on this (tokio) task has created so far.
    static CREATED: Arc<Mutex<Vec<String>>>;
}

/// Records `href` in the `created_resources` of the task this code runs in, if any (for code
/// that creates an object without being handed the [`TaskContext`], such as a publication
/// made by a repository's `on_new_version` hook). Returns whether a task was running.
pub fn record_created_resource(href: impl Into<String>) -> bool {
    let href = href.into();
    CREATED
        .try_with(|created| {
            if let Ok(mut created) = created.lock() {
                created.push(href);
            }
        })
        .is_ok()
}

/// The running task's view of the world.
#[derive(Debug, Clone)]
pub struct TaskContext {
    app: App,
    task: Arc<Task>,
    working_dir: PathBuf,
    cancellation: CancellationToken,
    created: Arc<Mutex<Vec<String>>>,
}

impl TaskContext {
    pub(crate) fn new(
        app: App,
        task: Task,
        working_dir: PathBuf,
        cancellation: CancellationToken,
    ) -> Self {
        Self {
            app,
            task: Arc::new(task),
            working_dir,
            cancellation,
            created: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// The app (database, storage, settings).
    pub fn app(&self) -> &App {
        &self.app
    }

    /// The task being run.
    pub fn task(&self) -> &Task {
        &self.task
    }

    /// The task's id.
    pub fn task_id(&self) -> PulpId {
        self.task.pulp_id
    }

    /// The task's arguments.
    pub fn args(&self) -> &Value {
        &self.task.args
    }

    /// The arguments deserialized into `T`; a mismatch fails the task with a clear error.
    pub fn parse_args<T: serde::de::DeserializeOwned>(&self) -> Result<T, TaskError> {
        serde_json::from_value(self.task.args.clone())
            .map_err(|e| TaskError::new(format!("invalid arguments for {}: {e}", self.task.name)))
    }

    /// A directory of this task's own (created on first use), removed when the task ends.
    pub fn working_dir(&self) -> &Path {
        if let Err(e) = std::fs::create_dir_all(&self.working_dir) {
            tracing::warn!(dir = %self.working_dir.display(), error = %e, "cannot create the working directory");
        }
        &self.working_dir
    }

    /// Canceled when the task is canceled; long loops may check it between steps (the task's
    /// future is dropped at its next await point in any case).
    pub fn cancellation(&self) -> &CancellationToken {
        &self.cancellation
    }

    /// Records the href of something the task created (shown in `created_resources`).
    pub fn add_created_resource(&self, href: impl Into<String>) {
        if let Ok(mut created) = self.created.lock() {
            created.push(href.into());
        }
    }

    /// Records `href` first in `created_resources` (a task's main result, such as the
    /// version a sync made, comes before what hooks made with it, as pulpcore lists them).
    pub fn add_created_resource_first(&self, href: impl Into<String>) {
        if let Ok(mut created) = self.created.lock() {
            created.insert(0, href.into());
        }
    }

    /// Runs `future` with [`record_created_resource`] recording into this task.
    pub(crate) fn recording<F: std::future::Future>(
        &self,
        future: F,
    ) -> impl std::future::Future<Output = F::Output> {
        CREATED.scope(self.created.clone(), future)
    }

    pub(crate) fn created_resources(&self) -> Vec<String> {
        self.created.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Starts a progress report (`message`, Pulp's `code`, optional `total`).
    pub async fn progress(
        &self,
        message: &str,
        code: &str,
        total: Option<u64>,
    ) -> Result<ProgressReporter, TaskingError> {
        ProgressReporter::start(self.app.db(), self.task.pulp_id, message, code, total).await
    }

    /// Dispatches a child task (its `parent_task` is this task).
    pub async fn dispatch_child(&self, request: DispatchRequest) -> Result<Task, TaskingError> {
        super::dispatch(&self.app, request.parent_task(self.task.pulp_id)).await
    }
}
