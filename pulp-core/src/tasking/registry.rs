//! Task functions, registered by stable name.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use serde_json::Value;

use super::{TaskContext, TaskError};

/// What a task function returns: an optional JSON result, or an error.
pub type TaskOutput = Result<Option<Value>, TaskError>;

/// A registered task function.
pub type TaskFn = Arc<dyn Fn(TaskContext) -> BoxFuture<'static, TaskOutput> + Send + Sync>;

/// Task functions by name. Names are stored in task rows, so a renamed function keeps its
/// old name registered (until the next major release) and tasks queued before an upgrade run.
#[derive(Clone, Default)]
pub struct TaskFunctions {
    functions: BTreeMap<String, TaskFn>,
    duplicates: Vec<String>,
}

impl std::fmt::Debug for TaskFunctions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.functions.keys()).finish()
    }
}

impl TaskFunctions {
    /// Registers `function` under `name` (registering a name twice is an error at build).
    pub fn register<F, Fut>(&mut self, name: &str, function: F)
    where
        F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = TaskOutput> + Send + 'static,
    {
        let function: TaskFn = Arc::new(move |ctx| Box::pin(function(ctx)));
        if self.functions.insert(name.to_string(), function).is_some() {
            self.duplicates.push(name.to_string());
        }
    }

    /// The function registered under `name`.
    pub fn get(&self, name: &str) -> Option<TaskFn> {
        self.functions.get(name).cloned()
    }

    /// Every registered name.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.functions.keys().map(String::as_str)
    }

    pub(crate) fn duplicates(&self) -> &[String] {
        &self.duplicates
    }
}

/// pulp-core's own task functions.
pub(crate) fn register_builtin(functions: &mut TaskFunctions) {
    functions.register(super::builtin::PURGE, |ctx| async move {
        #[derive(serde::Deserialize)]
        struct Args {
            finished_before: chrono::DateTime<chrono::Utc>,
            states: Vec<super::TaskState>,
        }
        let args: Args = ctx.parse_args()?;
        if let Some(state) = args.states.iter().find(|s| !s.is_final()) {
            return Err(TaskError::new(format!(
                "only ended tasks can be purged, not {state} ones"
            )));
        }
        let report = ctx
            .progress("Purging old tasks", "purge.tasks.total", None)
            .await?;
        let mut deleted = 0u64;
        for state in &args.states {
            let removed = crate::on_pool!(ctx.app().db(), pool => {
                sqlx::query("DELETE FROM core_task WHERE state = $1 AND finished_at < $2")
                    .bind(state.as_str())
                    .bind(args.finished_before)
                    .execute(pool)
                    .await?
                    .rows_affected()
            });
            deleted += removed;
        }
        crate::rbac::forget_missing(ctx.app().db(), "core.task", "core_task").await?;
        report.increment(deleted).await?;
        report.complete().await?;
        Ok(Some(serde_json::json!({ "deleted": deleted })))
    });
    functions.register(super::builtin::NOOP, |_ctx| async { Ok(None) });
    functions.register(super::builtin::SLEEP, |ctx| async move {
        let seconds = ctx
            .args()
            .get("interval")
            .and_then(Value::as_f64)
            .unwrap_or(1.0);
        if !(0.0..=86_400.0).contains(&seconds) {
            return Err(TaskError::new(format!(
                "interval {seconds} is not between 0 and 86400 seconds"
            )));
        }
        let started = chrono::Utc::now();
        tokio::time::sleep(std::time::Duration::from_secs_f64(seconds)).await;
        let finished = chrono::Utc::now();
        // The interval the body really ran in (tests check reservations against it).
        Ok(Some(serde_json::json!({
            "started": crate::wire::timestamp::format_nanos(&started),
            "finished": crate::wire::timestamp::format_nanos(&finished),
        })))
    });
}
