//! Tasking in one process: running, failing, reservations, FIFO, cancel, immediate tasks,
//! progress, groups, missing workers. Every test runs on SQLite and PostgreSQL.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pulp_core::settings::SettingsSources;
use pulp_core::tasking::{
    self, builtin, cancel, dispatch, DispatchRequest, ProgressReport, Task, TaskError, TaskGroup,
    TaskState, TaskingError, Worker, WorkerOptions,
};
use pulp_core::testing::TestDatabase;
use pulp_core::{App, Registry};
use serde_json::json;
use tokio_util::sync::CancellationToken;

static DROPPED: AtomicUsize = AtomicUsize::new(0);

/// Drops increment DROPPED: shows that a canceled task's future was dropped (cleaned up).
struct Guard;
impl Drop for Guard {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::SeqCst);
    }
}

fn test_tasks(r: &mut Registry) {
    r.task("test.fail", |_ctx| async {
        Err(TaskError::new("the remote said no"))
    });
    r.task("test.panic", |_ctx| async { panic!("boom") });
    r.task("test.create", |ctx| async move {
        ctx.add_created_resource("/pulp/api/v3/repositories/file/file/0000/");
        std::fs::write(ctx.working_dir().join("scratch"), b"x")
            .map_err(|e| TaskError::new(e.to_string()))?;
        Ok(Some(json!({ "working_dir": ctx.working_dir() })))
    });
    r.task("test.progress", |ctx| async move {
        let report = ctx
            .progress("Downloading", "sync.downloading.artifacts", Some(3))
            .await?;
        for _ in 0..3 {
            report.increment(1).await?;
        }
        let _unfinished = ctx
            .progress("Associating", "associating.content", None)
            .await?;
        Ok(None)
    });
    r.task("test.group_step", |ctx| async move {
        let group = ctx
            .task()
            .task_group
            .ok_or_else(|| TaskError::new("no group"))?;
        TaskGroup::increment_progress(ctx.app().db(), group, "steps", 1).await?;
        Ok(None)
    });
    r.task("test.hold", |_ctx| async {
        let _guard = Guard;
        tokio::time::sleep(Duration::from_secs(60)).await;
        Ok(None)
    });
    r.task("test.parent", |ctx| async move {
        let child = ctx
            .dispatch_child(DispatchRequest::new(builtin::NOOP))
            .await?;
        Ok(Some(json!({ "child": child.pulp_id })))
    });
}

async fn app(t: &TestDatabase, ttl: u64) -> App {
    let mut settings = t.settings();
    settings.worker_ttl = ttl;
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(test_tasks)
        .build_with(settings)
        .await
        .expect("build app");
    app.migrate().await.expect("migrate");
    app
}

fn worker(app: &App, name: &str, burst: bool) -> Worker {
    Worker::new(
        app.clone(),
        WorkerOptions {
            burst,
            name: Some(name.to_string()),
            poll_interval: Some(Duration::from_millis(20)),
        },
    )
}

/// Runs a burst worker until the queue has nothing runnable.
async fn drain(app: &App) -> usize {
    worker(app, "burst@test", true)
        .run(CancellationToken::new())
        .await
        .expect("worker")
}

