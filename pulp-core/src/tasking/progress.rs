//! Progress reports of tasks and of task groups.

use chrono::Utc;
use serde::Serialize;

use super::TaskingError;
use crate::db::{Database, PulpId};

/// A progress report as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ProgressReport {
    /// What is being done.
    pub message: String,
    /// Machine-readable code (`sync.downloading.artifacts`).
    pub code: String,
    /// waiting, running, completed, failed, canceled.
    pub state: String,
    /// How many items in all, if known.
    pub total: Option<i64>,
    /// How many are done.
    pub done: i64,
    /// Extra text.
    pub suffix: Option<String>,
}

/// A group progress report as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct GroupProgressReport {
    /// What is being done.
    pub message: String,
    /// Machine-readable code.
    pub code: String,
    /// How many items in all, if known.
    pub total: Option<i64>,
    /// How many are done.
    pub done: i64,
    /// Extra text.
    pub suffix: Option<String>,
}

/// A handle to update one progress report of a running task.
#[derive(Debug, Clone)]
pub struct ProgressReporter {
    db: Database,
    id: PulpId,
}

impl ProgressReporter {
    pub(crate) async fn start(
        db: &Database,
        task: PulpId,
        message: &str,
        code: &str,
        total: Option<u64>,
    ) -> Result<Self, TaskingError> {
        let id = PulpId::new();
        crate::on_pool!(db, pool => {
            sqlx::query(
                "INSERT INTO core_progressreport (pulp_id, task, pulp_created, message, code, state, total, done)
                 VALUES ($1, $2, $3, $4, $5, 'running', $6, 0)",
            )
            .bind(id)
            .bind(task)
            .bind(Utc::now())
            .bind(message)
            .bind(code)
            .bind(total.map(|t| t as i64))
            .execute(pool)
            .await?;
        });
        Ok(Self { db: db.clone(), id })
    }

    /// Adds `n` to `done` (atomically, in the database).
    pub async fn increment(&self, n: u64) -> Result<(), TaskingError> {
        crate::on_pool!(&self.db, pool => {
            sqlx::query("UPDATE core_progressreport SET done = done + $1 WHERE pulp_id = $2")
                .bind(n as i64)
                .bind(self.id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Sets `total`.
    pub async fn set_total(&self, total: u64) -> Result<(), TaskingError> {
        crate::on_pool!(&self.db, pool => {
            sqlx::query("UPDATE core_progressreport SET total = $1 WHERE pulp_id = $2")
                .bind(total as i64)
                .bind(self.id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Marks the report completed.
    pub async fn complete(&self) -> Result<(), TaskingError> {
        crate::on_pool!(&self.db, pool => {
            sqlx::query("UPDATE core_progressreport SET state = 'completed' WHERE pulp_id = $1")
                .bind(self.id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}

impl ProgressReport {
    /// The progress reports of a task, oldest first.
    pub async fn of_task(db: &Database, task: PulpId) -> Result<Vec<ProgressReport>, TaskingError> {
        Ok(crate::on_pool!(db, pool => {
            sqlx::query_as(
                "SELECT message, code, state, total, done, suffix FROM core_progressreport
                 WHERE task = $1 ORDER BY pulp_created, pulp_id",
            )
            .bind(task)
            .fetch_all(pool)
            .await?
        }))
    }
}
