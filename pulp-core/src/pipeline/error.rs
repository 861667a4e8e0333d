//! [`PipelineError`]: why a sync pipeline failed.

use crate::download::DownloadError;
use crate::models::ModelError;
use crate::repository::VersionError;
use crate::storage::StorageError;
use crate::tasking::TaskingError;

/// Why a pipeline (a sync) failed. The first error of any stage stops every stage.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// A download failed.
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// Storing an artifact failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// Reading or writing models failed (including invalid content).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// Making the repository version failed.
    #[error(transparent)]
    Version(#[from] VersionError),
    /// Recording progress failed.
    #[error(transparent)]
    Tasking(#[from] TaskingError),
    /// A stage failed for a reason of its own (a plugin's first stage, e.g. bad metadata).
    #[error("{0}")]
    Stage(String),
    /// A stage's neighbour stopped (it failed; its error is the one reported).
    #[error("the pipeline was stopped")]
    Stopped,
}

impl PipelineError {
    /// A stage error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        PipelineError::Stage(message.into())
    }
}

impl From<sqlx::Error> for PipelineError {
    fn from(e: sqlx::Error) -> Self {
        PipelineError::Model(ModelError::from(e))
    }
}

impl From<PipelineError> for crate::tasking::TaskError {
    fn from(e: PipelineError) -> Self {
        crate::tasking::TaskError::new(e.to_string())
    }
}
