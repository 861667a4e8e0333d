//! Running one claimed task: working directory, cancellation, panics, recording the outcome.

use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::time::{Duration, Instant};

use futures::FutureExt;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::scheduler::{self, state_of};
use super::{Task, TaskContext, TaskState};
use crate::app::App;
use crate::observe::correlation::with_correlation_id;
use crate::observe::names;

/// How often a running task's state is checked for a cancel request (besides wake-ups).
const CANCEL_POLL: Duration = Duration::from_millis(200);

struct Outcome {
    state: TaskState,
    error: Option<Value>,
    result: Option<Value>,
    created: Vec<String>,
}

impl Outcome {
    fn failed(description: String) -> Self {
        Outcome {
            state: TaskState::Failed,
            error: Some(json!({ "description": description })),
            result: None,
            created: Vec::new(),
        }
    }
}

/// Runs a task this process has claimed (state running) and records how it ended.
pub(crate) async fn run_claimed(app: &App, task: Task) {
    let ended = run_to_end(app, task).await;
    record_end(app, ended).await;
}

/// How a task ended, not yet recorded.
pub(crate) struct Ended {
    seq: i64,
    id: crate::db::PulpId,
    name: String,
    reserved: bool,
    outcome: Outcome,
    ran: Duration,
}

/// Runs a claimed task in its working directory (removed afterwards); how it ended.
pub(crate) async fn run_to_end(app: &App, task: Task) -> Ended {
    let seq = task.seq;
    let id = task.pulp_id;
    let reserved = !task.reserved_resources_record.is_empty();
    let name = task.name.clone();
    let working_dir = app
        .settings()
        .effective_working_directory()
        .join(format!("task-{id}"));
    if let Some(started) = task.started_at {
        let waited = (started - task.pulp_created).to_std().unwrap_or_default();
        metrics::histogram!(names::TASK_WAIT, "name" => name.clone()).record(waited.as_secs_f64());
    }
    // The task's log lines carry the dispatching request's correlation id, and so do the
    // tasks it dispatches.
    let cid = task.logging_cid.clone();
    let span = tracing::info_span!("task", cid = %cid, task = %id, name = %name);
    let started = Instant::now();
    let outcome = with_correlation_id(cid, async {
        tracing::info!("task started");
        let outcome = execute(app, task, &working_dir).await;
        tracing::info!(state = %outcome.state, ms = started.elapsed().as_millis() as u64, "task ended");
        outcome
    })
    .instrument(span)
    .await;
    let ran = started.elapsed();
    // Created on first use by the task (TaskContext::working_dir).
    if let Err(e) = std::fs::remove_dir_all(&working_dir) {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(task = %id, error = %e, "could not remove the working directory");
        }
    }
    Ended {
        seq,
        id,
        name,
        reserved,
        outcome,
        ran,
    }
}

/// Records the end of a task (state, error, result, created resources; its reservations are
/// released), retrying a few times, and wakes the workers of this process.
pub(crate) async fn record_end(app: &App, ended: Ended) {
    let Ended {
        seq,
        id,
        name,
        reserved,
        outcome,
        ran,
    } = ended;
    metrics::histogram!(names::TASK_RUN, "name" => name.clone()).record(ran.as_secs_f64());
    metrics::counter!(names::TASKS, "name" => name, "state" => outcome.state.to_string())
        .increment(1);
    let created = (!outcome.created.is_empty()).then_some(outcome.created);
    let mut attempts = 0;
    loop {
        let finished = scheduler::finish(
            app.db(),
            seq,
            reserved,
            outcome.state,
            outcome.error.clone(),
            outcome.result.clone(),
            created.clone(),
        )
        .await;
        match finished {
            Ok(_) => break,
            Err(e) if attempts < 5 => {
                attempts += 1;
                tracing::warn!(task = %id, error = %e, "recording the end of a task failed; retrying");
                tokio::time::sleep(Duration::from_millis(200 * attempts)).await;
            }
            Err(e) => {
                tracing::error!(task = %id, error = %e, "could not record the end of a task");
                break;
            }
        }
    }
    app.wakeup().notify();
    // The end is committed: the outbox write cannot hold the task or its reservations.
    if let Err(e) = crate::webhooks::task_ended(app.db(), id).await {
        tracing::warn!(task = %id, error = %e, "could not record the webhook events of a task");
    }
}

async fn execute(app: &App, task: Task, working_dir: &Path) -> Outcome {
    let Some(function) = app.task_functions().get(&task.name) else {
        return Outcome::failed(format!(
            "unknown task function '{}': no plugin of this server registers it",
            task.name
        ));
    };
    let cancellation = CancellationToken::new();
    let watcher = tokio::spawn(watch_for_cancel(
        app.clone(),
        task.seq,
        cancellation.clone(),
    ));
    let context = TaskContext::new(
        app.clone(),
        task,
        working_dir.to_path_buf(),
        cancellation.clone(),
    );
    // The task acts for the user who dispatched it (what it creates is theirs).
    let dispatcher = dispatcher_of(app, context.task().seq).await;
    let run = AssertUnwindSafe(crate::rbac::acting_as(
        dispatcher,
        context.recording(function(context.clone())),
    ))
    .catch_unwind();
    let ended = tokio::select! {
        ended = run => Some(ended),
        _ = cancellation.cancelled() => None,
    };
    watcher.abort();
    let created = context.created_resources();
    match ended {
        None => Outcome {
            state: TaskState::Canceled,
            error: None,
            result: None,
            created,
        },
        Some(Ok(Ok(result))) => Outcome {
            state: TaskState::Completed,
            error: None,
            result,
            created,
        },
        Some(Ok(Err(e))) => Outcome {
            created,
            ..Outcome::failed(e.description)
        },
        Some(Err(panic)) => {
            let reason = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown cause".into());
            Outcome::failed(format!("the task panicked: {reason}"))
        }
    }
}

/// The user who dispatched task `seq`, if a user did.
async fn dispatcher_of(app: &App, seq: i64) -> Option<crate::db::PulpId> {
    let found: Result<Option<crate::db::PulpId>, sqlx::Error> = crate::on_pool!(app.db(), pool => {
        sqlx::query_scalar("SELECT user_id FROM core_task WHERE seq = $1")
            .bind(seq)
            .fetch_one(pool)
            .await
    });
    found.ok().flatten()
}

/// Cancels `token` once the task is marked canceling.
async fn watch_for_cancel(app: App, seq: i64, token: CancellationToken) {
    // Short tasks end before the first check.
    tokio::time::sleep(CANCEL_POLL).await;
    loop {
        let notified = app.wakeup().notified();
        if let Ok(Some(TaskState::Canceling)) = state_of(app.db(), seq).await {
            token.cancel();
            return;
        }
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(CANCEL_POLL) => {}
        }
    }
}
