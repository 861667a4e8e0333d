//! The plugin's REST endpoints over real HTTP, on both databases: remotes (with the
//! deprecated `include_tags`/`exclude_tags` aliases and the field checks), repositories and
//! their sync endpoint, distributions (`registry_path`, no `base_url`, `private`), and the
//! read-only content endpoints with their filters, after a sync from a real registry.

mod support;

use std::time::Duration;

use pulp_plugin_api::tasking::{Worker, WorkerOptions};
use pulp_plugin_api::testing::TestDatabase;
use pulp_plugin_api::{App, SettingsSources};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::*;
use tokio_util::sync::CancellationToken;

pub struct Api {
    pub app: App,
    pub base: String,
    client: reqwest::Client,
    _served: pulp_core::testing::ServedApi,
}

pub async fn start(t: &TestDatabase) -> Api {
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(pulp_container::ContainerPlugin)
        .build_with(settings(t))
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
    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

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
        let (status, body) = self.send(self.client.get(self.url(path))).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.client.post(self.url(path)).json(&body))
            .await
    }

    /// Runs the queued tasks; the finished task `body["task"]`.
    async fn finish(&self, body: &Value) -> Value {
        let options = WorkerOptions {
            burst: true,
            name: Some("w1@test".into()),
            poll_interval: Some(Duration::from_millis(20)),
        };
        Worker::new(self.app.clone(), options)
            .run(CancellationToken::new())
            .await
            .expect("worker");
        self.get(body["task"].as_str().expect("a task")).await
    }

    async fn create(&self, path: &str, body: Value) -> Value {
        let (status, created) = self.post(path, body).await;
        if status == StatusCode::ACCEPTED {
            let task = self.finish(&created).await;
            assert_eq!(task["state"], "completed", "{task}");
            let href = task["created_resources"][0]
                .as_str()
                .expect("created")
                .to_string();
            return self.get(&href).await;
        }
        assert_eq!(status, StatusCode::CREATED, "POST {path}: {created}");
        created
    }
}

const REMOTES: &str = "/pulp/api/v3/remotes/container/container/";
const REPOSITORIES: &str = "/pulp/api/v3/repositories/container/container/";
const DISTRIBUTIONS: &str = "/pulp/api/v3/distributions/container/container/";
const MANIFESTS: &str = "/pulp/api/v3/content/container/manifests/";
const TAGS: &str = "/pulp/api/v3/content/container/tags/";
const BLOBS: &str = "/pulp/api/v3/content/container/blobs/";

