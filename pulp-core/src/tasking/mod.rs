//! Tasking: long work runs as tasks on workers, with reservations so that two tasks never
//! change the same resource at once.
//!
//! - [`dispatch`] records a task with its exclusive and shared resources.
//! - A task may start only when none of its exclusive resources is held or requested by an
//!   earlier unfinished task, and none of its shared resources is held exclusively by one
//!   (FIFO by creation: a later task never overtakes an earlier conflicting one).
//! - Runnability is decided per resource, not by rescanning the queue: a task is checked when
//!   it is dispatched and when a task sharing one of its resources finishes; a runnable task
//!   gets `unblocked_at`, and workers claim the oldest unblocked task (`FOR UPDATE SKIP LOCKED`
//!   on PostgreSQL). Changes to reservations are serialized by one database lock, so two
//!   finishing tasks cannot both miss a task they unblock together.
//! - [`Worker`]s heartbeat, wake on `LISTEN/NOTIFY` (in-process signal on SQLite), fail the
//!   tasks of workers that stopped heartbeating, and honour cancellation.

mod cancel;
mod context;
mod dispatch;
mod error;
mod progress;
mod queue;
mod record;
mod registry;
mod runner;
mod schedule;
mod scheduler;
mod state;
mod wakeup;
mod worker;

pub use cancel::cancel;
pub use context::{record_created_resource, TaskContext};
pub use dispatch::{dispatch, DispatchRequest};
pub use error::{TaskError, TaskingError};
pub use progress::{GroupProgressReport, ProgressReport, ProgressReporter};
pub use queue::{create_task_group, mark_group_dispatched, TaskGroup};
pub use record::{unfinished_count, Task};
pub(crate) use record::{TaskRow, TASK_COLUMNS};
pub(crate) use registry::register_builtin;
pub use registry::{TaskFn, TaskFunctions, TaskOutput};
pub use schedule::{
    dispatch_due_schedules, sync_schedules, validate_schedules, StoredSchedule, TaskSchedule,
    SCHEDULE_COLUMNS,
};
pub use state::TaskState;
pub use wakeup::Wakeup;
pub use worker::{reap_missing_workers, OnlineWorker, Worker, WorkerOptions};

/// Names of the tasks pulp-core itself registers.
pub mod builtin {
    /// Sleeps `{"interval": seconds}` (Pulp's test task); for tests and benchmarks. Its result
    /// is `{"started": …, "finished": …}`, the times its body began and ended.
    pub const SLEEP: &str = "pulpcore.app.tasks.test.sleep";
    /// Does nothing; for tests and benchmarks.
    pub const NOOP: &str = "pulpcore.app.tasks.test.noop";
    /// Deletes ended tasks: `{"finished_before": time, "states": [..]}` (Pulp's purge).
    pub const PURGE: &str = "pulpcore.app.tasks.purge.purge";
}
