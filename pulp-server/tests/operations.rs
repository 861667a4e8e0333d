//! Operating the real `pulp-server`: correlation ids, log output and Prometheus metrics, on
//! SQLite and on PostgreSQL.

mod support;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use pulp_core::testing::TestDatabase;
use reqwest::blocking::{Client, Response};
use serde_json::{json, Value};
use sha2::Digest;
use support::{fixture, start_server_with, Serving, PASSWORD};

const CID: &str = "ops-test-cid-1";

/// A blocking client of a running server, as `admin`.
struct Api {
    client: Client,
    /// Base URLs of the REST API and the content app (the server's, or a proxy's).
    api: String,
    content: String,
    /// Kept running while the client is used.
    _server: Serving,
}

impl Api {
    fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Response {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.api))
            .basic_auth("admin", Some(PASSWORD))
            .header("Correlation-ID", CID);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().expect("send")
    }

    fn post(&self, path: &str, body: Value) -> Value {
        let response = self.send(reqwest::Method::POST, path, Some(body));
        assert!(
            response.status().is_success(),
            "POST {path}: {:?}",
            response.status()
        );
        assert_eq!(response.headers()["correlation-id"], CID);
        response.json().expect("JSON")
    }

    /// Waits for the task `answer` names to end; the task.
    fn finish(&self, answer: &Value) -> Value {
        let href = answer["task"].as_str().expect("a task href");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let task: Value = self
                .send(reqwest::Method::GET, href, None)
                .json()
                .expect("task");
            if !matches!(task["state"].as_str(), Some("waiting" | "running")) {
                assert_eq!(task["state"], "completed", "{task}");
                return task;
            }
            assert!(Instant::now() < deadline, "task did not end: {task}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn scrape(&self, base: &str) -> String {
        let response = self
            .client
            .get(format!("{base}/metrics"))
            .send()
            .expect("scrape");
        assert_eq!(response.status(), 200);
        response.text().expect("metrics text")
    }
}

/// The sum of the samples of `name` whose labels include `labels` (0 when there is none).
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, label_text) = match series.split_once('{') {
                Some((metric, rest)) => (metric, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            if metric != name {
                return None;
            }
            let all = labels
                .iter()
                .all(|(k, v)| label_text.contains(&format!("{k}=\"{v}\"")));
            all.then(|| value.parse::<f64>().ok()).flatten()
        })
        .sum()
}

fn log_to(path: &Path) -> impl Fn(&mut std::process::Command) {
    let path = path.to_path_buf();
    move |command| {
        let file = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&path)
            .expect("log file");
        command.env_remove("RUST_LOG").stderr(Stdio::from(file));
    }
}

