//! Content guards end to end, on SQLite and PostgreSQL: guards made through the REST API,
//! put on distributions serving a publication, a fixed version and the latest version of
//! repositories synced with every policy (immediate, on_demand, streamed), and requests to
//! the content app over real HTTP on loopback, allowed and refused — GET, HEAD and ranges.
//! Certificates are made with the `openssl` command.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use pulp_core::settings::SettingsSources;
use pulp_core::tasking::{Worker, WorkerOptions};
use pulp_core::testing::http::TestServer;
use pulp_core::testing::TestDatabase;
use pulp_core::App;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Digest;
use tokio_util::sync::CancellationToken;

const SMALL: &[u8] = b"a small guarded file\n";
const SECRET_VAR: &str = "PULP_TEST_CONTENT_GUARD_SECRET";

struct Env {
    app: App,
    api: pulp_core::testing::ServedApi,
    content: String,
    client: reqwest::Client,
    _files: TestServer,
    _dir: tempfile::TempDir,
    big: Vec<u8>,
    /// Base paths of the distributions (publication, version, latest, on_demand, streamed).
    base_paths: Vec<&'static str>,
    distributions: Vec<String>,
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

async fn serve_content(app: &App) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let router = pulp_core::content_app::content_router(app.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    base
}

async fn env(t: &TestDatabase, hide_guarded: bool) -> Env {
    let mut settings = t.settings();
    settings.extra.insert(
        "envvar_header_content_guard_allowed_vars".into(),
        json!([SECRET_VAR]),
    );
    settings.extra.insert(
        "remote_user_environ_name".into(),
        json!("HTTP_X_REMOTE_USER"),
    );
    settings
        .extra
        .insert("hide_guarded_distributions".into(), json!(hide_guarded));
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(pulp_file::FilePlugin)
        .build_with(settings)
        .await
        .expect("build");
    let api = pulp_core::testing::serve_api(&app).await;
    let content = serve_content(&app).await;
    let dir = pulp_core::testing::scratch_dir();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("small.txt"), SMALL).expect("write");
    std::fs::write(dir.path().join("big.bin"), &big).expect("write");
    let manifest = format!(
        "small.txt,{},{}\nbig.bin,{},{}\n",
        hex::encode(sha2::Sha256::digest(SMALL)),
        SMALL.len(),
        hex::encode(sha2::Sha256::digest(&big)),
        big.len()
    );
    std::fs::write(dir.path().join("PULP_MANIFEST"), manifest).expect("manifest");
    let files = TestServer::serving(dir.path()).await;
    let mut env = Env {
        app,
        api,
        content,
        client: reqwest::Client::new(),
        _files: files,
        _dir: dir,
        big,
        base_paths: vec!["pub", "ver", "latest", "od", "st"],
        distributions: Vec::new(),
    };
    env.publish_everything().await;
    env
}

impl Env {
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self
            .client
            .request(method, self.api.url(path))
            .basic_auth("admin", Some(pulp_core::testing::ADMIN_PASSWORD));
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

    /// Creates a guard; its href.
    async fn guard(&self, kind: &str, body: Value) -> String {
        let (status, guard) = self
            .post(&format!("/pulp/api/v3/contentguards/{kind}/"), body)
            .await;
        assert_eq!(status, StatusCode::CREATED, "{guard}");
        guard["pulp_href"].as_str().expect("href").to_string()
    }

