//! RBAC beyond the permission matrix, over real HTTP on both databases: session login
//! (`/login/`, cookies, CSRF), lists of every kind scoped by the permissions a user holds,
//! content and repository versions scoped by the repositories they may see, task groups
//! and uploads, `created_by` of tasks, roles removed with their object, the
//! `has_repo_attr_…` conditions and `condition_expression`, and import/export being the
//! administrators'.

mod support;

use pulp_core::tasking::{Worker, WorkerOptions};
use pulp_file::FilePlugin;
use pulp_plugin_api::testing::TestDatabase;
use pulp_plugin_api::{App, SettingsSources};
use reqwest::header::{HeaderMap, HeaderValue, SET_COOKIE};
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const ROOT: &str = "/pulp/api/v3";
const ADMIN: (&str, &str) = ("admin", "password");
const ALICE: (&str, &str) = ("alice", "alice-password");

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

impl Api {
    fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// A request with Basic credentials (or none) and extra headers.
    async fn send(
        &self,
        user: Option<(&str, &str)>,
        method: Method,
        path: &str,
        body: Option<Value>,
        headers: HeaderMap,
    ) -> (StatusCode, HeaderMap, Value) {
        let mut request = self.client.request(method, self.url(path)).headers(headers);
        if let Some((name, password)) = user {
            request = request.basic_auth(name, Some(password));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("send");
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::Null),
        )
    }

    async fn call(
        &self,
        user: (&str, &str),
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, _, value) = self
            .send(Some(user), method, path, body, HeaderMap::new())
            .await;
        (status, value)
    }

    async fn ok(
        &self,
        user: (&str, &str),
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let (status, value) = self.call(user, method.clone(), path, body).await;
        assert!(
            status.is_success(),
            "{} {method} {path}: {status} {value}",
            user.0
        );
        value
    }

    async fn count(&self, user: (&str, &str), path: &str) -> i64 {
        let page = self.ok(user, Method::GET, path, None).await;
        page["count"]
            .as_i64()
            .unwrap_or_else(|| panic!("{path}: {page}"))
    }

    async fn user(&self, name: &str, password: &str) -> String {
        let user = self
            .ok(
                ADMIN,
                Method::POST,
                &format!("{ROOT}/users/"),
                Some(json!({"username": name, "password": password})),
            )
            .await;
        user["pulp_href"].as_str().expect("href").to_string()
    }

    /// Runs the queued tasks (a worker in burst mode), then answers the task of `task`.
    async fn wait(&self, task: &Value) -> Value {
        let options = WorkerOptions {
            burst: true,
            name: Some("w1@test".into()),
            poll_interval: Some(std::time::Duration::from_millis(20)),
        };
        Worker::new(self.app.clone(), options)
            .run(CancellationToken::new())
            .await
            .expect("worker");
        let href = task["task"].as_str().expect("task href").to_string();
        for _ in 0..400 {
            let task = self.ok(ADMIN, Method::GET, &href, None).await;
            if matches!(
                task["state"].as_str(),
                Some("completed" | "failed" | "canceled")
            ) {
                return task;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("task {href} did not finish");
    }

    /// Uploads `bytes` at `path` into `repository` (as the administrator): the content href.
    async fn upload(&self, repository: &str, path: &str, bytes: &[u8]) -> String {
        let form = Form::new()
            .text("relative_path", path.to_string())
            .text("repository", repository.to_string())
            .part("file", Part::bytes(bytes.to_vec()).file_name("f"));
        let response = self
            .client
            .post(self.url(&format!("{ROOT}/content/file/files/")))
            .basic_auth(ADMIN.0, Some(ADMIN.1))
            .multipart(form)
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let body: Value = response.json().await.expect("json");
        let task = self.wait(&body).await;
        assert_eq!(task["state"], "completed", "{task}");
        task["created_resources"][0]
            .as_str()
            .expect("content")
            .to_string()
    }
}

/// The `name=value` pairs of a response's `Set-Cookie` headers.
fn cookies(headers: &HeaderMap) -> Vec<(String, String, String)> {
    headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| {
            let (pair, attributes) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=')?;
            Some((name.to_string(), value.to_string(), attributes.to_string()))
        })
        .collect()
}

