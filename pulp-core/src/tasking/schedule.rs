//! Task schedules: tasks dispatched every interval, declared by settings (`task_schedules`)
//! and by plugins ([`Registry::task_schedule`](crate::Registry::task_schedule)).
//!
//! A schedule is a row of `core_taskschedule`. Any number of processes look for due
//! schedules; one dispatches a due schedule only after it moved the schedule's
//! `next_dispatch` on with a conditional `UPDATE … WHERE dispatch_count = <seen>`, which one
//! process wins and every other sees affect no row (on SQLite and PostgreSQL alike). So a
//! schedule is dispatched once per interval however many workers run, never twice; a process
//! dying between winning and dispatching loses that one dispatch.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::types::Json;

use super::{dispatch, DispatchRequest, TaskingError};
use crate::app::App;
use crate::db::{Database, PulpId};

/// A declared schedule: run `task_name` with `args` every `dispatch_interval` seconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSchedule {
    /// Unique name (`/task-schedules/?name=`).
    pub name: String,
    /// The registered task function to dispatch.
    pub task_name: String,
    /// Arguments of every dispatched task.
    #[serde(default = "empty_object")]
    pub args: Value,
    /// Seconds between dispatches; `None` dispatches once.
    pub dispatch_interval: Option<u64>,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

impl TaskSchedule {
    /// A schedule of `task_name` every `interval` (whole seconds, at least one).
    pub fn new(name: &str, task_name: &str, interval: Duration) -> Self {
        Self {
            name: name.into(),
            task_name: task_name.into(),
            args: empty_object(),
            dispatch_interval: Some(interval.as_secs().max(1)),
        }
    }

    /// The arguments passed to each dispatched task.
    pub fn args(mut self, args: Value) -> Self {
        self.args = args;
        self
    }
}

/// Checks a list of schedules (unique non-empty names, intervals of at least a second,
/// object arguments); the message names the offending schedule.
pub fn validate_schedules(schedules: &[TaskSchedule]) -> Result<(), String> {
    let mut names = std::collections::BTreeSet::new();
    for s in schedules {
        if s.name.trim().is_empty() {
            return Err("a schedule needs a name".into());
        }
        if !names.insert(s.name.as_str()) {
            return Err(format!("schedule '{}' is declared twice", s.name));
        }
        if s.task_name.trim().is_empty() {
            return Err(format!("schedule '{}' needs a task_name", s.name));
        }
        if s.dispatch_interval == Some(0) {
            return Err(format!(
                "schedule '{}': dispatch_interval must be at least 1 second",
                s.name
            ));
        }
        if !s.args.is_object() {
            return Err(format!("schedule '{}': args must be an object", s.name));
        }
    }
    Ok(())
}

/// A schedule as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct StoredSchedule {
    /// Its id.
    pub pulp_id: PulpId,
    /// Creation time.
    pub pulp_created: DateTime<Utc>,
    /// Last change.
    pub pulp_last_updated: DateTime<Utc>,
    /// Its name.
    pub name: String,
    /// The task it dispatches.
    pub task_name: String,
    /// The task's arguments.
    pub args: Json<Value>,
    /// Seconds between dispatches (`None`: once).
    pub dispatch_interval_seconds: Option<i64>,
    /// When it is next due (`None`: never again).
    pub next_dispatch: Option<DateTime<Utc>>,
    /// How many times it was dispatched (the claim counter).
    pub dispatch_count: i64,
    /// The task it dispatched last.
    pub last_task: Option<PulpId>,
    /// `settings` or the declaring plugin's name.
    pub declared_by: String,
}

/// Columns of a [`StoredSchedule`].
pub const SCHEDULE_COLUMNS: &str =
    "pulp_id, pulp_created, pulp_last_updated, name, task_name, args, \
    dispatch_interval_seconds, next_dispatch, dispatch_count, last_task, declared_by";

/// Writes the declared schedules into `core_taskschedule`: new ones are due now (as in
/// Pulp); a changed task, arguments or interval is updated, keeping when it is next due;
/// schedules no longer declared are removed. Every process with the same settings writes
/// the same rows, so concurrent starts agree.
pub async fn sync_schedules(
    db: &Database,
    declared: &[(TaskSchedule, String)],
) -> Result<(), TaskingError> {
    let now = Utc::now();
    let names: Vec<String> = declared.iter().map(|(s, _)| s.name.clone()).collect();
    crate::on_pool!(db, pool => {
        for (schedule, by) in declared {
            let interval = schedule.dispatch_interval.map(|s| s.min(i64::MAX as u64) as i64);
            sqlx::query(
                "INSERT INTO core_taskschedule (pulp_id, pulp_created, pulp_last_updated, name, task_name, args,
                     dispatch_interval_seconds, next_dispatch, declared_by)
                 VALUES ($1, $2, $2, $3, $4, $5, $6, $2, $7)
                 ON CONFLICT (name) DO UPDATE SET task_name = $4, args = $5,
                     dispatch_interval_seconds = $6, declared_by = $7, pulp_last_updated = $2",
            )
            .bind(PulpId::new())
            .bind(now)
            .bind(&schedule.name)
            .bind(&schedule.task_name)
            .bind(Json(&schedule.args))
            .bind(interval)
            .bind(by)
            .execute(pool)
            .await?;
        }
        let existing: Vec<String> = sqlx::query_scalar("SELECT name FROM core_taskschedule")
            .fetch_all(pool)
            .await?;
        for name in existing.iter().filter(|n| !names.contains(n)) {
            sqlx::query("DELETE FROM core_taskschedule WHERE name = $1")
                .bind(name)
                .execute(pool)
                .await?;
        }
    });
    Ok(())
}

