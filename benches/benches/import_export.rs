//! Pulp export of a 5,000-file repository version (1–64 KiB each, ≈ 170 MB:
//! `/work/shared/bench/make-file-fixture.py`) and its import into an empty server, through
//! the REST API and a worker in this process, each next to `tar` writing (`tar -cf` of the
//! fixture's files) and reading (`tar -xf` of that tar) the same files, and the peak
//! resident memory of each step (VmHWM, reset before it).
//!
//! ```sh
//! cargo bench -p pulp-benches --bench import_export   # BENCH_FILES=5000 BENCH_BACKENDS=sqlite,postgres
//! ```

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use pulp_file::{FilePlugin, FileRemote, FileRepository};
use pulp_plugin_api::models::{self, Labels, Policy, RemoteFields, RepositoryFields};
use pulp_plugin_api::pipeline::SyncContext;
use pulp_plugin_api::testing::http::TestServer;
use pulp_plugin_api::testing::TestDatabase;
use pulp_plugin_api::{App, Backend, Settings, SettingsSources};
use serde_json::{json, Value};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Peak resident memory since the last reset, in MiB; resets it (Linux).
fn peak_mib_and_reset() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let peak = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0)
        / 1024;
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    peak
}

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

fn timed_command(args: &[&str], dir: &Path) -> Duration {
    let started = Instant::now();
    let status = std::process::Command::new(args[0])
        .args(&args[1..])
        .current_dir(dir)
        .status()
        .expect("run");
    assert!(status.success(), "{args:?}");
    started.elapsed()
}

struct Server {
    app: App,
    api: String,
    _served: pulp_core::testing::ServedApi,
}

async fn server(t: &TestDatabase, exchange: &Path) -> Server {
    let settings = Settings {
        database_url: Some(t.url.clone()),
        data_dir: t.dir.path().to_path_buf(),
        allowed_export_paths: vec![exchange.to_path_buf()],
        allowed_import_paths: vec![exchange.to_path_buf()],
        ..Settings::default()
    };
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(FilePlugin)
        .build_with(settings)
        .await
        .expect("app");
    let served = pulp_core::testing::serve_api(&app).await;
    Server {
        app,
        api: served.base.clone(),
        _served: served,
    }
}

impl Server {
    async fn post(&self, path: &str, body: Value) -> Value {
        reqwest::Client::new()
            .post(format!("{}{path}", self.api))
            .basic_auth("admin", Some("password"))
            .json(&body)
            .send()
            .await
            .expect("post")
            .json()
            .await
            .expect("json")
    }
    async fn get(&self, path: &str) -> Value {
        reqwest::Client::new()
            .get(format!("{}{path}", self.api))
            .basic_auth("admin", Some("password"))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json")
    }
    async fn run_tasks(&self) {
        let options = pulp_core::tasking::WorkerOptions {
            burst: true,
            name: Some("bench@local".into()),
            poll_interval: Some(Duration::from_millis(10)),
        };
        pulp_core::tasking::Worker::new(self.app.clone(), options)
            .run(tokio_util::sync::CancellationToken::new())
            .await
            .expect("worker");
    }
}

