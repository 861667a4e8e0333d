//! `/tasks/`, `/task-groups/`, `/workers/` through the real router, on SQLite and PostgreSQL.

use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use pulp_core::settings::SettingsSources;
use pulp_core::tasking::{
    self, builtin, dispatch, DispatchRequest, TaskGroup, Worker, WorkerOptions,
};
use pulp_core::testing::TestDatabase;
use pulp_core::App;
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

async fn app(t: &TestDatabase) -> App {
    let app = App::builder(SettingsSources::defaults_only())
        .build_with(t.settings())
        .await
        .expect("build");
    app.migrate().await.expect("migrate");
    pulp_core::auth::Users::new(app.db())
        .set_password("admin", "password", true)
        .await
        .expect("admin");
    app
}

/// `Basic admin:password`.
const ADMIN: &str = "Basic YWRtaW46cGFzc3dvcmQ=";

async fn call(app: &App, method: Method, uri: &str, body: Option<&str>) -> (StatusCode, Value) {
    call_as(app, Some(ADMIN), method, uri, body).await
}

async fn call_as(
    app: &App,
    auth: Option<&str>,
    method: Method,
    uri: &str,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "pulp.example:24817");
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    let request = request
        .header("content-type", "application/json")
        .body(
            body.map(|b| Body::from(b.to_string()))
                .unwrap_or_else(Body::empty),
        )
        .expect("request");
    let response = pulp_core::api::api_router(app.clone())
        .oneshot(request)
        .await
        .expect("response");
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .expect("body");
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    (status, value)
}

async fn get(app: &App, uri: &str) -> Value {
    let (status, body) = call(app, Method::GET, uri, None).await;
    assert_eq!(status, StatusCode::OK, "GET {uri}: {body}");
    body
}

async fn drain(app: &App) {
    let options = WorkerOptions {
        burst: true,
        name: Some("w1@test".into()),
        poll_interval: Some(Duration::from_millis(20)),
    };
    Worker::new(app.clone(), options)
        .run(CancellationToken::new())
        .await
        .expect("worker");
}

fn sleep() -> DispatchRequest {
    DispatchRequest::new(builtin::SLEEP).args(json!({ "interval": 0.0 }))
}