fn observed_workflow(t: &TestDatabase) {
    let log = t.dir.path().join("server.log");
    let server = start_server_with(t, log_to(&log));
    let api = Api {
        client: Client::new(),
        api: server.api.clone(),
        content: server.content.clone(),
        _server: server,
    };
    let files = fixture(4);
    let sizes: u64 = files
        .files
        .iter()
        .map(|(path, _)| {
            std::fs::metadata(files.dir.path().join(path))
                .expect("size")
                .len()
        })
        .sum();
    let manifest_size = std::fs::metadata(files.dir.path().join("PULP_MANIFEST"))
        .expect("manifest")
        .len();

    // A generated id when the client sends none (Pulp's form: 32 hex digits).
    let status = api
        .client
        .get(format!("{}/pulp/api/v3/status/", api.api))
        .send()
        .expect("status");
    let generated = status.headers()["correlation-id"].to_str().expect("text");
    assert_eq!(generated.len(), 32, "{generated}");
    assert!(generated.bytes().all(|b| b.is_ascii_hexdigit()));

    let before = api.scrape(&api.api);
    let remote = api.post(
        "/pulp/api/v3/remotes/file/file/",
        json!({"name": "r", "url": files.manifest_url}),
    );
    let repo = api.post(
        "/pulp/api/v3/repositories/file/file/",
        json!({"name": "repo", "remote": remote["pulp_href"]}),
    );
    let repo_href = repo["pulp_href"].as_str().expect("href");
    let sync = api.finish(&api.post(&format!("{repo_href}sync/"), json!({})));
    assert_eq!(sync["logging_cid"], CID, "{sync}");
    let after_sync = api.scrape(&api.api);

    let sync_name = sync["name"].as_str().expect("task name");
    let delta = |name: &str, labels: &[(&str, &str)]| {
        sample(&after_sync, name, labels) - sample(&before, name, labels)
    };
    let task = [("name", sync_name), ("state", "completed")];
    assert_eq!(delta("pulp_tasks_total", &task), 1.0, "{after_sync}");
    assert_eq!(
        delta("pulp_task_run_seconds_count", &[("name", sync_name)]),
        1.0
    );
    assert_eq!(
        delta("pulp_task_queue_wait_seconds_count", &[("name", sync_name)]),
        1.0
    );
    assert_eq!(
        delta("pulp_artifacts_stored_total", &[]),
        files.files.len() as f64
    );
    assert_eq!(
        delta("pulp_download_bytes_total", &[]),
        (sizes + manifest_size) as f64
    );
    assert_eq!(delta("pulp_download_failures_total", &[]), 0.0);
    assert_eq!(
        sample(&after_sync, "pulp_tasks", &[("state", "waiting")]),
        0.0
    );
    assert_eq!(
        sample(
            &after_sync,
            "pulp_processes_online",
            &[("app_type", "worker")]
        ),
        1.0
    );
    assert!(
        after_sync.contains("pulp_db_connections{state=\"idle\"}"),
        "{after_sync}"
    );
    let posts = [
        ("listener", "api"),
        ("route", "/pulp/api/v3/remotes/file/file/"),
        ("method", "POST"),
        ("status", "201"),
    ];
    assert_eq!(delta("pulp_http_requests_total", &posts), 1.0);
    assert_eq!(
        delta("pulp_http_request_duration_seconds_count", &posts),
        1.0
    );

    // Publish, distribute, download one file and miss another through the content app.
    let publication = api.finish(&api.post(
        "/pulp/api/v3/publications/file/file/",
        json!({"repository": repo_href}),
    ));
    let publication_href = publication["created_resources"][0].as_str().expect("href");
    api.finish(&api.post(
        "/pulp/api/v3/distributions/file/file/",
        json!({"name": "d", "base_path": "d", "publication": publication_href}),
    ));
    let content = api.content.clone();
    let before = api.scrape(&content);
    let (path, sha) = &files.files[1];
    let body = api
        .client
        .get(format!("{content}/pulp/content/d/{path}"))
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.bytes())
        .expect("download");
    assert_eq!(hex::encode(sha2::Sha256::digest(&body)), *sha);
    let missing = api
        .client
        .get(format!("{content}/pulp/content/d/no-such-file"))
        .send()
        .expect("missing");
    assert_eq!(missing.status(), 404);
    let after = api.scrape(&content);
    let delta = |name: &str, labels: &[(&str, &str)]| {
        sample(&after, name, labels) - sample(&before, name, labels)
    };
    let stored = [("outcome", "stored")];
    assert_eq!(
        delta("pulp_content_requests_total", &stored),
        1.0,
        "{after}"
    );
    assert_eq!(
        delta("pulp_content_response_bytes_total", &stored),
        body.len() as f64
    );
    assert_eq!(
        delta("pulp_content_requests_total", &[("outcome", "not_found")]),
        1.0
    );
    // The distributions are served by the content app's fallback (the first scrape, counted
    // under its own route, ends after `before` was rendered).
    let served = [
        ("listener", "content"),
        ("route", "fallback"),
        ("status", "200"),
        ("method", "GET"),
    ];
    assert_eq!(delta("pulp_http_requests_total", &served), 1.0);

    drop(api);
    let written = std::fs::read_to_string(&log).expect("log");
    assert!(!written.contains('\u{1b}'), "colour codes in a log file");
    let access = written
        .lines()
        .find(|l| l.contains("pulp::access") && l.contains(CID) && l.contains("status=202"));
    assert!(
        access.is_some(),
        "no access line of the sync request:\n{written}"
    );
    let task_line = written
        .lines()
        .find(|l| l.contains("task ended") && l.contains(CID));
    assert!(task_line.is_some(), "no task line with the cid:\n{written}");
}

