//! Access policies over real HTTP on both databases: the declared defaults are stored and
//! served at `/access_policies/`, customized and reset, and they decide what a user who is
//! not a superuser may do.

mod support;

use pulp_file::FilePlugin;
use pulp_plugin_api::testing::TestDatabase;
use pulp_plugin_api::{App, SettingsSources};
use reqwest::StatusCode;
use serde_json::{json, Value};

const ROOT: &str = "/pulp/api/v3";

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
    pulp_core::auth::Users::new(app.db())
        .set_password("alice", "alice-password", false)
        .await
        .expect("alice");
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
        method: reqwest::Method,
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

    async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (status, value) = self.call(ADMIN, method.clone(), path, body).await;
        assert!(status.is_success(), "{method} {path}: {status} {value}");
        value
    }

    async fn policy_href(&self, viewset: &str) -> String {
        let page = self
            .admin(
                reqwest::Method::GET,
                &format!("{ROOT}/access_policies/?viewset_name={viewset}"),
                None,
            )
            .await;
        assert_eq!(page["count"], 1, "{viewset}: {page}");
        page["results"][0]["pulp_href"]
            .as_str()
            .expect("href")
            .to_string()
    }
}

const ADMIN: (&str, &str) = ("admin", "password");
const ALICE: (&str, &str) = ("alice", "alice-password");

