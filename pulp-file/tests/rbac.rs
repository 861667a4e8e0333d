//! Role-based access control over real HTTP on both databases, as pulpcore's default
//! policies decide it: users, groups, locked roles, role assignments (global, on an object,
//! through a group), creation hooks, scoped lists, 404 on what a user may not view, and
//! attempts to escalate.

mod support;

use pulp_file::FilePlugin;
use pulp_plugin_api::testing::TestDatabase;
use pulp_plugin_api::{App, SettingsSources};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const ROOT: &str = "/pulp/api/v3";
const ADMIN: (&str, &str) = ("admin", "password");
const ALICE: (&str, &str) = ("alice", "alice-password");
const BOB: (&str, &str) = ("bob", "bob-password");

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
    async fn call(
        &self,
        user: (&str, &str),
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let mut request = self
            .client
            .request(method, url)
            .basic_auth(user.0, Some(user.1));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("send");
        let status = response.status();
        let text = response.text().await.expect("body");
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
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

    async fn status(
        &self,
        user: (&str, &str),
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> StatusCode {
        self.call(user, method, path, body).await.0
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

    async fn wait(&self, user: (&str, &str), task: &Value) -> Value {
        let href = task["task"].as_str().expect("task href").to_string();
        for _ in 0..200 {
            let task = self.ok(user, Method::GET, &href, None).await;
            if matches!(
                task["state"].as_str(),
                Some("completed" | "failed" | "canceled")
            ) {
                return task;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("task {href} did not finish");
    }
}

async fn assignments(app: &App, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    pulp_core::on_pool!(app.db(), pool => {
        pulp_core::deps::sqlx::query_scalar::<_, i64>(&sql).fetch_one(pool).await.expect("count")
    })
}

pulp_plugin_api::testing::db_tests! {
    async fn roles_decide_what_users_may_do(t: &TestDatabase) {
        let api = start(t).await;
        let repos = format!("{ROOT}/repositories/file/file/");
        let remotes = format!("{ROOT}/remotes/file/file/");
        let alice = api.user("alice", "alice-password").await;
        let bob = api.user("bob", "bob-password").await;
        let admin_repo = api.ok(ADMIN, Method::POST, &repos, Some(json!({"name": "admin-repo"}))).await;
        let admin_repo = admin_repo["pulp_href"].as_str().expect("href").to_string();
        let admin_remote = api.ok(ADMIN, Method::POST, &remotes, Some(json!({"name": "admin-remote", "url": "http://example.org/PULP_MANIFEST"}))).await;
        let admin_remote = admin_remote["pulp_href"].as_str().expect("href").to_string();

        // No role: lists are empty, creating is refused, others' objects are not found.
        assert_eq!(api.ok(ALICE, Method::GET, &repos, None).await["count"], 0);
        assert_eq!(api.status(ALICE, Method::POST, &repos, Some(json!({"name": "a"}))).await, StatusCode::FORBIDDEN);
        assert_eq!(api.status(ALICE, Method::GET, &admin_repo, None).await, StatusCode::NOT_FOUND);
        assert_eq!(api.status(ALICE, Method::DELETE, &admin_repo, None).await, StatusCode::NOT_FOUND);

        // A global creator role: Alice creates, and the creation hook makes her the owner.
        api.ok(ADMIN, Method::POST, &format!("{alice}roles/"), Some(json!({"role": "file.filerepository_creator", "content_object": null}))).await;
        let (status, body) = api.call(ALICE, Method::POST, &repos, Some(json!({"name": "alice-repo", "remote": admin_remote}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "a remote she may not view: {body}");
        let mine = api.ok(ALICE, Method::POST, &repos, Some(json!({"name": "alice-repo"}))).await;
        let mine = mine["pulp_href"].as_str().expect("href").to_string();
        let page = api.ok(ALICE, Method::GET, &repos, None).await;
        assert_eq!(page["count"], 1, "scoped to her repository: {page}");
        assert_eq!(page["results"][0]["pulp_href"], json!(mine));
        assert_eq!(api.ok(ADMIN, Method::GET, &repos, None).await["count"], 2);
        api.ok(ALICE, Method::PATCH, &mine, Some(json!({"description": "mine"}))).await;
        let perms = api.ok(ALICE, Method::GET, &format!("{mine}my_permissions/"), None).await;
        let perms: Vec<&str> = perms["permissions"].as_array().expect("list").iter().filter_map(Value::as_str).collect();
        for expected in ["file.view_filerepository", "file.change_filerepository", "file.sync_filerepository", "file.manage_roles_filerepository"] {
            assert!(perms.contains(&expected), "{expected} in {perms:?}");
        }
        let roles = api.ok(ALICE, Method::GET, &format!("{mine}list_roles/"), None).await;
        assert_eq!(roles, json!({"roles": [{"role": "file.filerepository_owner", "users": ["alice"], "groups": []}]}));

        // Bob sees nothing of hers until she gives him the viewer role on it.
        assert_eq!(api.status(BOB, Method::GET, &mine, None).await, StatusCode::NOT_FOUND);
        let added = api.ok(ALICE, Method::POST, &format!("{mine}add_role/"), Some(json!({"role": "file.filerepository_viewer", "users": ["bob"]}))).await;
        assert_eq!(added, json!({"users": ["bob"], "groups": [], "role": "file.filerepository_viewer"}));
        let (status, body) = api.call(ALICE, Method::POST, &format!("{mine}add_role/"), Some(json!({"role": "file.filerepository_viewer", "users": ["bob"]}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "already assigned: {body}");
        let (status, body) = api.call(ALICE, Method::POST, &format!("{mine}add_role/"), Some(json!({"role": "file.fileremote_viewer", "users": ["bob"]}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "a remote role on a repository: {body}");
        assert_eq!(api.status(BOB, Method::GET, &mine, None).await, StatusCode::OK);
        assert_eq!(api.ok(BOB, Method::GET, &repos, None).await["count"], 1);
        assert_eq!(api.status(BOB, Method::PATCH, &mine, Some(json!({"description": "bob's"}))).await, StatusCode::FORBIDDEN);
        assert_eq!(api.status(BOB, Method::DELETE, &mine, None).await, StatusCode::FORBIDDEN);
        assert_eq!(api.status(BOB, Method::POST, &format!("{mine}add_role/"), Some(json!({"role": "file.filerepository_owner", "users": ["bob"]}))).await, StatusCode::FORBIDDEN, "a viewer cannot manage roles");
        api.ok(ALICE, Method::POST, &format!("{mine}remove_role/"), Some(json!({"role": "file.filerepository_viewer", "users": ["bob"]}))).await;
        assert_eq!(api.status(BOB, Method::GET, &mine, None).await, StatusCode::NOT_FOUND);

        // Escalation: an owner cannot touch others' repositories, users, roles or policies.
        assert_eq!(api.status(ALICE, Method::POST, &format!("{admin_repo}add_role/"), Some(json!({"role": "file.filerepository_owner", "users": ["alice"]}))).await, StatusCode::NOT_FOUND);
        assert_eq!(api.status(ALICE, Method::PATCH, &alice, Some(json!({"is_staff": true}))).await, StatusCode::FORBIDDEN);
        assert_eq!(api.status(ALICE, Method::GET, &format!("{ROOT}/users/"), None).await, StatusCode::FORBIDDEN);
        assert_eq!(api.status(ALICE, Method::POST, &format!("{alice}roles/"), Some(json!({"role": "file.filerepository_owner", "content_object": null}))).await, StatusCode::FORBIDDEN);
        assert_eq!(api.status(ALICE, Method::POST, &format!("{ROOT}/roles/"), Some(json!({"name": "mine", "permissions": []}))).await, StatusCode::FORBIDDEN);
        let user = api.ok(ADMIN, Method::GET, &alice, None).await;
        assert!(user.get("password").is_none(), "{user}");
        assert_eq!(user["is_staff"], false);

        // Through a group: a global viewer role for the team shows Bob every repository.
        let team = api.ok(ADMIN, Method::POST, &format!("{ROOT}/groups/"), Some(json!({"name": "team"}))).await;
        let team = team["pulp_href"].as_str().expect("href").to_string();
        api.ok(ADMIN, Method::POST, &format!("{team}users/"), Some(json!({"username": "bob"}))).await;
        api.ok(ADMIN, Method::POST, &format!("{team}roles/"), Some(json!({"role": "file.filerepository_viewer", "content_object": null}))).await;
        assert_eq!(api.ok(BOB, Method::GET, &repos, None).await["count"], 2);
        assert_eq!(api.status(BOB, Method::GET, &admin_repo, None).await, StatusCode::OK);
        assert_eq!(api.status(BOB, Method::PATCH, &admin_repo, Some(json!({"description": "x"}))).await, StatusCode::FORBIDDEN);
        // An object role through the group: owner of Alice's repository.
        api.ok(ADMIN, Method::POST, &format!("{team}roles/"), Some(json!({"role": "file.filerepository_owner", "content_object": mine}))).await;
        api.ok(BOB, Method::PATCH, &mine, Some(json!({"description": "team's"}))).await;
        let roles = api.ok(BOB, Method::GET, &format!("{mine}list_roles/"), None).await;
        assert_eq!(roles["roles"][0]["groups"], json!(["team"]), "{roles}");

        // Tasks belong to who dispatched them.
        let task = api.ok(ALICE, Method::DELETE, &mine, None).await;
        let done = api.wait(ALICE, &task).await;
        assert_eq!(done["state"], "completed", "{done}");
        let task_href = task["task"].as_str().expect("task").to_string();
        assert_eq!(api.status(BOB, Method::GET, &task_href, None).await, StatusCode::NOT_FOUND);
        let tasks = api.ok(ALICE, Method::GET, &format!("{ROOT}/tasks/"), None).await;
        assert_eq!(tasks["count"], 2, "only her update and delete, not Bob's update: {tasks}");

        // Deleting a group or a user removes its assignments.
        let before = assignments(&api.app, "core_grouprole").await;
        assert_eq!(before, 1, "the global viewer role; the one on her deleted repository went with it");
        assert_eq!(api.status(ADMIN, Method::DELETE, &team, None).await, StatusCode::NO_CONTENT);
        assert_eq!(assignments(&api.app, "core_grouprole").await, 0);
        assert_eq!(api.ok(BOB, Method::GET, &repos, None).await["count"], 0);
        let before = assignments(&api.app, "core_userrole").await;
        assert_eq!(api.status(ADMIN, Method::DELETE, &alice, None).await, StatusCode::NO_CONTENT);
        assert!(assignments(&api.app, "core_userrole").await < before);
        assert_eq!(api.status(ALICE, Method::GET, &repos, None).await, StatusCode::UNAUTHORIZED);
        let _ = bob;
    }

    async fn roles_groups_and_users_api(t: &TestDatabase) {
        let api = start(t).await;
        // Locked roles are declared by core and pulp-file and refuse changes.
        let page = api.ok(ADMIN, Method::GET, &format!("{ROOT}/roles/?name=file.filerepository_owner"), None).await;
        assert_eq!(page["count"], 1, "{page}");
        let owner = &page["results"][0];
        assert_eq!(owner["locked"], true);
        let href = owner["pulp_href"].as_str().expect("href").to_string();
        let (status, body) = api.call(ADMIN, Method::PATCH, &href, Some(json!({"description": "mine"}))).await;
        assert_eq!((status, body), (StatusCode::FORBIDDEN, json!({"detail": "The role is locked."})));
        assert_eq!(api.status(ADMIN, Method::DELETE, &href, None).await, StatusCode::FORBIDDEN);
        for name in ["core.task_owner", "core.upload_owner", "core.group_owner", "file.fileremote_owner", "file.filedistribution_viewer", "file.filepublication_creator"] {
            let page = api.ok(ADMIN, Method::GET, &format!("{ROOT}/roles/?name={name}&locked=true"), None).await;
            assert_eq!(page["count"], 1, "{name}");
        }
        let page = api.ok(ADMIN, Method::GET, &format!("{ROOT}/roles/?contains_permission=file.sync_filerepository"), None).await;
        assert_eq!(page["count"], 1, "{page}");
        let page = api.ok(ADMIN, Method::GET, &format!("{ROOT}/roles/?for_object_type={ROOT}/remotes/file/file/&limit=100"), None).await;
        let names: Vec<&str> = page["results"].as_array().expect("list").iter().filter_map(|r| r["name"].as_str()).collect();
        assert_eq!(names, ["file.fileremote_creator", "file.fileremote_owner", "file.fileremote_viewer"]);

        // A role of one's own: created, changed, refused bad permissions, deleted.
        let mine = api.ok(ADMIN, Method::POST, &format!("{ROOT}/roles/"), Some(json!({"name": "syncer", "permissions": ["file.sync_filerepository", "file.view_filerepository"]}))).await;
        assert_eq!(mine["locked"], false);
        assert_eq!(mine["permissions"], json!(["file.sync_filerepository", "file.view_filerepository"]));
        let mine = mine["pulp_href"].as_str().expect("href").to_string();
        let (status, errors) = api.call(ADMIN, Method::PATCH, &mine, Some(json!({"permissions": ["file.fly_filerepository", "nodot"]}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(errors["permissions"].as_array().map(Vec::len), Some(2), "{errors}");
        let changed = api.ok(ADMIN, Method::PATCH, &mine, Some(json!({"description": "syncs"}))).await;
        assert_eq!(changed["description"], "syncs");
        let (status, _) = api.call(ADMIN, Method::POST, &format!("{ROOT}/roles/"), Some(json!({"name": "syncer", "permissions": []}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "duplicate name");

        // Users: password write-only, null disables password login; filters.
        let carol = api.ok(ADMIN, Method::POST, &format!("{ROOT}/users/"), Some(json!({"username": "carol", "password": "pw-carol", "email": "carol@example.org"}))).await;
        assert!(carol.get("password").is_none());
        let carol_href = carol["pulp_href"].as_str().expect("href").to_string();
        assert_eq!(api.status(("carol", "pw-carol"), Method::GET, &format!("{ROOT}/repositories/file/file/"), None).await, StatusCode::OK);
        api.ok(ADMIN, Method::PATCH, &carol_href, Some(json!({"password": null}))).await;
        assert_eq!(api.status(("carol", "pw-carol"), Method::GET, &format!("{ROOT}/repositories/file/file/"), None).await, StatusCode::UNAUTHORIZED);
        let (status, errors) = api.call(ADMIN, Method::POST, &format!("{ROOT}/users/"), Some(json!({"username": "carol"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(errors["username"].is_array(), "{errors}");
        let (status, errors) = api.call(ADMIN, Method::POST, &format!("{ROOT}/users/"), Some(json!({"username": "bad name!"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{errors}");
        let page = api.ok(ADMIN, Method::GET, &format!("{ROOT}/users/?username__icontains=CAR"), None).await;
        assert_eq!(page["count"], 1);

        // Groups and members; assignments with validation.
        let group = api.ok(ADMIN, Method::POST, &format!("{ROOT}/groups/"), Some(json!({"name": "ops"}))).await;
        let group_href = group["pulp_href"].as_str().expect("href").to_string();
        assert!(group["id"].is_i64());
        let member = api.ok(ADMIN, Method::POST, &format!("{group_href}users/"), Some(json!({"username": "carol"}))).await;
        assert_eq!(member["username"], "carol");
        let members = api.ok(ADMIN, Method::GET, &format!("{group_href}users/"), None).await;
        assert_eq!(members["count"], 1);
        let carol_in_ops = member["pulp_href"].as_str().expect("href").to_string();
        assert_eq!(api.ok(ADMIN, Method::GET, &carol_href, None).await["groups"][0]["name"], "ops");
        let (status, errors) = api.call(ADMIN, Method::POST, &format!("{carol_href}roles/"), Some(json!({"role": "nope", "content_object": null}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{errors}");
        let (status, errors) = api.call(ADMIN, Method::POST, &format!("{carol_href}roles/"), Some(json!({"role": "syncer"}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "content_object required: {errors}");
        let assigned = api.ok(ADMIN, Method::POST, &format!("{carol_href}roles/"), Some(json!({"role": "syncer", "content_object": null}))).await;
        assert_eq!(assigned["permissions"], json!(["file.sync_filerepository", "file.view_filerepository"]));
        let (status, _) = api.call(ADMIN, Method::POST, &format!("{carol_href}roles/"), Some(json!({"role": "syncer", "content_object": null}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "duplicate");
        let list = api.ok(ADMIN, Method::GET, &format!("{carol_href}roles/?role__startswith=sync"), None).await;
        assert_eq!(list["count"], 1);
        let one = assigned["pulp_href"].as_str().expect("href").to_string();
        api.ok(ADMIN, Method::GET, &one, None).await;
        assert_eq!(api.status(ADMIN, Method::DELETE, &one, None).await, StatusCode::NO_CONTENT);
        assert_eq!(api.status(ADMIN, Method::DELETE, &carol_in_ops, None).await, StatusCode::NO_CONTENT);
        assert_eq!(api.ok(ADMIN, Method::GET, &format!("{group_href}users/"), None).await["count"], 0);
        // A group's creator owns it (through the creation hook).
        let roles = api.ok(ADMIN, Method::GET, &format!("{group_href}list_roles/"), None).await;
        assert_eq!(roles["roles"][0]["role"], "core.group_owner", "{roles}");
    }
}