    /// Runs queued tasks to the end; the task's final state.
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
        let done = self.get(&href).await;
        assert_eq!(done["state"], "completed", "{done}");
        done
    }

    async fn repository(&self, name: &str, policy: &str) -> String {
        let (_, remote) = self
            .post(
                "/pulp/api/v3/remotes/file/file/",
                json!({"name": name, "url": self._files.url("/PULP_MANIFEST"), "policy": policy}),
            )
            .await;
        let (_, repo) = self
            .post(
                "/pulp/api/v3/repositories/file/file/",
                json!({"name": name}),
            )
            .await;
        let repo = repo["pulp_href"].as_str().expect("repo").to_string();
        let (status, task) = self
            .post(
                &format!("{repo}sync/"),
                json!({"remote": remote["pulp_href"]}),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{task}");
        self.finish(&task).await;
        repo
    }

    async fn publish_everything(&mut self) {
        let stored = self.repository("stored", "immediate").await;
        let on_demand = self.repository("on_demand", "on_demand").await;
        let streamed = self.repository("streamed", "streamed").await;
        let (_, task) = self
            .post(
                "/pulp/api/v3/publications/file/file/",
                json!({"repository": stored}),
            )
            .await;
        let publication = self.finish(&task).await["created_resources"][0].clone();
        // File distributions serve publications only (a repository's latest one), as pulpcore.
        for repository in [&on_demand, &streamed] {
            let (status, task) = self
                .post(
                    "/pulp/api/v3/publications/file/file/",
                    json!({"repository": repository}),
                )
                .await;
            assert_eq!(status, StatusCode::ACCEPTED, "{task}");
            self.finish(&task).await;
        }
        for (base_path, source) in [
            ("pub", json!({"publication": publication})),
            (
                "ver",
                json!({"repository_version": format!("{stored}versions/1/")}),
            ),
            ("latest", json!({"repository": stored})),
            ("od", json!({"repository": on_demand})),
            ("st", json!({"repository": streamed})),
        ] {
            let mut body = json!({"name": base_path, "base_path": base_path});
            if let (Value::Object(b), Value::Object(s)) = (&mut body, source) {
                b.extend(s);
            }
            let (status, task) = self
                .post("/pulp/api/v3/distributions/file/file/", body)
                .await;
            assert_eq!(status, StatusCode::ACCEPTED, "{task}");
            let done = self.finish(&task).await;
            self.distributions.push(
                done["created_resources"][0]
                    .as_str()
                    .expect("distribution")
                    .to_string(),
            );
        }
    }

    /// Puts `guard` (an href, a PRN or null) on every distribution.
    async fn guard_all(&self, guard: Value) {
        for distribution in &self.distributions {
            let (status, task) = self
                .call(
                    Method::PATCH,
                    distribution,
                    Some(json!({"content_guard": guard})),
                )
                .await;
            assert_eq!(status, StatusCode::ACCEPTED, "{task}");
            self.finish(&task).await;
        }
    }

    /// A content-app request: status, body, headers.
    async fn fetch(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, String)],
    ) -> (StatusCode, Vec<u8>, reqwest::header::HeaderMap) {
        let url = format!("{}/pulp/content/{path}", self.content);
        let mut request = self.client.request(method, url);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.send().await.expect("send");
        let status = response.status();
        let headers = response.headers().clone();
        (
            status,
            response.bytes().await.expect("body").to_vec(),
            headers,
        )
    }

    /// Every distribution serves both files (full, HEAD, a range) with `headers`.
    async fn allowed(&self, headers: &[(&str, String)], why: &str) {
        for base in &self.base_paths {
            let (status, body, _) = self
                .fetch(Method::GET, &format!("{base}/small.txt"), headers)
                .await;
            assert_eq!(
                status,
                StatusCode::OK,
                "{why}: {base}/small.txt: {}",
                String::from_utf8_lossy(&body)
            );
            assert_eq!(body, SMALL, "{why}: {base}");
            let (status, _, head) = self
                .fetch(Method::HEAD, &format!("{base}/big.bin"), headers)
                .await;
            assert_eq!(status, StatusCode::OK, "{why}: HEAD {base}/big.bin");
            assert_eq!(head["content-length"], self.big.len().to_string().as_str());
            let mut ranged = headers.to_vec();
            ranged.push(("range", "bytes=100-199".into()));
            let (status, body, _) = self
                .fetch(Method::GET, &format!("{base}/big.bin"), &ranged)
                .await;
            assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{why}: range {base}");
            assert_eq!(body, &self.big[100..200], "{why}: range {base}");
        }
    }

    /// Every distribution refuses with 403 and `reason` — GET, HEAD and ranges; no file.
    async fn refused(&self, headers: &[(&str, String)], reason: &str, why: &str) {
        for base in &self.base_paths {
            for (method, file, range) in [
                (Method::GET, "small.txt", false),
                (Method::HEAD, "big.bin", false),
                (Method::GET, "big.bin", true),
            ] {
                let mut h = headers.to_vec();
                if range {
                    h.push(("range", "bytes=0-9".into()));
                }
                let (status, body, response_headers) = self
                    .fetch(method.clone(), &format!("{base}/{file}"), &h)
                    .await;
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{why}: {method} {base}/{file}"
                );
                assert!(
                    response_headers.get("location").is_none(),
                    "{why}: no redirect"
                );
                if method == Method::GET {
                    let text = String::from_utf8_lossy(&body);
                    assert!(
                        text.contains(reason),
                        "{why}: {base}/{file}: '{text}' lacks '{reason}'"
                    );
                    assert!(
                        !body.windows(SMALL.len()).any(|w| w == SMALL),
                        "{why}: no file"
                    );
                }
            }
        }
    }
}

