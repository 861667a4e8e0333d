//! [`SyncContext`]: what the stages of one sync share.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tokio_util::task::TaskTracker;

use crate::app::App;
use crate::db::PulpId;
use crate::download::Downloader;
use crate::storage::{NewFileLog, StorageError};
use crate::tasking::{ProgressReporter, TaskContext};

use super::PipelineError;

/// Artifacts this sync added, removed again if it fails (so a failed sync leaves storage
/// and `core_artifact` as they were).
#[derive(Debug, Default)]
pub(crate) struct Created {
    /// sha256 of files written to storage that were not there before.
    pub(crate) files: Vec<String>,
    /// `core_artifact` rows inserted.
    pub(crate) rows: Vec<PulpId>,
    /// Set when the failed sync undoes its work: no file is placed any more.
    closed: bool,
}

impl Created {
    /// What was recorded; from now on no file is placed (a download that was still being
    /// written when the sync failed is dropped, not left behind).
    pub(crate) fn close(&mut self) -> Created {
        let taken = std::mem::take(self);
        self.closed = true;
        taken
    }
}

/// The files a sync placed, as the storage's [`NewFileLog`]: a file is placed and recorded
/// under the same lock, so once [`Created::close`] has run, every placed file is in what it
/// returned and no other file is placed. Uploads to object storage run in `uploads`, which
/// the undo of a failed sync waits for before it removes their objects.
#[derive(Debug, Clone)]
pub(crate) struct CreatedFiles {
    pub(crate) created: Arc<Mutex<Created>>,
    pub(crate) uploads: TaskTracker,
}

impl NewFileLog for CreatedFiles {
    fn uploads(&self) -> Option<TaskTracker> {
        Some(self.uploads.clone())
    }

    fn place(
        &self,
        sha256: &str,
        place: &mut dyn FnMut() -> Result<bool, StorageError>,
    ) -> Result<bool, StorageError> {
        let mut created = self
            .created
            .lock()
            .map_err(|_| StorageError::NotWanted("the sync's record of new files failed".into()))?;
        if created.closed {
            return Err(StorageError::NotWanted("the sync has stopped".into()));
        }
        let new = place()?;
        if new {
            created.files.push(sha256.to_string());
        }
        Ok(new)
    }
}

/// The app, the working directory, the task (for progress reports) and the downloaders of
/// the remotes of one sync. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SyncContext {
    app: App,
    working_dir: PathBuf,
    task: Option<PulpId>,
    downloaders: Arc<HashMap<PulpId, Downloader>>,
    /// What this sync placed in storage, and where its uploads run.
    pub(crate) files: CreatedFiles,
    /// The write turn on SQLite (none on PostgreSQL): see [`SyncContext::write_turn`].
    writes: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// Waits for the write turn `writes` names, if any.
async fn take_turn(
    writes: &Option<Arc<tokio::sync::Mutex<()>>>,
) -> Option<tokio::sync::MutexGuard<'_, ()>> {
    match writes {
        Some(writes) => Some(writes.lock().await),
        None => None,
    }
}

impl SyncContext {
    /// A context outside any task (no progress reports); downloads go to `working_dir`.
    pub fn new(app: &App, working_dir: impl Into<PathBuf>) -> Self {
        Self {
            app: app.clone(),
            working_dir: working_dir.into(),
            task: None,
            downloaders: Arc::new(HashMap::new()),
            files: CreatedFiles {
                created: Arc::default(),
                uploads: TaskTracker::new(),
            },
            writes: match app.db().backend() {
                crate::db::Backend::Sqlite => Some(Arc::default()),
                crate::db::Backend::Postgres => None,
            },
        }
    }

    /// The context of a running task: its working directory and its progress reports.
    pub fn for_task(ctx: &TaskContext) -> Self {
        let mut this = Self::new(ctx.app(), ctx.working_dir());
        this.task = Some(ctx.task_id());
        this
    }

    /// Downloads of artifacts whose `remote_id` is `remote` go through `downloader`.
    pub fn with_downloader(mut self, remote: PulpId, downloader: Downloader) -> Self {
        Arc::make_mut(&mut self.downloaders).insert(remote, downloader);
        self
    }

    /// The app.
    pub fn app(&self) -> &App {
        &self.app
    }

    /// Where downloads are written before they are stored.
    pub fn working_dir(&self) -> &Path {
        &self.working_dir
    }

    /// How many batches a stage that queries or writes the database may have in flight at
    /// once: 1 on SQLite (one writer at a time), 2 on PostgreSQL (where a batch's statements
    /// wait on the server, another batch's can run).
    pub fn write_concurrency(&self) -> usize {
        match self.app.db().backend() {
            crate::db::Backend::Sqlite => 1,
            crate::db::Backend::Postgres => 2,
        }
    }

    /// Taken by the stages around their writes on SQLite, so that they write one after the
    /// other instead of contending for SQLite's single writer (whose busy handler sleeps);
    /// `None` on PostgreSQL, where they write in parallel.
    pub async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        take_turn(&self.writes).await
    }

    /// The downloader of `remote`.
    pub fn downloader(&self, remote: Option<PulpId>) -> Result<&Downloader, PipelineError> {
        remote
            .and_then(|id| self.downloaders.get(&id))
            .ok_or_else(|| PipelineError::new("no downloader for the artifact's remote"))
    }

    /// Starts a progress report of the task (none outside a task).
    pub async fn progress(
        &self,
        message: &str,
        code: &str,
        total: Option<u64>,
    ) -> Result<Progress, PipelineError> {
        let Some(task) = self.task else {
            return Ok(Progress {
                reporter: None,
                turn: None,
            });
        };
        let reporter = {
            let _turn = self.write_turn().await;
            ProgressReporter::start(self.app.bulk_db(), task, message, code, total).await?
        };
        Ok(Progress {
            reporter: Some(reporter),
            turn: self.writes.clone(),
        })
    }
}

/// A progress report of a sync (a no-op outside a task). On SQLite its writes take the
/// sync's write turn ([`SyncContext::write_turn`]) like the stages' batches do, so that they
/// queue behind a batch instead of sleeping in SQLite's busy handler.
#[derive(Debug, Clone)]
pub struct Progress {
    reporter: Option<ProgressReporter>,
    turn: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl Progress {
    async fn turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        take_turn(&self.turn).await
    }

    /// Adds `n` to `done`.
    pub async fn increment(&self, n: u64) -> Result<(), PipelineError> {
        if let (Some(r), true) = (&self.reporter, n > 0) {
            let _turn = self.turn().await;
            r.increment(n).await?;
        }
        Ok(())
    }

    /// Sets `total`.
    pub async fn set_total(&self, total: u64) -> Result<(), PipelineError> {
        if let Some(r) = &self.reporter {
            let _turn = self.turn().await;
            r.set_total(total).await?;
        }
        Ok(())
    }

    /// Marks it completed.
    pub async fn complete(&self) -> Result<(), PipelineError> {
        if let Some(r) = &self.reporter {
            let _turn = self.turn().await;
            r.complete().await?;
        }
        Ok(())
    }
}