pulp_core::db_tests! {
    async fn only_status_is_open_to_anonymous_clients(t: &TestDatabase) {
        let app = app(t).await;
        let (status, _) = call_as(&app, None, Method::GET, "/pulp/api/v3/status/", None).await;
        assert_eq!(status, StatusCode::OK);
        let (status, body) = call_as(&app, None, Method::GET, "/pulp/api/v3/tasks/", None).await;
        assert_eq!((status, body), (StatusCode::UNAUTHORIZED, json!({ "detail": "Authentication credentials were not provided." })));
        // "admin:wrong", a malformed header, an unknown user.
        for bad in ["Basic YWRtaW46d3Jvbmc=", "Basic !!!", "Bearer token", "Basic bm9ib2R5OnBhc3N3b3Jk"] {
            let (status, body) = call_as(&app, Some(bad), Method::GET, "/pulp/api/v3/tasks/", None).await;
            assert_eq!((status, body), (StatusCode::UNAUTHORIZED, json!({ "detail": "Invalid username/password." })), "{bad}");
        }
        let (status, _) = call_as(&app, Some(ADMIN), Method::GET, "/pulp/api/v3/tasks/", None).await;
        assert_eq!(status, StatusCode::OK);
        // A password changed elsewhere takes effect at once, although the old one was verified.
        pulp_core::auth::Users::new(app.db()).set_password("admin", "changed", true).await.expect("change");
        let (status, _) = call_as(&app, Some(ADMIN), Method::GET, "/pulp/api/v3/tasks/", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = call_as(&app, Some("Basic YWRtaW46Y2hhbmdlZA=="), Method::GET, "/pulp/api/v3/tasks/", None).await;
        assert_eq!(status, StatusCode::OK);
    }

    async fn a_database_failure_is_a_500_with_a_request_id_and_no_sql(t: &TestDatabase) {
        let app = app(t).await;
        // The table the list reads is gone: the database answers with an error naming it.
        pulp_core::on_pool!(app.db(), pool => {
            sqlx::query("ALTER TABLE core_task RENAME TO core_task_gone").execute(pool).await.expect("rename");
        });
        let (status, body) = call(&app, Method::GET, "/pulp/api/v3/tasks/", None).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        let id = body["request_id"].as_str().expect("a request id");
        assert!(body["detail"].as_str().is_some_and(|d| d.contains(id)), "{body}");
        let text = body.to_string();
        assert!(!text.contains("core_task") && !text.to_ascii_uppercase().contains("SELECT"), "{text}");
    }

    async fn tasks_are_listed_filtered_and_paginated_like_pulp(t: &TestDatabase) {
        let app = app(t).await;
        let empty = get(&app, "/pulp/api/v3/tasks/").await;
        assert_eq!(empty, json!({ "count": 0, "next": null, "previous": null, "results": [] }));
        dispatch(&app, sleep().exclusive(["/repo/1/"]).shared(["/remote/1/"])).await.expect("d");
        dispatch(&app, sleep().shared(["/repo/1/"])).await.expect("d");
        dispatch(&app, DispatchRequest::new(builtin::NOOP)).await.expect("d");
        drain(&app).await;
        dispatch(&app, sleep().exclusive(["/repo/2/"])).await.expect("waiting");

        let all = get(&app, "/pulp/api/v3/tasks/").await;
        assert_eq!(all["count"], 4);
        let first = &all["results"][0];
        for key in ["pulp_href", "prn", "pulp_created", "pulp_last_updated", "state", "name", "logging_cid", "created_by",
                    "unblocked_at", "started_at", "finished_at", "error", "worker", "parent_task", "child_tasks",
                    "task_group", "progress_reports", "created_resources", "created_resource_prns",
                    "reserved_resources_record", "result"] {
            assert!(first.get(key).is_some(), "{key} missing from {first}");
        }
        assert_eq!(first["state"], "waiting", "newest first by default");
        let href = first["pulp_href"].as_str().expect("href");
        assert!(href.starts_with("/pulp/api/v3/tasks/") && href.ends_with('/'));
        assert_eq!(first["prn"], format!("prn:core.task:{}", &href[19..href.len() - 1]));

        let count = |body: Value| body["count"].as_i64().unwrap_or(-1);
        assert_eq!(count(get(&app, "/pulp/api/v3/tasks/?state=completed").await), 3);
        assert_eq!(count(get(&app, "/pulp/api/v3/tasks/?state__in=waiting,running").await), 1);
        assert_eq!(count(get(&app, "/pulp/api/v3/tasks/?state__ne=completed").await), 1);
        assert_eq!(count(get(&app, "/pulp/api/v3/tasks/?name=pulpcore.app.tasks.test.noop").await), 1);
        assert_eq!(count(get(&app, "/pulp/api/v3/tasks/?name__contains=test.sl").await), 3);
        assert_eq!(count(get(&app, "/pulp/api/v3/tasks/?reserved_resources=/repo/1/").await), 2);
        assert_eq!(count(get(&app, "/pulp/api/v3/tasks/?exclusive_resources=/repo/1/").await), 1);
        assert_eq!(count(get(&app, "/pulp/api/v3/tasks/?shared_resources=/repo/1/").await), 1);
        assert_eq!(count(get(&app, "/pulp/api/v3/tasks/?reserved_resources__in=/remote/1/,/repo/2/").await), 2);
        assert_eq!(count(get(&app, "/pulp/api/v3/tasks/?started_at__isnull=true").await), 1);
        assert_eq!(count(get(&app, "/pulp/api/v3/tasks/?finished_at__gte=2000-01-01T00:00:00Z").await), 3);
        assert_eq!(count(get(&app, "/pulp/api/v3/tasks/?finished_at__lt=2000-01-01").await), 0);
        let worker = get(&app, "/pulp/api/v3/tasks/?state=completed").await["results"][0]["worker"].clone();
        assert!(worker.is_null(), "the burst worker has unregistered, so it has no href: {worker}");

        let page = get(&app, "/pulp/api/v3/tasks/?limit=3&state=completed&ordering=pulp_created").await;
        assert_eq!(page["results"].as_array().map(Vec::len), Some(3));
        assert!(page["next"].is_null());
        let page = get(&app, "/pulp/api/v3/tasks/?limit=2&ordering=pulp_created").await;
        assert_eq!(page["next"], "http://pulp.example:24817/pulp/api/v3/tasks/?ordering=pulp_created&limit=2&offset=2");
        let second = get(&app, "/pulp/api/v3/tasks/?ordering=pulp_created&limit=2&offset=2").await;
        assert_eq!(second["previous"], "http://pulp.example:24817/pulp/api/v3/tasks/?ordering=pulp_created&limit=2");
        assert_ne!(second["results"][0]["pulp_href"], page["results"][0]["pulp_href"]);
        let slim = get(&app, "/pulp/api/v3/tasks/?fields=pulp_href,state&limit=1").await;
        assert_eq!(slim["results"][0].as_object().map(|o| o.len()), Some(2));

        for (uri, field) in [
            ("/pulp/api/v3/tasks/?state=sleeping", "state"),
            ("/pulp/api/v3/tasks/?started_at__gte=yesterday", "started_at__gte"),
            ("/pulp/api/v3/tasks/?ordering=color", "ordering"),
            ("/pulp/api/v3/tasks/?limit=-1", "limit"),
            ("/pulp/api/v3/tasks/?worker=/not/a/worker/", "worker"),
            ("/pulp/api/v3/tasks/?pulp_id__in=nope", "pulp_id__in"),
        ] {
            let (status, body) = call(&app, Method::GET, uri, None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}");
            assert!(body[field].is_array(), "{uri}: {body}");
        }
    }

    async fn tasks_are_read_canceled_and_deleted_with_pulps_answers(t: &TestDatabase) {
        let app = app(t).await;
        let blocker = dispatch(&app, sleep().exclusive(["r"])).await.expect("d");
        let waiting = dispatch(&app, sleep().exclusive(["r"])).await.expect("d");
        let href = format!("/pulp/api/v3/tasks/{}/", waiting.pulp_id);
        let read = get(&app, &href).await;
        assert_eq!((read["state"].as_str(), read["reserved_resources_record"].clone()), (Some("waiting"), json!(["r"])));

        let (status, body) = call(&app, Method::PATCH, &href, Some(r#"{"state": "running"}"#)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["state"].is_array(), "{body}");
        let (status, body) = call(&app, Method::PATCH, &href, Some(r#"{"state": "canceled", "force": true}"#)).await;
        assert_eq!((status, body["force"].clone()), (StatusCode::BAD_REQUEST, json!(["Unexpected field."])));
        let (status, body) = call(&app, Method::PATCH, &href, Some(r#"{}"#)).await;
        assert_eq!((status, body["state"].clone()), (StatusCode::BAD_REQUEST, json!(["This field is required."])));
        let (status, body) = call(&app, Method::PATCH, &href, Some(r#"{"state": "#)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["detail"].as_str().is_some_and(|d| d.starts_with("JSON parse error")), "{body}");
        let (status, _) = call(&app, Method::DELETE, &href, None).await;
        assert_eq!(status, StatusCode::CONFLICT, "a waiting task cannot be deleted");

        let (status, body) = call(&app, Method::PATCH, &href, Some(r#"{"state": "canceled"}"#)).await;
        assert_eq!((status, body["state"].as_str()), (StatusCode::OK, Some("canceled")));
        let (status, body) = call(&app, Method::PATCH, &href, Some(r#"{"state": "canceled"}"#)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(body["detail"].as_str().is_some_and(|d| d.contains("canceled")));

        let (status, _) = call(&app, Method::DELETE, &href, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, body) = call(&app, Method::GET, &href, None).await;
        assert_eq!((status, body), (StatusCode::NOT_FOUND, json!({ "detail": "Not found." })));
        for missing in ["/pulp/api/v3/tasks/not-a-uuid/", "/pulp/api/v3/tasks/00000000-0000-0000-0000-000000000000/"] {
            let (status, _) = call(&app, Method::PATCH, missing, Some(r#"{"state": "canceled"}"#)).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
        }
        drain(&app).await;
        let done = get(&app, &format!("/pulp/api/v3/tasks/{}/", blocker.pulp_id)).await;
        assert_eq!(done["state"], "completed");
        assert!(done["result"]["started"].is_string());
    }

    async fn purge_deletes_ended_tasks_in_a_task(t: &TestDatabase) {
        let app = app(t).await;
        dispatch(&app, DispatchRequest::new(builtin::NOOP)).await.expect("d");
        dispatch(&app, DispatchRequest::new("no.such.task")).await.expect("d");
        drain(&app).await;
        let (status, body) = call(&app, Method::POST, "/pulp/api/v3/tasks/purge/",
            Some(r#"{"finished_before": "2100-01-01", "states": ["completed"]}"#)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let purge_href = body["task"].as_str().expect("task href").to_string();
        drain(&app).await;
        let purge = get(&app, &purge_href).await;
        assert_eq!((purge["state"].as_str(), purge["result"]["deleted"].as_i64()), (Some("completed"), Some(1)), "{purge}");
        // The failed task (not in `states`) and the purge task itself remain.
        let left = get(&app, "/pulp/api/v3/tasks/?ordering=pulp_created").await;
        assert_eq!(left["count"], 2, "{left}");
        assert_eq!(left["results"][0]["state"], "failed");
        for bad in [r#"{"states": ["running"]}"#, r#"{"finished_before": "someday"}"#, r#"{"older": 1}"#] {
            let (status, body) = call(&app, Method::POST, "/pulp/api/v3/tasks/purge/", Some(bad)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        }
    }

    async fn task_groups_count_their_tasks_by_state(t: &TestDatabase) {
        let app = app(t).await;
        let group = tasking::create_task_group(app.db(), "import").await.expect("group");
        TaskGroup::add_progress(app.db(), group, "Importing", "import.items", Some(2)).await.expect("progress");
        dispatch(&app, DispatchRequest::new(builtin::NOOP).task_group(group)).await.expect("d");
        dispatch(&app, DispatchRequest::new("no.such.task").task_group(group)).await.expect("d");
        drain(&app).await;
        dispatch(&app, DispatchRequest::new(builtin::NOOP).task_group(group)).await.expect("d");
        let href = format!("/pulp/api/v3/task-groups/{group}/");
        let body = get(&app, &href).await;
        assert_eq!((body["completed"].clone(), body["failed"].clone(), body["waiting"].clone()), (json!(1), json!(1), json!(1)));
        assert_eq!(body["tasks"].as_array().map(Vec::len), Some(3));
        assert_eq!(body["group_progress_reports"][0]["code"], "import.items");
        assert_eq!(body["all_tasks_dispatched"], false);
        let list = get(&app, "/pulp/api/v3/task-groups/").await;
        assert_eq!((list["count"].clone(), list["results"][0]["pulp_href"].clone()), (json!(1), json!(href)));
        let task = get(&app, "/pulp/api/v3/tasks/?state=waiting").await;
        assert_eq!(task["results"][0]["task_group"], href);
        assert_eq!(get(&app, &format!("/pulp/api/v3/tasks/?task_group={href}")).await["count"], 3);
    }

    async fn workers_are_listed_online_or_missing(t: &TestDatabase) {
        let app = app(t).await;
        // A worker that stopped heartbeating long ago.
        let old = chrono::Utc::now() - chrono::Duration::hours(1);
        pulp_core::on_pool!(app.db(), pool => {
            sqlx::query("INSERT INTO core_appstatus (pulp_id, name, app_type, versions, pulp_created, last_heartbeat) VALUES ($1, 'gone@host', 'worker', $2, $3, $3)")
                .bind(pulp_core::db::PulpId::new()).bind(sqlx::types::Json(json!({}))).bind(old).execute(pool).await.expect("insert");
        });
        let stop = CancellationToken::new();
        let options = WorkerOptions { name: Some("live@host".into()), ..WorkerOptions::default() };
        let running = tokio::spawn(Worker::new(app.clone(), options).run(stop.clone()));
        let held = dispatch(&app, DispatchRequest::new(builtin::SLEEP).args(json!({ "interval": 30 }))).await.expect("d");
        let mut current = Value::Null;
        for _ in 0..200 {
            let online = get(&app, "/pulp/api/v3/workers/?online=true").await;
            current = online["results"][0]["current_task"].clone();
            if !current.is_null() { break; }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(current, format!("/pulp/api/v3/tasks/{}/", held.pulp_id));
        let online = get(&app, "/pulp/api/v3/workers/?online=true").await;
        assert_eq!((online["count"].clone(), online["results"][0]["name"].clone()), (json!(1), json!("live@host")));
        let missing = get(&app, "/pulp/api/v3/workers/?missing=true").await;
        assert_eq!((missing["count"].clone(), missing["results"][0]["name"].clone()), (json!(1), json!("gone@host")));
        assert_eq!(get(&app, "/pulp/api/v3/workers/?name__contains=live").await["count"], 1);
        let worker_href = online["results"][0]["pulp_href"].as_str().expect("href").to_string();
        assert_eq!(get(&app, &worker_href).await["name"], "live@host");
        let task = get(&app, &format!("/pulp/api/v3/tasks/{}/", held.pulp_id)).await;
        assert_eq!(task["worker"], worker_href);
        assert_eq!(get(&app, &format!("/pulp/api/v3/tasks/?worker={worker_href}")).await["count"], 1);
        tasking::cancel(&app, held.pulp_id).await.expect("cancel");
        stop.cancel();
        running.await.expect("join").expect("worker");
    }
}
