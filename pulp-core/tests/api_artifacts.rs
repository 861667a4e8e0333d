//! `/artifacts/`, `/uploads/` and `/orphans/` over real HTTP (the API router served on a
//! loopback port, reqwest as the client), on SQLite and PostgreSQL.

use std::time::Duration;

use pulp_core::settings::{Settings, SettingsSources};
use pulp_core::tasking::{Worker, WorkerOptions};
use pulp_core::testing::TestDatabase;
use pulp_core::App;
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

async fn start(t: &TestDatabase, tune: impl FnOnce(&mut Settings)) -> Api {
    let mut settings = t.settings();
    tune(&mut settings);
    let app = App::builder(SettingsSources::defaults_only())
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

fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn data(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
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

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.get(self.url(path))).await
    }

    async fn post_json(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.send(self.client.post(self.url(path)).json(&body))
            .await
    }

    async fn delete(&self, path: &str) -> (StatusCode, Value) {
        self.send(self.client.delete(self.url(path))).await
    }

    /// POSTs a multipart artifact upload over a plain TCP connection: with `length`, only the
    /// headers (announcing that length); without, the body as chunked transfer encoding, one
    /// HTTP chunk per item of `chunks`, left open. Returns the answer's status code.
    async fn raw_upload(&self, length: Option<usize>, chunks: &[Vec<u8>]) -> u16 {
        use base64::Engine;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let authority = self.base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(authority)
            .await
            .expect("connect");
        let auth = base64::engine::general_purpose::STANDARD.encode("admin:password");
        let framing = match length {
            Some(n) => format!("Content-Length: {n}"),
            None => "Transfer-Encoding: chunked".to_string(),
        };
        let head = format!(
            "POST /pulp/api/v3/artifacts/ HTTP/1.1\r\nHost: {authority}\r\nAuthorization: Basic {auth}\r\n\
             Content-Type: multipart/form-data; boundary=b0undary\r\n{framing}\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.expect("write head");
        if length.is_none() {
            let part = b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big\"\r\n\r\n";
            for piece in std::iter::once(&part[..]).chain(chunks.iter().map(Vec::as_slice)) {
                let framed = [format!("{:x}\r\n", piece.len()).as_bytes(), piece, b"\r\n"].concat();
                stream.write_all(&framed).await.expect("write chunk");
            }
        }
        let mut answer = Vec::new();
        let mut buffer = [0u8; 1024];
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tokio::time::timeout(Duration::from_secs(30), stream.read(&mut buffer))
                .await
                .expect("an answer in time")
                .expect("read");
            assert!(
                n > 0,
                "closed without an answer: {:?}",
                String::from_utf8_lossy(&answer)
            );
            answer.extend_from_slice(&buffer[..n]);
        }
        let status_line = String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        status_line
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("no status in {status_line:?}"))
    }

    async fn upload_artifact(
        &self,
        bytes: &[u8],
        fields: &[(&str, String)],
    ) -> (StatusCode, Value) {
        let mut form = Form::new();
        for (name, value) in fields {
            form = form.text(name.to_string(), value.clone());
        }
        form = form.part("file", Part::bytes(bytes.to_vec()).file_name("blob"));
        self.send(
            self.client
                .post(self.url("/pulp/api/v3/artifacts/"))
                .multipart(form),
        )
        .await
    }

    async fn put_chunk(
        &self,
        upload: &str,
        bytes: &[u8],
        start: usize,
        total: usize,
        sha: Option<String>,
    ) -> (StatusCode, Value) {
        let mut form = Form::new().part("file", Part::bytes(bytes.to_vec()).file_name("chunk"));
        if let Some(sha) = sha {
            form = form.text("sha256", sha);
        }
        let range = format!("bytes {}-{}/{total}", start, start + bytes.len() - 1);
        self.send(
            self.client
                .put(self.url(upload))
                .header("Content-Range", range)
                .multipart(form),
        )
        .await
    }

    /// Runs every queued task, then returns the task `href`.
    async fn finish(&self, href: &str) -> Value {
        let options = WorkerOptions {
            burst: true,
            name: Some("w1@test".into()),
            poll_interval: Some(Duration::from_millis(20)),
        };
        Worker::new(self.app.clone(), options)
            .run(CancellationToken::new())
            .await
            .expect("worker");
        let (status, task) = self.get(href).await;
        assert_eq!(status, StatusCode::OK);
        task
    }

    async fn count(&self, path: &str) -> i64 {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body["count"].as_i64().expect("count")
    }

    fn staging_is_empty(&self) -> bool {
        std::fs::read_dir(self.app.storage().staging_dir())
            .map(|entries| entries.count() == 0)
            .unwrap_or(true)
    }
}

