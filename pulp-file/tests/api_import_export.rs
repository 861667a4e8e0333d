//! The export and import endpoints over real HTTP (both databases): refused paths and
//! mappings, a chunked Pulp export recorded as pulpcore records it, its import through the
//! toc into another repository as a task group, and import-check.

mod support;

use std::time::Duration;

use pulp_core::tasking::{Worker, WorkerOptions};
use pulp_file::FilePlugin;
use pulp_plugin_api::testing::TestDatabase;
use pulp_plugin_api::{App, SettingsSources};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

struct Api {
    app: App,
    base: String,
    client: reqwest::Client,
    _served: pulp_core::testing::ServedApi,
}

async fn start(t: &TestDatabase) -> Api {
    let mut settings = support::settings(t);
    let allowed = t.dir.path().join("exchange");
    std::fs::create_dir_all(&allowed).expect("mkdir");
    settings.allowed_export_paths = vec![allowed.clone()];
    settings.allowed_import_paths = vec![allowed];
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(FilePlugin)
        .build_with(settings)
        .await
        .expect("build");
    let served = pulp_core::testing::serve_api(&app).await;
    Api {
        app,
        base: served.base.clone(),
        client: reqwest::Client::new(),
        _served: served,
    }
}

impl Api {
    async fn send(&self, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
        let response = request
            .basic_auth("admin", Some("password"))
            .send()
            .await
            .expect("send");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self
            .send(self.client.get(format!("{}{path}", self.base)))
            .await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.client.post(format!("{}{path}", self.base)).json(&body))
            .await
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
}

pulp_core::db_tests! {
    async fn a_chunked_export_imports_through_its_toc_as_a_task_group(t: &TestDatabase) {
        let api = start(t).await;
        api.app.migrate().await.expect("migrate");
        let exchange = t.dir.path().join("exchange");
        let source = support::repository(&api.app, "src").await;
        let bytes: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
        let artifact = api
            .app
            .storage()
            .ingest_bytes(bytes.clone().into(), &pulp_plugin_api::ExpectedArtifact::any())
            .await
            .expect("store");
        let artifact = pulp_plugin_api::models::save_artifact(api.app.db(), &artifact).await.expect("row");
        let (status, body) = api
            .post("/pulp/api/v3/content/file/files/", json!({"relative_path": "x.bin", "artifact": artifact.pulp_href(), "repository": source.pulp_href()}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        api.run_tasks().await;

        // A path outside the allowed ones is a 400 on `path`.
        let (status, body) = api
            .post("/pulp/api/v3/exporters/core/pulp/", json!({"name": "e", "path": "/etc/outside", "repositories": [source.pulp_href()]}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["path"][0].as_str().expect("message").contains("not an allowed export path"), "{body}");

        let (status, exporter) = api
            .post("/pulp/api/v3/exporters/core/pulp/", json!({"name": "e", "path": exchange.join("out").to_string_lossy(), "repositories": [source.pulp_href()]}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{exporter}");
        let exporter_href = exporter["pulp_href"].as_str().expect("href").to_string();
        let (status, body) = api
            .post(&format!("{exporter_href}exports/"), json!({"chunk_size": "1KB"}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        api.run_tasks().await;
        let task = api.get(body["task"].as_str().expect("task")).await;
        assert_eq!(task["state"], "completed", "{task}");
        let exports = api.get(&format!("{exporter_href}exports/")).await;
        assert_eq!(exports["count"], 1, "{exports}");
        let export = &exports["results"][0];
        let toc = export["toc_info"]["file"].as_str().expect("toc file").to_string();
        assert!(toc.ends_with("-toc.json"), "{export}");
        assert!(export["output_file_info"].as_object().expect("files").len() > 5, "{export}");
        assert_eq!(api.get(&exporter_href).await["last_export"], export["pulp_href"]);

        // A mapping to a repository that does not exist is refused.
        let (status, body) = api
            .post("/pulp/api/v3/importers/core/pulp/", json!({"name": "i", "repo_mapping": {"src": "nowhere"}}))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["repo_mapping"].is_array(), "{body}");

        let dest = support::repository(&api.app, "dst").await;
        let (status, importer) = api
            .post("/pulp/api/v3/importers/core/pulp/", json!({"name": "i", "repo_mapping": {"src": "dst"}}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{importer}");
        let importer_href = importer["pulp_href"].as_str().expect("href").to_string();

        let (status, check) = api
            .post("/pulp/api/v3/importers/core/pulp/import-check/", json!({"toc": toc, "path": "/etc/passwd"}))
            .await;
        assert_eq!(status, StatusCode::OK, "{check}");
        assert_eq!(check["toc"]["is_valid"], true, "{check}");
        assert_eq!(check["path"]["is_valid"], false, "{check}");

        let (status, body) = api.post(&format!("{importer_href}imports/"), json!({"toc": toc})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let group = body["task_group"].as_str().expect("task group").to_string();
        api.run_tasks().await;
        let group = api.get(&group).await;
        assert_eq!(group["all_tasks_dispatched"], true, "{group}");
        assert_eq!(group["completed"], 2, "{group}");
        let version = api.get(&format!("{}versions/1/", dest.pulp_href())).await;
        assert_eq!(version["content_summary"]["present"]["file.file"]["count"], 1, "{version}");
        let imports = api.get(&format!("{importer_href}imports/")).await;
        assert_eq!(imports["count"], 1, "{imports}");
    }
}