fn basic(user: &str, password: &str) -> (&'static str, String) {
    (
        "authorization",
        format!("Basic {}", b64(&format!("{user}:{password}"))),
    )
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(status.success(), "openssl {args:?}");
}

/// A CA (`<ca>.pem`) and a client certificate `<name>.pem` it signs, valid for `days`
/// (negative: expired).
fn ca(dir: &Path, ca: &str) {
    let key = format!("{ca}.key");
    let pem = format!("{ca}.pem");
    let subject = format!("/CN={ca}");
    openssl(
        dir,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &pem,
            "-days", "2", "-subj", &subject,
        ],
    );
}

fn client_cert(dir: &Path, ca: &str, name: &str, days: &str) -> String {
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").expect("ext");
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let pem = format!("{name}.pem");
    let subject = format!("/CN={name}");
    openssl(
        dir,
        &[
            "req", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj",
            &subject,
        ],
    );
    let ca_pem = format!("{ca}.pem");
    let ca_key = format!("{ca}.key");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &pem,
            "-days",
            days,
            "-extfile",
            "client.ext",
        ],
    );
    std::fs::read_to_string(dir.join(pem)).expect("client cert")
}

/// The header a TLS proxy sets: the PEM, URL-encoded.
fn cert_header(pem: &str) -> (&'static str, String) {
    let encoded: String = pem
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    ("x-client-cert", encoded)
}

