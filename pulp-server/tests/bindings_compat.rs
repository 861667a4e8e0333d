//! What Pulp's Python bindings (`pulpcore-client`, `pulp-file-client`) and scripts written
//! against pulpcore rely on, over real HTTP on loopback, on SQLite and PostgreSQL: `optimize`
//! on sync, the status fields, unknown filters refused, task and content response fields,
//! labels without value, the OpenAPI document's `license` and `?pk_path=1`, the API root,
//! and the content app and sync behaviours of pulp_file.

use std::path::Path;
use std::time::Duration;

use pulp_core::deps::bytes::Bytes;
use pulp_core::settings::SettingsSources;
use pulp_core::tasking::{Worker, WorkerOptions};
use pulp_core::testing::http::{Reply, TestServer};
use pulp_core::testing::TestDatabase;
use pulp_core::App;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Digest as _;
use tokio_util::sync::CancellationToken;

struct Api {
    app: App,
    base: String,
    content: String,
    client: reqwest::Client,
    _served: pulp_core::testing::ServedApi,
    _stop_content: tokio::sync::oneshot::Sender<()>,
}

async fn api(t: &TestDatabase, import_dir: Option<&Path>) -> Api {
    let mut settings = t.settings();
    if let Some(dir) = import_dir {
        settings.allowed_import_paths = vec![dir.to_path_buf()];
    }
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(pulp_file::FilePlugin)
        // A plugin's per-path headers (pulpcore's `content_headers_for`).
        .plugin(|r: &mut pulp_core::Registry| {
            r.content_headers::<pulp_file::FileDistribution>(|path| {
                if path.ends_with(".csv") {
                    vec![("Cache-Control".into(), "no-cache".into())]
                } else {
                    Vec::new()
                }
            });
        })
        .build_with(settings)
        .await
        .expect("build");
    let served = pulp_core::testing::serve_api(&app).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let content = format!("http://{}", listener.local_addr().expect("address"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let router = pulp_core::content_app::content_router(app.clone());
    tokio::spawn(async move {
        let _ = pulp_core::api::serve(listener, router, async {
            let _ = stopped.await;
        })
        .await;
    });
    Api {
        app,
        base: served.base.clone(),
        content,
        client: reqwest::Client::new(),
        _served: served,
        _stop_content: stop,
    }
}

impl Api {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
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
        let bytes = response.bytes().await.expect("body");
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn create(&self, path: &str, body: Value) -> Value {
        let (status, made) = self.post(path, body).await;
        assert_eq!(status, StatusCode::CREATED, "POST {path}: {made}");
        made
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

    async fn completed(&self, path: &str, body: Value) -> Value {
        let (status, task) = self.post(path, body).await;
        assert_eq!(status, StatusCode::ACCEPTED, "POST {path}: {task}");
        let done = self.finish(&task).await;
        assert_eq!(done["state"], "completed", "{done}");
        done
    }

    async fn content_get(&self, path: &str) -> reqwest::Response {
        // The distribution snapshot is refreshed by changes made through this process's API.
        self.client
            .get(format!("{}{path}", self.content))
            .send()
            .await
            .expect("content app")
    }
}

/// Files for a `PULP_MANIFEST`: name → body.
const FILES: &[(&str, &[u8])] = &[
    ("a.txt", b"alpha\n"),
    ("empty.bin", b""),
    ("data.tar.zst", b"zstd bytes"),
    ("sub/b.txt", b"beta\n"),
];

fn sha256(body: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(body))
}

/// Writes `FILES` and their manifest under `dir`; a path holding a comma (`with,comma.txt`)
/// is listed quoted, as a CSV writer puts it.
fn write_fixture(dir: &Path) {
    let mut manifest = String::new();
    for (name, body) in FILES {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, body).expect("write");
        manifest.push_str(&format!("{name},{},{}\n", sha256(body), body.len()));
    }
    std::fs::write(dir.join("with,comma.txt"), b"comma\n").expect("write");
    manifest.push_str(&format!("\"with,comma.txt\",{},6\n", sha256(b"comma\n")));
    std::fs::write(dir.join("PULP_MANIFEST"), manifest).expect("manifest");
}

fn codes(task: &Value) -> Vec<String> {
    task["progress_reports"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|p| p["code"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

const REMOTES: &str = "/pulp/api/v3/remotes/file/file/";
const REPOSITORIES: &str = "/pulp/api/v3/repositories/file/file/";
const DISTRIBUTIONS: &str = "/pulp/api/v3/distributions/file/file/";

pulp_core::db_tests! {
    async fn a_sync_as_the_bindings_drive_it(t: &TestDatabase) {
        let dir = pulp_core::testing::scratch_dir();
        write_fixture(dir.path());
        let server = TestServer::serving(dir.path()).await;
        let api = api(t, None).await;

        let status = api.get("/pulp/api/v3/status/").await;
        assert_eq!(status["domain_enabled"], false, "{status}");
        assert_eq!(status["redis_connection"]["connected"], false, "{status}");

        let remote = api.create(REMOTES, json!({"name": "r", "url": server.url("PULP_MANIFEST")})).await;
        let remote_href = remote["pulp_href"].as_str().expect("href").to_string();
        let repo = api.create(REPOSITORIES, json!({"name": "repo", "manifest": "custom.csv", "autopublish": true, "remote": remote_href})).await;
        let repo_href = repo["pulp_href"].as_str().expect("href").to_string();
        assert_eq!(repo["last_sync_details"], json!({}), "{repo}");

        // The bindings always send `optimize`.
        let done = api.completed(&format!("{repo_href}sync/"), json!({"remote": remote_href, "mirror": false, "optimize": true})).await;
        let created: Vec<&str> = done["created_resources"].as_array().expect("created").iter().filter_map(Value::as_str).collect();
        assert_eq!(created.len(), 2, "the version, then its autopublished publication: {done}");
        assert_eq!(created[0], format!("{repo_href}versions/1/"));
        assert!(created[1].starts_with("/pulp/api/v3/publications/file/file/"), "{done}");
        let prns: Vec<&str> = done["created_resource_prns"].as_array().expect("prns").iter().filter_map(Value::as_str).collect();
        assert_eq!(prns.len(), 2, "{done}");
        let version = api.get(created[0]).await;
        assert_eq!(prns[0], version["prn"].as_str().expect("prn"));
        assert!(prns[1].starts_with("prn:file.filepublication:"), "{done}");
        assert_eq!(done["result"]["pulp_href"], created[0], "the task's result is the version: {done}");

        let repo = api.get(&repo_href).await;
        let details = &repo["last_sync_details"];
        assert_eq!(details["manifest_checksum"].as_str().map(str::len), Some(64), "{repo}");
        assert_eq!(details["most_recent_version"], 1);
        assert_eq!(details["mirror"], false);
        // Read-only.
        let (status, body) = api.call(Method::PATCH, &repo_href, Some(json!({"last_sync_details": {}}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["last_sync_details"][0], "Unexpected field.");

        // Nothing changed upstream: the optimized sync (the default) is skipped.
        let file_hits = server.hits("a.txt");
        let done = api.completed(&format!("{repo_href}sync/"), json!({})).await;
        assert!(codes(&done).contains(&"sync.was_skipped".to_string()), "{done}");
        assert_eq!(done["created_resources"], json!([]), "{done}");
        assert_eq!(server.hits("a.txt"), file_hits, "nothing downloaded");
        // optimize=false syncs again (no new version: the content is the same).
        let done = api.completed(&format!("{repo_href}sync/"), json!({"optimize": false})).await;
        assert!(!codes(&done).contains(&"sync.was_skipped".to_string()), "{done}");
        // A changed manifest is synced.
        std::fs::write(dir.path().join("c.txt"), b"gamma\n").expect("write");
        let mut manifest = std::fs::read_to_string(dir.path().join("PULP_MANIFEST")).expect("read");
        manifest.push_str(&format!("c.txt,{},6\n", sha256(b"gamma\n")));
        std::fs::write(dir.path().join("PULP_MANIFEST"), manifest).expect("write");
        let done = api.completed(&format!("{repo_href}sync/"), json!({})).await;
        assert_eq!(done["created_resources"][0], format!("{repo_href}versions/2/"), "{done}");

        // The content: a quoted path holding a comma, a zero-byte file; the generic list
        // shows each unit's artifacts.
        let files = api.get("/pulp/api/v3/content/file/files/?relative_path=with,comma.txt").await;
        assert_eq!(files["count"], 1, "{files}");
        let all = api.get("/pulp/api/v3/content/?limit=100").await;
        assert_eq!(all["count"], 6, "{all}");
        for unit in all["results"].as_array().expect("results") {
            let artifacts = unit["artifacts"].as_object().expect("artifacts");
            assert_eq!(artifacts.len(), 1, "{unit}");
            assert!(artifacts.values().all(|a| a.as_str().is_some_and(|h| h.starts_with("/pulp/api/v3/artifacts/"))), "{unit}");
        }

        // Unknown filters are refused, pulp-cli's own parameters are not.
        let (status, body) = api.call(Method::GET, &format!("{REPOSITORIES}?remote={remote_href}&colour=red"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body, json!({"errors": ["Invalid Filter: 'remote'", "Invalid Filter: 'colour'"]}));
        let page = api.get(&format!("{REPOSITORIES}?limit=1&offset=0&ordering=-name&fields=name&exclude_fields=pulp_href&name=repo")).await;
        assert_eq!(page["count"], 1, "{page}");
        let (status, body) = api.call(Method::GET, "/pulp/api/v3/tasks/?unknown_thing=1", None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

        // A label without a value is null, and `key` selects it.
        let (status, body) = api.post(&format!("{repo_href}set_label/"), json!({"key": "bare", "value": null})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let repo = api.get(&repo_href).await;
        assert_eq!(repo["pulp_labels"], json!({"bare": null}), "{repo}");
        assert_eq!(api.get(&format!("{REPOSITORIES}?pulp_label_select=bare")).await["count"], 1);
        assert_eq!(api.get(&format!("{REPOSITORIES}?pulp_label_select=!bare")).await["count"], 0);
        let remote = api.create(REMOTES, json!({"name": "labelled", "url": server.url("PULP_MANIFEST"), "pulp_labels": {"k": null, "v": "1"}})).await;
        assert_eq!(remote["pulp_labels"], json!({"k": null, "v": "1"}), "{remote}");

        // The content app: the autopublished manifest under its custom name, the files with
        // pulpcore's content types, the zero-byte file listed.
        let (status, task) = api.post(DISTRIBUTIONS, json!({"name": "d", "base_path": "d", "repository": repo_href})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{task}");
        api.finish(&task).await;
        let r = api.content_get("/pulp/content/d/custom.csv").await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["cache-control"], "no-cache");
        assert!(r.text().await.expect("text").contains("with,comma.txt"));
        let r = api.content_get("/pulp/content/d/data.tar.zst").await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/zstd");
        assert!(r.headers().get("cache-control").is_none());
        let r = api.content_get("/pulp/content/d/empty.bin").await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.expect("body").len(), 0);
        let listing = api.content_get("/pulp/content/d/").await.text().await.expect("listing");
        for name in ["empty.bin", "a.txt", "sub/", "custom.csv"] {
            assert!(listing.contains(&format!(">{name}<")), "{name} listed: {listing}");
        }

        // A file repository with no publication serves nothing (pulp_file serves
        // publications only), until one is made.
        let plain = api.create(REPOSITORIES, json!({"name": "plain"})).await;
        let plain_href = plain["pulp_href"].as_str().expect("href").to_string();
        api.completed(&format!("{plain_href}sync/"), json!({"remote": remote_href})).await;
        let (_, task) = api.post(DISTRIBUTIONS, json!({"name": "p", "base_path": "p", "repository": plain_href, "hidden": true})).await;
        api.finish(&task).await;
        assert_eq!(api.content_get("/pulp/content/p/a.txt").await.status(), 404);
        api.completed("/pulp/api/v3/publications/file/file/", json!({"repository": plain_href})).await;
        assert_eq!(api.content_get("/pulp/content/p/a.txt").await.status(), 200);
        // Hidden distributions are not listed.
        let root = api.content_get("/pulp/content/").await.text().await.expect("root");
        assert!(root.contains(">d/<") && !root.contains(">p/<"), "{root}");

        // mirror=true publishes the version it makes.
        let mirrored = api.create(REPOSITORIES, json!({"name": "mirrored"})).await;
        let mirrored_href = mirrored["pulp_href"].as_str().expect("href").to_string();
        let done = api.completed(&format!("{mirrored_href}sync/"), json!({"remote": remote_href, "mirror": true})).await;
        assert_eq!(done["created_resources"][0], format!("{mirrored_href}versions/1/"), "{done}");
        assert!(done["created_resources"][1].as_str().is_some_and(|h| h.starts_with("/pulp/api/v3/publications/file/file/")), "{done}");
        let publications = api.get(&format!("/pulp/api/v3/publications/file/file/?repository={mirrored_href}")).await;
        assert_eq!(publications["count"], 1, "{publications}");
    }

    async fn the_document_and_the_api_root(t: &TestDatabase) {
        let api = api(t, None).await;
        let doc = api.get("/pulp/api/v3/docs/api.json").await;
        assert_eq!(doc["info"]["license"]["identifier"], "GPL-2.0-or-later");
        let sync = &doc["components"]["schemas"]["FileRepositorySyncURL"]["properties"]["optimize"];
        assert_eq!(sync["default"], true, "{sync}");
        assert!(doc["paths"]["{file_file_repository_href}"].is_object());
        let ids = api.get("/pulp/api/v3/docs/api.json?pk_path=1").await;
        let paths = ids["paths"].as_object().expect("paths");
        assert!(!paths.contains_key("{file_file_repository_href}"));
        let read = &paths["/pulp/api/v3/repositories/file/file/{pulp_id}/"]["get"];
        assert_eq!(read["operationId"], "repositories_file_file_read");
        assert_eq!(read["parameters"][0]["name"], "pulp_id");
        let version = &paths["/pulp/api/v3/repositories/file/file/{repository_pk}/versions/{number}/"]["get"];
        let names: Vec<&str> = version["parameters"].as_array().expect("params").iter().filter(|p| p["in"] == "path").filter_map(|p| p["name"].as_str()).collect();
        assert_eq!(names, ["repository_pk", "number"]);
        assert!(paths.contains_key("/pulp/api/v3/repositories/file/file/{pulp_id}/sync/"));

        // The API root, open to anyone.
        let root: Value = reqwest::get(format!("{}/pulp/api/v3/", api.base)).await.expect("root").json().await.expect("json");
        assert_eq!(root["tasks"], format!("{}/pulp/api/v3/tasks/", api.base), "{root}");
        assert!(root["repositories/file/file"].is_string(), "{root}");
        assert!(root.get("repositories/file/file/{id}/versions").is_none());
    }

    async fn regex_lookups(t: &TestDatabase) {
        let api = api(t, None).await;
        for name in ["alpha", "beta", "Alphabet"] {
            api.create(REMOTES, json!({"name": name, "url": "http://example.org/PULP_MANIFEST"})).await;
        }
        let names = |page: Value| -> Vec<String> {
            let mut names: Vec<String> = page["results"].as_array().expect("results").iter().filter_map(|r| r["name"].as_str().map(String::from)).collect();
            names.sort();
            names
        };
        assert_eq!(names(api.get(&format!("{REMOTES}?name__regex=%5Ealp")).await), ["alpha"]);
        assert_eq!(names(api.get(&format!("{REMOTES}?name__iregex=%5Ealp")).await), ["Alphabet", "alpha"]);
        assert_eq!(names(api.get("/pulp/api/v3/remotes/?name__regex=a%24").await), ["alpha", "beta"]);
        assert_eq!(api.get(&format!("{REMOTES}?name__regex=b.t%24&name__iregex=%5EA")).await["count"], 1);
        // A pattern that does not compile is a 400 on its parameter, on both databases.
        let (status, body) = api.call(Method::GET, &format!("{REMOTES}?name__regex=(unclosed"), None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["name__regex"][0].as_str().is_some_and(|m| m.starts_with("Invalid regular expression")), "{body}");
        let units: Vec<pulp_file::FileContent> = ["sub/a.txt", "sub/B.TXT", "top.txt"]
            .iter()
            .enumerate()
            .map(|(i, p)| pulp_file::FileContent { relative_path: p.to_string(), digest: format!("{i:064x}") })
            .collect();
        pulp_core::models::save_content(api.app.db(), units).await.expect("save");
        let files = api.get("/pulp/api/v3/content/file/files/?relative_path__regex=%5Esub%2F.*%5C.txt%24").await;
        assert_eq!(files["count"], 1, "{files}");
        let files = api.get("/pulp/api/v3/content/file/files/?relative_path__iregex=%5Esub%2F.*%5C.txt%24").await;
        assert_eq!(files["count"], 2, "{files}");
        let (status, body) = api.call(Method::GET, "/pulp/api/v3/content/file/files/?relative_path__iregex=%5B", None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["relative_path__iregex"].is_array(), "{body}");
    }

    async fn file_urls_retries_and_certificates(t: &TestDatabase) {
        let dir = pulp_core::testing::scratch_dir();
        write_fixture(dir.path());
        let api = api(t, Some(dir.path())).await;

        // A truncated body, a corrupted one and a 429 are retried within max_retries.
        let server = TestServer::serving(dir.path()).await;
        server.push("a.txt", Reply::Truncated { declared: 6, body: Bytes::from_static(b"alp") });
        server.push("sub/b.txt", Reply::Ok(Bytes::from_static(b"BETA!\n")));
        server.push("data.tar.zst", Reply::Status(429));
        let openssl = |args: &[&str]| {
            let out = std::process::Command::new("openssl").args(args).current_dir(dir.path()).output().expect("openssl");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).expect("utf-8")
        };
        openssl(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-subj", "/CN=pulp-test", "-days", "2"]);
        // `openssl x509 -text`: a human-readable dump, then the PEM block.
        let ca = openssl(&["x509", "-in", "cert.pem", "-text"]);
        assert!(!ca.starts_with("-----BEGIN"), "text comes first");
        let remote = api.create(REMOTES, json!({"name": "flaky", "url": server.url("PULP_MANIFEST"), "policy": "immediate", "max_retries": 3, "ca_cert": ca})).await;
        let (status, body) = api.post(REMOTES, json!({"name": "bad-ca", "url": server.url("PULP_MANIFEST"), "ca_cert": "no certificate here"})).await;
        assert_eq!(status, StatusCode::CREATED, "stored as given: {body}");
        let other = api.create(REPOSITORIES, json!({"name": "flaky"})).await;
        let other_href = other["pulp_href"].as_str().expect("href").to_string();
        let done = api.completed(&format!("{other_href}sync/"), json!({"remote": remote["pulp_href"]})).await;
        assert!(done["created_resources"][0].as_str().is_some(), "{done}");
        for (path, tries) in [("a.txt", 2), ("sub/b.txt", 2), ("data.tar.zst", 2)] {
            assert_eq!(server.hits(path), tries, "{path}");
        }
        // file:// below allowed_import_paths syncs (a file only there); elsewhere it is refused.
        let local = dir.path().join("local");
        std::fs::create_dir_all(&local).expect("mkdir");
        std::fs::write(local.join("only-here.txt"), b"local\n").expect("write");
        std::fs::write(local.join("PULP_MANIFEST"), format!("only-here.txt,{},6\n", sha256(b"local\n"))).expect("write");
        let url = format!("file://{}/PULP_MANIFEST", local.display());
        let remote = api.create(REMOTES, json!({"name": "local", "url": url, "policy": "immediate"})).await;
        let (status, body) = api.post(REMOTES, json!({"name": "etc", "url": "file:///etc/PULP_MANIFEST"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["url"][0].as_str().is_some_and(|m| m.contains("not an allowed import path")), "{body}");
        let repo = api.create(REPOSITORIES, json!({"name": "local"})).await;
        let repo_href = repo["pulp_href"].as_str().expect("href").to_string();
        let done = api.completed(&format!("{repo_href}sync/"), json!({"remote": remote["pulp_href"]})).await;
        assert!(done["created_resources"][0].as_str().is_some(), "{done}");
        assert_eq!(api.get("/pulp/api/v3/artifacts/").await["count"], 6, "the local file too");
        let files = api.get("/pulp/api/v3/content/file/files/?relative_path=only-here.txt").await;
        assert_eq!(files["count"], 1, "{files}");

        // A ca_cert holding no certificate fails the sync, naming it.
        let bad = api.get(&format!("{REMOTES}?name=bad-ca")).await;
        let (_, task) = api.post(&format!("{other_href}sync/"), json!({"remote": bad["results"][0]["pulp_href"]})).await;
        let failed = api.finish(&task).await;
        assert_eq!(failed["state"], "failed", "{failed}");
        assert!(failed["error"]["description"].as_str().is_some_and(|d| d.contains("ca_cert")), "{failed}");
    }
}
