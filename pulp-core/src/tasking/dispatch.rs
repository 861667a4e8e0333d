//! [`dispatch`]: queueing a task with its reservations.

use chrono::Utc;
use serde_json::Value;
use sqlx::types::Json;

use super::runner::run_claimed;
use super::scheduler::{self, TASK_LOCK};
use super::{Task, TaskState, TaskingError};
use crate::app::App;
use crate::db::PulpId;
use crate::on_tx;

/// What to run, with which reservations.
#[derive(Debug, Clone, PartialEq)]
pub struct DispatchRequest {
    name: String,
    args: Value,
    exclusive: Vec<String>,
    shared: Vec<String>,
    immediate: bool,
    deferred: bool,
    task_group: Option<PulpId>,
    parent_task: Option<PulpId>,
    logging_cid: String,
}

impl DispatchRequest {
    /// A request to run the task function registered as `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            args: Value::Object(Default::default()),
            exclusive: Vec::new(),
            shared: Vec::new(),
            immediate: false,
            deferred: true,
            task_group: None,
            parent_task: None,
            logging_cid: String::new(),
        }
    }

    /// Arguments passed to the task function.
    pub fn args(mut self, args: Value) -> Self {
        self.args = args;
        self
    }

    /// Resources only this task may use while it runs (e.g. a repository's href).
    pub fn exclusive<S: Into<String>>(mut self, resources: impl IntoIterator<Item = S>) -> Self {
        self.exclusive.extend(resources.into_iter().map(Into::into));
        self
    }

    /// Resources this task reads: shared with other readers, not with an exclusive holder.
    pub fn shared<S: Into<String>>(mut self, resources: impl IntoIterator<Item = S>) -> Self {
        self.shared.extend(resources.into_iter().map(Into::into));
        self
    }

    /// Run it in the dispatching process if its resources are free now.
    pub fn immediate(mut self, immediate: bool) -> Self {
        self.immediate = immediate;
        self
    }

    /// For an immediate task whose resources are busy: queue it (true) or cancel it (false).
    pub fn deferred(mut self, deferred: bool) -> Self {
        self.deferred = deferred;
        self
    }

    /// Adds it to a task group.
    pub fn task_group(mut self, group: PulpId) -> Self {
        self.task_group = Some(group);
        self
    }

    /// Records the task that dispatched it.
    pub fn parent_task(mut self, parent: PulpId) -> Self {
        self.parent_task = Some(parent);
        self
    }

    /// Correlation id of the request that dispatched it (by default the id of the request
    /// or task this runs for).
    pub fn logging_cid(mut self, cid: impl Into<String>) -> Self {
        self.logging_cid = cid.into();
        self
    }

    /// The resources, each once; a resource both exclusive and shared is exclusive.
    fn reservations(&self) -> Vec<(String, bool)> {
        let mut all: Vec<(String, bool)> = Vec::new();
        for resource in &self.exclusive {
            if !all.iter().any(|(r, _)| r == resource) {
                all.push((resource.clone(), true));
            }
        }
        for resource in &self.shared {
            if !all.iter().any(|(r, _)| r == resource) {
                all.push((resource.clone(), false));
            }
        }
        all
    }
}