pulp_core::db_tests! {
    async fn artifacts_are_uploaded_listed_read_and_deleted(t: &TestDatabase) {
        let api = start(t, |_| {}).await;
        let bytes = data(300_000, 1);
        let sha = sha256(&bytes);
        let (status, artifact) = api
            .upload_artifact(&bytes, &[("sha256", sha.clone()), ("size", bytes.len().to_string())])
            .await;
        assert_eq!(status, StatusCode::CREATED, "{artifact}");
        assert_eq!(artifact["sha256"], sha);
        assert_eq!(artifact["size"], 300_000);
        assert_eq!(artifact["file"], format!("artifact/{}/{}", &sha[..2], &sha[2..]));
        assert_eq!(artifact["md5"], Value::Null, "md5 is not an allowed checksum by default");
        assert!(artifact["sha512"].is_string());
        let href = artifact["pulp_href"].as_str().expect("href").to_string();
        assert!(href.starts_with("/pulp/api/v3/artifacts/"));
        assert!(api.app.storage().contains(&sha).await.expect("contains"));

        assert_eq!(api.count(&format!("/pulp/api/v3/artifacts/?sha256={sha}")).await, 1);
        assert_eq!(api.count(&format!("/pulp/api/v3/artifacts/?sha256={}", sha256(b"x"))).await, 0);
        assert_eq!(api.count(&format!("/pulp/api/v3/artifacts/?pulp_href__in={href}")).await, 1);
        let (_, page) = api.get("/pulp/api/v3/artifacts/?fields=sha256,size").await;
        assert_eq!(page["results"][0], json!({"sha256": sha, "size": 300_000}));
        let (status, read) = api.get(&href).await;
        assert_eq!((status, &read), (StatusCode::OK, &artifact));

        // The same bytes again: Pulp's answer, and nothing changes.
        let (status, body) = api.upload_artifact(&bytes, &[]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(
            body,
            json!({"non_field_errors": [format!("Artifact with sha256 checksum of '{sha}' already exists.")]})
        );
        assert_eq!(api.count("/pulp/api/v3/artifacts/").await, 1);

        let (status, _) = api.delete(&href).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        assert_eq!(api.get(&href).await.0, StatusCode::NOT_FOUND);
        assert!(!api.app.storage().contains(&sha).await.expect("contains"));
        assert!(api.staging_is_empty());

        // The API document lists the operations under Pulp's ids.
        let (_, doc) = api.get("/pulp/api/v3/docs/api.json").await;
        for (path, method, id) in [
            ("/pulp/api/v3/artifacts/", "get", "artifacts_list"),
            ("/pulp/api/v3/artifacts/", "post", "artifacts_create"),
            ("{artifact_href}", "get", "artifacts_read"),
            ("{artifact_href}", "delete", "artifacts_delete"),
            ("/pulp/api/v3/uploads/", "post", "uploads_create"),
            ("{upload_href}", "put", "uploads_update"),
            ("{upload_href}commit/", "post", "uploads_commit"),
            ("/pulp/api/v3/orphans/cleanup/", "post", "orphans_cleanup_cleanup"),
            ("/pulp/api/v3/orphans/", "delete", "orphans_delete"),
        ] {
            assert_eq!(doc["paths"][path][method]["operationId"], id, "{path} {method}");
        }
        assert_eq!(doc["components"]["schemas"]["Artifact"]["properties"]["file"]["format"], "binary");
        // pulp-glue sends Content-Range only as a documented header parameter.
        let params = doc["paths"]["{upload_href}"]["put"]["parameters"].as_array().expect("parameters").clone();
        assert!(params.iter().any(|p| p["in"] == "header" && p["name"] == "Content-Range"), "{params:?}");
    }

    async fn wrong_digests_or_sizes_store_nothing(t: &TestDatabase) {
        let api = start(t, |_| {}).await;
        let bytes = data(10_000, 2);
        let sha = sha256(&bytes);
        let (status, body) = api.upload_artifact(&bytes, &[("sha256", sha256(b"other"))]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, json!({"sha256": ["The sha256 checksum did not match."]}));
        let (status, body) = api.upload_artifact(&bytes, &[("size", "9999".into())]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, json!({"size": ["The size did not match actual size of file."]}));
        let (status, body) = api.upload_artifact(&bytes, &[("md5", "0".repeat(32))]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["md5"][0].as_str().expect("md5").contains("forbidden"), "{body}");
        let (status, body) = api
            .send(api.client.post(api.url("/pulp/api/v3/artifacts/")).multipart(Form::new().text("size", "3")))
            .await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({"file": ["No file was submitted."]})));
        assert_eq!(api.count("/pulp/api/v3/artifacts/").await, 0);
        assert!(!api.app.storage().contains(&sha).await.expect("contains"));
        assert!(api.staging_is_empty());
    }

    async fn uploads_over_the_size_limit_are_refused(t: &TestDatabase) {
        let api = start(t, |s| s.upload_max_size = Some(4096)).await;
        // The server answers these before it has the whole body and closes the connection, so
        // a client still writing may see a reset instead of the answer; the raw requests below
        // send only what the server must react to, then read.
        // Announced length over the limit: refused from the headers alone, no body sent.
        let status = api.raw_upload(Some(10_000), &[]).await;
        assert_eq!(status, 413);
        // Streamed without a length: stopped once more than the limit has arrived.
        let chunks: Vec<Vec<u8>> = (0..5).map(|i| data(1000, i)).collect();
        let status = api.raw_upload(None, &chunks).await;
        assert_eq!(status, 413);
        assert_eq!(api.count("/pulp/api/v3/artifacts/").await, 0);
        assert!(api.staging_is_empty());
        // Under the limit is fine.
        let (status, _) = api.upload_artifact(&data(2000, 3), &[]).await;
        assert_eq!(status, StatusCode::CREATED);
    }

    async fn chunked_uploads_are_committed_into_artifacts(t: &TestDatabase) {
        let api = start(t, |_| {}).await;
        let bytes = data(2500, 4);
        let sha = sha256(&bytes);
        let (status, upload) = api.post_json("/pulp/api/v3/uploads/", json!({"size": 2500})).await;
        assert_eq!(status, StatusCode::CREATED, "{upload}");
        assert_eq!(upload["size"], 2500);
        assert_eq!(upload["completed"], Value::Null);
        let href = upload["pulp_href"].as_str().expect("href").to_string();
        assert!(href.starts_with("/pulp/api/v3/uploads/"));
        // Out of order; one with the chunk's sha256.
        let (status, body) = api.put_chunk(&href, &bytes[2000..], 2000, 2500, None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["pulp_href"], href);
        let (status, _) = api.put_chunk(&href, &bytes[..1000], 0, 2500, Some(sha256(&bytes[..1000]))).await;
        assert_eq!(status, StatusCode::OK);
        // A wrong chunk digest, and a chunk past the end, are refused.
        let (status, body) = api.put_chunk(&href, &bytes[1000..2000], 1000, 2500, Some(sha256(b"no"))).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({"non_field_errors": ["Checksum does not match chunk upload."]})));
        let (status, body) = api.put_chunk(&href, &bytes[..1000], 2000, 2500, None).await;
        assert_eq!((status, body), (StatusCode::BAD_REQUEST, json!({"non_field_errors": ["End byte is greater than upload size."]})));
        let (status, _) = api
            .send(api.client.put(api.url(&href)).multipart(Form::new().part("file", Part::bytes(vec![1]).file_name("c"))))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "no Content-Range");
        let (status, _) = api.put_chunk(&href, &bytes[1000..2000], 1000, 2500, None).await;
        assert_eq!(status, StatusCode::OK);
        let (_, detail) = api.get(&href).await;
        assert_eq!(
            detail["chunks"],
            json!([{"offset": 0, "size": 1000}, {"offset": 1000, "size": 1000}, {"offset": 2000, "size": 500}])
        );
        assert_eq!(api.count("/pulp/api/v3/uploads/").await, 1);

        // A wrong sha256 fails the task and makes no artifact; the upload stays.
        let (status, body) = api.post_json(&format!("{href}commit/"), json!({"sha256": sha256(b"wrong")})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let task = api.finish(body["task"].as_str().expect("task")).await;
        assert_eq!(task["state"], "failed", "{task}");
        assert_eq!(task["name"], "pulpcore.app.tasks.upload.commit");
        assert_eq!(api.count("/pulp/api/v3/artifacts/").await, 0);
        assert_eq!(api.get(&href).await.0, StatusCode::OK);

        let (status, body) = api.post_json(&format!("{href}commit/"), json!({"sha256": sha})).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let task = api.finish(body["task"].as_str().expect("task")).await;
        assert_eq!(task["state"], "completed", "{task}");
        let artifact_href = task["created_resources"][0].as_str().expect("artifact").to_string();
        let (_, artifact) = api.get(&artifact_href).await;
        assert_eq!(artifact["sha256"], sha);
        assert_eq!(artifact["size"], 2500);
        assert_eq!(api.app.storage().read_artifact(&sha).await.expect("read").as_ref(), &bytes[..]);
        assert_eq!(api.get(&href).await.0, StatusCode::NOT_FOUND, "a committed upload is gone");

        // A commit with a chunk missing fails, saying so.
        let (_, partial) = api.post_json("/pulp/api/v3/uploads/", json!({"size": 20})).await;
        let partial = partial["pulp_href"].as_str().expect("href").to_string();
        api.put_chunk(&partial, &[1; 10], 10, 20, None).await;
        let (_, body) = api.post_json(&format!("{partial}commit/"), json!({"sha256": sha256(&[1; 20])})).await;
        let task = api.finish(body["task"].as_str().expect("task")).await;
        assert_eq!(task["state"], "failed");
        assert!(task["error"]["description"].as_str().expect("error").contains("without gaps"), "{task}");
        assert_eq!(api.delete(&partial).await.0, StatusCode::NO_CONTENT);

        // Deleting an upload removes its chunks' files.
        let (_, other) = api.post_json("/pulp/api/v3/uploads/", json!({"size": 10})).await;
        let other = other["pulp_href"].as_str().expect("href").to_string();
        api.put_chunk(&other, &[7; 10], 0, 10, None).await;
        let tmp = api.app.storage().local_root().expect("local").join("tmp");
        assert_eq!(std::fs::read_dir(&tmp).expect("tmp").count(), 1);
        assert_eq!(api.delete(&other).await.0, StatusCode::NO_CONTENT);
        assert_eq!(std::fs::read_dir(&tmp).expect("tmp").count(), 0);
        let (status, body) = api.post_json("/pulp/api/v3/uploads/", json!({"size": "many"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }

    async fn orphan_cleanup_deletes_unreferenced_artifacts_past_the_protection_time(t: &TestDatabase) {
        let api = start(t, |_| {}).await;
        let bytes = data(5000, 5);
        let sha = sha256(&bytes);
        let (status, _) = api.upload_artifact(&bytes, &[]).await;
        assert_eq!(status, StatusCode::CREATED);
        // Protected by the default protection time (1440 minutes).
        let (status, body) = api.post_json("/pulp/api/v3/orphans/cleanup/", json!({})).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let task = api.finish(body["task"].as_str().expect("task")).await;
        assert_eq!(task["state"], "completed", "{task}");
        assert_eq!(task["name"], "pulpcore.app.tasks.orphan.orphan_cleanup");
        assert_eq!(task["reserved_resources_record"], json!(["/api/v3/orphans/cleanup/"]));
        assert_eq!(api.count("/pulp/api/v3/artifacts/").await, 1);
        assert_eq!(api.count("/pulp/api/v3/artifacts/?orphaned_for=0").await, 1);
        assert_eq!(api.count("/pulp/api/v3/artifacts/?orphaned_for=-1").await, 0);
        let (status, _) = api.post_json("/pulp/api/v3/orphans/cleanup/", json!({"orphan_protection_time": -1})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        // The deprecated DELETE /orphans/ uses no protection time.
        let (status, body) = api.delete("/pulp/api/v3/orphans/").await;
        assert_eq!(status, StatusCode::ACCEPTED);
        let task = api.finish(body["task"].as_str().expect("task")).await;
        assert_eq!(task["state"], "completed", "{task}");
        let reports = task["progress_reports"].as_array().expect("reports");
        assert!(reports.iter().any(|r| r["code"] == "clean-up.artifacts" && r["done"] == 1), "{task}");
        assert_eq!(api.count("/pulp/api/v3/artifacts/").await, 0);
        assert!(!api.app.storage().contains(&sha).await.expect("contains"));
    }
}

/// Peak resident memory of this process, in MiB (Linux).
fn peak_rss_mib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|n| n.parse::<u64>().ok())
            })
        })
        .map_or(0, |kib| kib / 1024)
}

