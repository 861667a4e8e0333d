//! Upgrades: a breaking migration refuses to run while older processes heartbeat (naming
//! them); a task row stored by the previous release is run by today's worker. Both databases.

use pulp_core::db::{Migration, BREAKS_PREVIOUS_RELEASE};
use pulp_core::settings::SettingsSources;
use pulp_core::status::{AppType, Heartbeat};
use pulp_core::tasking::{builtin, Task, TaskState, Worker, WorkerOptions};
use pulp_core::testing::TestDatabase;
use pulp_core::{App, AppError, Registry};
use serde_json::json;
use tokio_util::sync::CancellationToken;

const BREAKING_SQL: &str =
    "-- breaks-previous-release\nALTER TABLE ops_thing ADD COLUMN other TEXT;";

fn first(r: &mut Registry) {
    r.migrations([Migration {
        app: "ops_test",
        name: "0001_thing",
        sqlite: "CREATE TABLE ops_thing (id TEXT PRIMARY KEY);",
        postgres: "CREATE TABLE ops_thing (id TEXT PRIMARY KEY);",
    }]);
}

fn with_breaking(r: &mut Registry) {
    first(r);
    r.migrations([Migration {
        app: "ops_test",
        name: "0002_breaking",
        sqlite: BREAKING_SQL,
        postgres: BREAKING_SQL,
    }]);
}

async fn build(t: &TestDatabase, plugin: fn(&mut Registry)) -> App {
    App::builder(SettingsSources::defaults_only())
        .plugin(plugin)
        .build_with(t.settings())
        .await
        .expect("build app")
}

pulp_core::db_tests! {
    async fn a_breaking_migration_waits_until_older_processes_are_gone(t: &TestDatabase) {
        assert!(BREAKING_SQL.starts_with(BREAKS_PREVIOUS_RELEASE));
        assert!(pulp_core::db::core_migrations().iter().all(|m| !m.breaks_previous_release()),
            "core's migrations so far are all additive");
        let old = build(t, first).await;
        old.migrate().await.expect("first release");
        // A worker of an older release is running.
        let heartbeat = Heartbeat::register(old.db(), AppType::Worker, "7@old-host".into(), json!({"core": "0.0.1"}))
            .await
            .expect("heartbeat");
        // A process of this release is no reason to wait.
        Heartbeat::register(old.db(), AppType::Api, "8@new-host".into(), old.component_versions())
            .await
            .expect("heartbeat");
        let new = build(t, with_breaking).await;
        let error = new.migrate().await.expect_err("refused while the old worker runs");
        let text = error.to_string();
        assert!(matches!(error, AppError::UnsafeUpgrade { .. }), "{text}");
        assert!(text.contains("ops_test.0002_breaking") && text.contains("7@old-host") && !text.contains("8@new-host"), "{text}");
        let pending = new.db().pending_migrations(&new.migrations()).await.expect("pending");
        assert_eq!(pending, ["ops_test.0002_breaking"], "nothing was applied");
        heartbeat.unregister().await.expect("unregister");
        assert_eq!(new.migrate().await.expect("migrate once the old worker is gone"), 1);
        old.db().close().await;
        new.db().close().await;
    }

    async fn an_additive_migration_runs_while_older_processes_heartbeat(t: &TestDatabase) {
        let app = App::builder(SettingsSources::defaults_only()).build_with(t.settings()).await.expect("app");
        app.migrate().await.expect("core");
        Heartbeat::register(app.db(), AppType::Worker, "7@old-host".into(), json!({"core": "0.0.1"}))
            .await
            .expect("heartbeat");
        let more = build(t, first).await;
        assert_eq!(more.migrate().await.expect("additive migration"), 1);
        app.db().close().await;
        more.db().close().await;
    }

    async fn a_task_stored_by_the_previous_release_runs(t: &TestDatabase) {
        let app = App::builder(SettingsSources::defaults_only()).build_with(t.settings()).await.expect("app");
        app.migrate().await.expect("migrate");
        // The row as the first release's dispatch wrote it: only the columns of
        // core_0002_tasking, the task name and argument format it used.
        let id = pulp_core::db::PulpId::new();
        let now = chrono::Utc::now();
        let args = sqlx::types::Json(json!({"finished_before": "2020-01-01T00:00:00Z", "states": ["completed", "failed"]}));
        pulp_core::on_pool!(app.db(), pool => {
            sqlx::query(
                "INSERT INTO core_task (pulp_id, pulp_created, pulp_last_updated, name, state, args, logging_cid, unblocked_at)
                 VALUES ($1, $2, $2, $3, 'waiting', $4, '', $2)",
            )
            .bind(id)
            .bind(now)
            .bind(builtin::PURGE)
            .bind(&args)
            .execute(pool)
            .await
            .expect("stored task");
        });
        let ran = Worker::new(app.clone(), WorkerOptions { burst: true, name: Some("new@test".into()), poll_interval: None })
            .run(CancellationToken::new())
            .await
            .expect("worker");
        assert_eq!(ran, 1);
        let task = Task::get(app.db(), id).await.expect("task");
        assert_eq!(task.state, TaskState::Completed, "{:?}", task.error);
        assert_eq!(task.result, Some(json!({"deleted": 0})));
        app.db().close().await;
    }
}
