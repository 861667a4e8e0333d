//! Administration commands: `migrate`, `reset-admin-password`, `set-user-password`,
//! `worker --burst`.

mod support;

use std::time::Duration;

use pulp_core::auth::Users;
use pulp_core::testing::TestDatabase;
use support::{binary_in, run_with_limit};

fn run(t: &TestDatabase, args: &[&str]) -> std::process::Output {
    let mut command = binary_in(t.dir.path());
    command.env("PULP_DATABASE_URL", &t.url).args(args);
    run_with_limit(command, Duration::from_secs(60))
}

pulp_core::db_tests! {
    async fn migrate_applies_then_has_nothing_to_do(t: &TestDatabase) {
        let first = run(t, &["migrate"]);
        assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
        let ledger = t.db.applied_migrations().await.expect("ledger");
        assert!(ledger.len() >= pulp_core::db::core_migrations().len(), "{ledger:?}");
        assert!(ledger.iter().any(|m| m.app == "file"), "the file plugin's migrations ran: {ledger:?}");
        assert_eq!(String::from_utf8_lossy(&first.stdout).trim(), format!("applied {} migration(s)", ledger.len()));
        let second = run(t, &["migrate"]);
        assert_eq!(String::from_utf8_lossy(&second.stdout).trim(), "applied 0 migration(s)");
    }

    async fn reset_admin_password_sets_a_given_or_random_password(t: &TestDatabase) {
        let given = run(t, &["reset-admin-password", "--password", "s3cret-Pass"]);
        assert!(given.status.success(), "{}", String::from_utf8_lossy(&given.stderr));
        let users = Users::new(&t.db);
        assert!(users.verify("admin", "s3cret-Pass").await.expect("verify"));

        let random = run(t, &["reset-admin-password", "--random"]);
        assert!(random.status.success());
        let stdout = String::from_utf8_lossy(&random.stdout);
        let password = stdout.trim().strip_prefix("admin password: ").expect("printed password");
        assert_eq!(password.len(), 24);
        assert!(users.verify("admin", password).await.expect("verify"));
        assert!(!users.verify("admin", "s3cret-Pass").await.expect("verify"));

        let neither = run(t, &["reset-admin-password"]);
        assert_eq!(neither.status.code(), Some(2), "clap usage error expected");
        let both = run(t, &["reset-admin-password", "--random", "--password", "x"]);
        assert_eq!(both.status.code(), Some(2));
    }

    async fn set_user_password_creates_users_who_are_not_superusers_unless_asked(t: &TestDatabase) {
        let output = run(t, &["set-user-password", "alice", "--password", "alice-Pass1"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let users = Users::new(&t.db);
        let alice = users.stored("alice").await.expect("read").expect("alice exists");
        assert!(!alice.is_superuser);
        assert!(users.verify("alice", "alice-Pass1").await.expect("verify"));
        let output = run(t, &["set-user-password", "bob", "--superuser", "--random"]);
        assert!(output.status.success());
        let stdout = String::from_utf8_lossy(&output.stdout);
        let password = stdout.trim().strip_prefix("bob password: ").expect("printed password");
        assert!(users.verify("bob", password).await.expect("verify"));
        assert!(users.stored("bob").await.expect("read").expect("bob").is_superuser);
        let output = run(t, &["set-user-password", "bob", "--password", "bob-Pass2"]);
        assert!(output.status.success());
        assert!(users.stored("bob").await.expect("read").expect("bob").is_superuser, "a new password keeps bob a superuser");
        assert!(users.verify("bob", "bob-Pass2").await.expect("verify"));
        let empty = run(t, &["set-user-password", " ", "--random"]);
        assert!(!empty.status.success());
        assert!(String::from_utf8_lossy(&empty.stderr).contains("user name is empty"));
    }

    async fn roles_other_than_serve_refuse_an_unmigrated_database(t: &TestDatabase) {
        for role in [&["worker", "--burst"][..], &["api"], &["content"]] {
            let output = run(t, role);
            assert!(!output.status.success(), "{role:?} started on an unmigrated database");
            let stderr = String::from_utf8_lossy(&output.stderr);
            let line = stderr.lines().find(|l| l.starts_with("pulp-server:")).unwrap_or_default();
            assert!(line.contains("lacks migration core.0001_initial"), "{role:?}: {stderr}");
            assert!(line.contains("pulp-server migrate"), "{line}");
        }
        assert!(t.db.applied_migrations().await.expect("ledger").is_empty(), "nothing migrated");
    }

    async fn check_names_each_problem_and_passes_when_ready(t: &TestDatabase) {
        let output = run(t, &["check"]);
        assert!(!output.status.success());
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(stdout.contains("lacks") && stdout.contains("migration"), "{stdout}");
        assert!(stdout.contains("content_origin"), "{stdout}");
        assert!(run(t, &["migrate"]).status.success());
        let mut command = binary_in(t.dir.path());
        command
            .env("PULP_DATABASE_URL", &t.url)
            .env("PULP_CONTENT_ORIGIN", "https://pulp.example.org")
            .arg("check");
        let output = run_with_limit(command, Duration::from_secs(60));
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
        assert_eq!(stdout.trim(), "ready");
    }

    async fn a_burst_worker_exits_when_the_queue_is_empty(t: &TestDatabase) {
        assert!(run(t, &["migrate"]).status.success());
        let output = run(t, &["worker", "--burst"]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let remaining: i64 = pulp_core::on_pool!(&t.db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM core_appstatus").fetch_one(pool).await.expect("count")
        });
        assert_eq!(remaining, 0, "the burst worker unregisters");
    }
}