pulp_plugin_api::testing::db_tests! {
    async fn declared_defaults_are_stored_served_customized_and_reset(t: &TestDatabase) {
        let api = start(t).await;
        use reqwest::Method;
        // Every viewset pulp-core and pulp-file declare has its policy, in Pulp's shape.
        let page = api.admin(Method::GET, &format!("{ROOT}/access_policies/?limit=100"), None).await;
        let names: Vec<&str> = page["results"].as_array().expect("results").iter().filter_map(|p| p["viewset_name"].as_str()).collect();
        for expected in ["tasks", "artifacts", "uploads", "repositories/file/file", "repositories/file/file/versions", "remotes/file/file", "content/file/files"] {
            assert!(names.contains(&expected), "{expected} missing from {names:?}");
        }
        assert_eq!(page["count"].as_u64(), Some(names.len() as u64));
        let href = api.policy_href("remotes/file/file").await;
        let policy = api.admin(Method::GET, &href, None).await;
        for field in ["pulp_href", "prn", "pulp_created", "pulp_last_updated", "statements", "creation_hooks", "permissions_assignment", "viewset_name", "customized", "queryset_scoping"] {
            assert!(policy.get(field).is_some(), "{field} missing: {policy}");
        }
        assert_eq!(policy["customized"], false);
        assert_eq!(policy["queryset_scoping"], json!({"function": "scope_queryset"}));
        assert!(policy["statements"].as_array().is_some_and(|s| s.iter().any(|s| s["action"] == json!(["create"]))));
        let filtered = api.admin(Method::GET, &format!("{ROOT}/access_policies/?viewset_name__startswith=repositories/file&customized=false"), None).await;
        assert_eq!(filtered["count"], 2, "{filtered}");

        // Customizing keeps the statements as given and marks the policy customized.
        let statements = json!([{"action": "*", "principal": "authenticated", "effect": "allow"}]);
        let patched = api.admin(Method::PATCH, &href, Some(json!({"statements": statements}))).await;
        assert_eq!(patched["statements"], statements);
        assert_eq!(patched["customized"], true);
        assert_eq!(patched["queryset_scoping"], json!({"function": "scope_queryset"}), "PATCH keeps what it does not name");
        // Migrating again (an upgrade) leaves a customized policy alone…
        api.app.migrate().await.expect("migrate again");
        assert_eq!(api.admin(Method::GET, &href, None).await["statements"], statements);
        // …and brings uncustomized ones up to date with a changed default.
        use pulp_plugin_api::access_policy::{seed, AccessPolicy, Statement};
        let newer = AccessPolicy::new(vec![Statement::allow(&["list"], &["*"])]);
        seed(api.app.db(), &[("tasks".into(), newer.clone()), ("remotes/file/file".into(), newer)])
            .await
            .expect("seed");
        let tasks = api.policy_href("tasks").await;
        let tasks = api.admin(Method::GET, &tasks, None).await;
        assert_eq!(tasks["statements"], json!([{"action": ["list"], "principal": ["*"], "effect": "allow"}]));
        assert_eq!(tasks["customized"], false);
        assert_eq!(api.admin(Method::GET, &href, None).await["statements"], statements, "customized: kept");
        api.app.migrate().await.expect("migrate: back to the declared defaults");
        let customized = api.admin(Method::GET, &format!("{ROOT}/access_policies/?customized=true"), None).await;
        assert_eq!(customized["count"], 1);
        // Reset brings back the default.
        let reset = api.admin(Method::POST, &format!("{href}reset/"), None).await;
        assert_eq!(reset["customized"], false);
        assert_eq!(reset["statements"], policy["statements"]);

        // Bad bodies: field errors, and nothing changes.
        for (body, field) in [
            (json!({"statements": [{"action": "list", "principal": "*", "effect": "allow", "colour": "red"}]}), "statements"),
            (json!({"statements": [{"action": "list", "principal": "*", "effect": "perhaps"}]}), "statements"),
            (json!({"statements": "allow everything"}), "statements"),
            (json!({"creation_hooks": "none"}), "creation_hooks"),
            (json!({"queryset_scoping": 3}), "queryset_scoping"),
            (json!({"viewset_name": "tasks"}), "viewset_name"),
        ] {
            let (status, errors) = api.call(ADMIN, Method::PATCH, &href, Some(body.clone())).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {errors}");
            assert!(errors[field].is_array(), "{body}: {errors}");
        }
        let (status, errors) = api.call(ADMIN, Method::PUT, &href, Some(json!({"creation_hooks": []}))).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(errors["statements"].is_array(), "{errors}");
        assert_eq!(api.admin(Method::GET, &href, None).await["customized"], false);
        let (status, _) = api.call(ADMIN, Method::GET, &format!("{ROOT}/access_policies/00000000-0000-0000-0000-000000000000/"), None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    async fn policies_decide_what_other_users_may_do(t: &TestDatabase) {
        let api = start(t).await;
        use reqwest::Method;
        let repos = format!("{ROOT}/repositories/file/file/");
        // The administrator is never held back by a policy.
        api.admin(Method::POST, &repos, Some(json!({"name": "admin-repo"}))).await;
        // Alice may list (scoped: she holds no permission on anything, so she sees nothing)…
        let (status, page) = api.call(ALICE, Method::GET, &repos, None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page, json!({"count": 0, "next": null, "previous": null, "results": []}));
        // …but not create (no `file.add_filerepository` permission), nor reach admin-only
        // viewsets or operations no policy covers.
        let (status, body) = api.call(ALICE, Method::POST, &repos, Some(json!({"name": "alice-repo"}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert!(body["detail"].is_string(), "{body}");
        let (status, _) = api.call(ALICE, Method::GET, &format!("{ROOT}/access_policies/"), None).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let (status, _) = api.call(ALICE, Method::POST, &format!("{ROOT}/orphans/cleanup/"), Some(json!({}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // Wrong password: 401 before any policy.
        let (status, _) = api.call(("alice", "wrong"), Method::GET, &repos, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);

        // The administrator opens the viewset to Alice by name, unscoped.
        let href = api.policy_href("repositories/file/file").await;
        api.admin(Method::PUT, &href, Some(json!({
            "statements": [
                {"action": ["list", "retrieve", "create"], "principal": "user:alice", "effect": "allow"},
                {"action": "destroy", "principal": "authenticated", "effect": "deny"},
            ],
            "queryset_scoping": {},
        }))).await;
        let (status, created) = api.call(ALICE, Method::POST, &repos, Some(json!({"name": "alice-repo"}))).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        let (status, page) = api.call(ALICE, Method::GET, &repos, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(page["count"], 2, "unscoped: {page}");
        let alice_repo = created["pulp_href"].as_str().expect("href").to_string();
        let (status, _) = api.call(ALICE, Method::GET, &alice_repo, None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _) = api.call(ALICE, Method::DELETE, &alice_repo, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "deny wins");
        let (status, _) = api.call(ALICE, Method::POST, &format!("{alice_repo}sync/"), Some(json!({}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "no statement for sync");
        // Other viewsets are untouched.
        let (status, _) = api.call(ALICE, Method::POST, &format!("{ROOT}/remotes/file/file/"), Some(json!({"name": "r", "url": "http://example.org/"}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);

        // Reset: Alice is back to lists only.
        api.admin(Method::POST, &format!("{href}reset/"), None).await;
        let (status, _) = api.call(ALICE, Method::POST, &repos, Some(json!({"name": "again"}))).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        // The administrator still can do everything.
        let (status, _) = api.call(ADMIN, Method::DELETE, &alice_repo, None).await;
        assert_eq!(status, StatusCode::ACCEPTED);
    }
}

/// Every operation of the API belongs to a viewset with a declared policy, so no operation
/// falls back to "superusers only" by accident.
#[tokio::test]
async fn every_operation_has_a_declared_viewset() {
    let t = TestDatabase::sqlite().await;
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(FilePlugin)
        .build_with(support::settings(&t))
        .await
        .expect("build");
    assert_eq!(app.operations_without_access_policy(), Vec::<String>::new());
}
