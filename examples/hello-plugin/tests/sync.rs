//! The hello plugin end to end, through the REST API and the content app: sync greetings
//! from an HTTP server on loopback, publish the version, distribute the publication and
//! download from it.

use std::time::Duration;

use hello_plugin::{HelloPlugin, INDEX, PUBLISH_TASK, SYNC_TASK};
use pulp_plugin_api::content_app::content_router;
use pulp_plugin_api::tasking::{Worker, WorkerOptions};
use pulp_plugin_api::testing::http::TestServer;
use pulp_plugin_api::testing::{serve_api, ServedApi, ADMIN_PASSWORD};
use pulp_plugin_api::{App, PulpId, Settings, SettingsSources};
use serde_json::{json, Value};
use sha2::Digest;
use tokio_util::sync::CancellationToken;

const GREETINGS: [(&str, &str); 2] = [("en", "hello\n"), ("fr", "bonjour\n")];

fn line(name: &str, text: &str) -> String {
    let digest = hex::encode(sha2::Sha256::digest(text.as_bytes()));
    format!("{name},{digest},{}\n", text.len())
}

/// The remote's directory: the index and one `<name>.txt` per greeting.
fn upstream() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a directory");
    let mut index = String::new();
    for (name, text) in GREETINGS {
        std::fs::write(dir.path().join(format!("{name}.txt")), text).expect("write");
        index.push_str(&line(name, text));
    }
    std::fs::write(dir.path().join(INDEX), index).expect("write the index");
    dir
}

struct Client {
    api: ServedApi,
    http: reqwest::Client,
}

impl Client {
    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, self.api.url(path));
        request = request.basic_auth("admin", Some(ADMIN_PASSWORD));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status();
        let body: Value = response.json().await.expect("a JSON body");
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    /// Runs the dispatched task with a burst worker; returns the finished task.
    async fn run(&self, app: &App, dispatched: Value) -> Value {
        let worker = WorkerOptions {
            burst: true,
            name: Some(format!("burst-{}", PulpId::new())),
            poll_interval: Some(Duration::from_millis(20)),
        };
        let worker = Worker::new(app.clone(), worker);
        worker
            .run(CancellationToken::new())
            .await
            .expect("the worker runs");
        let href = dispatched["task"].as_str().expect("a task href");
        let task = self.call(reqwest::Method::GET, href, None).await;
        assert_eq!(task["state"], "completed", "{task}");
        task
    }
}

pulp_plugin_api::testing::db_tests! {
    async fn greetings_sync_publish_and_are_served(t: &TestDatabase) {
        let upstream = upstream();
        let server = TestServer::serving(upstream.path()).await;
        let settings = Settings {
            database_url: Some(t.url.clone()),
            data_dir: t.dir.path().to_path_buf(),
            ..Settings::default()
        };
        let app = App::builder(SettingsSources::defaults_only())
            .plugin(HelloPlugin)
            .build_with(settings)
            .await
            .expect("build the app");
        let client = Client { api: serve_api(&app).await, http: reqwest::Client::new() };

        let remote = client.post("/pulp/api/v3/remotes/hello/greeting/", json!({"name": "up", "url": server.url(INDEX)})).await;
        let repository = client.post("/pulp/api/v3/repositories/hello/greeting/", json!({"name": "greetings"})).await;
        let repository_href = repository["pulp_href"].as_str().expect("href");
        let sync = client.post(&format!("{repository_href}sync/"), json!({"remote": remote["pulp_href"]})).await;
        let task = client.run(&app, sync).await;
        assert_eq!(task["name"], SYNC_TASK);
        let version_href = format!("{repository_href}versions/1/");
        assert_eq!(task["created_resources"], json!([version_href]));
        let version = client.call(reqwest::Method::GET, &version_href, None).await;
        assert_eq!(version["content_summary"]["present"]["hello.greeting"]["count"], 2, "{version}");
        let found = client.call(reqwest::Method::GET, "/pulp/api/v3/content/hello/greetings/?name=fr", None).await;
        assert_eq!(found["count"], 1, "{found}");

        let publish = client.post("/pulp/api/v3/publications/hello/greeting/", json!({"repository_version": version_href})).await;
        let task = client.run(&app, publish).await;
        assert_eq!(task["name"], PUBLISH_TASK);
        let publication = task["created_resources"][0].clone();
        // Distributions are created by a task, as in Pulp.
        let distribute = client.post("/pulp/api/v3/distributions/hello/greeting/", json!({"name": "greetings", "base_path": "greetings", "publication": publication})).await;
        client.run(&app, distribute).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let content = format!("http://{}", listener.local_addr().expect("address"));
        let router = content_router(app.clone());
        tokio::spawn(async move { axum::serve(listener, router).await });
        for (name, text) in GREETINGS {
            let url = format!("{content}/pulp/content/greetings/{name}.txt");
            let body = client.http.get(&url).send().await.expect("get").text().await.expect("text");
            assert_eq!(body, text);
        }
        let url = format!("{content}/pulp/content/greetings/{INDEX}");
        let index = client.http.get(&url).send().await.expect("get").text().await.expect("text");
        assert_eq!(index, GREETINGS.iter().map(|(n, t)| line(n, t)).collect::<String>());
    }
}
