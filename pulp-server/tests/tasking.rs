//! Tasking across processes: `pulp-server worker` processes sharing one database.

mod support;

use std::collections::HashSet;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use pulp_core::settings::SettingsSources;
use pulp_core::tasking::{builtin, dispatch, DispatchRequest, Task, TaskState};
use pulp_core::testing::TestDatabase;
use pulp_core::App;
use serde_json::json;
use support::binary_in;

/// The tests of this file start worker processes and assert timings (heartbeat periods): they
/// run one at a time so that they do not starve each other of the machine's cores.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A worker process, killed when dropped.
struct WorkerProcess(Child);

impl WorkerProcess {
    fn start(t: &TestDatabase, ttl: u64) -> WorkerProcess {
        let mut command = binary_in(t.dir.path());
        command
            .env("PULP_DATABASE_URL", &t.url)
            .env("PULP_DATA_DIR", t.dir.path().join("data"))
            .env("PULP_WORKER_TTL", ttl.to_string())
            .arg("worker")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        WorkerProcess(
            command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start a worker: {e}")),
        )
    }

    fn signal(&self, signal: &str) {
        let _ = std::process::Command::new("kill")
            .arg(signal)
            .arg(self.0.id().to_string())
            .status();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn dispatcher(t: &TestDatabase) -> App {
    // With the plugins of the worker processes, whose migrations they need.
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(pulp_file::FilePlugin)
        .plugin(pulp_container::ContainerPlugin)
        .build_with(t.settings())
        .await
        .expect("build app");
    app.migrate().await.expect("migrate");
    app
}

async fn unfinished(app: &App) -> i64 {
    pulp_core::tasking::unfinished_count(app.db())
        .await
        .expect("count")
}

async fn all_tasks(app: &App) -> Vec<Task> {
    let ids: Vec<pulp_core::db::PulpId> = pulp_core::on_pool!(app.db(), pool => {
        sqlx::query_scalar("SELECT pulp_id FROM core_task ORDER BY seq").fetch_all(pool).await.expect("ids")
    });
    let mut tasks = Vec::new();
    for id in ids {
        tasks.push(Task::get(app.db(), id).await.expect("task"));
    }
    tasks
}

/// A small deterministic generator (the test needs variety, not cryptographic randomness).
struct Xorshift(u64);
impl Xorshift {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

fn interval(task: &Task) -> (DateTime<Utc>, DateTime<Utc>) {
    let result = task
        .result
        .as_ref()
        .unwrap_or_else(|| panic!("task {} has no result", task.pulp_id));
    let parse = |key: &str| {
        result[key]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| panic!("task {} has no {key} time", task.pulp_id))
    };
    (parse("started"), parse("finished"))
}

/// Whether two reservation records conflict: a common resource held exclusively by either.
fn conflict(a: &[String], b: &[String]) -> bool {
    let parse = |r: &String| match r.strip_prefix("shared:") {
        Some(name) => (name.to_string(), false),
        None => (r.clone(), true),
    };
    a.iter()
        .map(parse)
        .any(|(ra, xa)| b.iter().map(parse).any(|(rb, xb)| ra == rb && (xa || xb)))
}

async fn thousand_tasks_on_three_worker_processes(t: &TestDatabase) {
    let app = dispatcher(t).await;
    let workers: Vec<WorkerProcess> = (0..3).map(|_| WorkerProcess::start(t, 10)).collect();
    let mut random = Xorshift(0x9e37_79b9_7f4a_7c15);
    for _ in 0..1000 {
        let mut request = DispatchRequest::new(builtin::SLEEP)
            .args(json!({ "interval": random.next(4) as f64 / 1000.0 }));
        let count = 1 + random.next(3);
        for _ in 0..count {
            let resource = format!("/pulp/api/v3/repositories/file/file/{}/", random.next(12));
            request = if random.next(10) < 4 {
                request.exclusive([resource])
            } else {
                request.shared([resource])
            };
        }
        dispatch(&app, request).await.expect("dispatch");
    }
    let deadline = Instant::now() + Duration::from_secs(240);
    while unfinished(&app).await > 0 {
        assert!(
            Instant::now() < deadline,
            "the queue did not drain in time: {} left",
            unfinished(&app).await
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let tasks = all_tasks(&app).await;
    assert_eq!(tasks.len(), 1000);
    let failed: Vec<_> = tasks
        .iter()
        .filter(|t| t.state != TaskState::Completed)
        .map(|t| (t.state, t.error.clone()))
        .collect();
    assert!(failed.is_empty(), "tasks did not complete: {failed:?}");
    let names: HashSet<&str> = tasks.iter().filter_map(|t| t.worker.as_deref()).collect();
    assert_eq!(
        names.len(),
        3,
        "all three worker processes ran tasks: {names:?}"
    );
    let mut conflicting_pairs = 0;
    for (i, a) in tasks.iter().enumerate() {
        let (a_start, a_end) = interval(a);
        for b in &tasks[i + 1..] {
            if !conflict(&a.reserved_resources_record, &b.reserved_resources_record) {
                continue;
            }
            conflicting_pairs += 1;
            let (b_start, _) = interval(b);
            // b was dispatched after a: FIFO means a ran to its end before b began (which
            // also rules out any overlap).
            assert!(
                a_end <= b_start,
                "conflicting tasks overlapped or ran out of order: {} ({:?}..{:?}, {:?}) and {} (from {:?}, {:?})",
                a.seq, a_start, a_end, a.reserved_resources_record, b.seq, b_start, b.reserved_resources_record
            );
        }
    }
    assert!(
        conflicting_pairs > 1000,
        "the workload had too few conflicts to mean anything"
    );
    for worker in &workers {
        worker.signal("-TERM");
    }
}

async fn a_killed_worker_fails_its_task_and_frees_its_resources(t: &TestDatabase) {
    let ttl = 2;
    let app = dispatcher(t).await;
    let workers: Vec<WorkerProcess> = (0..2).map(|_| WorkerProcess::start(t, ttl)).collect();
    let long = dispatch(
        &app,
        DispatchRequest::new(builtin::SLEEP)
            .args(json!({ "interval": 120 }))
            .exclusive(["r"]),
    )
    .await
    .expect("dispatch");
    let mut rest = Vec::new();
    for _ in 0..5 {
        rest.push(
            dispatch(&app, DispatchRequest::new(builtin::NOOP).exclusive(["r"]))
                .await
                .expect("dispatch"),
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let running = loop {
        let current = long.refresh(app.db()).await.expect("refresh");
        if current.state == TaskState::Running {
            break current;
        }
        assert!(Instant::now() < deadline, "the long task never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let owner = running.worker.clone().unwrap_or_default();
    let victim = workers
        .iter()
        .find(|w| owner.starts_with(&format!("{}@", w.0.id())))
        .unwrap_or_else(|| panic!("no worker process named {owner}"));
    victim.signal("-KILL");
    let killed_at = Instant::now();
    let failed = loop {
        let current = long.refresh(app.db()).await.expect("refresh");
        if current.state.is_final() {
            break current;
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(3 * ttl + 2),
            "the task of the killed worker was not failed in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(failed.state, TaskState::Failed);
    assert_eq!(
        failed
            .error
            .as_ref()
            .and_then(|e| e["description"].as_str()),
        Some(format!("worker {owner} has gone missing").as_str())
    );
    assert!(
        killed_at.elapsed() <= Duration::from_secs(2 * ttl + 2),
        "freed after {:?}",
        killed_at.elapsed()
    );
    while unfinished(&app).await > 0 {
        assert!(
            killed_at.elapsed() < Duration::from_secs(30),
            "the rest of the queue did not complete"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for task in rest {
        assert_eq!(
            task.refresh(app.db()).await.expect("refresh").state,
            TaskState::Completed
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_tasks_on_three_worker_processes_on_sqlite() {
    let _serial = SERIAL.lock().await;
    let t = TestDatabase::sqlite().await;
    thousand_tasks_on_three_worker_processes(&t).await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_tasks_on_three_worker_processes_on_postgres() {
    let _serial = SERIAL.lock().await;
    let Some(t) = TestDatabase::postgres().await else {
        return;
    };
    thousand_tasks_on_three_worker_processes(&t).await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_on_sqlite() {
    let _serial = SERIAL.lock().await;
    let t = TestDatabase::sqlite().await;
    a_killed_worker_fails_its_task_and_frees_its_resources(&t).await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_on_postgres() {
    let _serial = SERIAL.lock().await;
    let Some(t) = TestDatabase::postgres().await else {
        return;
    };
    a_killed_worker_fails_its_task_and_frees_its_resources(&t).await;
    t.cleanup().await;
}

/// A `modify` task whose worker is killed inside its version scope: no version appears, no
/// membership row is left, and the repository takes new versions afterwards.
async fn a_killed_worker_leaves_no_half_made_version(t: &TestDatabase, units: usize) {
    use pulp_core::models::{self, Labels, RepositoryFields};
    use pulp_file::{FileContent, FileRepository};
    let ttl = 2;
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(pulp_file::FilePlugin)
        .plugin(pulp_container::ContainerPlugin)
        .build_with(t.settings())
        .await
        .expect("build app");
    app.migrate().await.expect("migrate");
    let repository = models::create::<FileRepository>(
        app.db(),
        Labels::new(),
        RepositoryFields::new("victim"),
        FileRepository::default(),
    )
    .await
    .expect("repository");
    let saved = models::save_content(
        app.db(),
        (0..units)
            .map(|i| FileContent {
                relative_path: format!("f/{i}"),
                digest: format!("{i:064x}"),
            })
            .collect(),
    )
    .await
    .expect("content");
    let ids: Vec<_> = saved.iter().map(|m| m.pulp_id()).collect();
    let href = repository.pulp_href();
    // On PostgreSQL, hold a lock that stops the task at its first membership insert, so the
    // kill lands inside the scope for sure; on SQLite the size of the change does it.
    let mut blocker = None;
    if let pulp_core::db::Database::Postgres(pool) = app.db() {
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query("LOCK TABLE core_repositorycontent IN SHARE ROW EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .expect("lock");
        blocker = Some(tx);
    }
    let victim = WorkerProcess::start(t, ttl);
    let task = dispatch(
        &app,
        DispatchRequest::new(pulp_core::api::generic::ADD_AND_REMOVE)
            .args(json!({ "repository_pk": repository.pulp_id(), "add_content_units": ids }))
            .exclusive([href.clone()]),
    )
    .await
    .expect("dispatch");
    let deadline = Instant::now() + Duration::from_secs(30);
    while task.refresh(app.db()).await.expect("refresh").state != TaskState::Running {
        assert!(Instant::now() < deadline, "the task never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    victim.signal("-KILL");
    drop(victim);
    if let Some(tx) = blocker {
        tx.rollback().await.expect("release the lock");
    }
    let _reaper = WorkerProcess::start(t, ttl);
    let deadline = Instant::now() + Duration::from_secs(30);
    let ended = loop {
        let current = task.refresh(app.db()).await.expect("refresh");
        if current.state.is_final() {
            break current;
        }
        assert!(
            Instant::now() < deadline,
            "the killed task was never failed"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        ended.state,
        TaskState::Failed,
        "the task must die inside its scope (it finished first: raise the unit count)"
    );
    let (incomplete, rows, next): (i64, i64, i64) = pulp_core::on_pool!(app.db(), pool => {
        let incomplete = sqlx::query_scalar("SELECT COUNT(*) FROM core_repositoryversion WHERE NOT complete")
            .fetch_one(pool).await.expect("count");
        let rows = sqlx::query_scalar("SELECT COUNT(*) FROM core_repositorycontent")
            .fetch_one(pool).await.expect("count");
        let next = sqlx::query_scalar("SELECT next_version FROM core_repository WHERE pulp_id = $1")
            .bind(repository.pulp_id()).fetch_one(pool).await.expect("next");
        (incomplete, rows, next)
    });
    assert_eq!(
        (incomplete, rows, next),
        (0, 0, 1),
        "nothing of the killed version remains"
    );
    let latest = pulp_core::repository::latest_version(app.db(), repository.pulp_id())
        .await
        .expect("latest");
    assert_eq!(latest.number, 0);
    let again = dispatch(
        &app,
        DispatchRequest::new(pulp_core::api::generic::ADD_AND_REMOVE)
            .args(json!({ "repository_pk": repository.pulp_id(), "add_content_units": &ids[..3] }))
            .exclusive([href]),
    )
    .await
    .expect("dispatch");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !again
        .refresh(app.db())
        .await
        .expect("refresh")
        .state
        .is_final()
    {
        assert!(Instant::now() < deadline, "the next modify never ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let latest = pulp_core::repository::latest_version(app.db(), repository.pulp_id())
        .await
        .expect("latest");
    assert_eq!((latest.number, latest.counts.total()), (1, 3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_leaves_no_half_made_version_on_sqlite() {
    let _serial = SERIAL.lock().await;
    let t = TestDatabase::sqlite().await;
    a_killed_worker_leaves_no_half_made_version(&t, 150_000).await;
    t.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_leaves_no_half_made_version_on_postgres() {
    let _serial = SERIAL.lock().await;
    let Some(t) = TestDatabase::postgres().await else {
        return;
    };
    a_killed_worker_leaves_no_half_made_version(&t, 1_000).await;
    t.cleanup().await;
}
