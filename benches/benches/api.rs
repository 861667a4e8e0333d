//! REST API figures (issue 6), on SQLite and, when `PULP_TEST_POSTGRES_URL` is set, PostgreSQL:
//! - the latency of listing 100 file units (first page and a deep page) of a 100,000-unit
//!   content table, over HTTP on loopback (median and 95th percentile of 300 requests), and
//!   of the same list filtered by `relative_path__regex` / `__iregex`;
//! - requests per second of `GET /status/` and of that list, measured with `wrk -t2 -c16 -d5s`
//!   (when `wrk` is installed).
//!
//! Run: `cargo bench -p pulp-benches --bench api` (a smoke run with `cargo test --benches`
//! uses 1,000 units and skips wrk).

use std::process::Command;
use std::time::{Duration, Instant};

use pulp_core::settings::SettingsSources;
use pulp_core::testing::TestDatabase;
use pulp_core::App;
use pulp_file::FileContent;

fn measuring() -> bool {
    std::env::args().any(|a| a == "--bench")
}

const AUTH: &str = "Basic YWRtaW46cGFzc3dvcmQ="; // admin:password

async fn serve(db: &TestDatabase, units: usize) -> pulp_core::testing::ServedApi {
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(pulp_file::FilePlugin)
        .build_with(db.settings())
        .await
        .expect("build app");
    app.migrate().await.expect("migrate");
    let mut next = 0;
    while next < units {
        let end = (next + 10_000).min(units);
        let batch: Vec<FileContent> = (next..end)
            .map(|i| FileContent {
                relative_path: format!("dir{}/file-{i}.bin", i % 100),
                digest: format!("{i:064x}"),
            })
            .collect();
        pulp_core::models::save_content(app.db(), batch)
            .await
            .expect("seed content");
        next = end;
    }
    // A table that has lived a while has been vacuumed (autovacuum): PostgreSQL counts and
    // pages through it with index-only scans. A freshly filled one is measured separately.
    if let pulp_core::db::Database::Postgres(pool) = app.db() {
        if std::env::var_os("PULP_BENCH_NO_VACUUM").is_none() {
            for table in ["core_content", "file_filecontent", "core_contentartifact"] {
                sqlx::query(&format!("VACUUM ANALYZE {table}"))
                    .execute(pool)
                    .await
                    .expect("vacuum");
            }
        }
    }
    pulp_core::testing::serve_api(&app).await
}

async fn latencies(client: &reqwest::Client, url: &str, n: usize) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let start = Instant::now();
        let response = client
            .get(url)
            .header("authorization", AUTH)
            .send()
            .await
            .expect("send");
        assert!(
            response.status().is_success(),
            "{url}: {}",
            response.status()
        );
        let body = response.bytes().await.expect("body");
        assert!(!body.is_empty());
        times.push(start.elapsed());
    }
    times.sort();
    (times[n / 2], times[n * 95 / 100])
}

fn wrk(url: &str) -> Option<String> {
    let output = Command::new("wrk")
        .args([
            "-t2",
            "-c16",
            "-d5s",
            "-H",
            &format!("Authorization: {AUTH}"),
            url,
        ])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let rate = text
        .lines()
        .find(|l| l.starts_with("Requests/sec:"))
        .map(|l| l.trim_start_matches("Requests/sec:").trim().to_string())?;
    // Failed requests are quick: a rate that counts them would flatter the server.
    let failed = text
        .lines()
        .find(|l| l.trim_start().starts_with("Non-2xx or 3xx responses:"))
        .map(|l| format!(", {}", l.trim()))
        .unwrap_or_default();
    Some(format!("{rate}{failed}"))
}

async fn run(name: &str, db: TestDatabase, units: usize) {
    let seeding = Instant::now();
    let served = serve(&db, units).await;
    let base = served.base.clone();
    eprintln!("{name}: seeded {units} units in {:.1?}", seeding.elapsed());
    let client = reqwest::Client::new();
    let first = format!("{base}/pulp/api/v3/content/file/files/?limit=100");
    let deep = format!(
        "{base}/pulp/api/v3/content/file/files/?limit=100&offset={}",
        units / 2
    );
    let filtered =
        format!("{base}/pulp/api/v3/content/file/files/?limit=100&relative_path__contains=dir7/");
    // Regular-expression lookups (SQLite's registered REGEXP, PostgreSQL's `~`/`~*`) over
    // every unit: the count evaluates the pattern on each row.
    let regex = format!(
        "{base}/pulp/api/v3/content/file/files/?limit=100&relative_path__regex=%5Edir7%2Ffile-1%5B0-9%5D*%5C.bin%24"
    );
    let iregex = format!(
        "{base}/pulp/api/v3/content/file/files/?limit=100&relative_path__iregex=DIR7%2FFILE-1"
    );
    let samples = if measuring() { 300 } else { 20 };
    for (label, url) in [
        ("first page", &first),
        ("middle page", &deep),
        ("filtered page", &filtered),
        ("regex page", &regex),
        ("iregex page", &iregex),
    ] {
        let (median, p95) = latencies(&client, url, samples).await;
        println!("{name}: list 100 of {units} units ({label}): median {median:.2?}, p95 {p95:.2?}");
    }
    if measuring() {
        for (label, url) in [
            ("GET /status/", format!("{base}/pulp/api/v3/status/")),
            ("GET list of 100", first.clone()),
        ] {
            match wrk(&url) {
                Some(rps) => println!("{name}: {label}: {rps} requests/s (wrk -t2 -c16 -d5s)"),
                None => println!("{name}: {label}: wrk not available"),
            }
        }
    }
    drop(served);
    db.cleanup().await;
}

fn main() {
    let units = if measuring() { 100_000 } else { 1_000 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        run("sqlite", TestDatabase::sqlite().await, units).await;
        if let Some(db) = TestDatabase::postgres().await {
            run("postgres", db, units).await;
        }
    });
}
