//! Errors of tasking, and the error a task function returns.

use crate::db::DbError;

/// Why a tasking operation failed.
#[derive(Debug, thiserror::Error)]
pub enum TaskingError {
    /// No task (or group) with that id.
    #[error("task {0} not found")]
    NotFound(String),
    /// The request is invalid (e.g. no task name).
    #[error("{0}")]
    Invalid(String),
    /// The task cannot be canceled in its state.
    #[error("task {id} is {state} and cannot be canceled")]
    NotCancelable {
        /// The task.
        id: String,
        /// Its state.
        state: String,
    },
    /// The database failed.
    #[error(transparent)]
    Database(#[from] DbError),
}

impl From<sqlx::Error> for TaskingError {
    fn from(e: sqlx::Error) -> Self {
        TaskingError::Database(e.into())
    }
}

/// The failure of a task function; its description becomes the task's `error.description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{description}")]
pub struct TaskError {
    /// What went wrong, for the user.
    pub description: String,
}

impl TaskError {
    /// A task error with this description.
    pub fn new(description: impl Into<String>) -> Self {
        Self {
            description: description.into(),
        }
    }
}

impl From<DbError> for TaskError {
    fn from(e: DbError) -> Self {
        TaskError::new(e.to_string())
    }
}

impl From<sqlx::Error> for TaskError {
    fn from(e: sqlx::Error) -> Self {
        TaskError::new(format!("database error: {e}"))
    }
}

impl From<crate::storage::StorageError> for TaskError {
    fn from(e: crate::storage::StorageError) -> Self {
        TaskError::new(e.to_string())
    }
}

impl From<TaskingError> for TaskError {
    fn from(e: TaskingError) -> Self {
        TaskError::new(e.to_string())
    }
}

impl From<crate::models::ModelError> for TaskError {
    fn from(e: crate::models::ModelError) -> Self {
        TaskError::new(e.to_string())
    }
}

impl From<crate::repository::VersionError> for TaskError {
    fn from(e: crate::repository::VersionError) -> Self {
        TaskError::new(e.to_string())
    }
}
