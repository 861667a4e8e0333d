//! Canceling tasks.

use chrono::Utc;

use super::scheduler::{self, TASK_LOCK};
use super::{Task, TaskState, TaskingError};
use crate::app::App;
use crate::db::PulpId;
use crate::on_tx;

/// Cancels a task: a waiting one ends canceled at once; a running one becomes canceling and
/// its worker stops it at its next await point. Ended tasks cannot be canceled.
pub async fn cancel(app: &App, id: PulpId) -> Result<Task, TaskingError> {
    let db = app.db();
    let mut tx = db.begin_locked(TASK_LOCK).await?;
    let row: Option<(i64, String)> = on_tx!(&mut tx, conn => {
        sqlx::query_as("SELECT seq, state FROM core_task WHERE pulp_id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
    });
    let Some((seq, state)) = row else {
        return Err(TaskingError::NotFound(id.to_string()));
    };
    match TaskState::parse(&state) {
        Some(TaskState::Waiting) => {
            scheduler::finish_locked(&mut tx, seq, TaskState::Canceled, None, None, None).await?;
        }
        Some(TaskState::Running) => {
            on_tx!(&mut tx, conn => {
                sqlx::query("UPDATE core_task SET state = 'canceling', pulp_last_updated = $1 WHERE seq = $2")
                    .bind(Utc::now())
                    .bind(seq)
                    .execute(&mut *conn)
                    .await?;
            });
            scheduler::notify_workers(&mut tx).await?;
        }
        Some(TaskState::Canceling) => {}
        _ => {
            return Err(TaskingError::NotCancelable {
                id: id.to_string(),
                state,
            })
        }
    }
    tx.commit().await?;
    app.wakeup().notify();
    Task::get(db, id).await
}
