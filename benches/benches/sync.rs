//! Sync and publish of pulp-file repositories, in process, on SQLite and PostgreSQL:
//! - an immediate sync of 5,000 new files (1–64 KiB, `/work/shared/bench/make-file-fixture.py`);
//! - an on_demand sync of the same 5,000 files (into a fresh database);
//! - a publish of the 5,000-file version;
//! - peak memory (VmHWM) of on_demand syncs of 10,000 and 100,000 files.
//!
//! The fixture is served over loopback by pulp-core's in-process HTTP server
//! (`testing::http::TestServer`, HTTP/1.1 keep-alive; nginx is not used).
//!
//! ```sh
//! PULP_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo bench -p pulp-benches --bench sync-bench-inprocess
//! # BENCH_FILES=5000 BENCH_MEMORY=10000,100000 BENCH_BACKENDS=sqlite,postgres
//! # BENCH_SKIP_IMMEDIATE=1 (only the on_demand and memory figures), BENCH_REPEAT=5 (on_demand
//! # syncs, each into a fresh database, and their median)
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pulp_file::{FilePlugin, FileRemote, FileRepository};
use pulp_plugin_api::models::{self, Labels, Policy, RemoteFields, RepositoryFields};
use pulp_plugin_api::pipeline::SyncContext;
use pulp_plugin_api::testing::http::TestServer;
use pulp_plugin_api::testing::TestDatabase;
use pulp_plugin_api::{App, Backend, PulpId, Settings, SettingsSources};

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

fn ms(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// The 5,000-file fixture, made once by the shared script.
fn fixture(files: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pulp-sync-bench-{files}"));
    if !dir.join("PULP_MANIFEST").exists() {
        let status = std::process::Command::new("python3")
            .arg("/work/shared/bench/make-file-fixture.py")
            .arg(&dir)
            .arg(files.to_string())
            .status()
            .expect("run make-file-fixture.py");
        assert!(status.success(), "make-file-fixture.py failed");
    }
    dir
}

/// A manifest of `n` files that exist nowhere (on_demand syncs fetch only the manifest).
fn synthetic_manifest(n: usize) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pulp-sync-bench-manifest-{n}"));
    if !dir.join("PULP_MANIFEST").exists() {
        std::fs::create_dir_all(&dir).expect("dir");
        let mut text = String::with_capacity(n * 100);
        for i in 0..n {
            text.push_str(&format!(
                "d{:02x}/d{:02x}/file-{i:07}.bin,{:064x},{}\n",
                i % 16,
                (i / 16) % 16,
                i as u128 * 7919 + 1,
                1024 + i % 65536
            ));
        }
        std::fs::write(dir.join("PULP_MANIFEST"), text).expect("write manifest");
    }
    dir
}

async fn app(t: &TestDatabase) -> App {
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
    app
}

async fn setup(app: &App, server: &TestServer, policy: Policy) -> (PulpId, PulpId) {
    let mut fields = RemoteFields::new("bench", server.url("PULP_MANIFEST"));
    fields.policy = policy;
    let remote = models::create(app.db(), Labels::new(), fields, FileRemote {})
        .await
        .expect("remote");
    let repo = models::create(
        app.db(),
        Labels::new(),
        RepositoryFields::new("bench"),
        FileRepository::default(),
    )
    .await
    .expect("repository");
    (remote.pulp_id(), repo.pulp_id())
}

/// Syncs into a fresh database; the time of the sync, and its app and version.
async fn timed_sync(
    t: &TestDatabase,
    server: &TestServer,
    policy: Policy,
    work: &Path,
) -> (Duration, App, PulpId) {
    let app = app(t).await;
    let (remote, repo) = setup(&app, server, policy).await;
    let ctx = SyncContext::new(&app, work);
    let started = Instant::now();
    let version = pulp_file::synchronize(&ctx, remote, repo, false)
        .await
        .expect("sync")
        .expect("a new version");
    (started.elapsed(), app, version.pulp_id)
}

async fn run(backend: Backend, files: usize, memory: &[usize]) {
    let Some(t1) = TestDatabase::of(backend).await else {
        println!("{backend}: skipped (PULP_TEST_POSTGRES_URL not set)");
        return;
    };
    let work = tempfile::tempdir().expect("work dir");
    let server = TestServer::serving(fixture(files)).await;

    if std::env::var_os("BENCH_SKIP_IMMEDIATE").is_none() {
        let (took, app, version) = timed_sync(&t1, &server, Policy::Immediate, work.path()).await;
        println!(
            "{backend}: immediate sync of {files} new files: {} (target <= 2000 ms)",
            ms(took)
        );
        let started = Instant::now();
        let publication = pulp_file::publish(&app, version, None)
            .await
            .expect("publish");
        let took = started.elapsed();
        assert!(publication.fields().complete);
        println!(
            "{backend}: publish of {files} files: {} (target <= 300 ms)",
            ms(took)
        );
        drop(app);
        t1.cleanup().await;
    }

    let mut times = Vec::new();
    for _ in 0..env_usize("BENCH_REPEAT", 1).max(1) {
        let t2 = TestDatabase::of(backend).await.expect("database");
        let (took, app, _) = timed_sync(&t2, &server, Policy::OnDemand, work.path()).await;
        println!(
            "{backend}: on_demand sync of {files} new files: {} (target <= 500 ms)",
            ms(took)
        );
        times.push(took);
        drop(app);
        t2.cleanup().await;
    }
    if times.len() > 1 {
        times.sort();
        println!(
            "{backend}: on_demand sync of {files} new files, median of {}: {}",
            times.len(),
            ms(times[times.len() / 2])
        );
    }

    for n in memory {
        let server = TestServer::serving(synthetic_manifest(*n)).await;
        let t = TestDatabase::of(backend).await.expect("database");
        // Writing 5 to clear_refs resets VmHWM to the current RSS.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let (rss, _) = memory_mib();
        let (took, app, _) = timed_sync(&t, &server, Policy::OnDemand, work.path()).await;
        let (_, peak) = memory_mib();
        println!(
            "{backend}: on_demand sync of {n} files: {:.1} s; RSS {rss} MiB before, peak {peak} MiB (target < 150 MiB)",
            took.as_secs_f64()
        );
        drop(app);
        t.cleanup().await;
    }
}

fn main() {
    let files = env_usize("BENCH_FILES", 5_000);
    let memory: Vec<usize> = std::env::var("BENCH_MEMORY")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
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
        runtime.block_on(run(backend, files, &memory));
    }
}