fn with(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.insert(*name, HeaderValue::from_str(value).expect("header"));
    }
    headers
}

async fn roles_on(app: &App, object_id: &str) -> i64 {
    pulp_core::on_pool!(app.db(), pool => {
        pulp_core::deps::sqlx::query_scalar::<_, i64>(
            "SELECT (SELECT COUNT(*) FROM core_userrole WHERE object_id = $1) \
             + (SELECT COUNT(*) FROM core_grouprole WHERE object_id = $1)",
        )
        .bind(object_id)
        .fetch_one(pool)
        .await
        .expect("count")
    })
}

fn id_of(href: &str) -> String {
    href.trim_end_matches('/')
        .rsplit('/')
        .next()
        .expect("id")
        .to_string()
}

pulp_plugin_api::testing::db_tests! {
    async fn session_login_who_am_i_csrf_and_logout(t: &TestDatabase) {
        let api = start(t).await;
        let alice = api.user("alice", "alice-password").await;
        let login = format!("{ROOT}/login/");

        // Anonymous clients are refused every /login/ operation.
        for method in [Method::GET, Method::POST, Method::DELETE] {
            let (status, _, _) = api.send(None, method.clone(), &login, None, HeaderMap::new()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method}");
        }
        // Who am I, with Basic credentials.
        let me = api.ok(ALICE, Method::GET, &login, None).await;
        assert_eq!(me, json!({"pulp_href": alice, "prn": format!("prn:auth.user:{}", id_of(&alice)), "username": "alice"}));

        // POST opens a session: 201 and Django's two cookies.
        let (status, headers, body) = api.send(Some(ALICE), Method::POST, &login, None, HeaderMap::new()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["username"], "alice");
        let set = cookies(&headers);
        let session = set.iter().find(|c| c.0 == "sessionid").expect("sessionid cookie");
        let csrf = set.iter().find(|c| c.0 == "csrftoken").expect("csrftoken cookie");
        assert_eq!(session.1.len(), 32);
        assert!(session.2.contains("HttpOnly") && session.2.contains("Path=/") && session.2.contains("Max-Age=1209600"), "{session:?}");
        assert_eq!(csrf.1.len(), 32);
        let cookie = format!("sessionid={}; csrftoken={}", session.1, csrf.1);

        // The cookie alone authenticates, as alice and with her permissions.
        let (status, _, me) = api.send(None, Method::GET, &login, None, with(&[("cookie", &cookie)])).await;
        assert_eq!((status, me["username"].clone()), (StatusCode::OK, json!("alice")));
        let repos = format!("{ROOT}/repositories/file/file/");
        let (status, _, page) = api.send(None, Method::GET, &repos, None, with(&[("cookie", &cookie)])).await;
        assert_eq!((status, page["count"].clone()), (StatusCode::OK, json!(0)));

        // Unsafe methods need the CSRF token (and a matching origin when one is sent).
        let body = json!({"first_name": "Alice"});
        let (status, _, error) = api.send(None, Method::PATCH, &login, Some(body.clone()), with(&[("cookie", &cookie)])).await;
        assert_eq!((status, error), (StatusCode::FORBIDDEN, json!({"detail": "CSRF Failed: CSRF token missing."})));
        let (status, _, error) = api.send(None, Method::PATCH, &login, Some(body.clone()), with(&[("cookie", &cookie), ("x-csrftoken", &"x".repeat(32))])).await;
        assert_eq!((status, error), (StatusCode::FORBIDDEN, json!({"detail": "CSRF Failed: CSRF token incorrect."})));
        let (status, _, error) = api.send(None, Method::PATCH, &login, Some(body.clone()), with(&[("cookie", &cookie), ("x-csrftoken", &csrf.1), ("origin", "http://evil.example")])).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
        let (status, _, error) = api.send(None, Method::PATCH, &login, Some(body.clone()), with(&[("cookie", &format!("sessionid={}", session.1)), ("x-csrftoken", &csrf.1)])).await;
        assert_eq!((status, error), (StatusCode::FORBIDDEN, json!({"detail": "CSRF Failed: CSRF cookie not set."})));
        let origin = api.base.clone();
        let (status, _, changed) = api.send(None, Method::PATCH, &login, Some(body), with(&[("cookie", &cookie), ("x-csrftoken", &csrf.1), ("origin", &origin)])).await;
        assert_eq!(status, StatusCode::OK, "{changed}");
        assert_eq!(changed, json!({"username": "alice", "first_name": "Alice", "last_name": "", "email": ""}));
        // A session user's unsafe request is still decided by the access policy.
        let (status, _, _) = api.send(None, Method::POST, &repos, Some(json!({"name": "r"})), with(&[("cookie", &cookie), ("x-csrftoken", &csrf.1)])).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // A cookie that names no session is no authentication.
        let (status, _, _) = api.send(None, Method::GET, &login, None, with(&[("cookie", "sessionid=nosuchsession")])).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // DELETE ends the session and clears the cookie.
        let (status, headers, _) = api.send(None, Method::DELETE, &login, None, with(&[("cookie", &cookie), ("x-csrftoken", &csrf.1)])).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let cleared = cookies(&headers);
        let gone = cleared.iter().find(|c| c.0 == "sessionid").expect("sessionid cleared");
        assert_eq!(gone.1, "\"\"");
        assert!(gone.2.contains("Max-Age=0"), "{gone:?}");
        let (status, _, _) = api.send(None, Method::GET, &login, None, with(&[("cookie", &cookie)])).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "the old cookie no longer works");

        // PATCH /login/ changes one's password: the old one is checked, sessions end.
        let (_, headers, _) = api.send(Some(ALICE), Method::POST, &login, None, HeaderMap::new()).await;
        let set = cookies(&headers);
        let cookie = set.iter().map(|c| format!("{}={}", c.0, c.1)).collect::<Vec<_>>().join("; ");
        let (status, errors) = api.call(ALICE, Method::PATCH, &login, Some(json!({"new_password": "n3w-password"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{errors}");
        let (status, errors) = api.call(ALICE, Method::PATCH, &login, Some(json!({"old_password": "wrong", "new_password": "n3w-password"}))).await;
        assert_eq!((status, errors), (StatusCode::BAD_REQUEST, json!({"non_field_errors": ["Old password is incorrect."]})));
        let (status, errors) = api.call(ALICE, Method::PATCH, &login, Some(json!({"old_password": ALICE.1, "new_password": ALICE.1}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{errors}");
        let (status, errors) = api.call(ALICE, Method::PATCH, &login, Some(json!({"is_staff": true}))).await;
        assert_eq!((status, errors), (StatusCode::BAD_REQUEST, json!({"is_staff": ["Unexpected field."]})));
        api.ok(ALICE, Method::PATCH, &login, Some(json!({"old_password": ALICE.1, "new_password": "n3w-password"}))).await;
        assert_eq!(api.call(ALICE, Method::GET, &login, None).await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(api.call(("alice", "n3w-password"), Method::GET, &login, None).await.0, StatusCode::OK);
        let (status, _, _) = api.send(None, Method::GET, &login, None, with(&[("cookie", &cookie)])).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "a password change ends the sessions");
        let admin = api.ok(ADMIN, Method::GET, &alice, None).await;
        assert_eq!(admin["is_staff"], false);
    }

    async fn generic_lists_content_versions_uploads_and_task_groups_are_scoped(t: &TestDatabase) {
        let api = start(t).await;
        let alice = api.user("alice", "alice-password").await;
        let alice_id = pulp_core::deps::uuid::Uuid::parse_str(&id_of(&alice)).expect("uuid");
        let repos = format!("{ROOT}/repositories/file/file/");
        let mine = api.ok(ADMIN, Method::POST, &repos, Some(json!({"name": "mine"}))).await["pulp_href"].as_str().expect("href").to_string();
        let theirs = api.ok(ADMIN, Method::POST, &repos, Some(json!({"name": "theirs"}))).await["pulp_href"].as_str().expect("href").to_string();
        let my_unit = api.upload(&mine, "a.txt", b"alice's").await;
        let their_unit = api.upload(&theirs, "b.txt", b"not alice's").await;
        api.ok(ADMIN, Method::POST, &format!("{ROOT}/remotes/file/file/"), Some(json!({"name": "rem", "url": "http://example.org/PULP_MANIFEST"}))).await;

        // Nothing before a role; content in no visible repository is not shown either.
        for list in ["repositories", "remotes", "content", "repository_versions", "publications", "distributions", "uploads", "task-groups"] {
            assert_eq!(api.count(ALICE, &format!("{ROOT}/{list}/")).await, 0, "{list}");
        }
        // Owner of one repository: it, its versions, its content.
        api.ok(ADMIN, Method::POST, &format!("{alice}roles/"), Some(json!({"role": "file.filerepository_owner", "content_object": mine}))).await;
        let page = api.ok(ALICE, Method::GET, &format!("{ROOT}/repositories/"), None).await;
        assert_eq!(page["count"], 1, "{page}");
        assert_eq!(page["results"][0]["pulp_href"], json!(mine));
        assert_eq!(api.count(ADMIN, &format!("{ROOT}/repositories/")).await, 2);
        let page = api.ok(ALICE, Method::GET, &format!("{ROOT}/repository_versions/"), None).await;
        assert_eq!(page["count"], 2, "versions 0 and 1 of hers: {page}");
        assert!(page["results"].as_array().expect("list").iter().all(|v| v["repository"] == json!(mine)), "{page}");
        assert_eq!(api.count(ADMIN, &format!("{ROOT}/repository_versions/")).await, 4);
        for list in ["content", "content/file/files"] {
            let page = api.ok(ALICE, Method::GET, &format!("{ROOT}/{list}/"), None).await;
            assert_eq!(page["count"], 1, "{list}: {page}");
            assert_eq!(page["results"][0]["pulp_href"], json!(my_unit));
        }
        assert_eq!(api.call(ALICE, Method::GET, &my_unit, None).await.0, StatusCode::OK);
        assert_eq!(api.call(ALICE, Method::GET, &their_unit, None).await.0, StatusCode::NOT_FOUND);
        assert_eq!(api.count(ALICE, &format!("{ROOT}/remotes/")).await, 0);
        // A global viewer role on remotes shows them all; filters still apply.
        api.ok(ADMIN, Method::POST, &format!("{alice}roles/"), Some(json!({"role": "file.fileremote_viewer", "content_object": null}))).await;
        assert_eq!(api.count(ALICE, &format!("{ROOT}/remotes/")).await, 1);
        assert_eq!(api.count(ALICE, &format!("{ROOT}/remotes/?name=nope")).await, 0);
        assert_eq!(api.count(ALICE, &format!("{ROOT}/repositories/?name=theirs")).await, 0);
        assert_eq!(api.count(ALICE, &format!("{ROOT}/repositories/?q=name=\"mine\" OR name=\"theirs\"")).await, 1);

        // Uploads: one's own only.
        api.ok(ADMIN, Method::POST, &format!("{ROOT}/uploads/"), Some(json!({"size": 3}))).await;
        api.ok(ADMIN, Method::POST, &format!("{alice}roles/"), Some(json!({"role": "core.upload_creator", "content_object": null}))).await;
        let upload = api.ok(ALICE, Method::POST, &format!("{ROOT}/uploads/"), Some(json!({"size": 3}))).await;
        let page = api.ok(ALICE, Method::GET, &format!("{ROOT}/uploads/"), None).await;
        assert_eq!(page["count"], 1, "{page}");
        assert_eq!(page["results"][0]["pulp_href"], upload["pulp_href"]);
        assert_eq!(api.count(ADMIN, &format!("{ROOT}/uploads/")).await, 2);

        // Task groups: those whose top-level tasks the user may see.
        let db = api.app.db();
        let hers = pulp_core::tasking::create_task_group(db, "hers").await.expect("group");
        let other = pulp_core::tasking::create_task_group(db, "other").await.expect("group");
        let request = |g| pulp_core::tasking::DispatchRequest::new(pulp_core::tasking::builtin::NOOP).task_group(g);
        let task = pulp_core::rbac::acting_as(Some(pulp_core::db::PulpId(alice_id)), pulp_core::tasking::dispatch(&api.app, request(hers))).await.expect("dispatch");
        pulp_core::tasking::dispatch(&api.app, request(other)).await.expect("dispatch");
        let page = api.ok(ALICE, Method::GET, &format!("{ROOT}/task-groups/"), None).await;
        assert_eq!(page["count"], 1, "{page}");
        assert_eq!(page["results"][0]["description"], "hers");
        assert_eq!(api.count(ADMIN, &format!("{ROOT}/task-groups/")).await, 2);
        assert_eq!(api.call(ALICE, Method::GET, &format!("{ROOT}/task-groups/{hers}/"), None).await.0, StatusCode::OK);
        assert_eq!(api.call(ALICE, Method::GET, &format!("{ROOT}/task-groups/{other}/"), None).await.0, StatusCode::NOT_FOUND);

        // created_by: the user who dispatched the task.
        let shown = api.ok(ALICE, Method::GET, &format!("{ROOT}/tasks/{}/", task.pulp_id), None).await;
        assert_eq!(shown["created_by"], json!(alice), "{shown}");
        let page = api.ok(ADMIN, Method::GET, &format!("{ROOT}/tasks/?limit=100"), None).await;
        assert!(page["results"].as_array().expect("list").iter().any(|t| t["created_by"].is_null()), "the server's own tasks have none");
    }

    async fn deleting_an_object_removes_its_role_assignments(t: &TestDatabase) {
        let api = start(t).await;
        let alice = api.user("alice", "alice-password").await;
        api.ok(ADMIN, Method::POST, &format!("{alice}roles/"), Some(json!({"role": "file.filerepository_creator", "content_object": null}))).await;
        let repo = api.ok(ALICE, Method::POST, &format!("{ROOT}/repositories/file/file/"), Some(json!({"name": "gone-soon"}))).await["pulp_href"].as_str().expect("href").to_string();
        let group = api.ok(ADMIN, Method::POST, &format!("{ROOT}/groups/"), Some(json!({"name": "team"}))).await["pulp_href"].as_str().expect("href").to_string();
        api.ok(ADMIN, Method::POST, &format!("{group}roles/"), Some(json!({"role": "file.filerepository_viewer", "content_object": repo}))).await;
        assert_eq!(roles_on(&api.app, &id_of(&repo)).await, 2, "owner (hook) and the group's viewer");
        let task = api.ok(ALICE, Method::DELETE, &repo, None).await;
        assert_eq!(api.wait(&task).await["state"], "completed");
        assert_eq!(roles_on(&api.app, &id_of(&repo)).await, 0);
        // The global role and the task's roles stay; deleting the task removes its own.
        assert_eq!(api.count(ADMIN, &format!("{alice}roles/")).await, 1 + 1);
        let task_href = task["task"].as_str().expect("href").to_string();
        assert_eq!(roles_on(&api.app, &id_of(&task_href)).await, 1);
        assert_eq!(api.call(ALICE, Method::DELETE, &task_href, None).await.0, StatusCode::NO_CONTENT);
        assert_eq!(roles_on(&api.app, &id_of(&task_href)).await, 0);
        // An upload's too.
        api.ok(ADMIN, Method::POST, &format!("{alice}roles/"), Some(json!({"role": "core.upload_creator", "content_object": null}))).await;
        let upload = api.ok(ALICE, Method::POST, &format!("{ROOT}/uploads/"), Some(json!({"size": 3}))).await["pulp_href"].as_str().expect("href").to_string();
        assert_eq!(roles_on(&api.app, &id_of(&upload)).await, 1);
        assert_eq!(api.call(ALICE, Method::DELETE, &upload, None).await.0, StatusCode::NO_CONTENT);
        assert_eq!(roles_on(&api.app, &id_of(&upload)).await, 0);
    }

    async fn repo_attribute_conditions_expressions_and_import_export(t: &TestDatabase) {
        let api = start(t).await;
        let alice = api.user("alice", "alice-password").await;
        let repo = api.ok(ADMIN, Method::POST, &format!("{ROOT}/repositories/file/file/"), Some(json!({"name": "r"}))).await["pulp_href"].as_str().expect("href").to_string();
        let task = api.ok(ADMIN, Method::POST, &format!("{ROOT}/distributions/file/file/"), Some(json!({"name": "d", "base_path": "d", "repository": repo}))).await;
        let dist = api.wait(&task).await["created_resources"][0].as_str().expect("href").to_string();
        let policies = api.ok(ADMIN, Method::GET, &format!("{ROOT}/access_policies/?viewset_name=distributions/file/file"), None).await;
        let policy = policies["results"][0]["pulp_href"].as_str().expect("href").to_string();
        // Retrieving a distribution needs view permission on its repository, say.
        api.ok(ADMIN, Method::PATCH, &policy, Some(json!({"statements": [
            {"action": ["list"], "principal": "authenticated", "effect": "allow"},
            {"action": ["retrieve"], "principal": "authenticated", "effect": "allow", "condition": "has_repo_attr_model_or_obj_perms:file.view_filerepository"},
            {"action": ["my_permissions"], "principal": "authenticated", "effect": "allow",
             "condition_expression": "has_repo_attr_obj_perms:file.view_filerepository and not has_model_perms:file.add_filedistribution"},
        ], "queryset_scoping": null}))).await;
        assert_eq!(api.call(ALICE, Method::GET, &dist, None).await.0, StatusCode::FORBIDDEN);
        assert_eq!(api.call(ALICE, Method::GET, &format!("{dist}my_permissions/"), None).await.0, StatusCode::FORBIDDEN);
        api.ok(ADMIN, Method::POST, &format!("{alice}roles/"), Some(json!({"role": "file.filerepository_viewer", "content_object": repo}))).await;
        assert_eq!(api.call(ALICE, Method::GET, &dist, None).await.0, StatusCode::OK);
        assert_eq!(api.call(ALICE, Method::GET, &format!("{dist}my_permissions/"), None).await.0, StatusCode::OK);
        api.ok(ADMIN, Method::POST, &format!("{alice}roles/"), Some(json!({"role": "file.filedistribution_creator", "content_object": null}))).await;
        assert_eq!(api.call(ALICE, Method::GET, &format!("{dist}my_permissions/"), None).await.0, StatusCode::FORBIDDEN, "`not` holds no more");
        assert_eq!(api.call(ALICE, Method::GET, &dist, None).await.0, StatusCode::OK);

        // Import and export are the administrators' (pulpcore declares no policy for them).
        for path in ["exporters/core/pulp/", "exporters/core/filesystem/", "importers/core/pulp/"] {
            assert_eq!(api.call(ALICE, Method::GET, &format!("{ROOT}/{path}"), None).await.0, StatusCode::FORBIDDEN, "{path}");
            assert_eq!(api.call(ADMIN, Method::GET, &format!("{ROOT}/{path}"), None).await.0, StatusCode::OK, "{path}");
        }
        let (status, _) = api.call(ALICE, Method::POST, &format!("{ROOT}/importers/core/pulp/import-check/"), Some(json!({"path": "/tmp/x.tar"}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
}
