//! Database: migrations on SQLite and PostgreSQL, ids, heartbeats and users.

use std::time::Duration;

use pulp_core::auth::Users;
use pulp_core::db::{DbError, Migration, PulpId};
use pulp_core::on_pool;
use pulp_core::status::{AppType, Heartbeat};
use pulp_core::testing::TestDatabase;

fn core_migrations() -> Vec<Migration> {
    pulp_core::db::core_migrations()
}

const PLUGIN_MIGRATIONS: [Migration; 2] = [
    Migration {
        app: "demo",
        name: "0001_items",
        sqlite: "CREATE TABLE demo_item (pulp_id TEXT PRIMARY KEY, name TEXT NOT NULL);",
        postgres: "CREATE TABLE demo_item (pulp_id UUID PRIMARY KEY, name TEXT NOT NULL);",
    },
    Migration {
        app: "demo",
        name: "0002_index",
        sqlite: "CREATE UNIQUE INDEX demo_item_name ON demo_item (name);",
        postgres: "CREATE UNIQUE INDEX demo_item_name ON demo_item (name);",
    },
];

async fn table_exists(t: &TestDatabase, table: &str) -> bool {
    let probe = format!("SELECT COUNT(*) FROM {table}");
    on_pool!(&t.db, pool => sqlx::query(&probe).execute(pool).await.is_ok())
}

