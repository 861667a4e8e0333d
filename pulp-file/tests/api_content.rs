//! Creating file content through the REST API (from an artifact, a file or a chunked upload,
//! into a repository), and orphan cleanup of content, over real HTTP on both databases.

mod support;

use std::time::Duration;

use pulp_core::tasking::{Worker, WorkerOptions};
use pulp_file::FilePlugin;
use pulp_plugin_api::testing::TestDatabase;
use pulp_plugin_api::{App, SettingsSources};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

struct Api {
    app: App,
    base: String,
    client: reqwest::Client,
    _served: pulp_core::testing::ServedApi,
}

async fn start(t: &TestDatabase) -> Api {
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(FilePlugin)
        .build_with(support::settings(t))
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

fn sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl Api {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
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

    async fn post_json(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.client.post(self.url(path)).json(&body))
            .await
    }

    async fn post_form(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        file: Option<&[u8]>,
    ) -> (StatusCode, Value) {
        let mut form = Form::new();
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        if let Some(bytes) = file {
            form = form.part("file", Part::bytes(bytes.to_vec()).file_name("f"));
        }
        self.send(self.client.post(self.url(path)).multipart(form))
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

    async fn artifact(&self, bytes: &[u8]) -> String {
        let (status, body) = self
            .post_form("/pulp/api/v3/artifacts/", &[], Some(bytes))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["pulp_href"].as_str().expect("href").to_string()
    }

    async fn repository(&self, name: &str) -> String {
        let repository = support::repository(&self.app, name).await;
        repository.pulp_href()
    }

    async fn count(&self, path: &str) -> i64 {
        self.get(path).await["count"].as_i64().expect("count")
    }
}

const FILES: &str = "/pulp/api/v3/content/file/files/";

pulp_core::db_tests! {
    async fn file_content_is_created_from_artifacts_and_files_into_repositories(t: &TestDatabase) {
        let api = start(t).await;
        let repository = api.repository("r1").await;
        let bytes = b"hello, file content".to_vec();
        let sha = sha256(&bytes);
        let artifact = api.artifact(&bytes).await;

        // From an artifact, JSON, added to a repository.
        let (status, body) = api
            .post_json(FILES, json!({"relative_path": "a/hello.txt", "artifact": artifact, "repository": repository, "pulp_labels": {"k": "v"}}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let task = api.finish(&body).await;
        assert_eq!(task["state"], "completed", "{task}");
        assert_eq!(task["name"], "pulpcore.app.tasks.base.general_create_content");
        assert_eq!(task["reserved_resources_record"], json!([repository.clone()]));
        let created = task["created_resources"].as_array().expect("created").clone();
        assert_eq!(created.len(), 2, "{task}");
        let content_href = created[0].as_str().expect("content").to_string();
        let version = created[1].as_str().expect("version").to_string();
        assert_eq!(version, format!("{repository}versions/1/"));
        let unit = api.get(&content_href).await;
        assert_eq!(unit["relative_path"], "a/hello.txt");
        assert_eq!(unit["sha256"], sha);
        assert_eq!(unit["artifact"], artifact);
        assert_eq!(unit["pulp_labels"], json!({"k": "v"}));
        assert_eq!(api.count(&format!("{FILES}?repository_version={version}")).await, 1);
        assert_eq!(api.count(&format!("/pulp/api/v3/artifacts/?repository_version={version}")).await, 1);

        // The same unit again: the same href, no new version.
        let (_, body) = api.post_json(FILES, json!({"relative_path": "a/hello.txt", "artifact": artifact, "repository": repository})).await;
        let task = api.finish(&body).await;
        assert_eq!(task["state"], "completed", "{task}");
        assert_eq!(task["created_resources"], json!([content_href.clone()]));

        // From a file (multipart), into a new version holding both.
        let other = b"another file".to_vec();
        let (status, body) = api
            .post_form(FILES, &[("relative_path", "b.txt"), ("repository", &repository), ("pulp_labels", "{\"x\": \"y\"}")], Some(&other))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let task = api.finish(&body).await;
        assert_eq!(task["state"], "completed", "{task}");
        let version2 = task["created_resources"][1].as_str().expect("version").to_string();
        assert_eq!(version2, format!("{repository}versions/2/"));
        assert_eq!(api.count(&format!("{FILES}?repository_version={version2}")).await, 2);
        let unit = api.get(task["created_resources"][0].as_str().expect("href")).await;
        assert_eq!(unit["sha256"], sha256(&other));
        assert_eq!(unit["pulp_labels"], json!({"x": "y"}));
        assert_eq!(api.count(&format!("/pulp/api/v3/artifacts/?sha256={}", sha256(&other))).await, 1);
        let tmp = api.app.storage().local_root().expect("local").join("tmp");
        assert_eq!(std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0), 0, "the uploaded file is not kept");

        // overwrite=false: another file at a path the repository holds fails the task and
        // makes no version (form field text "false" as pulp-cli sends it); true replaces it.
        let (status, body) = api
            .post_form(FILES, &[("relative_path", "b.txt"), ("repository", &repository), ("overwrite", "false")], Some(b"not the same"))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let task = api.finish(&body).await;
        assert_eq!(task["state"], "failed", "{task}");
        let message = task["error"]["description"].as_str().unwrap_or_default();
        assert!(message.contains("relative_path=\"b.txt\""), "{task}");
        assert_eq!(api.count(&format!("{}versions/", repository)).await, 3, "no version made");
        let (_, body) = api
            .post_json(FILES, json!({"relative_path": "b.txt", "artifact": artifact, "repository": repository, "overwrite": true}))
            .await;
        let task = api.finish(&body).await;
        assert_eq!(task["state"], "completed", "{task}");
        let version3 = task["created_resources"][1].as_str().expect("version").to_string();
        assert_eq!(api.count(&format!("{FILES}?repository_version={version3}")).await, 2);
        let (status, body) = api.post_json(FILES, json!({"relative_path": "e", "artifact": artifact, "overwrite": 3})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body.get("overwrite").is_some(), "{body}");

        // The newer upload endpoint answers at once with the unit.
        let (status, unit) = api.post_form(&format!("{FILES}upload/"), &[("relative_path", "c.txt")], Some(b"third")).await;
        assert_eq!(status, StatusCode::CREATED, "{unit}");
        assert_eq!(unit["relative_path"], "c.txt");
        assert_eq!(unit["sha256"], sha256(b"third"));
        let (status, again) = api.post_form(&format!("{FILES}upload/"), &[("relative_path", "c.txt")], Some(b"third")).await;
        assert_eq!((status, &again["pulp_href"]), (StatusCode::CREATED, &unit["pulp_href"]));

        // Refused before any task: unsafe paths, no file, two files, URLs, unknown references.
        for path in ["../x", "/abs", "a/../../x", ""] {
            let (status, body) = api.post_json(FILES, json!({"relative_path": path, "artifact": artifact})).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
            assert!(body.get("relative_path").is_some(), "{path}: {body}");
            let (status, _) = api.post_form(&format!("{FILES}upload/"), &[("relative_path", path)], Some(b"z")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        }
        let (status, body) = api.post_json(FILES, json!({"relative_path": "d", "artifact": artifact, "digest": sha})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({"digest": ["Unexpected field"]})));
        let (status, body) = api.post_json(FILES, json!({"relative_path": "d"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.get("non_field_errors").is_some(), "{body}");
        let (status, body) = api.post_json(FILES, json!({"relative_path": "d", "file_url": "http://example.com/x"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.get("file_url").is_some(), "{body}");
        let (status, body) = api.post_json(FILES, json!({"relative_path": "d", "artifact": "/pulp/api/v3/artifacts/0190d3d5-0000-7000-8000-000000000000/"})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({"artifact": ["Invalid hyperlink - Object does not exist."]})));
        let (status, body) = api.post_json(FILES, json!({"relative_path": "d", "artifact": artifact, "repository": "/pulp/api/v3/repositories/file/file/nope/"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.get("repository").is_some(), "{body}");
        // a/hello.txt, b.txt, c.txt, and the two b.txt units of the overwrite checks (the one
        // refused by overwrite=false stays an orphan, as a unit made by a failed add does)
        assert_eq!(api.count(FILES).await, 5);

        let (_, doc) = api.send(api.client.get(api.url("/pulp/api/v3/docs/api.json"))).await;
        assert_eq!(doc["paths"][FILES]["post"]["operationId"], "content_file_files_create");
        assert_eq!(doc["paths"][FILES]["get"]["operationId"], "content_file_files_list");
        assert_eq!(doc["paths"][format!("{FILES}upload/")]["post"]["operationId"], "content_file_files_upload");
        assert!(doc["components"]["schemas"]["file.FileContent"]["properties"]["upload"].is_object());
        assert!(doc["components"]["schemas"]["FileContentUpload"]["properties"]["file"].is_object());
    }

    async fn file_content_is_created_from_a_chunked_upload(t: &TestDatabase) {
        let api = start(t).await;
        let bytes: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
        let (_, upload) = api.post_json("/pulp/api/v3/uploads/", json!({"size": 3000})).await;
        let upload = upload["pulp_href"].as_str().expect("href").to_string();
        for start in [2000usize, 0, 1000] {
            let form = Form::new().part("file", Part::bytes(bytes[start..start + 1000].to_vec()).file_name("c"));
            let (status, body) = api
                .send(api.client.put(api.url(&upload)).header("Content-Range", format!("bytes {start}-{}/3000", start + 999)).multipart(form))
                .await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        let (status, body) = api.post_json(FILES, json!({"relative_path": "big.bin", "upload": upload})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let task = api.finish(&body).await;
        assert_eq!(task["state"], "completed", "{task}");
        assert_eq!(task["reserved_resources_record"], json!([upload.clone()]));
        let unit = api.get(task["created_resources"][0].as_str().expect("href")).await;
        assert_eq!(unit["sha256"], sha256(&bytes));
        let (status, _) = api.send(api.client.get(api.url(&upload))).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "the upload was used up");
        let (status, body) = api.post_json(FILES, json!({"relative_path": "again.bin", "upload": upload})).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({"upload": ["Invalid hyperlink - Object does not exist."]})));
    }

    async fn orphan_cleanup_keeps_content_in_versions_and_young_orphans(t: &TestDatabase) {
        let api = start(t).await;
        let repository = api.repository("r1").await;
        let kept = b"in a version".to_vec();
        let orphan = b"in no version".to_vec();
        let (_, body) = api.post_form(FILES, &[("relative_path", "kept"), ("repository", &repository)], Some(&kept)).await;
        assert_eq!(api.finish(&body).await["state"], "completed");
        let (status, orphan_unit) = api.post_form(&format!("{FILES}upload/"), &[("relative_path", "orphan")], Some(&orphan)).await;
        assert_eq!(status, StatusCode::CREATED);
        let lonely_artifact = api.artifact(b"an artifact of nothing").await;
        let store = api.app.storage().clone();

        // Everything is younger than the default protection time: nothing goes.
        let (_, body) = api.post_json("/pulp/api/v3/orphans/cleanup/", json!({})).await;
        assert_eq!(api.finish(&body).await["state"], "completed");
        assert_eq!(api.count(FILES).await, 2);
        assert_eq!(api.count("/pulp/api/v3/artifacts/").await, 3);

        // Only the named content (and its artifact) when content_hrefs is given.
        let (_, body) = api
            .post_json("/pulp/api/v3/orphans/cleanup/", json!({"orphan_protection_time": 0, "content_hrefs": [orphan_unit["pulp_href"]]}))
            .await;
        assert_eq!(api.finish(&body).await["state"], "completed");
        assert_eq!(api.count(FILES).await, 1);
        assert_eq!(api.count("/pulp/api/v3/artifacts/").await, 2);
        assert!(!store.contains(&sha256(&orphan)).await.expect("contains"));
        assert_eq!(api.send(api.client.get(api.url(&lonely_artifact))).await.0, StatusCode::OK);
        // Its detail row went with it (a stale one would hold the natural key): the same file
        // uploads again, as a new unit.
        let (status, again) = api.post_form(&format!("{FILES}upload/"), &[("relative_path", "orphan")], Some(&orphan)).await;
        assert_eq!(status, StatusCode::CREATED, "{again}");
        assert_ne!(again["pulp_href"], orphan_unit["pulp_href"]);
        assert_eq!(api.count(FILES).await, 2);

        // Without protection: the lonely artifact goes, the content in a version stays.
        let (_, body) = api.post_json("/pulp/api/v3/orphans/cleanup/", json!({"orphan_protection_time": 0})).await;
        let task = api.finish(&body).await;
        assert_eq!(task["state"], "completed", "{task}");
        assert_eq!(api.count(FILES).await, 1);
        assert_eq!(api.count("/pulp/api/v3/artifacts/").await, 1);
        assert!(store.contains(&sha256(&kept)).await.expect("contains"));
        assert!(!store.contains(&sha256(b"an artifact of nothing")).await.expect("contains"));
        assert_eq!(api.count("/pulp/api/v3/artifacts/?orphaned_for=0").await, 0, "a used artifact is no orphan");

        // An artifact content uses cannot be deleted through the API.
        let artifact = api.get(&format!("/pulp/api/v3/artifacts/?sha256={}", sha256(&kept))).await["results"][0]["pulp_href"]
            .as_str()
            .expect("href")
            .to_string();
        let (status, body) = api.send(api.client.delete(api.url(&artifact))).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        let (status, body) = api.post_json("/pulp/api/v3/orphans/cleanup/", json!({"content_hrefs": ["/nope/"]})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
}
