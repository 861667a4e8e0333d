//! Reservations: inserting tasks with their resources, deciding runnability per resource,
//! claiming runnable tasks and releasing resources when a task ends.

use chrono::Utc;
use serde_json::Value;
use sqlx::types::Json;

use super::record::{TaskRow, TASK_COLUMNS};
use super::{Task, TaskState, TaskingError};
use crate::db::{Database, DbTransaction};
use crate::on_tx;

/// Key of the lock that serializes every change to reservations.
pub(crate) const TASK_LOCK: i64 = 0x7075_6c70_7461_736b; // "pulptask"

/// PostgreSQL channel workers listen on.
pub(crate) const CHANNEL: &str = "pulp_tasks";

/// How many waiting tasks of one resource are read at a time while unblocking.
const UNBLOCK_PAGE: i64 = 200;

/// Whether an earlier unfinished task conflicts with task `seq`.
const BLOCKED_SQL: &str = "SELECT COUNT(*) FROM (
    SELECT 1 FROM core_taskresource mine
    WHERE mine.task_seq = $1 AND (
        (mine.exclusive AND EXISTS (
            SELECT 1 FROM core_taskresource other
            WHERE other.resource = mine.resource AND other.task_seq < mine.task_seq))
        OR (NOT mine.exclusive AND EXISTS (
            SELECT 1 FROM core_taskresource other
            WHERE other.resource = mine.resource AND other.exclusive AND other.task_seq < mine.task_seq))
    )
    LIMIT 1
) blocking";

/// Sets `unblocked_at` of task `seq` if no earlier unfinished task conflicts with it, in one
/// statement; returns whether it did.
pub(crate) async fn unblock_if_free(
    tx: &mut DbTransaction,
    seq: i64,
) -> Result<bool, TaskingError> {
    let sql = format!(
        "UPDATE core_task SET unblocked_at = $2 WHERE seq = $1 AND unblocked_at IS NULL
         AND ({BLOCKED_SQL}) = 0"
    );
    let now = Utc::now();
    let changed = on_tx!(tx, conn => {
        sqlx::query(&sql).bind(seq).bind(now).execute(&mut *conn).await?.rows_affected()
    });
    Ok(changed > 0)
}

/// Wakes the workers of every process when the transaction commits (PostgreSQL).
pub(crate) async fn notify_workers(tx: &mut DbTransaction) -> Result<(), TaskingError> {
    if let DbTransaction::Postgres(inner) = tx {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&mut **inner)
            .await?;
    }
    Ok(())
}

/// After the resources of a task were released: checks the waiting tasks that wait on them,
/// oldest first, and unblocks those that no earlier unfinished task conflicts with. The scan
/// of a resource stops at its first waiting task that wants it exclusively, since every later
/// task on that resource waits for that one.
pub(crate) async fn unblock_after(
    tx: &mut DbTransaction,
    resources: &[(String, bool)],
) -> Result<usize, TaskingError> {
    let mut unblocked = 0;
    for (resource, _) in resources {
        let mut after = 0i64;
        'resource: loop {
            let page: Vec<(i64, bool, Option<chrono::DateTime<Utc>>)> = on_tx!(tx, conn => {
                sqlx::query_as(
                    "SELECT tr.task_seq, tr.exclusive, t.unblocked_at FROM core_taskresource tr
                     JOIN core_task t ON t.seq = tr.task_seq
                     WHERE tr.resource = $1 AND tr.task_seq > $2 AND t.state = 'waiting'
                     ORDER BY tr.task_seq LIMIT $3",
                )
                .bind(resource)
                .bind(after)
                .bind(UNBLOCK_PAGE)
                .fetch_all(&mut *conn)
                .await?
            });
            let full = page.len() as i64 == UNBLOCK_PAGE;
            for (seq, exclusive, unblocked_at) in page {
                after = seq;
                if unblocked_at.is_none() && unblock_if_free(tx, seq).await? {
                    unblocked += 1;
                }
                if exclusive {
                    break 'resource;
                }
            }
            if !full {
                break;
            }
        }
    }
    Ok(unblocked)
}

/// Ends task `seq` in `state`, releases its resources and unblocks what waited on them.
/// Must run in a transaction holding [`TASK_LOCK`]. Returns false when it had already ended.
pub(crate) async fn finish_locked(
    tx: &mut DbTransaction,
    seq: i64,
    state: TaskState,
    error: Option<Value>,
    result: Option<Value>,
    created: Option<Vec<String>>,
) -> Result<bool, TaskingError> {
    if !end_task(tx, seq, state, error, result, created).await? {
        return Ok(false);
    }
    let resources: Vec<(String, bool)> = on_tx!(tx, conn => {
        sqlx::query_as("DELETE FROM core_taskresource WHERE task_seq = $1 RETURNING resource, exclusive")
            .bind(seq)
            .fetch_all(&mut *conn)
            .await?
    });
    if unblock_after(tx, &resources).await? > 0 {
        notify_workers(tx).await?;
    }
    Ok(true)
}

