//! RBAC figures (issue 21), on SQLite and, when `PULP_TEST_POSTGRES_URL` is set, PostgreSQL.
//! 100,000 file repositories are seeded directly in bulk; user `alice` (not a superuser)
//! holds `file.filerepository_owner` on every other one (50,000 object roles), and 100
//! custom roles exist, all assigned to her on one repository. Over HTTP on loopback
//! (median and 95th percentile of 300 requests, Basic credentials verified once and then
//! remembered, as the server does):
//! - alice lists a page of 100 of her repositories (the count of 50,000 included), and the
//!   administrator the same page of all 100,000;
//! - alice and the administrator read one repository;
//! - alice reads `my_permissions/` of the repository with 100 roles on it;
//! - in process: one permission check (`rbac::has_perm`, global or on the object), the
//!   median of 2,000.
//!
//! Run: `cargo bench -p pulp-benches --bench rbac` (`cargo test -p pulp-benches --bench rbac`
//! is a smoke run on 1,000 repositories).

use std::time::{Duration, Instant};

use pulp_core::db::{Database, PulpId};
use pulp_core::deps::chrono::{Duration as Span, Utc};
use pulp_core::rbac::{has_perm, my_permissions, Level};
use pulp_core::settings::SettingsSources;
use pulp_core::testing::TestDatabase;
use pulp_core::App;

fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

const ADMIN: (&str, &str) = ("admin", "password");
const ALICE: (&str, &str) = ("alice", "alice-password");
const BATCH: usize = 500;

/// Runs `head VALUES row, row…` (`{k}`: the row's k-th value) once per chunk of rows, each
/// row's values bound in order.
async fn insert_rows(db: &Database, head: &str, row: &str, rows: &[Vec<Bound>]) {
    for chunk in rows.chunks(BATCH) {
        let width = chunk[0].len();
        let values: Vec<String> = (0..chunk.len())
            .map(|r| {
                let mut text = row.to_string();
                for k in 1..=width {
                    text = text.replace(&format!("{{{k}}}"), &format!("${}", r * width + k));
                }
                text
            })
            .collect();
        let sql = format!("{head} VALUES {}", values.join(", "));
        pulp_core::on_pool!(db, pool => {
            let mut query = sqlx::query(&sql);
            for row in chunk {
                for value in row {
                    query = match value {
                        Bound::Id(id) => query.bind(*id),
                        Bound::Text(text) => query.bind(text.clone()),
                        Bound::Time(t) => query.bind(*t),
                    };
                }
            }
            if let Err(e) = query.execute(pool).await {
                panic!("{e}: {} ({} rows)", &sql[..sql.len().min(300)], chunk.len());
            }
        });
    }
}

enum Bound {
    Id(PulpId),
    Text(String),
    Time(pulp_core::deps::chrono::DateTime<Utc>),
}

struct Seeded {
    held: PulpId,
    alice: PulpId,
}

async fn seed(app: &App, repositories: usize) -> Seeded {
    let db = app.db();
    pulp_core::auth::Users::new(db)
        .set_password(ALICE.0, ALICE.1, false)
        .await
        .expect("alice");
    let alice: PulpId = pulp_core::on_pool!(db, pool => {
        sqlx::query_scalar("SELECT pulp_id FROM core_user WHERE username = $1")
            .bind(ALICE.0)
            .fetch_one(pool)
            .await
            .expect("alice's id")
    });
    let owner: PulpId = pulp_core::on_pool!(db, pool => {
        sqlx::query_scalar("SELECT pulp_id FROM core_role WHERE name = 'file.filerepository_owner'")
            .fetch_one(pool)
            .await
            .expect("owner role")
    });
    let start = Utc::now() - Span::days(1);
    let ids: Vec<PulpId> = (0..repositories).map(|_| PulpId::new()).collect();
    let at = |i: usize| start + Span::milliseconds(i as i64);
    let repos: Vec<Vec<Bound>> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            vec![
                Bound::Id(*id),
                Bound::Time(at(i)),
                Bound::Text(format!("repo-{i:06}")),
            ]
        })
        .collect();
    insert_rows(
        db,
        "INSERT INTO core_repository (pulp_id, pulp_type, pulp_created, pulp_last_updated, name, next_version)",
        "({1}, 'file.file', {2}, {2}, {3}, 1)",
        &repos,
    )
    .await;
    let details: Vec<Vec<Bound>> = ids.iter().map(|id| vec![Bound::Id(*id)]).collect();
    insert_rows(
        db,
        "INSERT INTO file_filerepository (pulp_id)",
        "({1})",
        &details,
    )
    .await;
    let versions: Vec<Vec<Bound>> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| vec![Bound::Id(PulpId::new()), Bound::Time(at(i)), Bound::Id(*id)])
        .collect();
    insert_rows(
        db,
        "INSERT INTO core_repositoryversion (pulp_id, pulp_created, pulp_last_updated, repository_id, number, complete)",
        "({1}, {2}, {2}, {3}, 0, TRUE)",
        &versions,
    )
    .await;
    // Alice owns every other repository.
    let roles: Vec<Vec<Bound>> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(i, id)| {
            vec![
                Bound::Id(PulpId::new()),
                Bound::Time(at(i)),
                Bound::Id(alice),
                Bound::Id(owner),
                Bound::Text(id.to_string()),
            ]
        })
        .collect();
    insert_rows(
        db,
        "INSERT INTO core_userrole (pulp_id, pulp_created, pulp_last_updated, user_id, role_id, content_type, object_id)",
        "({1}, {2}, {2}, {3}, {4}, 'file.filerepository', {5})",
        &roles,
    )
    .await;
    // 100 roles of the operators' own, all assigned to her on one repository she owns.
    let held = ids[repositories / 2 - repositories / 2 % 2];
    let permissions = [
        "file.view_filerepository",
        "file.sync_filerepository",
        "file.modify_filerepository",
        "file.repair_filerepository",
    ];
    for n in 0..100 {
        let role = pulp_core::rbac::roles::create(
            db,
            &format!("custom-{n:03}"),
            None,
            &[
                permissions[n % 4].to_string(),
                permissions[(n + 1) % 4].to_string(),
            ],
        )
        .await
        .expect("role");
        let _ = role;
        pulp_core::rbac::assign(
            db,
            pulp_core::rbac::Principal::User(alice),
            &format!("custom-{n:03}"),
            Some(pulp_core::rbac::ObjectRef {
                content_type: "file.filerepository".into(),
                object_id: held.to_string(),
            }),
        )
        .await
        .expect("assign");
    }
    if let Database::Postgres(pool) = db {
        for table in [
            "core_repository",
            "file_filerepository",
            "core_repositoryversion",
            "core_userrole",
        ] {
            sqlx::query(&format!("VACUUM ANALYZE {table}"))
                .execute(pool)
                .await
                .expect("vacuum");
        }
    }
    Seeded { held, alice }
}

