//! Replication of an upstream pulp-rs with `BENCH_DISTRIBUTIONS` (100) file distributions
//! of `BENCH_FILES` (50) files each, on_demand, by a second pulp-rs over loopback (both in
//! this process, each with its own database): the first replication, then a second one
//! with nothing changed upstream. Targets (issue 23): under 30 s and under 3 s.
//!
//! ```sh
//! PULP_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!   cargo bench -p pulp-benches --bench replication
//! # BENCH_BACKENDS=sqlite,postgres BENCH_DISTRIBUTIONS=100 BENCH_FILES=50
//! ```

use std::time::{Duration, Instant};

use pulp_file::{FileDistribution, FilePlugin, FileRemote, FileRepository};
use pulp_plugin_api::models::{
    self, DistributionFields, Labels, Policy, RemoteFields, RepositoryFields,
};
use pulp_plugin_api::pipeline::SyncContext;
use pulp_plugin_api::testing::http::TestServer;
use pulp_plugin_api::testing::TestDatabase;
use pulp_plugin_api::{App, Backend, Settings, SettingsSources};

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `distributions` directories of `files` manifest lines each (files that exist nowhere:
/// the upstream syncs on_demand, so only manifests are read).
fn manifests(distributions: usize, files: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("dir");
    for d in 0..distributions {
        let sub = dir.path().join(format!("d{d:03}"));
        std::fs::create_dir_all(&sub).expect("mkdir");
        let mut text = String::new();
        for f in 0..files {
            let n = (d * files + f) as u128;
            text.push_str(&format!(
                "dir/file-{f:04}.bin,{:064x},{}\n",
                n * 7919 + 1,
                1024 + f
            ));
        }
        std::fs::write(sub.join("PULP_MANIFEST"), text).expect("manifest");
    }
    dir
}

async fn server(t: &TestDatabase, content: Option<tokio::net::TcpListener>) -> (App, String) {
    let mut settings = Settings {
        database_url: Some(t.url.clone()),
        data_dir: t.dir.path().to_path_buf(),
        ..Settings::default()
    };
    if let Some(listener) = &content {
        settings.content_origin = Some(format!("http://{}", listener.local_addr().expect("addr")));
    }
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(FilePlugin)
        .build_with(settings)
        .await
        .expect("app");
    let served = pulp_core::testing::serve_api(&app).await;
    let base = served.base.clone();
    // Served as long as the bench runs.
    std::mem::forget(served);
    if let Some(listener) = content {
        let router = pulp_plugin_api::content_app::content_router(app.clone());
        tokio::spawn(async move {
            let _ = pulp_plugin_api::deps::axum::serve(listener, router).await;
        });
    }
    (app, base)
}

async fn upstream(app: &App, fixture: &TestServer, distributions: usize) {
    let work = tempfile::tempdir().expect("work");
    for d in 0..distributions {
        let name = format!("dist-{d:03}");
        let mut fields =
            RemoteFields::new(name.clone(), fixture.url(&format!("d{d:03}/PULP_MANIFEST")));
        fields.policy = Policy::OnDemand;
        let remote = models::create(app.db(), Labels::new(), fields, FileRemote {})
            .await
            .expect("remote");
        let repo = models::create(
            app.db(),
            Labels::new(),
            RepositoryFields::new(name.clone()),
            FileRepository::default(),
        )
        .await
        .expect("repository");
        let ctx = SyncContext::new(app, work.path());
        let version = pulp_file::synchronize(&ctx, remote.pulp_id(), repo.pulp_id(), false)
            .await
            .expect("sync")
            .expect("version");
        let publication = pulp_file::publish(app, version.pulp_id, None)
            .await
            .expect("publish");
        let mut fields = DistributionFields::new(name.clone(), format!("bench/{name}"));
        fields.publication_id = Some(publication.pulp_id());
        models::create(app.db(), Labels::new(), fields, FileDistribution {})
            .await
            .expect("distribution");
    }
}

async fn replicate(app: &App, api: &str, upstream: &str) -> (Duration, usize) {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let answer: serde_json::Value = client
        .post(format!("{api}{upstream}replicate/"))
        .basic_auth("admin", Some("password"))
        .json(&serde_json::json!({}))
        .send()
        .await
        .expect("replicate")
        .json()
        .await
        .expect("json");
    let options = pulp_core::tasking::WorkerOptions {
        burst: true,
        name: Some("bench@local".into()),
        poll_interval: Some(Duration::from_millis(10)),
    };
    pulp_core::tasking::Worker::new(app.clone(), options)
        .run(tokio_util::sync::CancellationToken::new())
        .await
        .expect("worker");
    let elapsed = started.elapsed();
    let group: serde_json::Value = client
        .get(format!(
            "{api}{}",
            answer["task_group"].as_str().expect("group")
        ))
        .basic_auth("admin", Some("password"))
        .send()
        .await
        .expect("group")
        .json()
        .await
        .expect("json");
    assert_eq!(group["failed"], 0, "{group}");
    (
        elapsed,
        group["tasks"].as_array().map(Vec::len).unwrap_or(0),
    )
}

async fn run(backend: Backend, distributions: usize, files: usize) {
    let Some(t1) = TestDatabase::of(backend).await else {
        eprintln!("{backend:?}: not configured, skipped");
        return;
    };
    let Some(t2) = TestDatabase::of(backend).await else {
        return;
    };
    let fixture_dir = manifests(distributions, files);
    let fixture = TestServer::serving(fixture_dir.path()).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let (up, up_api) = server(&t1, Some(listener)).await;
    let started = Instant::now();
    upstream(&up, &fixture, distributions).await;
    eprintln!(
        "{backend:?}: upstream of {distributions} distributions × {files} files made in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (down, down_api) = server(&t2, None).await;
    let made: serde_json::Value = reqwest::Client::new()
        .post(format!("{down_api}/pulp/api/v3/upstream-pulps/"))
        .basic_auth("admin", Some("password"))
        .json(&serde_json::json!({"name": "up", "base_url": up_api, "api_root": "pulp", "username": "admin", "password": "password"}))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let href = made["pulp_href"].as_str().expect("href").to_string();
    let (first, tasks) = replicate(&down, &down_api, &href).await;
    println!("{backend:?}: first replication of {distributions} × {files}: {:.2} s ({tasks} tasks; target < 30 s)", first.as_secs_f64());
    let (second, tasks) = replicate(&down, &down_api, &href).await;
    println!(
        "{backend:?}: second replication, nothing changed: {:.2} s ({tasks} tasks; target < 3 s)",
        second.as_secs_f64()
    );
    let versions = models::count::<models::RepositoryKind>(down.db(), None)
        .await
        .expect("count");
    assert_eq!(versions as usize, distributions);
    up.db().close().await;
    down.db().close().await;
    t1.cleanup().await;
    t2.cleanup().await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let distributions = env_usize("BENCH_DISTRIBUTIONS", 100);
    let files = env_usize("BENCH_FILES", 50);
    let backends = std::env::var("BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    for name in backends.split(',') {
        let backend = match name.trim() {
            "postgres" => Backend::Postgres,
            _ => Backend::Sqlite,
        };
        run(backend, distributions, files).await;
    }
}