pulp_core::db_tests! {
    async fn remotes_take_the_deprecated_aliases_and_refuse_bad_fields(t: &TestDatabase) {
        let api = start(t).await;
        let remote = api.create(REMOTES, json!({
            "name": "r", "url": "http://127.0.0.1:1", "upstream_name": "library/busybox",
            "includes": ["v1*"], "include_tags": ["latest"], "exclude_tags": ["*-rc"],
        })).await;
        assert_eq!(remote["includes"], json!(["v1*", "latest"]));
        assert_eq!(remote["excludes"], json!(["*-rc"]));
        assert!(remote.get("include_tags").is_none(), "write-only: {remote}");
        assert_eq!(remote["policy"], "immediate");
        assert!(remote["pulp_href"].as_str().unwrap().starts_with(REMOTES));
        assert!(remote["prn"].as_str().unwrap().starts_with("prn:container.containerremote:"));
        for (body, field) in [
            (json!({"name": "b1", "url": "http://x", "upstream_name": ""}), "upstream_name"),
            (json!({"name": "b2", "url": "http://x", "upstream_name": "Bad Name"}), "upstream_name"),
            (json!({"name": "b3", "url": "http://x", "upstream_name": "a", "includes": [""]}), "includes"),
            (json!({"name": "b4", "url": "http://x", "upstream_name": "a", "includes": "x"}), "includes"),
        ] {
            let (status, answer) = api.post(REMOTES, body.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
            assert!(answer.get(field).is_some(), "{body}: {answer}");
        }
    }

    async fn a_sync_through_the_api_fills_the_read_only_content_endpoints(t: &TestDatabase) {
        let registry = Registry::start();
        let pushed = push_images(&registry, "api/app", 1);
        let api = start(t).await;
        let remote = api.create(REMOTES, json!({"name": "up", "url": registry.url(), "upstream_name": "api/app"})).await;
        let repository = api.create(REPOSITORIES, json!({"name": "mirror"})).await;
        assert_eq!(repository["manifest_signing_service"], Value::Null);
        let repo_href = repository["pulp_href"].as_str().unwrap().to_string();
        let (status, body) = api.post(&format!("{repo_href}sync/"), json!({"remote": remote["pulp_href"]})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let task = api.finish(&body).await;
        assert_eq!(task["state"], "completed", "{task}");
        assert_eq!(task["name"], pulp_container::SYNC_TASK);
        let version = api.get(&format!("{repo_href}versions/1/")).await;
        let summary = &version["content_summary"]["present"];
        assert_eq!(summary["container.tag"]["count"], 2, "{version}");
        assert_eq!(summary["container.manifest"]["count"], 4);
        assert_eq!(summary["container.blob"]["count"], 8);

        // Manifests: filters by digest and media_type; hrefs of what they reference.
        let (_, top, images) = &pushed.tags[0];
        let index = api.get(&format!("{MANIFESTS}?digest={}", digest(top))).await;
        assert_eq!(index["count"], 1, "{index}");
        let index = &index["results"][0];
        assert_eq!(index["media_type"], OCI_INDEX);
        assert_eq!(index["type"], "index");
        assert_eq!(index["schema_version"], 2);
        assert!(index.get("data").is_none());
        assert_eq!(index["listed_manifests"].as_array().unwrap().len(), 2);
        assert!(index["prn"].as_str().unwrap().starts_with("prn:container.manifest:"));
        let listed = index["listed_manifests"][0].as_str().unwrap().to_string();
        assert!(listed.starts_with(MANIFESTS), "{listed}");
        let image = api.get(&listed).await;
        assert_eq!(image["media_type"], OCI_MANIFEST);
        assert_eq!(image["architecture"], images[0].architecture.as_str());
        assert_eq!(image["os"], "linux");
        assert_eq!(image["labels"], json!({"seed": "multi"}));
        assert_eq!(image["annotations"], json!({"org.example.seed": "multi"}));
        assert!(image["config_blob"].as_str().unwrap().starts_with(BLOBS));
        assert_eq!(image["blobs"].as_array().unwrap().len(), 2);
        let oci = api.get(&format!("{MANIFESTS}?media_type={}", OCI_MANIFEST.replace('+', "%2B"))).await;
        assert_eq!(oci["count"], 3);
        let both = api.get(&format!("{MANIFESTS}?digest__in={},{}", digest(top), images[0].digest())).await;
        assert_eq!(both["count"], 2);
        let in_version = api.get(&format!("{MANIFESTS}?repository_version={repo_href}versions/1/")).await;
        assert_eq!(in_version["count"], 4);

        // Tags: name, name__in; tagged_manifest is an href.
        let tag = api.get(&format!("{TAGS}?name=multi")).await;
        assert_eq!(tag["count"], 1);
        assert_eq!(tag["results"][0]["tagged_manifest"], index["pulp_href"]);
        let tags = api.get(&format!("{TAGS}?name__in=multi,single-0,nope")).await;
        assert_eq!(tags["count"], 2);

        // Blobs: by digest, with their artifact.
        let config = api.get(image["config_blob"].as_str().unwrap()).await;
        assert_eq!(config["digest"], images[0].config.digest());
        assert!(config["artifact"].as_str().unwrap().starts_with("/pulp/api/v3/artifacts/"));
        let blob = api.get(&format!("{BLOBS}?digest={}", images[0].layers[0].digest())).await;
        assert_eq!(blob["count"], 1);

        // Content is read-only: no create endpoint.
        let (status, _) = api.post(MANIFESTS, json!({"digest": "sha256:00"})).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);

        // Distribution: registry_path from the base path, no base_url.
        let distribution = api.create(DISTRIBUTIONS, json!({"name": "d", "base_path": "api/app", "repository": repo_href})).await;
        assert_eq!(distribution["registry_path"], "api/app");
        assert!(distribution.get("base_url").is_none(), "{distribution}");
        assert_eq!(distribution["private"], false);
        assert!(distribution["prn"].as_str().unwrap().starts_with("prn:container.containerdistribution:"));
        let private = api.create(DISTRIBUTIONS, json!({"name": "p", "base_path": "secret/app", "repository": repo_href, "private": true, "description": "hidden"})).await;
        assert_eq!(private["private"], true);
        assert_eq!(private["description"], "hidden");
    }
}