/// The first time after `now` on the grid `next + k·interval` (missed intervals are skipped,
/// not caught up).
fn following(next: DateTime<Utc>, interval: i64, now: DateTime<Utc>) -> DateTime<Utc> {
    let interval = interval.max(1);
    let behind = (now - next).num_seconds().max(0);
    let steps = behind / interval + 1;
    next + chrono::Duration::seconds(steps.saturating_mul(interval))
}

/// Dispatches every due schedule this process wins (see the module comment); returns the
/// tasks it dispatched. A schedule whose previous task has not ended yet is moved on without
/// dispatching (as Pulp does), so a slow task does not pile up copies of itself.
pub async fn dispatch_due_schedules(app: &App) -> Result<Vec<PulpId>, TaskingError> {
    let db = app.db();
    let now = Utc::now();
    let due: Vec<StoredSchedule> = crate::on_pool!(db, pool => {
        sqlx::query_as(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM core_taskschedule
             WHERE next_dispatch IS NOT NULL AND next_dispatch <= $1 ORDER BY next_dispatch"
        ))
        .bind(now)
        .fetch_all(pool)
        .await?
    });
    let mut dispatched = Vec::new();
    for schedule in due {
        let Some(next) = schedule.next_dispatch else {
            continue;
        };
        let following = schedule
            .dispatch_interval_seconds
            .map(|interval| following(next, interval, now));
        let won = crate::on_pool!(db, pool => {
            sqlx::query(
                "UPDATE core_taskschedule SET next_dispatch = $1, dispatch_count = dispatch_count + 1,
                     pulp_last_updated = $2
                 WHERE pulp_id = $3 AND dispatch_count = $4",
            )
            .bind(following)
            .bind(now)
            .bind(schedule.pulp_id)
            .bind(schedule.dispatch_count)
            .execute(pool)
            .await?
            .rows_affected()
        }) == 1;
        if !won {
            continue;
        }
        if let Some(last) = schedule.last_task {
            let running: Option<String> = crate::on_pool!(db, pool => {
                sqlx::query_scalar(
                    "SELECT state FROM core_task WHERE pulp_id = $1
                     AND state NOT IN ('completed', 'failed', 'canceled', 'skipped')",
                )
                .bind(last)
                .fetch_optional(pool)
                .await?
            });
            if running.is_some() {
                tracing::info!(schedule = %schedule.name, "the previous task of the schedule has not ended; not dispatching");
                continue;
            }
        }
        let request = DispatchRequest::new(&schedule.task_name)
            .args(schedule.args.0.clone())
            .logging_cid(format!(
                "schedule-{}",
                schedule.pulp_id.to_string().replace('-', "")
            ));
        let task = crate::rbac::acting_as(None, dispatch(app, request)).await?;
        crate::on_pool!(db, pool => {
            sqlx::query("UPDATE core_taskschedule SET last_task = $1 WHERE pulp_id = $2")
                .bind(task.pulp_id)
                .bind(schedule.pulp_id)
                .execute(pool)
                .await?;
        });
        tracing::info!(schedule = %schedule.name, task = %task.pulp_id, "dispatched a scheduled task");
        dispatched.push(task.pulp_id);
    }
    Ok(dispatched)
}

/// Looks for due schedules every `period` until `stop` (run by every worker).
pub(crate) async fn schedule_loop(
    app: App,
    period: Duration,
    stop: tokio_util::sync::CancellationToken,
) {
    loop {
        if let Err(e) = dispatch_due_schedules(&app).await {
            tracing::warn!(error = %e, "dispatching scheduled tasks failed");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missed_intervals_are_skipped_not_caught_up() {
        let t0 = Utc::now();
        assert_eq!(following(t0, 10, t0), t0 + chrono::Duration::seconds(10));
        let late = t0 + chrono::Duration::seconds(35);
        assert_eq!(following(t0, 10, late), t0 + chrono::Duration::seconds(40));
    }

    #[test]
    fn bad_declarations_are_refused_by_name() {
        let ok = TaskSchedule::new("a", "t", Duration::from_secs(5));
        assert!(validate_schedules(std::slice::from_ref(&ok)).is_ok());
        let twice = validate_schedules(&[ok.clone(), ok.clone()]).unwrap_err();
        assert!(twice.contains("'a' is declared twice"), "{twice}");
        let mut zero = ok.clone();
        zero.dispatch_interval = Some(0);
        assert!(validate_schedules(&[zero])
            .unwrap_err()
            .contains("at least 1 second"));
        let bad_args = ok.args(Value::Bool(true));
        assert!(validate_schedules(&[bad_args])
            .unwrap_err()
            .contains("object"));
    }
}