async fn run(backend: Backend, files: usize) {
    let Some(t1) = TestDatabase::of(backend).await else {
        eprintln!("{backend:?}: not configured, skipped");
        return;
    };
    let Some(t2) = TestDatabase::of(backend).await else {
        return;
    };
    let source = fixture(files);
    let exchange = tempfile::tempdir_in(t1.dir.path()).expect("exchange");
    let up = server(&t1, exchange.path()).await;
    // The repository version: an immediate sync of the fixture.
    let fixture_server = TestServer::serving(&source).await;
    let mut fields = RemoteFields::new("bench", fixture_server.url("PULP_MANIFEST"));
    fields.policy = Policy::Immediate;
    let remote = models::create(up.app.db(), Labels::new(), fields, FileRemote {})
        .await
        .expect("remote");
    let repo = models::create(
        up.app.db(),
        Labels::new(),
        RepositoryFields::new("bench"),
        FileRepository::default(),
    )
    .await
    .expect("repository");
    let work = tempfile::tempdir().expect("work");
    pulp_file::synchronize(
        &SyncContext::new(&up.app, work.path()),
        remote.pulp_id(),
        repo.pulp_id(),
        false,
    )
    .await
    .expect("sync")
    .expect("version");
    let bytes: u64 = walk(&source)
        .iter()
        .map(|p| p.metadata().map(|m| m.len()).unwrap_or(0))
        .sum();

    // tar writing and reading the same files.
    let tar_path = exchange.path().join("baseline.tar");
    let tar_write = timed_command(
        &["tar", "-cf", tar_path.to_str().expect("path"), "."],
        &source,
    );
    let unpacked = tempfile::tempdir_in(t1.dir.path()).expect("unpack");
    let tar_read = timed_command(
        &["tar", "-xf", tar_path.to_str().expect("path")],
        unpacked.path(),
    );
    drop(unpacked);
    let _ = std::fs::remove_file(&tar_path);

    // The export.
    let repo_href = repo.pulp_href();
    let exporter = up
        .post("/pulp/api/v3/exporters/core/pulp/", json!({"name": "bench", "path": exchange.path().join("out"), "repositories": [repo_href]}))
        .await;
    let exporter_href = exporter["pulp_href"]
        .as_str()
        .expect("exporter")
        .to_string();
    peak_mib_and_reset();
    let started = Instant::now();
    let task = up
        .post(&format!("{exporter_href}exports/"), json!({}))
        .await;
    up.run_tasks().await;
    let export_time = started.elapsed();
    let export_peak = peak_mib_and_reset();
    let task = up.get(task["task"].as_str().expect("task")).await;
    assert_eq!(task["state"], "completed", "{task}");
    let tar = walk(&exchange.path().join("out"))
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "tar"))
        .expect("the export's tar");

    // The import into an empty server.
    let down = server(&t2, exchange.path()).await;
    let importer = down
        .post(
            "/pulp/api/v3/importers/core/pulp/",
            json!({"name": "bench"}),
        )
        .await;
    let importer_href = importer["pulp_href"]
        .as_str()
        .expect("importer")
        .to_string();
    peak_mib_and_reset();
    let started = Instant::now();
    let group = down
        .post(
            &format!("{importer_href}imports/"),
            json!({"path": tar, "create_repositories": true}),
        )
        .await;
    down.run_tasks().await;
    let import_time = started.elapsed();
    let import_peak = peak_mib_and_reset();
    let group = down.get(group["task_group"].as_str().expect("group")).await;
    assert_eq!(group["failed"], 0, "{group}");
    assert_eq!(group["completed"].as_u64(), Some(2), "{group}");

    let mb = bytes as f64 / 1e6;
    println!("{backend:?}: {files} files, {mb:.0} MB");
    println!(
        "{backend:?}: export {:.2} s vs tar -cf {:.2} s: {:.2}×; peak RSS {export_peak} MiB",
        export_time.as_secs_f64(),
        tar_write.as_secs_f64(),
        export_time.as_secs_f64() / tar_write.as_secs_f64()
    );
    println!(
        "{backend:?}: import {:.2} s vs tar -xf {:.2} s: {:.2}×; peak RSS {import_peak} MiB",
        import_time.as_secs_f64(),
        tar_read.as_secs_f64(),
        import_time.as_secs_f64() / tar_read.as_secs_f64()
    );
    drop(up);
    drop(down);
    t1.cleanup().await;
    t2.cleanup().await;
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if let Ok(entries) = std::fs::read_dir(&d) {
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p);
                }
            }
        }
    }
    out
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let files = env_usize("BENCH_FILES", 5000);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    for name in backends.split(',') {
        let backend = match name.trim() {
            "postgres" => Backend::Postgres,
            _ => Backend::Sqlite,
        };
        run(backend, files).await;
    }
}