/// Figures (run with `--ignored --nocapture`): a 512 MiB artifact streamed through the API
/// (client and server in this process) must not be held in memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn large_upload_figures() {
    let t = TestDatabase::sqlite().await;
    let api = start(&t, |_| {}).await;
    const MIB: usize = 1024 * 1024;
    let total = 512;
    let block = data(MIB, 9);
    let stream =
        futures::stream::iter((0..total).map(move |_| Ok::<_, std::io::Error>(block.clone())));
    let form = Form::new().part(
        "file",
        Part::stream(reqwest::Body::wrap_stream(stream)).file_name("big"),
    );
    let before = peak_rss_mib();
    let started = std::time::Instant::now();
    let (status, body) = api
        .send(
            api.client
                .post(api.url("/pulp/api/v3/artifacts/"))
                .multipart(form),
        )
        .await;
    let elapsed = started.elapsed();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["size"], (total * MIB) as u64);
    println!(
        "artifact upload: {total} MiB in {:.2}s ({:.0} MiB/s), peak RSS {} MiB (before: {before} MiB)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        peak_rss_mib()
    );
    assert!(
        peak_rss_mib() < before + 128,
        "the upload was buffered in memory"
    );

    // The same size in 8 chunks of 64 MiB, then committed by a worker.
    let chunk = data(64 * MIB, 10);
    let mut hasher = Sha256::new();
    for _ in 0..8 {
        hasher.update(&chunk);
    }
    let sha = hex::encode(hasher.finalize());
    let started = std::time::Instant::now();
    let (_, upload) = api
        .post_json("/pulp/api/v3/uploads/", json!({"size": total * MIB}))
        .await;
    let href = upload["pulp_href"].as_str().expect("href").to_string();
    for i in 0..8 {
        let (status, _) = api
            .put_chunk(&href, &chunk, i * 64 * MIB, total * MIB, None)
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let chunks_done = started.elapsed();
    let (_, body) = api
        .post_json(&format!("{href}commit/"), json!({"sha256": sha}))
        .await;
    let task = api.finish(body["task"].as_str().expect("task")).await;
    assert_eq!(task["state"], "completed", "{task}");
    println!(
        "chunked upload: {total} MiB in 8 chunks {:.2}s, commit task {:.2}s",
        chunks_done.as_secs_f64(),
        (started.elapsed() - chunks_done).as_secs_f64()
    );
    t.cleanup().await;
}