/// Records the end of task `seq` and closes its open progress reports; false when it had
/// already ended.
async fn end_task(
    tx: &mut DbTransaction,
    seq: i64,
    state: TaskState,
    error: Option<Value>,
    result: Option<Value>,
    created: Option<Vec<String>>,
) -> Result<bool, TaskingError> {
    let now = Utc::now();
    let changed = on_tx!(tx, conn => {
        sqlx::query(
            "UPDATE core_task SET state = $1, finished_at = $2, pulp_last_updated = $2,
                 error = $3, result = $4, created_resources = COALESCE($5, created_resources)
             WHERE seq = $6 AND state NOT IN ('completed', 'failed', 'canceled', 'skipped')",
        )
        .bind(state.as_str())
        .bind(now)
        .bind(error.map(Json))
        .bind(result.map(Json))
        .bind(created.map(Json))
        .bind(seq)
        .execute(&mut *conn)
        .await?
        .rows_affected()
    });
    if changed == 0 {
        return Ok(false);
    }
    on_tx!(tx, conn => {
        sqlx::query(
            "UPDATE core_progressreport SET state = $1
             WHERE task = (SELECT pulp_id FROM core_task WHERE seq = $2) AND state IN ('waiting', 'running')",
        )
        .bind(state.as_str())
        .bind(seq)
        .execute(&mut *conn)
        .await?;
    });
    Ok(true)
}

/// Ends task `seq` (see [`finish_locked`]) in its own transaction; one that reserved
/// nothing changes no reservation, so it does not take the lock.
pub(crate) async fn finish(
    db: &Database,
    seq: i64,
    reserved: bool,
    state: TaskState,
    error: Option<Value>,
    result: Option<Value>,
    created: Option<Vec<String>>,
) -> Result<bool, TaskingError> {
    let mut tx = match reserved {
        true => db.begin_locked(TASK_LOCK).await?,
        false => db.begin_write().await?,
    };
    let finished = match reserved {
        true => finish_locked(&mut tx, seq, state, error, result, created).await?,
        false => end_task(&mut tx, seq, state, error, result, created).await?,
    };
    tx.commit().await?;
    Ok(finished)
}

/// A claimed task's start, from `now` ($2): never before it was unblocked. `now` is read
/// before the claim runs, and the claim may wait (for SQLite's write lock, or a poll that
/// read the clock just before) until the task that held its resources has ended: its
/// `unblocked_at`, written when that one ended, keeps `started_at` after its `finished_at`.
/// (Timestamps compare correctly as SQLite text too: one encoder writes them all.)
const STARTED_AT: &str = "started_at = CASE WHEN unblocked_at > $2 THEN unblocked_at ELSE $2 END";

/// Claims the oldest unblocked waiting task for `worker`.
pub(crate) async fn claim_next(db: &Database, worker: &str) -> Result<Option<Task>, TaskingError> {
    let now = Utc::now();
    // The partial index of runnable tasks makes this O(1) however many tasks wait blocked;
    // SQLite's planner otherwise prefers (state, seq) and walks every waiting task.
    let (indexed_by, skip_locked) = match db {
        Database::Sqlite(_) => ("INDEXED BY core_task_runnable", ""),
        Database::Postgres(_) => ("", "FOR UPDATE SKIP LOCKED"),
    };
    let sql = format!(
        "UPDATE core_task SET state = 'running', worker = $1, {STARTED_AT}, pulp_last_updated = $2
         WHERE seq = (SELECT seq FROM core_task {indexed_by} WHERE state = 'waiting' AND unblocked_at IS NOT NULL
                      ORDER BY seq LIMIT 1 {skip_locked})
           AND state = 'waiting'
         RETURNING {TASK_COLUMNS}"
    );
    let row: Option<TaskRow> = match db {
        Database::Sqlite(pool) => {
            sqlx::query_as(&sql)
                .bind(worker)
                .bind(now)
                .fetch_optional(pool)
                .await?
        }
        Database::Postgres(pool) => {
            // The claim need not wait for its own WAL flush: the task's end is committed
            // durably, which flushes the claim too, and a claim lost with a crashed server
            // only leaves the task waiting for another worker.
            let mut tx = pool.begin().await?;
            sqlx::query("SET LOCAL synchronous_commit = off")
                .execute(&mut *tx)
                .await?;
            let row = sqlx::query_as(&sql)
                .bind(worker)
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            tx.commit().await?;
            row
        }
    };
    Ok(row.map(Task::from))
}

/// Claims task `seq` for `worker` if it is waiting and unblocked.
pub(crate) async fn claim(
    db: &Database,
    seq: i64,
    worker: &str,
) -> Result<Option<Task>, TaskingError> {
    let now = Utc::now();
    let sql = format!(
        "UPDATE core_task SET state = 'running', worker = $1, {STARTED_AT}, pulp_last_updated = $2
         WHERE seq = $3 AND state = 'waiting' AND unblocked_at IS NOT NULL
         RETURNING {TASK_COLUMNS}"
    );
    let row: Option<TaskRow> = crate::on_pool!(db, pool => {
        sqlx::query_as(&sql).bind(worker).bind(now).bind(seq).fetch_optional(pool).await?
    });
    Ok(row.map(Task::from))
}

/// The state of task `seq` (`None` if it was deleted).
pub(crate) async fn state_of(db: &Database, seq: i64) -> Result<Option<TaskState>, TaskingError> {
    let state: Option<String> = crate::on_pool!(db, pool => {
        sqlx::query_scalar("SELECT state FROM core_task WHERE seq = $1").bind(seq).fetch_optional(pool).await?
    });
    Ok(state.as_deref().and_then(TaskState::parse))
}
