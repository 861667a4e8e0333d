//! Task groups and their progress reports.

use chrono::Utc;
use serde::Serialize;

use super::progress::GroupProgressReport;
use super::TaskingError;
use crate::db::{Database, PulpId};

/// A task group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskGroup {
    /// Its id.
    pub pulp_id: PulpId,
    /// What it is for.
    pub description: String,
    /// Whether every task of the group has been dispatched.
    pub all_tasks_dispatched: bool,
}

/// Creates a task group.
pub async fn create_task_group(db: &Database, description: &str) -> Result<PulpId, TaskingError> {
    let id = PulpId::new();
    let now = Utc::now();
    crate::on_pool!(db, pool => {
        sqlx::query(
            "INSERT INTO core_taskgroup (pulp_id, pulp_created, pulp_last_updated, description, all_tasks_dispatched)
             VALUES ($1, $2, $2, $3, FALSE)",
        )
        .bind(id)
        .bind(now)
        .bind(description)
        .execute(pool)
        .await?;
    });
    Ok(id)
}

/// Records that every task of the group has been dispatched.
pub async fn mark_group_dispatched(db: &Database, group: PulpId) -> Result<(), TaskingError> {
    let changed = crate::on_pool!(db, pool => {
        sqlx::query("UPDATE core_taskgroup SET all_tasks_dispatched = TRUE, pulp_last_updated = $1 WHERE pulp_id = $2")
            .bind(Utc::now())
            .bind(group)
            .execute(pool)
            .await?
            .rows_affected()
    });
    if changed == 0 {
        return Err(TaskingError::NotFound(group.to_string()));
    }
    Ok(())
}

impl TaskGroup {
    /// The group with this id.
    pub async fn get(db: &Database, id: PulpId) -> Result<TaskGroup, TaskingError> {
        let row: Option<(PulpId, String, bool)> = crate::on_pool!(db, pool => {
            sqlx::query_as("SELECT pulp_id, description, all_tasks_dispatched FROM core_taskgroup WHERE pulp_id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        let (pulp_id, description, all_tasks_dispatched) =
            row.ok_or_else(|| TaskingError::NotFound(id.to_string()))?;
        Ok(TaskGroup {
            pulp_id,
            description,
            all_tasks_dispatched,
        })
    }

    /// Adds a group progress report (`code` is unique within the group).
    pub async fn add_progress(
        db: &Database,
        group: PulpId,
        message: &str,
        code: &str,
        total: Option<u64>,
    ) -> Result<(), TaskingError> {
        crate::on_pool!(db, pool => {
            sqlx::query(
                "INSERT INTO core_groupprogressreport (pulp_id, task_group, message, code, total, done)
                 VALUES ($1, $2, $3, $4, $5, 0)",
            )
            .bind(PulpId::new())
            .bind(group)
            .bind(message)
            .bind(code)
            .bind(total.map(|t| t as i64))
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Adds `n` to the group progress report `code`, atomically in the database (tasks of the
    /// group on different workers may do this at the same time).
    pub async fn increment_progress(
        db: &Database,
        group: PulpId,
        code: &str,
        n: u64,
    ) -> Result<(), TaskingError> {
        crate::on_pool!(db, pool => {
            sqlx::query("UPDATE core_groupprogressreport SET done = done + $1 WHERE task_group = $2 AND code = $3")
                .bind(n as i64)
                .bind(group)
                .bind(code)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The group's progress reports.
    pub async fn progress(
        db: &Database,
        group: PulpId,
    ) -> Result<Vec<GroupProgressReport>, TaskingError> {
        Ok(crate::on_pool!(db, pool => {
            sqlx::query_as(
                "SELECT message, code, total, done, suffix FROM core_groupprogressreport WHERE task_group = $1 ORDER BY code",
            )
            .bind(group)
            .fetch_all(pool)
            .await?
        }))
    }
}
