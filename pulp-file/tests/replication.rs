//! Replication of one pulp-rs server by another over loopback (both databases): the first
//! replication, a replication after an upstream change and after one with no change (no new
//! versions, no syncs), removals per policy (`all`, `labeled`, `nodelete`), `q_select` (stored
//! and per run), a wrong password (a failed task saying so), and the `/upstream-pulps/`
//! refusals.

mod support;

use std::time::Duration;

use pulp_core::tasking::{Worker, WorkerOptions};
use pulp_file::FilePlugin;
use pulp_plugin_api::testing::TestDatabase;
use pulp_plugin_api::{App, SettingsSources};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

/// A pulp-rs server: its REST API and its content app on loopback ports.
struct Server {
    app: App,
    api: String,
    content: String,
    client: reqwest::Client,
    _served: pulp_core::testing::ServedApi,
}

impl Server {
    async fn start(t: &TestDatabase) -> Server {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let content = format!("http://{}", listener.local_addr().expect("addr"));
        let mut settings = support::settings(t);
        settings.content_origin = Some(content.clone());
        let app = App::builder(SettingsSources::defaults_only())
            .plugin(FilePlugin)
            .build_with(settings)
            .await
            .expect("build");
        let served = pulp_core::testing::serve_api(&app).await;
        let router = pulp_plugin_api::content_app::content_router(app.clone());
        tokio::spawn(async move {
            let _ = pulp_plugin_api::deps::axum::serve(listener, router).await;
        });
        Server {
            app,
            api: served.base.clone(),
            content,
            client: reqwest::Client::new(),
            _served: served,
        }
    }

