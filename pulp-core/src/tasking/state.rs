//! Task states.

use serde::{Deserialize, Serialize};

/// The state of a task (Pulp's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Queued.
    Waiting,
    /// Not run (an immediate, non-deferred task whose resources were busy).
    Skipped,
    /// Running on a worker.
    Running,
    /// Finished successfully.
    Completed,
    /// Finished with an error.
    Failed,
    /// Canceled before or while running.
    Canceled,
    /// Cancel requested; the worker stops it at its next await point.
    Canceling,
}

impl TaskState {
    /// Every state.
    pub const ALL: [TaskState; 7] = [
        TaskState::Waiting,
        TaskState::Skipped,
        TaskState::Running,
        TaskState::Completed,
        TaskState::Failed,
        TaskState::Canceled,
        TaskState::Canceling,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Waiting => "waiting",
            TaskState::Skipped => "skipped",
            TaskState::Running => "running",
            TaskState::Completed => "completed",
            TaskState::Failed => "failed",
            TaskState::Canceled => "canceled",
            TaskState::Canceling => "canceling",
        }
    }

    /// The state with this stored name.
    pub fn parse(name: &str) -> Option<TaskState> {
        TaskState::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the task has ended (it holds no resources).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            TaskState::Completed | TaskState::Failed | TaskState::Canceled | TaskState::Skipped
        )
    }
}

impl std::fmt::Display for TaskState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