async fn wait_for(app: &App, task: &Task, done: impl Fn(&Task) -> bool) -> Task {
    for _ in 0..300 {
        let current = task.refresh(app.db()).await.expect("refresh");
        if done(&current) {
            return current;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("task {} did not reach the expected state", task.pulp_id);
}

fn sleep(seconds: f64) -> DispatchRequest {
    DispatchRequest::new(builtin::SLEEP).args(json!({ "interval": seconds }))
}

pulp_core::db_tests! {
    async fn a_task_runs_to_completion_in_its_own_working_directory(t: &TestDatabase) {
        let app = app(t, 30).await;
        let task = dispatch(&app, DispatchRequest::new("test.create")).await.expect("dispatch");
        assert_eq!(task.state, TaskState::Waiting);
        assert!(task.unblocked_at.is_some(), "a task without resources is runnable at once");
        assert_eq!(drain(&app).await, 1);
        let done = task.refresh(app.db()).await.expect("refresh");
        assert_eq!(done.state, TaskState::Completed);
        assert_eq!(done.worker.as_deref(), Some("burst@test"));
        assert!(done.started_at.is_some() && done.finished_at >= done.started_at);
        assert_eq!(done.created_resources, ["/pulp/api/v3/repositories/file/file/0000/"]);
        let dir = done.result.as_ref().and_then(|r| r["working_dir"].as_str()).expect("result");
        assert!(dir.contains(&done.pulp_id.to_string()));
        assert!(!std::path::Path::new(dir).exists(), "working directory left behind");
    }

    async fn failures_unknown_names_and_panics_fail_the_task_not_the_worker(t: &TestDatabase) {
        let app = app(t, 30).await;
        let failing = dispatch(&app, DispatchRequest::new("test.fail")).await.expect("dispatch");
        let unknown = dispatch(&app, DispatchRequest::new("pulp_gone.app.tasks.removed")).await.expect("dispatch");
        let panicking = dispatch(&app, DispatchRequest::new("test.panic")).await.expect("dispatch");
        let after = dispatch(&app, DispatchRequest::new(builtin::NOOP)).await.expect("dispatch");
        assert_eq!(drain(&app).await, 4);
        let description = |task: &Task| task.error.as_ref().and_then(|e| e["description"].as_str()).unwrap_or_default().to_string();
        let failing = failing.refresh(app.db()).await.expect("refresh");
        assert_eq!((failing.state, description(&failing).as_str()), (TaskState::Failed, "the remote said no"));
        let unknown = unknown.refresh(app.db()).await.expect("refresh");
        assert_eq!(unknown.state, TaskState::Failed);
        assert!(description(&unknown).contains("unknown task function 'pulp_gone.app.tasks.removed'"), "{}", description(&unknown));
        let panicking = panicking.refresh(app.db()).await.expect("refresh");
        assert_eq!(panicking.state, TaskState::Failed);
        assert!(description(&panicking).contains("panicked: boom"), "{}", description(&panicking));
        assert_eq!(after.refresh(app.db()).await.expect("refresh").state, TaskState::Completed);
    }

    async fn exclusive_and_shared_reservations_never_overlap_and_stay_fifo(t: &TestDatabase) {
        let app = app(t, 30).await;
        let a = dispatch(&app, sleep(0.3).exclusive(["repo-1"])).await.expect("a");
        let b = dispatch(&app, sleep(0.1).exclusive(["repo-1"])).await.expect("b");
        let c = dispatch(&app, sleep(0.1).shared(["repo-1"])).await.expect("c");
        let d = dispatch(&app, sleep(0.1).shared(["repo-1"])).await.expect("d");
        let e = dispatch(&app, sleep(0.1).exclusive(["repo-2"]).shared(["remote-1"])).await.expect("e");
        assert!(a.unblocked_at.is_some() && e.unblocked_at.is_some());
        assert!(b.unblocked_at.is_none() && c.unblocked_at.is_none(), "later conflicting tasks wait");
        assert_eq!(a.reserved_resources_record, ["repo-1"]);
        assert_eq!(e.reserved_resources_record, ["repo-2", "shared:remote-1"]);
        let stop = CancellationToken::new();
        let workers: Vec<_> = (0..3)
            .map(|i| tokio::spawn(worker(&app, &format!("w{i}@test"), false).run(stop.clone())))
            .collect();
        let d = wait_for(&app, &d, |t| t.state.is_final()).await;
        stop.cancel();
        for w in workers { w.await.expect("join").expect("worker"); }
        let (a, b, c, e) = (
            a.refresh(app.db()).await.expect("a"), b.refresh(app.db()).await.expect("b"),
            c.refresh(app.db()).await.expect("c"), e.refresh(app.db()).await.expect("e"),
        );
        for task in [&a, &b, &c, &d, &e] {
            assert_eq!(task.state, TaskState::Completed, "{}", task.pulp_id);
        }
        assert!(b.started_at >= a.finished_at, "b overlapped a");
        assert!(c.started_at >= b.finished_at && d.started_at >= b.finished_at, "a shared task overtook an exclusive one");
        assert!(e.started_at < a.finished_at, "an unrelated task waited");
        // Two shared holders of one resource run side by side (3 workers).
        assert!(c.started_at < d.finished_at && d.started_at < c.finished_at, "shared tasks did not run together");
    }

    async fn canceling_a_waiting_task_frees_what_waited_behind_it(t: &TestDatabase) {
        let app = app(t, 30).await;
        let blocker = dispatch(&app, sleep(0.2).exclusive(["r"])).await.expect("blocker");
        let waiting = dispatch(&app, sleep(0.0).exclusive(["r", "s"])).await.expect("waiting");
        let behind = dispatch(&app, sleep(0.0).exclusive(["s"])).await.expect("behind");
        assert!(behind.unblocked_at.is_none());
        let canceled = cancel(&app, waiting.pulp_id).await.expect("cancel");
        assert_eq!(canceled.state, TaskState::Canceled);
        let behind = behind.refresh(app.db()).await.expect("refresh");
        assert!(behind.unblocked_at.is_some(), "the task behind the canceled one stays blocked");
        drain(&app).await;
        assert_eq!(blocker.refresh(app.db()).await.expect("r").state, TaskState::Completed);
        assert_eq!(behind.refresh(app.db()).await.expect("r").state, TaskState::Completed);
        match cancel(&app, blocker.pulp_id).await {
            Err(TaskingError::NotCancelable { state, .. }) => assert_eq!(state, "completed"),
            other => panic!("canceling a completed task: {other:?}"),
        }
        assert!(matches!(cancel(&app, pulp_core::db::PulpId::new()).await, Err(TaskingError::NotFound(_))));
    }

    async fn canceling_a_running_task_stops_it_and_cleans_up(t: &TestDatabase) {
        let app = app(t, 30).await;
        let dropped_before = DROPPED.load(Ordering::SeqCst);
        let held = dispatch(&app, DispatchRequest::new("test.hold").exclusive(["r"])).await.expect("dispatch");
        let next = dispatch(&app, DispatchRequest::new(builtin::NOOP).exclusive(["r"])).await.expect("dispatch");
        let stop = CancellationToken::new();
        let running = tokio::spawn(worker(&app, "w@test", false).run(stop.clone()));
        let held = wait_for(&app, &held, |t| t.state == TaskState::Running).await;
        let started = std::time::Instant::now();
        let canceling = cancel(&app, held.pulp_id).await.expect("cancel");
        assert_eq!(canceling.state, TaskState::Canceling);
        let ended = wait_for(&app, &held, |t| t.state.is_final()).await;
        assert_eq!(ended.state, TaskState::Canceled);
        assert!(started.elapsed() < Duration::from_secs(5), "cancel took {:?}", started.elapsed());
        assert!(DROPPED.load(Ordering::SeqCst) > dropped_before, "the task's future was not dropped");
        let workdir = app.settings().effective_working_directory().join(format!("task-{}", held.pulp_id));
        assert!(!workdir.exists(), "working directory left behind");
        let next = wait_for(&app, &next, |t| t.state.is_final()).await;
        assert_eq!(next.state, TaskState::Completed, "the reservation was not released");
        stop.cancel();
        running.await.expect("join").expect("worker");
    }

    async fn immediate_tasks_run_at_once_or_are_deferred_or_canceled(t: &TestDatabase) {
        let app = app(t, 30).await;
        let ran = dispatch(&app, DispatchRequest::new("test.create").exclusive(["r"]).immediate(true)).await.expect("dispatch");
        assert_eq!(ran.state, TaskState::Completed, "an immediate task with free resources runs in the dispatcher");
        assert_eq!(ran.worker.as_deref(), Some(app.process_name()));
        let _busy = dispatch(&app, sleep(0.1).exclusive(["r"])).await.expect("busy");
        let skipped = dispatch(&app, DispatchRequest::new(builtin::NOOP).exclusive(["r"]).immediate(true).deferred(false))
            .await.expect("dispatch");
        assert_eq!(skipped.state, TaskState::Canceled);
        assert_eq!(skipped.error.as_ref().and_then(|e| e["description"].as_str()), Some("Resources temporarily unavailable."));
        let deferred = dispatch(&app, DispatchRequest::new(builtin::NOOP).exclusive(["r"]).immediate(true))
            .await.expect("dispatch");
        assert_eq!(deferred.state, TaskState::Waiting);
        drain(&app).await;
        assert_eq!(deferred.refresh(app.db()).await.expect("refresh").state, TaskState::Completed);
    }

    async fn progress_reports_and_child_tasks_are_recorded(t: &TestDatabase) {
        let app = app(t, 30).await;
        let task = dispatch(&app, DispatchRequest::new("test.progress")).await.expect("dispatch");
        let parent = dispatch(&app, DispatchRequest::new("test.parent")).await.expect("dispatch");
        drain(&app).await;
        let reports = ProgressReport::of_task(app.db(), task.pulp_id).await.expect("reports");
        assert_eq!(reports.len(), 2);
        assert_eq!((reports[0].code.as_str(), reports[0].total, reports[0].done), ("sync.downloading.artifacts", Some(3), 3));
        assert!(reports.iter().all(|r| r.state == "completed"), "{reports:?}");
        let parent = parent.refresh(app.db()).await.expect("refresh");
        let child_id: pulp_core::db::PulpId = serde_json::from_value(parent.result.expect("result")["child"].clone()).expect("id");
        let child = Task::get(app.db(), child_id).await.expect("child");
        assert_eq!(child.parent_task, Some(parent.pulp_id));
        assert_eq!(child.state, TaskState::Completed);
    }

    async fn group_progress_is_incremented_atomically(t: &TestDatabase) {
        let app = app(t, 30).await;
        let group = tasking::create_task_group(app.db(), "twenty steps").await.expect("group");
        TaskGroup::add_progress(app.db(), group, "Steps", "steps", Some(20)).await.expect("progress");
        for _ in 0..20 {
            dispatch(&app, DispatchRequest::new("test.group_step").task_group(group)).await.expect("dispatch");
        }
        tasking::mark_group_dispatched(app.db(), group).await.expect("dispatched");
        let stop = CancellationToken::new();
        let workers: Vec<_> = (0..4).map(|i| tokio::spawn(worker(&app, &format!("g{i}"), true).run(stop.clone()))).collect();
        let mut ran = 0;
        for w in workers { ran += w.await.expect("join").expect("worker"); }
        assert_eq!(ran, 20);
        let progress = TaskGroup::progress(app.db(), group).await.expect("progress");
        assert_eq!((progress[0].done, progress[0].total), (20, Some(20)));
        assert!(TaskGroup::get(app.db(), group).await.expect("group").all_tasks_dispatched);
    }

    async fn a_worker_that_stops_heartbeating_has_its_task_failed_and_resources_freed(t: &TestDatabase) {
        let app = app(t, 1).await;
        let held = dispatch(&app, DispatchRequest::new("test.hold").exclusive(["r"])).await.expect("dispatch");
        let next = dispatch(&app, DispatchRequest::new(builtin::NOOP).exclusive(["r"])).await.expect("dispatch");
        // A worker that vanishes mid-task: its future is dropped without any cleanup running
        // in the database, as a killed process would leave it.
        let ghost = tokio::spawn(worker(&app, "ghost@test", false).run(CancellationToken::new()));
        wait_for(&app, &held, |t| t.state == TaskState::Running).await;
        ghost.abort();
        let _ = ghost.await;
        let stop = CancellationToken::new();
        let survivor = tokio::spawn(worker(&app, "survivor@test", false).run(stop.clone()));
        let failed = wait_for(&app, &held, |t| t.state.is_final()).await;
        assert_eq!(failed.state, TaskState::Failed);
        assert_eq!(
            failed.error.as_ref().and_then(|e| e["description"].as_str()),
            Some("worker ghost@test has gone missing")
        );
        assert_eq!(wait_for(&app, &next, |t| t.state.is_final()).await.state, TaskState::Completed);
        stop.cancel();
        survivor.await.expect("join").expect("worker");
    }
}
