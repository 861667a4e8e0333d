//! Repository versions at scale, on SQLite and PostgreSQL:
//! - a version adding `ADD` (100,000) new units to a repository of `BASE` (1,000,000) units;
//! - one page of 100 units of the `BASE`-unit version (first page, and a deep offset);
//! - peak memory of the process while doing so.
//!
//! ```sh
//! PULP_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo bench -p pulp-benches --bench repository_versions
//! # smaller: BENCH_BASE=100000 BENCH_ADD=10000; one backend: BENCH_BACKENDS=sqlite
//! ```
//! Content is created through `save_content` (the pipeline's path) and membership through
//! `NewVersion` (the modify/sync path), with pulp-file's repo-key de-duplication running.

use std::time::{Duration, Instant};

use pulp_file::{FileContent, FilePlugin, FileRepository};
use pulp_plugin_api::models::{self, Labels, Model, RepositoryFields};
use pulp_plugin_api::repository::{version_content, version_content_ids, NewVersion};
use pulp_plugin_api::testing::TestDatabase;
use pulp_plugin_api::{on_pool, App, Backend, PulpId, Settings, SettingsSources};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident and peak resident memory of this process, in MiB (Linux).
fn memory_mib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map(|kib| kib / 1024)
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn reset_peak() {
    // Writing 5 to clear_refs resets VmHWM to the current RSS.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn unit(i: usize) -> FileContent {
    FileContent {
        relative_path: format!("dir{}/file-{i}.bin", i % 1000),
        digest: format!("{i:064x}"),
    }
}

async fn save_units(app: &App, range: std::ops::Range<usize>) -> Vec<PulpId> {
    let mut ids = Vec::with_capacity(range.len());
    let mut start = range.start;
    while start < range.end {
        let end = (start + 20_000).min(range.end);
        let saved = models::save_content(app.db(), (start..end).map(unit).collect())
            .await
            .expect("save content");
        ids.extend(saved.iter().map(Model::pulp_id));
        start = end;
    }
    ids
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn run(backend: Backend, base: usize, add: usize) {
    let Some(t) = TestDatabase::of(backend).await else {
        println!("{backend}: skipped (PULP_TEST_POSTGRES_URL not set)");
        return;
    };
    let settings = Settings {
        database_url: Some(t.url.clone()),
        data_dir: t.dir.path().to_path_buf(),
        ..Settings::default()
    };
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(FilePlugin)
        .build_with(settings)
        .await
        .expect("app");
    app.migrate().await.expect("migrate");
    let repo = models::create(
        app.db(),
        Labels::new(),
        RepositoryFields::new("bench"),
        FileRepository::default(),
    )
    .await
    .expect("repository")
    .pulp_id();

    let started = Instant::now();
    let base_ids = save_units(&app, 0..base).await;
    let saved_base = started.elapsed();
    let started = Instant::now();
    let mut v = NewVersion::start(&app, repo).await.expect("start");
    v.add_content(&base_ids).await.expect("add");
    let v1 = v.commit().await.expect("commit").expect("version 1");
    let made_v1 = started.elapsed();
    drop(base_ids);
    let new_ids = save_units(&app, base..base + add).await;
    if backend == Backend::Postgres {
        // What autovacuum does after a bulk load: fresh planner statistics.
        on_pool!(app.db(), pool => sqlx_analyze(pool).await);
    }
    println!(
        "{backend}: setup: saved {base} units in {:.1} s, version 1 with {base} units in {:.1} s",
        saved_base.as_secs_f64(),
        made_v1.as_secs_f64()
    );

    reset_peak();
    let (rss_before, _) = memory_mib();
    let started = Instant::now();
    let mut v = NewVersion::start(&app, repo).await.expect("start");
    let opened = started.elapsed();
    v.add_content(&new_ids).await.expect("add");
    let added = started.elapsed();
    let v2 = v.commit().await.expect("commit").expect("version 2");
    let made_v2 = started.elapsed();
    println!(
        "{backend}:   (start {}, add_content {}, commit incl. de-duplication {})",
        ms(opened),
        ms(added - opened),
        ms(made_v2 - added)
    );
    let (_, peak) = memory_mib();
    assert_eq!(v2.counts.total() as usize, base + add);
    println!(
        "{backend}: version adding {add} units to a repository of {base}: {} (target < 2000 ms); \
         RSS {rss_before} MiB before, peak {peak} MiB during",
        ms(made_v2)
    );

    for (label, offset) in [("first page", 0), ("middle page", base as i64 / 2)] {
        let mut times = Vec::new();
        for _ in 0..7 {
            let started = Instant::now();
            let page: Vec<Model<FileContent>> = version_content(app.db(), &v1, 100, offset)
                .await
                .expect("page");
            times.push(started.elapsed());
            assert_eq!(page.len(), 100);
        }
        times.sort();
        let started = Instant::now();
        let typed_ids = pulp_plugin_api::repository::version_content_of_type(
            app.db(),
            &v1,
            "file.file",
            100,
            offset,
        )
        .await
        .expect("typed ids");
        let typed_ids_time = started.elapsed();
        let started = Instant::now();
        let _ = models::get_many::<FileContent>(app.db(), &typed_ids)
            .await
            .expect("get_many");
        println!(
            "{backend}:   (ids of one type {}, loading 100 units {})",
            ms(typed_ids_time),
            ms(started.elapsed())
        );
        let mut id_times = Vec::new();
        for _ in 0..7 {
            let started = Instant::now();
            let ids = version_content_ids(app.db(), &v1, 100, offset)
                .await
                .expect("ids");
            id_times.push(started.elapsed());
            assert_eq!(ids.len(), 100);
        }
        id_times.sort();
        println!(
            "{backend}: {label} (offset {offset}) of 100 units of the {base}-unit version: \
             {} median, {} max typed units; ids only {} median (target < 50 ms)",
            ms(times[3]),
            ms(times[6]),
            ms(id_times[3])
        );
    }
    // Keyset pagination: the page after the middle unit, whatever its depth.
    let middle = version_content_ids(app.db(), &v1, 1, base as i64 / 2)
        .await
        .expect("middle");
    let mut times = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        let ids = pulp_plugin_api::repository::version_content_ids_after(
            app.db(),
            &v1,
            middle.first().copied(),
            100,
        )
        .await
        .expect("after");
        let page: Vec<Model<FileContent>> = models::get_many(app.db(), &ids).await.expect("units");
        times.push(started.elapsed());
        assert_eq!(page.len(), 100);
    }
    times.sort();
    println!(
        "{backend}: keyset page (after the middle unit) of 100 units of the {base}-unit version: {} median, {} max",
        ms(times[3]),
        ms(times[6])
    );
    drop(app);
    if let (Ok(to), Backend::Sqlite) = (std::env::var("BENCH_KEEP_SQLITE"), backend) {
        let _ = std::fs::copy(t.dir.path().join("pulp.db"), to);
    }
    t.cleanup().await;
}

async fn sqlx_analyze<'e, E>(executor: E)
where
    E: pulp_plugin_api::deps::sqlx::Executor<'e>,
{
    let _ = executor.execute("ANALYZE").await;
}

fn main() {
    let base = env_usize("BENCH_BASE", 1_000_000);
    let add = env_usize("BENCH_ADD", 100_000);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for name in backends.split(',') {
        let backend = match name.trim() {
            "sqlite" => Backend::Sqlite,
            "postgres" => Backend::Postgres,
            other => panic!("unknown backend {other}"),
        };
        runtime.block_on(run(backend, base, add));
    }
}
