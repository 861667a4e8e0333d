//! Prometheus metrics: one recorder per process, rendered at `/metrics`.
//!
//! Counters and histograms are recorded where things happen (requests, tasks, downloads,
//! artifacts); gauges of shared state (tasks waiting and running, workers online, the
//! database pool) are read when `/metrics` is scraped, so every process reports the same
//! queue, whoever changed it.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::app::App;
use crate::status::{AppType, Heartbeat};

/// The metric names (Prometheus conventions: `pulp_` prefix, `_total`, `_seconds`, `_bytes`).
pub mod names {
    /// Requests answered, by `listener` (`api`, `content`, `metrics`), `route` (the route
    /// template, `fallback` for paths no route declares), `method` and `status`.
    pub const HTTP_REQUESTS: &str = "pulp_http_requests_total";
    /// Time to answer a request (to the response head), same labels.
    pub const HTTP_DURATION: &str = "pulp_http_request_duration_seconds";
    /// Content-app requests by `outcome`: `stored`, `on_demand`, `streamed`, `redirect`,
    /// `not_found`, `forbidden`, `listing`, `error`.
    pub const CONTENT_REQUESTS: &str = "pulp_content_requests_total";
    /// Bytes of content-app response bodies announced by `Content-Length`, by `outcome`.
    pub const CONTENT_BYTES: &str = "pulp_content_response_bytes_total";
    /// Tasks ended, by `name` and final `state`.
    pub const TASKS: &str = "pulp_tasks_total";
    /// Time from dispatch to start, by task `name`.
    pub const TASK_WAIT: &str = "pulp_task_queue_wait_seconds";
    /// Time a task ran, by `name`.
    pub const TASK_RUN: &str = "pulp_task_run_seconds";
    /// Tasks in the queue, by `state` (`waiting`, `running`); read at scrape time.
    pub const TASKS_UNFINISHED: &str = "pulp_tasks";
    /// Processes with a fresh heartbeat, by `app_type`; read at scrape time.
    pub const PROCESSES_ONLINE: &str = "pulp_processes_online";
    /// Bytes received by the downloader.
    pub const DOWNLOAD_BYTES: &str = "pulp_download_bytes_total";
    /// Download attempts retried.
    pub const DOWNLOAD_RETRIES: &str = "pulp_download_retries_total";
    /// Downloads given up, by `reason`.
    pub const DOWNLOAD_FAILURES: &str = "pulp_download_failures_total";
    /// Artifacts newly stored.
    pub const ARTIFACTS_STORED: &str = "pulp_artifacts_stored_total";
    /// Database connections, by `state` (`in_use`, `idle`); read at scrape time.
    pub const DB_CONNECTIONS: &str = "pulp_db_connections";
}

/// Histogram buckets, in seconds: from a cached content hit to an hour-long sync.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0, 300.0, 900.0, 3600.0,
];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs this process's recorder (once; later calls return the same handle). `None` when
/// another recorder was installed first: metrics then go to it and `/metrics` is not served.
pub fn install_recorder() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new().set_buckets(BUCKETS).ok()?;
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok()?;
            Some(handle)
        })
        .as_ref()
}

/// The exposition text: the gauges read now, then everything recorded.
pub async fn render(app: &App, handle: &PrometheusHandle) -> String {
    refresh_gauges(app).await;
    handle.render()
}

async fn refresh_gauges(app: &App) {
    let db = app.db();
    let (open, idle) = db.pool_usage();
    let idle = idle as f64;
    metrics::gauge!(names::DB_CONNECTIONS, "state" => "idle").set(idle);
    metrics::gauge!(names::DB_CONNECTIONS, "state" => "in_use").set((open as f64 - idle).max(0.0));

    let counts: Result<Vec<(String, i64)>, sqlx::Error> = crate::on_pool!(db, pool => {
        sqlx::query_as(
            "SELECT state, COUNT(*) FROM core_task WHERE state IN ('waiting', 'running') GROUP BY state",
        )
        .fetch_all(pool)
        .await
    });
    match counts {
        Ok(counts) => {
            for state in ["waiting", "running"] {
                let n = counts
                    .iter()
                    .find(|(s, _)| s == state)
                    .map_or(0, |(_, n)| *n);
                metrics::gauge!(names::TASKS_UNFINISHED, "state" => state).set(n as f64);
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: could not count tasks"),
    }
    let ttl = Duration::from_secs(app.settings().worker_ttl);
    for kind in [AppType::Api, AppType::Content, AppType::Worker] {
        match Heartbeat::online(db, kind, ttl).await {
            Ok(online) => metrics::gauge!(names::PROCESSES_ONLINE, "app_type" => kind.as_str())
                .set(online.len() as f64),
            Err(e) => tracing::warn!(error = %e, "metrics: could not read heartbeats"),
        }
    }
}