    async fn send(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.api)
        };
        let mut request = self
            .client
            .request(method, url)
            .basic_auth("admin", Some("password"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("send");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.send(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(Method::POST, path, Some(body)).await
    }

    async fn run_tasks(&self) {
        let options = WorkerOptions {
            burst: true,
            name: Some("w1@test".into()),
            poll_interval: Some(Duration::from_millis(20)),
        };
        Worker::new(self.app.clone(), options)
            .run(CancellationToken::new())
            .await
            .expect("worker");
    }

    /// Runs the task an answer names; its created resources.
    async fn task(&self, (status, body): (StatusCode, Value)) -> Vec<String> {
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        self.run_tasks().await;
        let task = self.get(body["task"].as_str().expect("task")).await;
        assert_eq!(task["state"], "completed", "{task}");
        task["created_resources"]
            .as_array()
            .expect("created")
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    }

    /// The one object of a list filtered by `name`, if any.
    async fn named(&self, list: &str, name: &str) -> Option<Value> {
        let page = self.get(&format!("{list}?name={name}")).await;
        page["results"].as_array().and_then(|r| r.first()).cloned()
    }

    async fn count(&self, list: &str) -> u64 {
        self.get(list).await["count"].as_u64().expect("count")
    }
}

const REPOS: &str = "/pulp/api/v3/repositories/file/file/";
const REMOTES: &str = "/pulp/api/v3/remotes/file/file/";
const DISTROS: &str = "/pulp/api/v3/distributions/file/file/";
const UPSTREAMS: &str = "/pulp/api/v3/upstream-pulps/";

/// On the upstream: repository `name` gets `files` added, is published, and distribution
/// `name` (at `base/<name>`, with `labels`) serves that publication.
async fn publish(up: &Server, name: &str, files: &[(&str, &[u8])], labels: Value) {
    let repository = match up.named(REPOS, name).await {
        Some(r) => r,
        None => {
            let (status, r) = up.post(REPOS, json!({"name": name})).await;
            assert_eq!(status, StatusCode::CREATED, "{r}");
            r
        }
    };
    let href = repository["pulp_href"].as_str().expect("href").to_string();
    for (path, bytes) in files {
        let stored = up
            .app
            .storage()
            .ingest_bytes(
                bytes.to_vec().into(),
                &pulp_plugin_api::ExpectedArtifact::any(),
            )
            .await
            .expect("store");
        let artifact = pulp_plugin_api::models::save_artifact(up.app.db(), &stored)
            .await
            .expect("artifact");
        up.task(
            up.post(
                "/pulp/api/v3/content/file/files/",
                json!({"relative_path": path, "artifact": artifact.pulp_href(), "repository": href}),
            )
            .await,
        )
        .await;
    }
    let created = up
        .task(
            up.post(
                "/pulp/api/v3/publications/file/file/",
                json!({"repository": href}),
            )
            .await,
        )
        .await;
    let publication = created
        .iter()
        .find(|h| h.contains("/publications/"))
        .expect("publication")
        .clone();
    match up.named(DISTROS, name).await {
        Some(d) => {
            let path = d["pulp_href"].as_str().expect("href").to_string();
            up.task(
                up.send(
                    Method::PATCH,
                    &path,
                    Some(json!({"publication": publication, "pulp_labels": labels})),
                )
                .await,
            )
            .await;
        }
        None => {
            up.task(
                up.post(
                    DISTROS,
                    json!({"name": name, "base_path": format!("base/{name}"), "publication": publication, "pulp_labels": labels}),
                )
                .await,
            )
            .await;
        }
    }
}

async fn delete_distribution(up: &Server, name: &str) {
    let d = up.named(DISTROS, name).await.expect("distribution");
    up.task(
        up.send(Method::DELETE, d["pulp_href"].as_str().expect("href"), None)
            .await,
    )
    .await;
}

/// Creates an upstream Pulp on `down` pointing at `up`; its href.
async fn upstream_pulp(down: &Server, up: &Server, extra: Value) -> String {
    let mut body = json!({
        "name": "up", "base_url": up.api, "api_root": "/pulp/",
        "username": "admin", "password": "password",
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    let (status, created) = down.post(UPSTREAMS, body).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    created["pulp_href"].as_str().expect("href").to_string()
}

/// Replicates and waits; the task group's tasks (name, state, error description).
async fn replicate(down: &Server, upstream: &str, body: Value) -> Vec<(String, String, String)> {
    let (status, answer) = down.post(&format!("{upstream}replicate/"), body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    down.run_tasks().await;
    let group = down
        .get(answer["task_group"].as_str().expect("task group"))
        .await;
    assert_eq!(group["all_tasks_dispatched"], true, "{group}");
    let mut out = Vec::new();
    for task in group["tasks"].as_array().expect("tasks") {
        let task = down.get(task["pulp_href"].as_str().expect("href")).await;
        out.push((
            task["name"].as_str().unwrap_or_default().to_string(),
            task["state"].as_str().unwrap_or_default().to_string(),
            task["error"]["description"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ));
    }
    out
}

fn all_completed(tasks: &[(String, String, String)]) {
    assert!(
        tasks.iter().all(|(_, state, _)| state == "completed"),
        "{tasks:?}"
    );
}

fn syncs(tasks: &[(String, String, String)]) -> usize {
    tasks
        .iter()
        .filter(|(name, _, _)| name == pulp_file::SYNC_TASK)
        .count()
}

/// `(latest version number, relative paths in it)` of local repository `name`.
async fn local_repository(down: &Server, name: &str) -> (u64, Vec<String>) {
    let repository = down.named(REPOS, name).await.expect("repository");
    let latest = repository["latest_version_href"]
        .as_str()
        .expect("latest")
        .to_string();
    let number = latest
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("number");
    let content = down
        .get(&format!(
            "/pulp/api/v3/content/file/files/?repository_version={latest}&limit=1000"
        ))
        .await;
    let mut paths: Vec<String> = content["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|c| c["relative_path"].as_str().expect("path").to_string())
        .collect();
    paths.sort();
    (number, paths)
}

pulp_core::db_tests! {
    async fn a_server_replicates_another_and_follows_its_changes(t: &TestDatabase) {
        let up = Server::start(t).await;
        let t2 = TestDatabase::of(t.db.backend()).await.expect("second database");
        let down = Server::start(&t2).await;
        publish(&up, "alpha", &[("a/one.txt", b"one"), ("two.txt", b"two")], json!({})).await;
        publish(&up, "beta", &[("b.txt", b"bee")], json!({})).await;
        let upstream = upstream_pulp(&down, &up, json!({})).await;
        let server_id = upstream.trim_end_matches('/').rsplit('/').next().expect("id").to_string();

        // The first replication: a remote, a repository synced from it and a distribution
        // at the same base path, per upstream distribution.
        let tasks = replicate(&down, &upstream, json!({})).await;
        all_completed(&tasks);
        assert_eq!(syncs(&tasks), 2, "{tasks:?}");
        for (name, files) in [("alpha", vec!["a/one.txt", "two.txt"]), ("beta", vec!["b.txt"])] {
            let remote = down.named(REMOTES, name).await.expect("remote");
            assert_eq!(remote["policy"], "on_demand", "{remote}");
            assert_eq!(remote["url"], format!("{}/pulp/content/base/{name}/PULP_MANIFEST", up.content));
            assert_eq!(remote["pulp_labels"], json!({"UpstreamPulp": server_id}));
            let repository = down.named(REPOS, name).await.expect("repository");
            assert_eq!(repository["manifest"], "PULP_MANIFEST");
            assert_eq!(repository["autopublish"], false);
            assert_eq!(repository["pulp_labels"], json!({"UpstreamPulp": server_id}));
            assert_eq!(local_repository(&down, name).await, (1, files.iter().map(|s| s.to_string()).collect()));
            let distribution = down.named(DISTROS, name).await.expect("distribution");
            assert_eq!(distribution["base_path"], format!("base/{name}"));
            assert_eq!(distribution["repository_version"], repository["latest_version_href"]);
            assert_eq!(distribution["publication"], Value::Null);
            assert_eq!(distribution["pulp_labels"], json!({"UpstreamPulp": server_id}));
        }
        // The downstream serves the files, fetched from the upstream on demand.
        let got = reqwest::get(format!("{}/pulp/content/base/alpha/a/one.txt", down.content)).await.expect("get");
        assert_eq!(got.status(), 200);
        assert_eq!(got.bytes().await.expect("bytes").as_ref(), b"one");
        let server = down.get(&upstream).await;
        assert!(server["last_replication"].is_string(), "{server}");

        // Nothing changed upstream: nothing changes here (no sync, no update, no version).
        let remote_before = down.named(REMOTES, "alpha").await.expect("remote");
        let tasks = replicate(&down, &upstream, json!({})).await;
        all_completed(&tasks);
        let names: Vec<&str> = tasks.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(names, vec![pulp_core::replication::REPLICATE_TASK, pulp_core::replication::FINALIZE_TASK], "{tasks:?}");
        assert_eq!(local_repository(&down, "alpha").await.0, 1);
        assert_eq!(local_repository(&down, "beta").await.0, 1);
        let remote_after = down.named(REMOTES, "alpha").await.expect("remote");
        assert_eq!(remote_before["pulp_last_updated"], remote_after["pulp_last_updated"]);

        // An upstream change: only the changed distribution is synced, into a new version.
        publish(&up, "alpha", &[("three.txt", b"three")], json!({})).await;
        let tasks = replicate(&down, &upstream, json!({})).await;
        all_completed(&tasks);
        assert_eq!(syncs(&tasks), 1, "{tasks:?}");
        assert_eq!(
            local_repository(&down, "alpha").await,
            (2, vec!["a/one.txt".to_string(), "three.txt".into(), "two.txt".into()])
        );
        assert_eq!(local_repository(&down, "beta").await.0, 1);
        let distribution = down.named(DISTROS, "alpha").await.expect("distribution");
        let repository = down.named(REPOS, "alpha").await.expect("repository");
        assert_eq!(distribution["repository_version"], repository["latest_version_href"]);
        let got = reqwest::get(format!("{}/pulp/content/base/alpha/three.txt", down.content)).await.expect("get");
        assert_eq!(got.bytes().await.expect("bytes").as_ref(), b"three");

        // A distribution deleted upstream: its distribution, repository and remote go
        // (policy `all`, the default).
        delete_distribution(&up, "beta").await;
        let tasks = replicate(&down, &upstream, json!({})).await;
        all_completed(&tasks);
        assert!(down.named(DISTROS, "beta").await.is_none());
        assert!(down.named(REPOS, "beta").await.is_none());
        assert!(down.named(REMOTES, "beta").await.is_none());
        assert!(down.named(DISTROS, "alpha").await.is_some());
        drop(down);
        t2.cleanup().await;
    }

    async fn each_policy_removes_what_it_manages(t: &TestDatabase) {
        let up = Server::start(t).await;
        let t2 = TestDatabase::of(t.db.backend()).await.expect("second database");
        let down = Server::start(&t2).await;
        publish(&up, "alpha", &[("a.txt", b"a")], json!({})).await;
        publish(&up, "beta", &[("b.txt", b"b")], json!({})).await;
        publish(&up, "gamma", &[("c.txt", b"c")], json!({})).await;
        // Objects of the downstream's own, not replicated.
        let (status, mine) = down.post(REPOS, json!({"name": "mine"})).await;
        assert_eq!(status, StatusCode::CREATED, "{mine}");
        let upstream = upstream_pulp(&down, &up, json!({"policy": "labeled"})).await;
        all_completed(&replicate(&down, &upstream, json!({})).await);
        assert_eq!(down.count(REPOS).await, 4);

        // labeled: what replication made goes, the rest stays.
        delete_distribution(&up, "beta").await;
        all_completed(&replicate(&down, &upstream, json!({})).await);
        assert!(down.named(DISTROS, "beta").await.is_none());
        assert!(down.named(REPOS, "beta").await.is_none());
        assert!(down.named(REMOTES, "beta").await.is_none());
        assert!(down.named(REPOS, "mine").await.is_some());
        // A replicated object whose label was removed is no longer managed.
        let gamma = down.named(REPOS, "gamma").await.expect("gamma");
        let (status, body) = down
            .post(&format!("{}unset_label/", gamma["pulp_href"].as_str().expect("href")), json!({"key": "UpstreamPulp"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");

        // nodelete: nothing goes.
        let (status, body) = down.send(Method::PATCH, &upstream, Some(json!({"policy": "nodelete"}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["policy"], "nodelete");
        delete_distribution(&up, "alpha").await;
        all_completed(&replicate(&down, &upstream, json!({})).await);
        assert!(down.named(DISTROS, "alpha").await.is_some());
        assert!(down.named(REPOS, "alpha").await.is_some());
        assert!(down.named(REMOTES, "alpha").await.is_some());

        // all: every local object of the type without an upstream distribution goes, made
        // by replication or not.
        let (status, _) = down.send(Method::PATCH, &upstream, Some(json!({"policy": "all"}))).await;
        assert_eq!(status, StatusCode::OK);
        all_completed(&replicate(&down, &upstream, json!({})).await);
        assert!(down.named(REPOS, "alpha").await.is_none());
        assert!(down.named(REMOTES, "alpha").await.is_none());
        assert!(down.named(REPOS, "mine").await.is_none());
        assert!(down.named(REPOS, "gamma").await.is_some());
        assert_eq!(down.count(REPOS).await, 1);
        drop(down);
        t2.cleanup().await;
    }

    async fn q_select_replicates_the_labelled_subset(t: &TestDatabase) {
        let up = Server::start(t).await;
        let t2 = TestDatabase::of(t.db.backend()).await.expect("second database");
        let down = Server::start(&t2).await;
        publish(&up, "prod1", &[("p.txt", b"p")], json!({"env": "prod"})).await;
        publish(&up, "prod2", &[("q.txt", b"q")], json!({"env": "prod"})).await;
        publish(&up, "dev1", &[("d.txt", b"d")], json!({"env": "dev"})).await;
        let upstream = upstream_pulp(&down, &up, json!({"q_select": "pulp_label_select=\"env=prod\""})).await;
        all_completed(&replicate(&down, &upstream, json!({})).await);
        let mut names: Vec<String> = down.get(DISTROS).await["results"].as_array().expect("results")
            .iter().map(|d| d["name"].as_str().expect("name").to_string()).collect();
        names.sort();
        assert_eq!(names, vec!["prod1", "prod2"]);
        // A run's own filter adds its subset and removes nothing.
        all_completed(&replicate(&down, &upstream, json!({"q_select": "name=\"dev1\""})).await);
        assert_eq!(down.count(DISTROS).await, 3);
        let server = down.get(&upstream).await;
        assert_eq!(server["q_select"], "pulp_label_select=\"env=prod\"");
        // Back to the stored filter: what it does not select goes.
        all_completed(&replicate(&down, &upstream, json!({})).await);
        assert_eq!(down.count(DISTROS).await, 2);
        assert!(down.named(DISTROS, "dev1").await.is_none());
        drop(down);
        t2.cleanup().await;
    }

    async fn a_wrong_password_fails_the_replication_clearly(t: &TestDatabase) {
        let up = Server::start(t).await;
        let t2 = TestDatabase::of(t.db.backend()).await.expect("second database");
        let down = Server::start(&t2).await;
        publish(&up, "alpha", &[("a.txt", b"a")], json!({})).await;
        let upstream = upstream_pulp(&down, &up, json!({"password": "wrong"})).await;
        let tasks = replicate(&down, &upstream, json!({})).await;
        assert_eq!(tasks.len(), 1, "{tasks:?}");
        let (name, state, error) = &tasks[0];
        assert_eq!(name, pulp_core::replication::REPLICATE_TASK);
        assert_eq!(state, "failed");
        assert!(error.contains("401") && error.contains("username or password"), "{error}");
        assert_eq!(down.count(REMOTES).await, 0);
        assert_eq!(down.count(REPOS).await, 0);
        let server = down.get(&upstream).await;
        assert_eq!(server["last_replication"], Value::Null);
        drop(down);
        t2.cleanup().await;
    }

    async fn upstream_pulps_are_validated_and_keep_secrets(t: &TestDatabase) {
        let down = Server::start(t).await;
        let (status, body) = down.post(UPSTREAMS, json!({"base_url": "http://x"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["name"].is_array() && body["api_root"].is_array(), "{body}");
        for (field, bad) in [
            ("policy", json!("sometimes")),
            ("remote_policy", json!("later")),
            ("base_url", json!("ftp://x")),
            ("download_concurrency", json!(0)),
            ("total_timeout", json!(-1.0)),
            ("q_select", json!("pulp_label_select=")),
            ("q_select", json!("no_such_filter=1")),
            ("tls_validation", json!("maybe")),
        ] {
            let (status, body) = down
                .post(UPSTREAMS, json!({"name": "u", "base_url": "http://x", "api_root": "pulp", field: bad}))
                .await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{field}: {body}");
            assert!(body[field].is_array(), "{field}: {body}");
        }
        assert_eq!(down.count(UPSTREAMS).await, 0);
        let (status, made) = down
            .post(UPSTREAMS, json!({"name": "u", "base_url": "http://x", "api_root": "pulp", "username": "me", "password": "secret"}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{made}");
        assert!(made.get("password").is_none() && made.get("username").is_none(), "{made}");
        assert_eq!(made["hidden_fields"], json!([
            {"name": "client_key", "is_set": false},
            {"name": "username", "is_set": true},
            {"name": "password", "is_set": true},
        ]));
        assert_eq!(made["policy"], "all");
        assert_eq!(made["tls_validation"], true);
        let (status, body) = down
            .post(UPSTREAMS, json!({"name": "u", "base_url": "http://y", "api_root": "pulp"}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["name"].is_array(), "{body}");
        let href = made["pulp_href"].as_str().expect("href").to_string();
        let (status, body) = down.post(&format!("{href}replicate/"), json!({"q_select": "(name=a"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["q_select"].is_array(), "{body}");
        assert_eq!(down.count("/pulp/api/v3/task-groups/").await, 0);
        let (status, body) = down.send(Method::PUT, &href, Some(json!({"name": "v", "base_url": "http://z", "api_root": "pulp"}))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["base_url"], "http://z");
        // The password stays set through an update that does not name it.
        assert_eq!(body["hidden_fields"][2]["is_set"], true);
        assert_eq!(down.count(&format!("{UPSTREAMS}?name=v")).await, 1);
        assert_eq!(down.count(&format!("{UPSTREAMS}?base_url__contains=z")).await, 1);
        assert_eq!(down.count(&format!("{UPSTREAMS}?name=u")).await, 0);
        let (status, _) = down.send(Method::DELETE, &href, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = down.send(Method::GET, &href, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }
}