/// Queues a task; an immediate one whose resources are free runs here before this returns.
pub async fn dispatch(app: &App, mut request: DispatchRequest) -> Result<Task, TaskingError> {
    if request.name.trim().is_empty() {
        return Err(TaskingError::Invalid("a task needs a name".into()));
    }
    if request.logging_cid.is_empty() {
        // The request (or task) dispatching it: its log lines and the task's share the id.
        if let Some(cid) = crate::observe::current_correlation_id() {
            request.logging_cid = cid;
        }
    }
    let reservations = request.reservations();
    let record: Vec<String> = reservations
        .iter()
        .map(|(r, exclusive)| {
            if *exclusive {
                r.clone()
            } else {
                format!("shared:{r}")
            }
        })
        .collect();
    let id = PulpId::new();
    let now = Utc::now();
    let db = app.db();
    let task_done = async {
        // The dispatching user owns the task (`core.task_owner`, through the tasks policy).
        let object = crate::rbac::ObjectRef {
            content_type: "core.task".into(),
            object_id: id.to_string(),
        };
        crate::rbac::object_created(db, "tasks", &object)
            .await
            .map_err(|e| TaskingError::Invalid(e.to_string()))
    };

    if reservations.is_empty() {
        // Nothing reserved: nothing to wait for, no reservation changes, no lock.
        let mut tx = db.begin_write().await?;
        insert_task(&mut tx, id, now, &request, &record, Some(now)).await?;
        if !request.immediate {
            scheduler::notify_workers(&mut tx).await?;
        }
        tx.commit().await?;
        task_done.await?;
        return start_or_wake(app, id, request.immediate, true).await;
    }
    let mut tx = db.begin_locked(TASK_LOCK).await?;
    let seq = insert_task(&mut tx, id, now, &request, &record, None).await?;
    insert_reservations(&mut tx, seq, &reservations).await?;
    let unblocked = scheduler::unblock_if_free(&mut tx, seq).await?;
    if !unblocked && request.immediate && !request.deferred {
        let error = serde_json::json!({ "description": "Resources temporarily unavailable." });
        scheduler::finish_locked(&mut tx, seq, TaskState::Canceled, Some(error), None, None)
            .await?;
    } else if unblocked && !request.immediate {
        scheduler::notify_workers(&mut tx).await?;
    }
    tx.commit().await?;
    task_done.await?;
    start_or_wake(app, id, request.immediate, unblocked).await
}

/// Runs an unblocked immediate task here, or wakes this process's workers.
async fn start_or_wake(
    app: &App,
    id: PulpId,
    immediate: bool,
    unblocked: bool,
) -> Result<Task, TaskingError> {
    let db = app.db();
    if immediate && unblocked {
        let task = Task::get(db, id).await?;
        if let Some(task) = scheduler::claim(db, task.seq, app.process_name()).await? {
            run_claimed(app, task).await;
        }
    } else if unblocked {
        app.wakeup().notify();
    }
    Task::get(db, id).await
}

async fn insert_task(
    tx: &mut crate::db::DbTransaction,
    id: PulpId,
    now: chrono::DateTime<Utc>,
    request: &DispatchRequest,
    record: &[String],
    unblocked_at: Option<chrono::DateTime<Utc>>,
) -> Result<i64, TaskingError> {
    Ok(on_tx!(tx, conn => {
        sqlx::query_scalar(
            "INSERT INTO core_task (pulp_id, pulp_created, pulp_last_updated, name, state, args, logging_cid,
                 parent_task, task_group, reserved_resources_record, immediate, deferred, unblocked_at, user_id)
             VALUES ($1, $2, $2, $3, 'waiting', $4, $5, $6, $7, $8, $9, $10, $11, $12)
             RETURNING seq",
        )
        .bind(id)
        .bind(now)
        .bind(&request.name)
        .bind(Json(&request.args))
        .bind(&request.logging_cid)
        .bind(request.parent_task)
        .bind(request.task_group)
        .bind(Json(record))
        .bind(request.immediate)
        .bind(request.deferred)
        .bind(unblocked_at)
        .bind(crate::rbac::acting_user())
        .fetch_one(&mut *conn)
        .await?
    }))
}

/// Inserts the reservations of task `seq` in one statement.
async fn insert_reservations(
    tx: &mut crate::db::DbTransaction,
    seq: i64,
    reservations: &[(String, bool)],
) -> Result<(), TaskingError> {
    let rows: Vec<String> = (0..reservations.len())
        .map(|i| format!("($1, ${}, ${})", 2 * i + 2, 2 * i + 3))
        .collect();
    let sql = format!(
        "INSERT INTO core_taskresource (task_seq, resource, exclusive) VALUES {}",
        rows.join(", ")
    );
    on_tx!(tx, conn => {
        let mut query = sqlx::query(&sql).bind(seq);
        for (resource, exclusive) in reservations {
            query = query.bind(resource).bind(*exclusive);
        }
        query.execute(&mut *conn).await?;
    });
    Ok(())
}