#[test]
fn requests_and_tasks_are_logged_and_counted_on_sqlite() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let t = runtime.block_on(TestDatabase::sqlite());
    observed_workflow(&t);
}

#[test]
fn requests_and_tasks_are_logged_and_counted_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let Some(t) = runtime.block_on(TestDatabase::postgres()) else {
        return;
    };
    observed_workflow(&t);
    runtime.block_on(t.cleanup());
}

#[test]
fn json_logs_carry_the_correlation_id_of_the_request() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let t = runtime.block_on(TestDatabase::sqlite());
    let log = t.dir.path().join("server.log");
    let to_file = log_to(&log);
    let server = start_server_with(&t, move |command| {
        to_file(command);
        command.env("PULP_LOGGING__FORMAT", "json");
    });
    let response = Client::new()
        .get(format!("{}/pulp/api/v3/status/", server.api))
        .header("Correlation-ID", CID)
        .send()
        .expect("status");
    assert_eq!(response.headers()["correlation-id"], CID);
    drop(server);
    let written = std::fs::read_to_string(&log).expect("log");
    let lines: Vec<Value> = written
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let access = lines
        .iter()
        .find(|l| l["target"] == "pulp::access" && l["span"]["cid"] == CID);
    let access = access.unwrap_or_else(|| panic!("no access line with the cid:\n{written}"));
    assert_eq!(access["status"], 200, "{access}");
    assert_eq!(access["method"], "GET", "{access}");
}