pulp_core::db_tests! {
    async fn rbac_guards_let_through_who_holds_the_download_permission(t: &TestDatabase) {
        let e = env(t, false).await;
        e.allowed(&[], "unguarded").await;
        let users = pulp_core::auth::Users::new(e.app.db());
        for user in ["alice", "bob", "carol", "dave"] {
            users.set_password(user, "pw", false).await.expect("user");
        }
        let guard = e.guard("core/rbac", json!({"name": "rbac", "description": "internal"})).await;
        let (status, _) = e.post(&format!("{guard}add_role/"), json!({"role": "core.rbaccontentguard_downloader", "users": ["alice"]})).await;
        assert_eq!(status, StatusCode::CREATED);
        let (_, group) = e.post("/pulp/api/v3/groups/", json!({"name": "readers"})).await;
        let group_href = group["pulp_href"].as_str().expect("group").to_string();
        let (status, _) = e.post(&format!("{group_href}users/"), json!({"username": "carol"})).await;
        assert_eq!(status, StatusCode::CREATED);
        let (status, _) = e.post(&format!("{guard}add_role/"), json!({"role": "core.rbaccontentguard_downloader", "groups": ["readers"]})).await;
        assert_eq!(status, StatusCode::CREATED);
        let dave = e.get("/pulp/api/v3/users/?username=dave").await["results"][0]["pulp_href"].as_str().expect("dave").to_string();
        let (status, body) = e.post(&format!("{dave}roles/"), json!({"role": "core.rbaccontentguard_downloader", "content_object": null})).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");

        let shown = e.get(&guard).await;
        assert_eq!(shown["users"].as_array().map(|u| u.iter().map(|u| u["username"].clone()).collect::<Vec<_>>()), Some(vec![json!("admin"), json!("alice")]), "the creator and alice: {shown}");
        assert_eq!(shown["groups"][0]["name"], "readers", "{shown}");
        let roles = e.get(&format!("{guard}list_roles/")).await;
        assert!(roles["roles"].as_array().is_some_and(|r| !r.is_empty()), "{roles}");

        // By PRN, as pulp-cli may send it.
        let prn = shown["prn"].clone();
        e.guard_all(prn).await;
        let dist = e.get(&e.distributions[0]).await;
        assert_eq!(dist["content_guard"], guard.as_str());
        assert!(dist["content_guard_prn"].as_str().is_some_and(|p| p.starts_with("prn:core.contentguard:")), "{dist}");

        e.refused(&[], "Authentication credentials were not provided", "anonymous").await;
        e.refused(&[basic("bob", "pw")], "You do not have permission", "bob holds nothing").await;
        e.refused(&[basic("alice", "wrong")], "Authentication credentials were not provided", "wrong password").await;
        e.refused(&[basic("nobody", "pw")], "Authentication credentials were not provided", "unknown user").await;
        e.refused(&[("x-remote-user", "bob".into())], "You do not have permission", "remote user bob").await;
        e.allowed(&[basic("alice", "pw")], "alice holds the role on the guard").await;
        e.allowed(&[basic("carol", "pw")], "carol's group holds it").await;
        e.allowed(&[basic("dave", "pw")], "dave holds it globally").await;
        e.allowed(&[basic("admin", pulp_core::testing::ADMIN_PASSWORD)], "superuser").await;
        e.allowed(&[("x-remote-user", "alice".into())], "remote user alice").await;

        // Removing the role is seen (after the content app's short cache time).
        let (status, _) = e.post(&format!("{guard}remove_role/"), json!({"role": "core.rbaccontentguard_downloader", "users": ["alice"]})).await;
        assert_eq!(status, StatusCode::CREATED);
        tokio::time::sleep(Duration::from_millis(2100)).await;
        e.refused(&[basic("alice", "pw")], "You do not have permission", "alice's role removed").await;

        // Cleared with null.
        e.guard_all(Value::Null).await;
        assert!(e.get(&e.distributions[0]).await["content_guard"].is_null());
        e.allowed(&[], "guard cleared").await;

        let (status, body) = e.post(&format!("{guard}add_role/"), json!({"role": "core.rbaccontentguard_downloader", "users": ["nobody"]})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }

    async fn header_composite_redirect_and_envvar_guards_decide_as_pulp_does(t: &TestDatabase) {
        let e = env(t, false).await;
        // header
        let header = e.guard("core/header", json!({"name": "h", "header_name": "x-secret", "header_value": "open sesame"})).await;
        e.guard_all(json!(header)).await;
        e.refused(&[], "Access denied.", "header missing").await;
        e.refused(&[("x-secret", b64("open sesam"))], "Access denied.", "wrong value").await;
        e.refused(&[("x-secret", "open sesame".into())], "Access denied.", "not base64").await;
        e.allowed(&[("x-secret", b64("open sesame"))], "right value").await;

        // header with a jq filter
        let (status, body) = e.post("/pulp/api/v3/contentguards/core/header/", json!({"name": "bad", "header_name": "x-id", "header_value": "v", "jq_filter": ".a | ["})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body["jq_filter"].is_array(), "{body}");
        let jq = e.guard("core/header", json!({"name": "hj", "header_name": "x-identity", "header_value": "org-1", "jq_filter": ".identity.org_id"})).await;
        e.guard_all(json!(jq)).await;
        e.allowed(&[("x-identity", b64(r#"{"identity": {"org_id": "org-1"}}"#))], "jq match").await;
        e.refused(&[("x-identity", b64(r#"{"identity": {"org_id": "org-2"}}"#))], "Access denied.", "jq mismatch").await;
        e.refused(&[("x-identity", b64("not json"))], "Access denied.", "jq on no JSON").await;

        // composite: empty allows; otherwise any member
        let empty = e.guard("core/composite", json!({"name": "none"})).await;
        e.guard_all(json!(empty)).await;
        e.allowed(&[], "empty composite").await;
        let rbac = e.guard("core/rbac", json!({"name": "r"})).await;
        let (status, body) = e.post("/pulp/api/v3/contentguards/core/composite/", json!({"name": "broken", "guards": ["/not/a/guard/"]})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        let composite = e.guard("core/composite", json!({"name": "either", "guards": [header, rbac]})).await;
        assert_eq!(e.get(&composite).await["guards"], json!([header, rbac]));
        e.guard_all(json!(composite)).await;
        e.refused(&[], "Access forbidden", "no member allows").await;
        e.allowed(&[("x-secret", b64("open sesame"))], "the header member allows").await;
        e.allowed(&[basic("admin", pulp_core::testing::ADMIN_PASSWORD)], "the rbac member allows").await;

        // content_redirect: signed URLs
        let redirect = e.guard("core/content_redirect", json!({"name": "cdn"})).await;
        let shown = e.get(&redirect).await;
        assert!(shown.get("shared_secret").is_none(), "the secret is never shown: {shown}");
        let listed = e.get("/pulp/api/v3/contentguards/core/content_redirect/").await;
        assert!(listed["results"][0].get("shared_secret").is_none(), "{listed}");
        e.guard_all(json!(redirect)).await;
        let id = redirect.trim_end_matches('/').rsplit('/').next().expect("id");
        let guard = pulp_core::models::get::<pulp_core::guards::ContentRedirectContentGuard>(e.app.db(), pulp_core::db::PulpId(uuid::Uuid::parse_str(id).expect("uuid"))).await.expect("guard");
        for base in &e.base_paths {
            let path = format!("/pulp/content/{base}/small.txt");
            let signed = guard.preauthenticate_url(&format!("{}{path}", e.content), chrono::Utc::now());
            let body = e.client.get(&signed).send().await.expect("get");
            assert_eq!(body.status(), StatusCode::OK, "{signed}");
            assert_eq!(body.bytes().await.expect("body").as_ref(), SMALL);
            let other = signed.replace("small.txt", "big.bin");
            let tampered = e.client.get(&other).send().await.expect("get");
            assert_eq!(tampered.status(), StatusCode::FORBIDDEN, "another path with the same token");
            assert!(tampered.text().await.expect("text").contains("Access not authenticated"));
            let expired = guard.sign_with_salt(&path, chrono::Utc::now().timestamp() - 10, b"salt");
            let expired = e.client.get(format!("{}{expired}", e.content)).send().await.expect("get");
            assert_eq!(expired.status(), StatusCode::FORBIDDEN);
            assert!(expired.text().await.expect("text").contains("Authentication expired"));
        }
        e.refused(&[], "Access not authenticated", "unsigned").await;

        // envvar_header: only variables the settings allow
        std::env::set_var(SECRET_VAR, "from the environment");
        let envvar = e.guard("core/envvar_header", json!({"name": "env", "header_name": "x-env", "env_var": SECRET_VAR})).await;
        let shown = e.get(&envvar).await;
        assert_eq!(shown["env_var"], SECRET_VAR);
        e.guard_all(json!(envvar)).await;
        e.allowed(&[("x-env", b64("from the environment"))], "env value").await;
        e.refused(&[("x-env", b64("something else"))], "Access denied.", "wrong env value").await;
        let not_allowed = e.guard("core/envvar_header", json!({"name": "env2", "header_name": "x-env", "env_var": "PATH"})).await;
        e.guard_all(json!(not_allowed)).await;
        let path = std::env::var("PATH").unwrap_or_default();
        e.refused(&[("x-env", b64(&path))], "Access denied.", "a variable the settings do not allow").await;

        // /contentguards/ lists every type, with Pulp's filters
        let all = e.get("/pulp/api/v3/contentguards/").await;
        assert_eq!(all["count"], 8, "{all}");
        let some = e.get("/pulp/api/v3/contentguards/?pulp_type__in=core.header,core.rbac").await;
        assert_eq!(some["count"], 3, "{some}");
        let named = e.get("/pulp/api/v3/contentguards/?name__startswith=env").await;
        assert_eq!(named["count"], 2, "{named}");
        let headers = e.get("/pulp/api/v3/contentguards/core/header/?name=hj").await;
        assert_eq!(headers["results"][0]["jq_filter"], ".identity.org_id");
    }

    async fn x509_guards_check_the_chain_and_validity(t: &TestDatabase) {
        let e = env(t, false).await;
        let dir = pulp_core::testing::scratch_dir();
        ca(dir.path(), "ca");
        ca(dir.path(), "other-ca");
        let good = client_cert(dir.path(), "ca", "good", "2");
        let expired = client_cert(dir.path(), "ca", "expired", "-1");
        let foreign = client_cert(dir.path(), "other-ca", "foreign", "2");
        let ca_pem = std::fs::read_to_string(dir.path().join("ca.pem")).expect("ca");
        let (status, body) = e.post("/pulp/api/v3/contentguards/certguard/x509/", json!({"name": "bad", "ca_certificate": "not a certificate"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["ca_certificate"][0], "Must be PEM encoded X.509 certificate.");
        let guard = e.guard("certguard/x509", json!({"name": "x509", "ca_certificate": ca_pem})).await;
        assert_eq!(e.get(&guard).await["ca_certificate"], ca_pem.as_str());
        e.guard_all(json!(guard)).await;
        e.refused(&[], "was not received via the `X-CLIENT-CERT` header", "no certificate").await;
        e.refused(&[cert_header(&foreign)], "not signed by the stored 'ca_certificate'", "another CA").await;
        e.refused(&[cert_header(&expired)], "Client certificate is expired.", "expired").await;
        e.refused(&[("x-client-cert", "garbage".into())], "not a PEM encoded", "garbage").await;
        e.allowed(&[cert_header(&good)], "signed by the CA").await;
        // A proxy sending the PEM on one line (spaces for line breaks).
        let one_line = good.trim().replace('\n', " ").replace("-----BEGIN CERTIFICATE----- ", "-----BEGIN CERTIFICATE-----").replace(" -----END CERTIFICATE-----", "-----END CERTIFICATE-----");
        e.allowed(&[cert_header(&one_line)], "PEM on one line").await;
        // certguard is a component, as pulpcore reports it.
        let status = e.get("/pulp/api/v3/status/").await;
        assert!(status["versions"].as_array().is_some_and(|v| v.iter().any(|c| c["component"] == "certguard")), "{status}");
        let (_, docs) = e.call(Method::GET, "/pulp/api/v3/docs/api.json", None).await;
        assert!(docs["info"]["x-pulp-app-versions"]["certguard"].is_string(), "{}", docs["info"]);
    }

    async fn guarded_distributions_can_be_hidden_from_listings(t: &TestDatabase) {
        let e = env(t, true).await;
        let guard = e.guard("core/rbac", json!({"name": "rbac"})).await;
        let (status, task) = e.call(Method::PATCH, &e.distributions[0], Some(json!({"content_guard": guard}))).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        e.finish(&task).await;
        let (status, body, _) = e.fetch(Method::GET, "", &[]).await;
        assert_eq!(status, StatusCode::OK);
        let listing = String::from_utf8_lossy(&body);
        assert!(!listing.contains("pub/"), "the guarded distribution is hidden: {listing}");
        assert!(listing.contains("ver/"), "the others are listed: {listing}");
    }
}