pulp_core::db_tests! {
    async fn migrations_apply_once_in_order(t: &TestDatabase) {
        let mut all = core_migrations();
        all.extend(PLUGIN_MIGRATIONS);
        let applied = t.db.migrate(&all).await.expect("migrate");
        let names: Vec<String> = applied.iter().map(|m| format!("{}.{}", m.app, m.name)).collect();
        let mut expected: Vec<String> =
            core_migrations().iter().map(|m| format!("core.{}", m.name)).collect();
        expected.extend(["demo.0001_items".to_string(), "demo.0002_index".to_string()]);
        assert_eq!(names, expected);
        assert_eq!(names[0], "core.0001_initial");
        for table in ["core_appstatus", "core_user", "core_pulptemporaryfile", "demo_item"] {
            assert!(table_exists(t, table).await, "{table} missing");
        }
        let again = t.db.migrate(&all).await.expect("second migrate");
        assert!(again.is_empty(), "nothing is applied twice: {again:?}");
        assert_eq!(t.db.applied_migrations().await.expect("ledger").len(), all.len());
        // The unique index of the second plugin migration is in force.
        on_pool!(&t.db, pool => {
            sqlx::query("INSERT INTO demo_item (pulp_id, name) VALUES ($1, 'x')")
                .bind(PulpId::new()).execute(pool).await.expect("first insert");
            let duplicate = sqlx::query("INSERT INTO demo_item (pulp_id, name) VALUES ($1, 'x')")
                .bind(PulpId::new()).execute(pool).await;
            assert!(duplicate.is_err(), "unique index missing");
        });
    }

    async fn a_failing_migration_leaves_nothing_behind(t: &TestDatabase) {
        let broken = Migration {
            app: "demo",
            name: "0003_broken",
            sqlite: "CREATE TABLE demo_half (id INTEGER); CREATE TABLE demo_broken (;",
            postgres: "CREATE TABLE demo_half (id INTEGER); CREATE TABLE demo_broken (;",
        };
        let mut all = core_migrations();
        all.push(broken);
        match t.db.migrate(&all).await {
            Err(DbError::Migration { app, name, .. }) => {
                assert_eq!((app.as_str(), name.as_str()), ("demo", "0003_broken"));
            }
            other => panic!("expected a migration error, got {other:?}"),
        }
        assert!(!table_exists(t, "demo_half").await, "half of a failed migration was kept");
        assert!(!table_exists(t, "core_appstatus").await, "a failed run is all or nothing");
        assert!(t.db.applied_migrations().await.expect("ledger").is_empty());
        // Fixed, the run applies.
        let applied = t.db.migrate(&core_migrations()).await.expect("migrate");
        assert_eq!(applied.len(), core_migrations().len());
    }

    async fn concurrent_migration_runs_apply_each_migration_once(t: &TestDatabase) {
        let mut all = core_migrations();
        all.extend(PLUGIN_MIGRATIONS);
        let other = match pulp_core::db::Database::connect(&t.url).await {
            Ok(db) => db,
            Err(e) => panic!("second handle: {e}"),
        };
        let (a, b) = tokio::join!(t.db.migrate(&all), other.migrate(&all));
        let (a, b) = (a.expect("first runner"), b.expect("second runner"));
        assert_eq!(a.len() + b.len(), all.len(), "each migration applied exactly once: {a:?} {b:?}");
        other.close().await;
    }

    async fn pulp_ids_round_trip(t: &TestDatabase) {
        t.db.migrate(&core_migrations()).await.expect("migrate");
        let id = PulpId::new();
        on_pool!(&t.db, pool => {
            sqlx::query("INSERT INTO core_pulptemporaryfile (pulp_id, file, size, sha256, pulp_created) VALUES ($1, 'tmp/x', 3, 'abc', $2)")
                .bind(id).bind(chrono::Utc::now()).execute(pool).await.expect("insert");
            let back: PulpId = sqlx::query_scalar("SELECT pulp_id FROM core_pulptemporaryfile WHERE pulp_id = $1")
                .bind(id).fetch_one(pool).await.expect("select");
            assert_eq!(back, id);
        });
    }

    async fn heartbeats_are_online_until_the_ttl_passes(t: &TestDatabase) {
        t.db.migrate(&core_migrations()).await.expect("migrate");
        let versions = serde_json::json!({ "core": "3.123.1" });
        let worker = Heartbeat::register(&t.db, AppType::Worker, "1@a".into(), versions.clone()).await.expect("register");
        let api = Heartbeat::register(&t.db, AppType::Api, "1@a".into(), versions.clone()).await.expect("register");
        let online = Heartbeat::online(&t.db, AppType::Worker, Duration::from_secs(30)).await.expect("online");
        assert_eq!(online.len(), 1);
        assert_eq!(online[0].name, "1@a");
        assert_eq!(online[0].versions, versions);
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let stale = Heartbeat::online(&t.db, AppType::Worker, Duration::from_secs(1)).await.expect("online");
        assert!(stale.is_empty(), "a silent worker is not online: {stale:?}");
        worker.beat().await.expect("beat");
        let fresh = Heartbeat::online(&t.db, AppType::Worker, Duration::from_secs(1)).await.expect("online");
        assert_eq!(fresh.len(), 1, "a beat brings it back");
        worker.unregister().await.expect("unregister");
        assert!(Heartbeat::online(&t.db, AppType::Worker, Duration::from_secs(30)).await.expect("online").is_empty());
        assert_eq!(Heartbeat::online(&t.db, AppType::Api, Duration::from_secs(30)).await.expect("online").len(), 1);
        api.unregister().await.expect("unregister");
    }

    async fn passwords_are_hashed_and_checked(t: &TestDatabase) {
        t.db.migrate(&core_migrations()).await.expect("migrate");
        let users = Users::new(&t.db);
        assert!(!users.exists("admin").await.expect("exists"));
        users.set_password("admin", "first secret", true).await.expect("set");
        assert!(users.verify("admin", "first secret").await.expect("verify"));
        assert!(!users.verify("admin", "wrong").await.expect("verify"));
        assert!(!users.verify("nobody", "first secret").await.expect("verify"));
        users.set_password("admin", "second", true).await.expect("reset");
        assert!(!users.verify("admin", "first secret").await.expect("verify"));
        assert!(users.verify("admin", "second").await.expect("verify"));
        let stored: String = on_pool!(&t.db, pool => sqlx::query_scalar("SELECT password FROM core_user WHERE username = 'admin'")
            .fetch_one(pool).await.expect("select"));
        assert!(stored.starts_with("$argon2"), "not an argon2 hash: {stored}");
        assert!(!stored.contains("second"));
        assert!(users.set_password("admin", "", true).await.is_err(), "empty passwords are refused");
    }
}

/// SQLite's memory is bounded for the whole process, not per pooled connection.
#[tokio::test]
async fn sqlite_memory_has_one_bound_for_the_process() {
    let t = TestDatabase::sqlite().await;
    let limits: Vec<i64> = on_pool!(&t.db, pool => {
        let mut connections = Vec::new();
        for _ in 0..2 {
            // Two connections at once: each reports the process-wide limit.
            connections.push(pool.acquire().await.expect("connection"));
        }
        let mut values = Vec::new();
        for conn in &mut connections {
            let limit: i64 = sqlx::query_scalar("PRAGMA soft_heap_limit")
                .fetch_one(&mut **conn)
                .await
                .expect("pragma");
            values.push(limit);
        }
        values
    });
    assert_eq!(limits, [32 * 1024 * 1024; 2]);
    t.cleanup().await;
}
