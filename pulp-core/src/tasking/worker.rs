//! [`Worker`]: claims and runs tasks one at a time, heartbeats, and fails the tasks of
//! workers that stopped heartbeating.

use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::runner::{record_end, run_to_end};
use super::scheduler::{self, TASK_LOCK};
use super::wakeup::listen_postgres;
use super::{TaskState, TaskingError};
use crate::app::App;
use crate::db::Database;
use crate::on_tx;
use crate::status::{AppType, Heartbeat};

/// How a worker behaves.
#[derive(Debug, Clone, Default)]
pub struct WorkerOptions {
    /// Exit when no runnable task is left.
    pub burst: bool,
    /// How long an idle worker waits before looking again without a wake-up.
    pub poll_interval: Option<Duration>,
    /// The name to register under (default: the process name, `<pid>@<host>`).
    pub name: Option<String>,
}

/// A task worker.
#[derive(Debug, Clone)]
pub struct Worker {
    app: App,
    name: String,
    options: WorkerOptions,
}

impl Worker {
    /// A worker of `app`.
    pub fn new(app: App, options: WorkerOptions) -> Self {
        let name = options
            .name
            .clone()
            .unwrap_or_else(|| app.process_name().to_string());
        Self { app, name, options }
    }

    /// The name it registers under (and records in the tasks it runs).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Registers the worker's heartbeat: from here on it is listed among the online workers
    /// (a process serving the API as well goes online first, so that its status lists its
    /// worker from the first answer). [`OnlineWorker::run`] then runs tasks.
    pub async fn online(self) -> Result<OnlineWorker, TaskingError> {
        let heartbeat = Heartbeat::register(
            self.app.db(),
            AppType::Worker,
            self.name.clone(),
            self.app.component_versions(),
        )
        .await?;
        Ok(OnlineWorker {
            worker: self,
            heartbeat,
        })
    }

    /// Goes online ([`Worker::online`]) and runs tasks ([`OnlineWorker::run`]).
    pub async fn run(self, shutdown: CancellationToken) -> Result<usize, TaskingError> {
        self.online().await?.run(shutdown).await
    }
}

/// A [`Worker`] whose heartbeat is registered.
#[derive(Debug)]
pub struct OnlineWorker {
    worker: Worker,
    heartbeat: Heartbeat,
}