async fn latencies(
    client: &reqwest::Client,
    user: (&str, &str),
    url: &str,
    n: usize,
) -> (Duration, Duration, serde_json::Value) {
    let mut times = Vec::with_capacity(n);
    let mut last = serde_json::Value::Null;
    for i in 0..n + 10 {
        let start = Instant::now();
        let response = client
            .get(url)
            .basic_auth(user.0, Some(user.1))
            .send()
            .await
            .expect("send");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        let body = response.bytes().await.expect("body");
        // The first ten warm the caches (and verify the password once).
        if i >= 10 {
            times.push(start.elapsed());
        }
        if i == 0 {
            last = serde_json::from_slice(&body).unwrap_or_default();
        }
    }
    times.sort();
    (times[n / 2], times[n * 95 / 100], last)
}

async fn run(name: &str, db: TestDatabase, repositories: usize) {
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(pulp_file::FilePlugin)
        .build_with(db.settings())
        .await
        .expect("build app");
    app.migrate().await.expect("migrate");
    let seeding = Instant::now();
    let seeded = seed(&app, repositories).await;
    eprintln!(
        "{name}: seeded {repositories} repositories in {:.1?}",
        seeding.elapsed()
    );
    let served = pulp_core::testing::serve_api(&app).await;
    let base = format!("{}/pulp/api/v3", served.base);
    let client = reqwest::Client::new();
    let samples = if measuring() { 300 } else { 20 };
    let list = format!("{base}/repositories/file/file/?limit=100");
    let one = format!("{base}/repositories/file/file/{}/", seeded.held);
    let mine = format!("{one}my_permissions/");
    for (label, user, url, count) in [
        (
            "list a page of 100 (alice, 50% held)",
            ALICE,
            &list,
            Some(repositories / 2),
        ),
        (
            "list a page of 100 (admin)",
            ADMIN,
            &list,
            Some(repositories),
        ),
        (
            "list a page of 100 of /repositories/ (alice)",
            ALICE,
            &format!("{base}/repositories/?limit=100"),
            Some(repositories / 2),
        ),
        ("read one repository (alice)", ALICE, &one, None),
        ("read one repository (admin)", ADMIN, &one, None),
        (
            "my_permissions/ with 100 roles on it (alice)",
            ALICE,
            &mine,
            None,
        ),
    ] {
        let (median, p95, body) = latencies(&client, user, url, samples).await;
        if let Some(count) = count {
            assert_eq!(body["count"], count as i64, "{label}");
        }
        println!("{name}: {label}: median {median:.2?}, p95 {p95:.2?}");
    }
    let held = seeded.held.to_string();
    let checks = if measuring() { 2000 } else { 50 };
    let mut times = Vec::with_capacity(checks);
    for _ in 0..checks {
        let start = Instant::now();
        let yes = has_perm(
            app.db(),
            seeded.alice,
            "file.change_filerepository",
            Level::GlobalOrObject(&held),
        )
        .await
        .expect("check");
        times.push(start.elapsed());
        assert!(yes);
    }
    times.sort();
    println!(
        "{name}: one permission check (has_perm, global or object): median {:.3?}, p95 {:.3?}",
        times[checks / 2],
        times[checks * 95 / 100]
    );
    let mut times = Vec::with_capacity(checks);
    for _ in 0..checks {
        let start = Instant::now();
        let held_perms = my_permissions(app.db(), seeded.alice, "file.filerepository", &held)
            .await
            .expect("my_permissions");
        times.push(start.elapsed());
        assert!(held_perms.len() >= 4);
    }
    times.sort();
    println!(
        "{name}: my_permissions query (100 roles on the object): median {:.3?}, p95 {:.3?}",
        times[checks / 2],
        times[checks * 95 / 100]
    );
    drop(served);
    if std::env::var_os("PULP_BENCH_KEEP").is_some() {
        // To look at the query plans afterwards (psql / sqlite3 on this URL).
        eprintln!("{name}: kept {}", db.url);
        return;
    }
    db.cleanup().await;
}

fn main() {
    let repositories = if measuring() { 100_000 } else { 1_000 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        run("sqlite", TestDatabase::sqlite().await, repositories).await;
        if let Some(db) = TestDatabase::postgres().await {
            run("postgres", db, repositories).await;
        }
    });
}
