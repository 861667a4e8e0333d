//! The generic REST layer with the file plugin, over real HTTP on loopback, on SQLite and
//! PostgreSQL: CRUD, filters, pagination, labels, tasks for changes, the OpenAPI document,
//! and every kind of bad input answered with Pulp's error shapes.

use std::time::Duration;

use pulp_core::settings::SettingsSources;
use pulp_core::tasking::{Worker, WorkerOptions};
use pulp_core::testing::TestDatabase;
use pulp_core::App;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

struct Api {
    app: App,
    base: String,
    client: reqwest::Client,
    _served: pulp_core::testing::ServedApi,
}

async fn api(t: &TestDatabase) -> Api {
    let mut settings = t.settings();
    settings.api_max_body_size = 64 * 1024;
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(pulp_file::FilePlugin)
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
    async fn raw(&self, method: Method, path: &str, body: Option<Vec<u8>>) -> (StatusCode, Value) {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let mut request = self
            .client
            .request(method, url)
            .basic_auth("admin", Some("password"))
            .header("content-type", "application/json");
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.expect("send");
        let status = response.status();
        let bytes = response.bytes().await.expect("body");
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.raw(method, path, body.map(|b| b.to_string().into_bytes()))
            .await
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Runs queued tasks to the end, then returns the task's final state.
    async fn finish(&self, task: &Value) -> Value {
        let href = task["task"].as_str().expect("a task href").to_string();
        let options = WorkerOptions {
            burst: true,
            name: Some("w@test".into()),
            poll_interval: Some(Duration::from_millis(20)),
        };
        Worker::new(self.app.clone(), options)
            .run(CancellationToken::new())
            .await
            .expect("worker");
        self.get(&href).await
    }
}

/// Percent-encodes a query value.
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

const REMOTES: &str = "/pulp/api/v3/remotes/file/file/";
const REPOSITORIES: &str = "/pulp/api/v3/repositories/file/file/";

pulp_core::db_tests! {
    async fn remotes_are_created_listed_filtered_and_keep_secrets(t: &TestDatabase) {
        let api = api(t).await;
        for name in ["alpha", "beta", "alphabet"] {
            let (status, body) = api
                .post(REMOTES, json!({"name": name, "url": "http://example.org/PULP_MANIFEST", "password": "s3cret", "username": "u"}))
                .await;
            assert_eq!(status, StatusCode::CREATED, "{body}");
            assert!(body.get("password").is_none(), "secrets are never returned: {body}");
            assert!(body["hidden_fields"].as_array().expect("hidden").iter().any(|f| f["name"] == "password" && f["is_set"] == true));
        }
        let page = api.get(&format!("{REMOTES}?name__contains=alpha&ordering=-name")).await;
        assert_eq!(page["count"], 2);
        assert_eq!(page["results"][0]["name"], "alphabet");
        let page = api.get(&format!("{REMOTES}?limit=1&offset=1&fields=name,pulp_href")).await;
        assert_eq!(page["count"], 3);
        assert_eq!(page["results"].as_array().map(Vec::len), Some(1));
        assert_eq!(page["results"][0].as_object().map(|o| o.len()), Some(2));
        assert!(page["next"].as_str().is_some_and(|n| n.contains("offset=2")), "{page}");
        assert!(page["previous"].as_str().is_some(), "{page}");
        // q: filters combined with AND / OR / NOT
        let page = api.get(&format!("{REMOTES}?q={}", urlencode("name=beta OR (name__startswith=alpha AND NOT name=alphabet)"))).await;
        let mut names: Vec<&str> = page["results"].as_array().expect("results").iter().filter_map(|r| r["name"].as_str()).collect();
        names.sort();
        assert_eq!(names, ["alpha", "beta"], "{page}");
        let all = api.get(&format!("/pulp/api/v3/remotes/?q={}", urlencode("NOT name__contains=\"alpha\""))).await;
        assert_eq!(all["count"], 1);
        for bad in ["name=a AND", "colour=red", "(name=a"] {
            let (status, body) = api.call(Method::GET, &format!("{REMOTES}?q={}", urlencode(bad)), None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
            assert!(body["q"].is_array(), "{body}");
        }
        let page = api.get(&format!("{REMOTES}?name__in=beta,alpha&exclude_fields=url")).await;
        assert_eq!(page["count"], 2);
        assert!(page["results"][0].get("url").is_none());
        let all = api.get("/pulp/api/v3/remotes/").await;
        assert_eq!(all["count"], 3);
        assert_eq!(all["results"][0]["pulp_type"], "file.file");
    }

    async fn bad_input_gets_field_errors_and_changes_nothing(t: &TestDatabase) {
        let api = api(t).await;
        let (status, body) = api.post(REMOTES, json!({"name": "r", "url": "http://x/", "colour": "red"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, json!({"colour": ["Unexpected field."]}));
        let (status, body) = api.post(REMOTES, json!({"url": "http://x/"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["name"][0], "This field is required.");
        let (status, body) = api.post(REMOTES, json!({"name": "r", "url": "http://x/", "download_concurrency": "many"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["download_concurrency"].is_array(), "{body}");
        let (status, body) = api.post(REMOTES, json!({"name": "r", "url": "http://x/", "download_concurrency": 0})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, body) = api.post(REMOTES, json!(["not", "an", "object"])).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["non_field_errors"].is_array(), "{body}");
        let (status, body) = api.raw(Method::POST, REMOTES, Some(b"{not json".to_vec())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["detail"].is_string(), "{body}");
        let huge = json!({"name": "big", "url": "http://x/", "ca_cert": "x".repeat(100_000)});
        let (status, body) = api.post(REMOTES, huge).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(body["detail"].is_string(), "413 in Pulp's shape: {body}");
        // references: malformed, of another kind, missing
        for (remote, message) in [
            ("not-an-href", "Invalid hyperlink - No URL match."),
            ("/pulp/api/v3/repositories/file/file/01a21612-81fa-7557-b3f0-6a98ddb60503/", "Invalid hyperlink - No URL match."),
            ("/pulp/api/v3/remotes/file/file/01a21612-81fa-7557-b3f0-6a98ddb60503/", "Invalid hyperlink - Object does not exist."),
        ] {
            let (status, body) = api.post(REPOSITORIES, json!({"name": "repo", "remote": remote})).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(body["remote"][0], message);
        }
        let (status, _) = api.post(REPOSITORIES, json!({"name": "repo"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, body) = api.post(REPOSITORIES, json!({"name": "repo"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["name"].is_array(), "duplicate names are a field error: {body}");
        let (status, body) = api.post(REPOSITORIES, json!({"name": "other", "manifest": "../escape"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["manifest"].is_array(), "{body}");
        let (status, body) = api.post(REPOSITORIES, json!({"name": "nul\u{0}name"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let (status, body) = api.call(Method::GET, &format!("{REMOTES}?name=a%00b"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "NUL in a query is refused: {body}");
        let (status, body) = api.call(Method::GET, &format!("{REMOTES}?offset=9223372036854775707&limit=100"), None).await;
        assert_eq!(status, StatusCode::OK, "a huge offset is an empty page: {body}");
        // nothing half-made: one repository exists
        assert_eq!(api.get(REPOSITORIES).await["count"], 1);
        let (status, body) = api.call(Method::GET, &format!("{REPOSITORIES}not-a-uuid/"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["detail"], "Not found.");
        let (status, _) = api.call(Method::GET, &format!("{REPOSITORIES}01a21612-81fa-7557-b3f0-6a98ddb60503/"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    async fn anonymous_clients_see_only_status_and_docs(t: &TestDatabase) {
        let api = api(t).await;
        let client = reqwest::Client::new();
        let status = client.get(format!("{}/pulp/api/v3/status/", api.base)).send().await.expect("send");
        assert_eq!(status.status(), StatusCode::OK);
        let doc = client.get(format!("{}/pulp/api/v3/docs/api.json", api.base)).send().await.expect("send");
        assert_eq!(doc.status(), StatusCode::OK);
        let remotes = client.get(format!("{}{REMOTES}", api.base)).send().await.expect("send");
        assert_eq!(remotes.status(), StatusCode::UNAUTHORIZED);
        let wrong = client.get(format!("{}{REMOTES}", api.base)).basic_auth("admin", Some("nope")).send().await.expect("send");
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }

    async fn the_openapi_document_names_operations_as_pulp_does(t: &TestDatabase) {
        let api = api(t).await;
        let doc = api.get("/pulp/api/v3/docs/api.json").await;
        assert_eq!(doc["info"]["x-pulp-app-versions"]["core"], pulp_core::plugin::PULP_API_VERSION);
        assert_eq!(doc["info"]["x-pulp-app-versions"]["file"], pulp_core::plugin::PULP_API_VERSION);
        let mut ids = Vec::new();
        for methods in doc["paths"].as_object().expect("paths").values() {
            for op in methods.as_object().expect("methods").values() {
                ids.push(op["operationId"].as_str().expect("operation id").to_string());
            }
        }
        for id in [
            "status_read", "tasks_list", "tasks_cancel", "remotes_file_file_create", "remotes_file_file_partial_update",
            "repositories_file_file_sync", "repositories_file_file_modify", "repositories_file_file_versions_list",
            "repositories_file_file_versions_repair", "publications_file_file_create", "distributions_file_file_create",
            "content_file_files_list", "repositories_list", "repository_versions_list", "workers_list",
        ] {
            assert!(ids.iter().any(|i| i == id), "{id} missing from the document");
        }
        let mut sorted = ids.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len(), "operation ids are unique");
        let schemas = &doc["components"]["schemas"];
        assert!(schemas["file.FileRemote"]["properties"]["password"]["writeOnly"] == true);
        assert!(schemas["file.FileRemoteResponse"]["properties"].get("password").is_none());
        assert!(doc["paths"]["{file_file_repository_href}sync/"]["post"]["parameters"][0]["name"] == "file_file_repository_href");
        // every $ref points at a schema that exists
        let text = doc.to_string();
        for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = part.split('"').next().unwrap_or_default();
            assert!(schemas.get(name).is_some(), "dangling $ref {name}");
        }
    }

    async fn changes_run_as_tasks_and_labels_select(t: &TestDatabase) {
        let api = api(t).await;
        let (_, remote) = api.post(REMOTES, json!({"name": "r", "url": "http://x/PULP_MANIFEST"})).await;
        let remote_href = remote["pulp_href"].as_str().expect("href").to_string();
        let (status, repo) = api.post(REPOSITORIES, json!({"name": "repo", "remote": remote["prn"]})).await;
        assert_eq!(status, StatusCode::CREATED, "a PRN is accepted as a reference: {repo}");
        assert_eq!(repo["remote"], remote_href.as_str());
        let repo_href = repo["pulp_href"].as_str().expect("href").to_string();
        assert!(repo["latest_version_href"].as_str().is_some_and(|h| h.ends_with("/versions/0/")));
        let (status, task) = api.call(Method::PATCH, &repo_href, Some(json!({"description": "mine", "retain_repo_versions": 2}))).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{task}");
        let done = api.finish(&task).await;
        assert_eq!(done["state"], "completed", "{done}");
        let repo = api.get(&repo_href).await;
        assert_eq!(repo["description"], "mine");
        assert_eq!(repo["retain_repo_versions"], 2);
        assert_eq!(repo["remote"], remote_href.as_str(), "PATCH keeps what it does not name");
        let (status, body) = api.call(Method::PATCH, &repo_href, Some(json!({"retain_repo_versions": 0}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "validated before a task is made: {body}");
        let (status, body) = api.post(&format!("{repo_href}set_label/"), json!({"key": "env", "value": "prod"})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let (_, other) = api.post(REPOSITORIES, json!({"name": "other", "pulp_labels": {"env": "dev"}})).await;
        assert_eq!(other["pulp_labels"]["env"], "dev");
        let page = api.get(&format!("{REPOSITORIES}?pulp_label_select=env%3Dprod")).await;
        assert_eq!(page["count"], 1, "{page}");
        assert_eq!(page["results"][0]["name"], "repo");
        let page = api.get(&format!("{REPOSITORIES}?pulp_label_select=env")).await;
        assert_eq!(page["count"], 2);
        let (status, _) = api.post(&format!("{repo_href}unset_label/"), json!({"key": "env"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, body) = api.post(&format!("{repo_href}unset_label/"), json!({"key": "env"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        // distribution create is a task; overlapping base paths are refused up front
        let (status, task) = api.post("/pulp/api/v3/distributions/file/file/", json!({"name": "d", "base_path": "a/b", "repository": repo_href})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{task}");
        let done = api.finish(&task).await;
        let dist_href = done["created_resources"][0].as_str().expect("created").to_string();
        let dist = api.get(&dist_href).await;
        assert_eq!(dist["repository"], repo_href.as_str());
        assert!(dist["base_url"].as_str().is_some_and(|u| u.ends_with("/pulp/content/a/b/")), "{dist}");
        for overlapping in ["a", "a/b", "a/b/c"] {
            let (status, body) = api.post("/pulp/api/v3/distributions/file/file/", json!({"name": overlapping, "base_path": overlapping})).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{overlapping}: {body}");
            assert!(body["base_path"].is_array());
        }
        // delete is a task too
        let (status, task) = api.call(Method::DELETE, &remote_href, None).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(api.finish(&task).await["state"], "completed");
        let (status, _) = api.call(Method::GET, &remote_href, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(api.get(&repo_href).await["remote"].is_null());
    }

    async fn modify_makes_versions_and_content_filters_by_version(t: &TestDatabase) {
        let api = api(t).await;
        let (_, repo) = api.post(REPOSITORIES, json!({"name": "repo"})).await;
        let repo_href = repo["pulp_href"].as_str().expect("href").to_string();
        let units: Vec<pulp_file::FileContent> = (0..3)
            .map(|i| pulp_file::FileContent { relative_path: format!("f{i}"), digest: format!("{i:064x}") })
            .collect();
        let saved = pulp_core::models::save_content(api.app.db(), units).await.expect("save");
        let hrefs: Vec<String> = saved.iter().map(|m| m.pulp_href()).collect();
        let (status, task) = api.post(&format!("{repo_href}modify/"), json!({"add_content_units": hrefs})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{task}");
        let done = api.finish(&task).await;
        assert!(done["created_resources"][0].as_str().is_some_and(|h| h.ends_with("/versions/1/")), "{done}");
        let (_, task) = api.post(&format!("{repo_href}modify/"), json!({"remove_content_units": [hrefs[0]]})).await;
        api.finish(&task).await;
        let v1 = format!("{repo_href}versions/1/");
        let v2 = format!("{repo_href}versions/2/");
        let version = api.get(&v2).await;
        assert_eq!(version["content_summary"]["present"]["file.file"]["count"], 2);
        assert_eq!(version["content_summary"]["removed"]["file.file"]["count"], 1);
        let in_v1 = api.get(&format!("/pulp/api/v3/content/file/files/?repository_version={v1}")).await;
        assert_eq!(in_v1["count"], 3);
        assert!(in_v1["results"][0]["sha256"].is_string(), "file content shows sha256: {in_v1}");
        let removed = api.get(&format!("/pulp/api/v3/content/file/files/?repository_version_removed={v2}")).await;
        assert_eq!(removed["count"], 1);
        assert_eq!(removed["results"][0]["relative_path"], "f0");
        let by_path = api.get("/pulp/api/v3/content/file/files/?relative_path=f1").await;
        assert_eq!(by_path["count"], 1);
        let versions = api.get(&format!("{repo_href}versions/?number__gte=1")).await;
        assert_eq!(versions["count"], 2);
        let (status, body) = api.post(&format!("{repo_href}modify/"), json!({"add_content_units": ["/pulp/api/v3/content/file/files/01a21612-81fa-7557-b3f0-6a98ddb60503/"]})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        // base_version: a version made from version 1 again holds its three units
        let (_, task) = api.post(&format!("{repo_href}modify/"), json!({"base_version": v1})).await;
        api.finish(&task).await;
        let v3 = api.get(&format!("{repo_href}versions/3/")).await;
        assert_eq!(v3["content_summary"]["present"]["file.file"]["count"], 3);
        let (status, task) = api.call(Method::DELETE, &v1, None).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(api.finish(&task).await["state"], "completed");
        let (status, _) = api.call(Method::GET, &v1, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let all = api.get("/pulp/api/v3/repository_versions/").await;
        assert_eq!(all["count"], 3);
        // overwrite=false: a unit at a path the repository already holds fails the task
        let other = pulp_core::models::save_content(
            api.app.db(),
            vec![pulp_file::FileContent { relative_path: "f1".into(), digest: format!("{:064x}", 9) }],
        )
        .await
        .expect("save");
        let body = json!({"add_content_units": [other[0].pulp_href()], "overwrite": false});
        let (status, task) = api.post(&format!("{repo_href}modify/"), body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{task}");
        let done = api.finish(&task).await;
        assert_eq!(done["state"], "failed", "{done}");
        let message = done["error"]["description"].as_str().unwrap_or_default();
        assert!(message.contains("relative_path=\"f1\"") && message.contains("overwrite"), "{done}");
        assert!(message.starts_with("[PLP0023] "), "pulpcore's error code: {done}");
        assert_eq!(api.get(&format!("{repo_href}versions/")).await["count"], 3, "no version made");
        let (status, body) = api.post(&format!("{repo_href}modify/"), json!({"overwrite": "no"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        // the default (true) replaces the unit at that path
        let (_, task) = api.post(&format!("{repo_href}modify/"), json!({"add_content_units": [other[0].pulp_href()]})).await;
        let done = api.finish(&task).await;
        assert_eq!(done["state"], "completed", "{done}");
        let latest = api.get(done["created_resources"][0].as_str().expect("version")).await;
        assert_eq!(latest["content_summary"]["removed"]["file.file"]["count"], 1, "{latest}");
    }
}
