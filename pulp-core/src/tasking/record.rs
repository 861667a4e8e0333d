//! [`Task`]: a task row as read back from the database.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::TaskState;
use super::TaskingError;
use crate::db::{Database, PulpId};

/// Columns selected for a [`Task`] (in this order).
pub(crate) const TASK_COLUMNS: &str = "seq, pulp_id, pulp_created, pulp_last_updated, name, state, args, \
    logging_cid, unblocked_at, started_at, finished_at, error, result, worker, parent_task, task_group, \
    reserved_resources_record, created_resources";

/// A task.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    /// Position in the queue (creation order).
    pub seq: i64,
    /// Its id.
    pub pulp_id: PulpId,
    /// Creation time.
    pub pulp_created: DateTime<Utc>,
    /// Last change.
    pub pulp_last_updated: DateTime<Utc>,
    /// The task function's registered name.
    pub name: String,
    /// Its state.
    pub state: TaskState,
    /// Arguments (JSON).
    pub args: Value,
    /// Correlation id of the request that dispatched it.
    pub logging_cid: String,
    /// When its reservations became free.
    pub unblocked_at: Option<DateTime<Utc>>,
    /// When it started running.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// `{"description": …}` when it failed.
    pub error: Option<Value>,
    /// What the task function returned.
    pub result: Option<Value>,
    /// Name of the process that ran (or runs) it.
    pub worker: Option<String>,
    /// The task that dispatched it.
    pub parent_task: Option<PulpId>,
    /// Its task group.
    pub task_group: Option<PulpId>,
    /// Reserved resources as Pulp records them (`"shared:"` prefix for shared ones).
    pub reserved_resources_record: Vec<String>,
    /// Hrefs of what it created.
    pub created_resources: Vec<String>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct TaskRow {
    seq: i64,
    pulp_id: PulpId,
    pulp_created: DateTime<Utc>,
    pulp_last_updated: DateTime<Utc>,
    name: String,
    state: String,
    args: Json<Value>,
    logging_cid: String,
    unblocked_at: Option<DateTime<Utc>>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    error: Option<Json<Value>>,
    result: Option<Json<Value>>,
    worker: Option<String>,
    parent_task: Option<PulpId>,
    task_group: Option<PulpId>,
    reserved_resources_record: Json<Vec<String>>,
    created_resources: Json<Vec<String>>,
}

impl From<TaskRow> for Task {
    fn from(row: TaskRow) -> Self {
        Task {
            seq: row.seq,
            pulp_id: row.pulp_id,
            pulp_created: row.pulp_created,
            pulp_last_updated: row.pulp_last_updated,
            name: row.name,
            // Unknown states cannot be written by pulp-rs; read them as failed rather than panic.
            state: TaskState::parse(&row.state).unwrap_or(TaskState::Failed),
            args: row.args.0,
            logging_cid: row.logging_cid,
            unblocked_at: row.unblocked_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            error: row.error.map(|j| j.0),
            result: row.result.map(|j| j.0),
            worker: row.worker,
            parent_task: row.parent_task,
            task_group: row.task_group,
            reserved_resources_record: row.reserved_resources_record.0,
            created_resources: row.created_resources.0,
        }
    }
}

impl Task {
    /// The task with this id.
    pub async fn get(db: &Database, id: PulpId) -> Result<Task, TaskingError> {
        let sql = format!("SELECT {TASK_COLUMNS} FROM core_task WHERE pulp_id = $1");
        let row: Option<TaskRow> = crate::on_pool!(db, pool => {
            sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
        });
        row.map(Task::from)
            .ok_or_else(|| TaskingError::NotFound(id.to_string()))
    }

    /// Reloads this task.
    pub async fn refresh(&self, db: &Database) -> Result<Task, TaskingError> {
        Task::get(db, self.pulp_id).await
    }

    /// The task's API href.
    pub fn href(&self) -> String {
        crate::wire::task_href(self.pulp_id)
    }
}

/// How many tasks have not ended (waiting, running or canceling).
pub async fn unfinished_count(db: &Database) -> Result<i64, TaskingError> {
    Ok(crate::on_pool!(db, pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM core_task WHERE state IN ('waiting', 'running', 'canceling')")
            .fetch_one(pool)
            .await?
    }))
}
