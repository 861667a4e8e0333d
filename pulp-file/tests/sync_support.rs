//! Helpers of the sync and publish tests: fixtures served over loopback, remotes, tasks.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use pulp_file::{FileRemote, SyncArgs, SYNC_TASK};
use pulp_plugin_api::deps::sqlx;
use pulp_plugin_api::models::{self, Labels, Model, Policy, RemoteFields};
use pulp_plugin_api::tasking::{dispatch, DispatchRequest, Task, Worker, WorkerOptions};
use pulp_plugin_api::testing::http::TestServer;
use pulp_plugin_api::{on_pool, App, PulpId};
use sha2::Digest;
use tokio_util::sync::CancellationToken;

/// A directory of files and its PULP_MANIFEST.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub files: Vec<(String, Vec<u8>)>,
}

pub fn sha256(data: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(data))
}

impl Fixture {
    /// `n` files `dir/file-<i>.txt` with distinct content.
    pub fn new(n: usize) -> Fixture {
        let files = (0..n)
            .map(|i| {
                (
                    format!("d{}/file-{i}.txt", i % 3),
                    format!("content of file {i}\n").repeat(i + 1).into_bytes(),
                )
            })
            .collect();
        Self::with_files(files)
    }

    pub fn with_files(files: Vec<(String, Vec<u8>)>) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let fixture = Fixture { dir, files };
        fixture.write();
        fixture
    }

    pub fn path(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Writes the files and a manifest listing them.
    pub fn write(&self) {
        let mut manifest = String::new();
        for (path, data) in &self.files {
            let full = self.dir.path().join(path);
            std::fs::create_dir_all(full.parent().unwrap()).unwrap();
            std::fs::write(&full, data).unwrap();
            manifest.push_str(&format!("{path},{},{}\n", sha256(data), data.len()));
        }
        self.write_manifest(&manifest);
    }

    pub fn write_manifest(&self, text: &str) {
        std::fs::write(self.dir.path().join("PULP_MANIFEST"), text).unwrap();
    }

    /// The manifest pulp-file publishes for these files (sorted by path).
    pub fn expected_manifest(&self) -> String {
        let mut lines: Vec<String> = self
            .files
            .iter()
            .map(|(p, d)| format!("{p},{},{}", sha256(d), d.len()))
            .collect();
        lines.sort();
        lines.iter().map(|l| format!("{l}\n")).collect()
    }
}

pub async fn remote(app: &App, server: &TestServer, policy: Policy) -> Model<FileRemote> {
    remote_with(app, server, policy, |_| {}).await
}

pub async fn remote_with(
    app: &App,
    server: &TestServer,
    policy: Policy,
    change: impl FnOnce(&mut RemoteFields),
) -> Model<FileRemote> {
    let mut fields = RemoteFields::new(
        format!("remote-{}", PulpId::new()),
        server.url("PULP_MANIFEST"),
    );
    fields.policy = policy;
    change(&mut fields);
    models::create(app.db(), Labels::new(), fields, FileRemote {})
        .await
        .expect("create remote")
}

/// Dispatches the sync task and runs it with a burst worker; the finished task.
pub async fn sync_task(app: &App, remote: PulpId, repository: PulpId, mirror: bool) -> Task {
    let args = SyncArgs {
        remote_pk: remote,
        repository_pk: repository,
        mirror,
        optimize: false,
    };
    run_task(app, SYNC_TASK, serde_json::to_value(args).unwrap()).await
}

pub async fn run_task(app: &App, name: &str, args: serde_json::Value) -> Task {
    let task = dispatch(app, DispatchRequest::new(name).args(args))
        .await
        .expect("dispatch");
    let worker = Worker::new(
        app.clone(),
        WorkerOptions {
            burst: true,
            name: Some(format!("burst-{}", PulpId::new())),
            poll_interval: Some(Duration::from_millis(20)),
        },
    );
    worker.run(CancellationToken::new()).await.expect("worker");
    task.refresh(app.db()).await.expect("refresh")
}

pub async fn count(app: &App, sql: &str) -> i64 {
    on_pool!(app.db(), pool => {
        sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await.expect("count")
    })
}

/// Files under the artifact storage's `artifact/` directory.
pub fn stored_files(app: &App) -> usize {
    fn walk(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| {
                        let p = e.path();
                        if p.is_dir() {
                            walk(&p)
                        } else {
                            1
                        }
                    })
                    .sum()
            })
            .unwrap_or(0)
    }
    let root = app.storage().local_root().expect("local storage");
    walk(&root.join("artifact"))
}