#[test]
fn a_worker_serves_metrics_on_its_own_port() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let t = runtime.block_on(TestDatabase::sqlite());
    let mut migrate = support::binary_in(t.dir.path());
    migrate.arg("migrate").env("PULP_DATABASE_URL", &t.url);
    let output = support::run_with_limit(migrate, Duration::from_secs(60));
    assert!(output.status.success(), "{output:?}");
    let port = support::free_port();
    let mut worker = support::binary_in(t.dir.path());
    worker
        .arg("worker")
        .env("PULP_DATABASE_URL", &t.url)
        .env("PULP_METRICS__WORKER_BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null());
    let _worker = support::Running(worker.spawn().expect("worker"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let text = loop {
        if let Ok(response) = reqwest::blocking::get(format!("http://127.0.0.1:{port}/metrics")) {
            break response.text().expect("text");
        }
        assert!(
            Instant::now() < deadline,
            "the worker's /metrics did not answer"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        sample(&text, "pulp_processes_online", &[("app_type", "worker")]),
        1.0,
        "{text}"
    );
}

/// Syncs `files` into a new repository, publishes and distributes it at `d`; the
/// distribution's base URL.
fn sync_publish_distribute(api: &Api, manifest_url: &str) -> String {
    let remote = api.post(
        "/pulp/api/v3/remotes/file/file/",
        json!({"name": "r", "url": manifest_url}),
    );
    let repo = api.post(
        "/pulp/api/v3/repositories/file/file/",
        json!({"name": "repo", "remote": remote["pulp_href"]}),
    );
    let repo_href = repo["pulp_href"].as_str().expect("href");
    api.finish(&api.post(&format!("{repo_href}sync/"), json!({})));
    let publication = api.finish(&api.post(
        "/pulp/api/v3/publications/file/file/",
        json!({"repository": repo_href}),
    ));
    let publication_href = publication["created_resources"][0].as_str().expect("href");
    api.finish(&api.post(
        "/pulp/api/v3/distributions/file/file/",
        json!({"name": "d", "base_path": "d", "publication": publication_href}),
    ));
    let distribution: Value = api
        .send(
            reqwest::Method::GET,
            "/pulp/api/v3/distributions/file/file/?name=d",
            None,
        )
        .json()
        .expect("distribution");
    distribution["results"][0]["base_url"]
        .as_str()
        .expect("base_url")
        .to_string()
}

/// nginx in front of `server`, configured by `pulp-server webserver-config nginx`.
fn nginx_in_front(
    program: &Path,
    t: &TestDatabase,
    server: &Serving,
) -> (support::Running, String) {
    let strip = |url: &str| url.trim_start_matches("http://").to_string();
    let port = support::free_port();
    let mut generate = support::binary_in(t.dir.path());
    generate
        .env("PULP_DATABASE_URL", &t.url)
        .args(["webserver-config", "nginx", "--listen", &port.to_string()])
        .args(["--api-upstream", &strip(&server.api)])
        .args(["--content-upstream", &strip(&server.content)]);
    let output = support::run_with_limit(generate, Duration::from_secs(60));
    assert!(output.status.success(), "{output:?}");
    let dir = t.dir.path().join("nginx");
    std::fs::create_dir_all(&dir).expect("nginx dir");
    std::fs::write(dir.join("pulp.conf"), &output.stdout).expect("snippet");
    let main = format!(
        "daemon off;\nuser root;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
         events {{}}\nhttp {{\n    access_log {d}/access.log;\n    client_body_temp_path {d}/body;\n\
         proxy_temp_path {d}/proxy;\n    include {d}/pulp.conf;\n}}\n",
        d = dir.display()
    );
    std::fs::write(dir.join("nginx.conf"), main).expect("nginx.conf");
    let child = std::process::Command::new(program)
        .args(["-p", &dir.display().to_string(), "-c"])
        .arg(dir.join("nginx.conf"))
        .stdout(Stdio::null())
        .spawn()
        .expect("start nginx");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::blocking::get(format!("{base}/pulp/api/v3/status/")).is_err() {
        assert!(Instant::now() < deadline, "nginx did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    (support::Running(child), base)
}

fn workflow_through_nginx(program: &Path, t: &TestDatabase) {
    let server = start_server_with(t, |_| {});
    let (_nginx, base) = nginx_in_front(program, t, &server);
    let api = Api {
        client: Client::new(),
        api: base.clone(),
        content: base.clone(),
        _server: server,
    };
    let files = fixture(3);
    sync_publish_distribute(&api, &files.manifest_url);
    let (path, sha) = &files.files[2];
    let body = api
        .client
        .get(format!("{base}/pulp/content/d/{path}"))
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.bytes())
        .expect("download through nginx");
    assert_eq!(hex::encode(sha2::Sha256::digest(&body)), *sha);
    // Hrefs name the proxy's address, as the client used it.
    let tasks: Value = api
        .send(reqwest::Method::GET, "/pulp/api/v3/tasks/?limit=1", None)
        .json()
        .expect("tasks");
    let next = tasks["next"].as_str().unwrap_or_default();
    assert!(next.starts_with(&base), "{tasks}");
}

fn nginx() -> Option<std::path::PathBuf> {
    pulp_core::testing::required_service("PULP_TEST_NGINX", "nginx").map(Into::into)
}

#[test]
fn the_file_workflow_through_nginx_on_sqlite() {
    let Some(program) = nginx() else { return };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let t = runtime.block_on(TestDatabase::sqlite());
    workflow_through_nginx(&program, &t);
}

#[test]
fn the_file_workflow_through_nginx_on_postgres() {
    let Some(program) = nginx() else { return };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let Some(t) = runtime.block_on(TestDatabase::postgres()) else {
        return;
    };
    workflow_through_nginx(&program, &t);
    runtime.block_on(t.cleanup());
}