impl OnlineWorker {
    /// Runs tasks until `shutdown` (or, in burst mode, until none is runnable); the task in
    /// progress at shutdown is finished first; then unregisters. Returns how many tasks it
    /// ran.
    pub async fn run(self, shutdown: CancellationToken) -> Result<usize, TaskingError> {
        let OnlineWorker {
            worker: this,
            heartbeat,
        } = self;
        let db = this.app.db().clone();
        let ttl = Duration::from_secs(this.app.settings().worker_ttl);
        let stop_helpers = CancellationToken::new();
        // If this future is dropped (its task aborted), the helpers stop with it.
        let _stop_on_drop = stop_helpers.clone().drop_guard();
        let beating = tokio::spawn(beat_and_reap(
            heartbeat.clone(),
            db.clone(),
            ttl,
            stop_helpers.clone(),
        ));
        let listening = match &db {
            Database::Postgres(pool) => Some(tokio::spawn(listen_postgres(
                pool.clone(),
                this.app.wakeup().clone(),
                stop_helpers.clone(),
            ))),
            Database::Sqlite(_) => None,
        };
        let poll = this.options.poll_interval.unwrap_or(match &db {
            Database::Sqlite(_) => Duration::from_millis(100),
            Database::Postgres(_) => Duration::from_secs(1),
        });
        if let Err(e) = reap_missing_workers(&db, ttl).await {
            tracing::warn!(error = %e, "could not check for missing workers");
        }
        // Every worker looks for due schedules; the database lets one dispatch each.
        if let Err(e) = super::sync_schedules(&db, &this.app.task_schedules()).await {
            tracing::warn!(error = %e, "could not record the task schedules");
        }
        let scheduling = (!this.options.burst).then(|| {
            tokio::spawn(super::schedule::schedule_loop(
                this.app.clone(),
                poll.min(Duration::from_secs(1)),
                stop_helpers.clone(),
            ))
        });
        let delivering = (!this.options.burst).then(|| {
            tokio::spawn(crate::webhooks::delivery_loop(
                this.app.clone(),
                poll.min(Duration::from_secs(1)),
                stop_helpers.clone(),
            ))
        });
        let mut ran = 0;
        // On PostgreSQL the end of a task is committed (a durable WAL flush) while the worker
        // claims and runs the next one: a task that conflicts with the ending one cannot be
        // claimed before that commit releases its reservations, so nothing overlaps that
        // must not. At most one end is in flight; on SQLite ends are recorded in line.
        let mut ending: Option<tokio::task::JoinHandle<()>> = None;
        while !shutdown.is_cancelled() {
            let wakeup = this.app.wakeup().clone();
            let notified = wakeup.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match scheduler::claim_next(&db, &this.name).await {
                Ok(Some(task)) => {
                    let ended = run_to_end(&this.app, task).await;
                    if let Some(previous) = ending.take() {
                        let _ = previous.await;
                    }
                    match &db {
                        Database::Postgres(_) => {
                            let app = this.app.clone();
                            ending =
                                Some(tokio::spawn(async move { record_end(&app, ended).await }));
                        }
                        Database::Sqlite(_) => record_end(&this.app, ended).await,
                    }
                    ran += 1;
                    continue;
                }
                Ok(None) => {
                    // The ending task may unblock others: record it, then look again.
                    if let Some(previous) = ending.take() {
                        let _ = previous.await;
                        continue;
                    }
                    if this.options.burst {
                        break;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "claiming a task failed"),
            }
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(poll) => {}
                _ = shutdown.cancelled() => {}
            }
        }
        if let Some(previous) = ending.take() {
            let _ = previous.await;
        }
        stop_helpers.cancel();
        let _ = beating.await;
        for helper in [scheduling, delivering].into_iter().flatten() {
            let _ = helper.await;
        }
        if let Some(listening) = listening {
            let _ = listening.await;
        }
        heartbeat.unregister().await?;
        Ok(ran)
    }
}

async fn beat_and_reap(heartbeat: Heartbeat, db: Database, ttl: Duration, stop: CancellationToken) {
    let period = (ttl / 3).max(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(period) => {}
        }
        if let Err(e) = heartbeat.beat().await {
            tracing::warn!(error = %e, "heartbeat failed");
        }
        if let Err(e) = reap_missing_workers(&db, ttl).await {
            tracing::warn!(error = %e, "could not check for missing workers");
        }
    }
}

/// Fails the running tasks of every process whose heartbeat is older than `ttl` ("worker has
/// gone missing") and releases their reservations. Returns how many tasks it failed.
pub async fn reap_missing_workers(db: &Database, ttl: Duration) -> Result<usize, TaskingError> {
    let cutoff = Utc::now() - chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::MAX);
    let mut tx = db.begin_locked(TASK_LOCK).await?;
    let orphans: Vec<(i64, String)> = on_tx!(&mut tx, conn => {
        sqlx::query_as(
            "SELECT t.seq, t.worker FROM core_task t
             WHERE t.state IN ('running', 'canceling') AND t.worker IS NOT NULL
               AND NOT EXISTS (SELECT 1 FROM core_appstatus a
                               WHERE a.name = t.worker AND a.last_heartbeat >= $1)",
        )
        .bind(cutoff)
        .fetch_all(&mut *conn)
        .await?
    });
    for (seq, worker) in &orphans {
        let error =
            serde_json::json!({ "description": format!("worker {worker} has gone missing") });
        scheduler::finish_locked(&mut tx, *seq, TaskState::Failed, Some(error), None, None).await?;
        tracing::warn!(worker = %worker, task = seq, "failed the task of a missing worker");
    }
    tx.commit().await?;
    Ok(orphans.len())
}
