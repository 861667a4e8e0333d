//! Task schedules (dispatched once per interval however many workers race; `/task-schedules/`)
//! and webhooks (REST API with validation; signed deliveries to a real receiver on loopback,
//! retried while it is down; never holding up the task). Both databases.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use pulp_core::settings::SettingsSources;
use pulp_core::tasking::{
    builtin, dispatch, dispatch_due_schedules, DispatchRequest, Task, TaskSchedule, TaskState,
    Worker, WorkerOptions,
};
use pulp_core::testing::{serve_api, TestDatabase, ADMIN_PASSWORD};
use pulp_core::{App, Registry};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

const HOURLY: &str = "hourly noop";

fn plugin_schedules(r: &mut Registry) {
    r.task_schedule(
        TaskSchedule::new("plugin sleep", builtin::SLEEP, Duration::from_secs(7200))
            .args(json!({"interval": 0})),
    );
}

async fn app_with(t: &TestDatabase, schedules: Vec<TaskSchedule>) -> App {
    let mut settings = t.settings();
    settings.task_schedules = schedules;
    settings.webhooks.retry_delay = 0.2;
    settings.webhooks.max_retry_delay = 0.4;
    settings.webhooks.timeout = 2.0;
    let app = App::builder(SettingsSources::defaults_only())
        .plugin(plugin_schedules)
        .build_with(settings)
        .await
        .expect("build app");
    app.migrate().await.expect("migrate");
    app
}

fn hourly() -> Vec<TaskSchedule> {
    vec![TaskSchedule::new(
        HOURLY,
        builtin::NOOP,
        Duration::from_secs(3600),
    )]
}

fn worker(app: &App, name: &str, burst: bool) -> Worker {
    Worker::new(
        app.clone(),
        WorkerOptions {
            burst,
            name: Some(name.to_string()),
            poll_interval: Some(Duration::from_millis(20)),
        },
    )
}

async fn drain(app: &App) -> usize {
    worker(app, "burst@test", true)
        .run(CancellationToken::new())
        .await
        .expect("worker")
}

async fn count_tasks(app: &App, name: &str) -> i64 {
    pulp_core::on_pool!(app.db(), pool => {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM core_task WHERE name = $1")
            .bind(name)
            .fetch_one(pool)
            .await
            .expect("count")
    })
}

async fn make_due(app: &App) {
    pulp_core::on_pool!(app.db(), pool => {
        sqlx::query("UPDATE core_taskschedule SET next_dispatch = $1")
            .bind(chrono::Utc::now() - chrono::Duration::seconds(5))
            .execute(pool)
            .await
            .expect("make due");
    });
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn get(api: &pulp_core::testing::ServedApi, path: &str) -> (StatusCode, Value) {
    let r = client()
        .get(api.url(path))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .send()
        .await
        .expect("GET");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn send(
    api: &pulp_core::testing::ServedApi,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let r = client()
        .request(method, api.url(path))
        .basic_auth("admin", Some(ADMIN_PASSWORD))
        .json(&body)
        .send()
        .await
        .expect("request");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// What the receiver saw: (headers, body) per request.
type Seen = Arc<Mutex<Vec<(HeaderMap, Vec<u8>)>>>;

/// A webhook receiver on `listener`: records every request and answers 200, or
/// `hang` = never answers.
fn receive(listener: tokio::net::TcpListener, seen: Seen, hang: bool) -> CancellationToken {
    let stop = CancellationToken::new();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                seen.lock().expect("lock").push((headers, body.to_vec()));
                if hang {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                StatusCode::OK
            }
        }),
    );
    let stopped = stop.clone();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async move { stopped.cancelled().await })
            .await;
    });
    stop
}

/// Checks `Pulp-Webhook-Signature: t=…,v1=…` against HMAC-SHA256(secret, "t.body").
fn verify(secret: &str, headers: &HeaderMap, body: &[u8]) -> bool {
    use hmac::{Hmac, Mac};
    let Some(header) = headers
        .get("pulp-webhook-signature")
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v.to_string()),
            Some(("v1", v)) => v1 = Some(v.to_string()),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let Ok(expected) = hex::decode(v1) else {
        return false;
    };
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

async fn deliveries(app: &App) -> Vec<(String, String, i64, Option<i64>)> {
    pulp_core::on_pool!(app.db(), pool => {
        sqlx::query_as(
            "SELECT event, state, attempts, last_status FROM core_webhookdelivery ORDER BY pulp_created, event",
        )
        .fetch_all(pool)
        .await
        .expect("deliveries")
    })
}

const SECRET: &str = "a-secret-of-enough-length";

async fn subscribe(api: &pulp_core::testing::ServedApi, url: &str, events: Value) -> Value {
    // Only the test's own tasks (the plugin's schedule dispatches others).
    let filters = json!({"task_names": [builtin::NOOP]});
    let (status, body) = send(
        api,
        reqwest::Method::POST,
        "/pulp/api/v3/webhooks/",
        json!({"name": format!("hook-{}", uuid::Uuid::new_v4()), "url": url, "secret": SECRET, "events": events, "filters": filters}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

pulp_core::db_tests! {
    async fn racing_processes_dispatch_a_due_schedule_once(t: &TestDatabase) {
        // Separate apps have separate connection pools, as separate processes do.
        let mut apps = Vec::new();
        for _ in 0..4 {
            apps.push(app_with(t, hourly()).await);
        }
        let race = |apps: Vec<App>| async move {
            let mut handles = Vec::new();
            for app in apps.iter().chain(apps.iter()) {
                let app = app.clone();
                handles.push(tokio::spawn(async move { dispatch_due_schedules(&app).await.expect("dispatch due") }));
            }
            let mut total = Vec::new();
            for h in handles {
                total.extend(h.await.expect("join"));
            }
            total
        };
        // New schedules are due at once (as in Pulp): the plugin's and the settings' one.
        let first = race(apps.clone()).await;
        assert_eq!(first.len(), 2, "each due schedule is dispatched once: {first:?}");
        assert_eq!(count_tasks(&apps[0], builtin::NOOP).await, 1);
        assert_eq!(count_tasks(&apps[0], builtin::SLEEP).await, 1);
        // Not due again within the interval.
        assert!(race(apps.clone()).await.is_empty());
        // The previous task has not ended: the next due time passes without a copy.
        make_due(&apps[0]).await;
        assert!(race(apps.clone()).await.is_empty(), "a schedule whose task still waits is not dispatched again");
        drain(&apps[0]).await;
        make_due(&apps[0]).await;
        let again = race(apps.clone()).await;
        assert_eq!(again.len(), 2);
        assert_eq!(count_tasks(&apps[0], builtin::NOOP).await, 2);
        let (last, next): (Option<pulp_core::db::PulpId>, Option<chrono::DateTime<chrono::Utc>>) = pulp_core::on_pool!(apps[0].db(), pool => {
            sqlx::query_as("SELECT last_task, next_dispatch FROM core_taskschedule WHERE name = $1")
                .bind(HOURLY).fetch_one(pool).await.expect("schedule")
        });
        assert!(again.contains(&last.expect("last task")));
        assert!(next.expect("next") > chrono::Utc::now() + chrono::Duration::minutes(59));
        for app in apps {
            app.db().close().await;
        }
    }

    async fn running_workers_dispatch_the_schedule_once_and_run_it(t: &TestDatabase) {
        let mut apps = Vec::new();
        for _ in 0..3 {
            apps.push(app_with(t, hourly()).await);
        }
        let stop = CancellationToken::new();
        let mut workers = Vec::new();
        for (i, app) in apps.iter().enumerate() {
            workers.push(tokio::spawn(worker(app, &format!("w{i}@test"), false).run(stop.clone())));
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let done: i64 = pulp_core::on_pool!(apps[0].db(), pool => {
                sqlx::query_scalar("SELECT COUNT(*) FROM core_task WHERE name = $1 AND state = 'completed'")
                    .bind(builtin::NOOP).fetch_one(pool).await.expect("count")
            });
            if done >= 1 {
                break;
            }
            assert!(Instant::now() < deadline, "no worker dispatched and ran the schedule");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Every worker looks at least a few more times.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stop.cancel();
        for w in workers {
            w.await.expect("join").expect("worker");
        }
        assert_eq!(count_tasks(&apps[0], builtin::NOOP).await, 1, "three workers, one interval, one task");
    }

    async fn schedules_are_listed_and_read_as_pulp_shows_them(t: &TestDatabase) {
        let app = app_with(t, hourly()).await;
        let api = serve_api(&app).await;
        let (status, page) = get(&api, "/pulp/api/v3/task-schedules/").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["count"], 2);
        let names: Vec<&str> = page["results"].as_array().expect("results").iter().filter_map(|s| s["name"].as_str()).collect();
        assert_eq!(names, [HOURLY, "plugin sleep"]);
        let hourly = &page["results"][0];
        assert_eq!(hourly["task_name"], builtin::NOOP);
        assert_eq!(hourly["dispatch_interval"], "01:00:00");
        assert_eq!(page["results"][1]["dispatch_interval"], "02:00:00");
        assert!(hourly["next_dispatch"].is_string());
        assert!(hourly["last_task"].is_null());
        // Filters.
        let (_, by_task) = get(&api, "/pulp/api/v3/task-schedules/?task_name__contains=sleep").await;
        assert_eq!(by_task["count"], 1);
        assert_eq!(by_task["results"][0]["name"], "plugin sleep");
        let (_, by_name) = get(&api, &format!("/pulp/api/v3/task-schedules/?name={}", HOURLY.replace(' ', "%20"))).await;
        assert_eq!(by_name["count"], 1);
        let href = hourly["pulp_href"].as_str().expect("href").to_string();
        let (_, by_href) = get(&api, &format!("/pulp/api/v3/task-schedules/?pulp_href__in={href}")).await;
        assert_eq!(by_href["count"], 1);
        let (status, bad) = get(&api, "/pulp/api/v3/task-schedules/?pulp_id__in=nope").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
        // Read, with the task it dispatched last.
        dispatch_due_schedules(&app).await.expect("dispatch");
        let (status, one) = get(&api, &href).await;
        assert_eq!(status, StatusCode::OK);
        let last = one["last_task"].as_str().expect("last task");
        let (status, task) = get(&api, last).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(task["name"], builtin::NOOP);
        let (_, fields) = get(&api, &format!("{href}?fields=name")).await;
        assert_eq!(fields, json!({"name": HOURLY}));
        let (status, _) = get(&api, "/pulp/api/v3/task-schedules/00000000-0000-0000-0000-000000000000/").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let anonymous = client().get(api.url("/pulp/api/v3/task-schedules/")).send().await.expect("GET");
        assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
        app.db().close().await;
    }

    async fn a_schedule_naming_an_unregistered_task_is_refused_at_start(t: &TestDatabase) {
        let mut settings = t.settings();
        settings.task_schedules = vec![TaskSchedule::new("gone", "pulp_gone.tasks.nothing", Duration::from_secs(60))];
        let error = App::builder(SettingsSources::defaults_only())
            .build_with(settings.clone())
            .await
            .expect_err("unknown task");
        let text = error.to_string();
        assert!(text.contains("task_schedules") && text.contains("pulp_gone.tasks.nothing"), "{text}");
        settings.task_schedules = vec![TaskSchedule::new("clash", builtin::NOOP, Duration::from_secs(60)), TaskSchedule::new("plugin sleep", builtin::NOOP, Duration::from_secs(60))];
        let error = App::builder(SettingsSources::defaults_only())
            .plugin(plugin_schedules)
            .build_with(settings)
            .await
            .expect_err("name declared twice");
        assert!(error.to_string().contains("'plugin sleep' is declared twice"), "{error}");
    }

    async fn webhooks_are_validated_and_never_show_their_secret(t: &TestDatabase) {
        let app = app_with(t, Vec::new()).await;
        let api = serve_api(&app).await;
        let root = "/pulp/api/v3/webhooks/";
        let (status, missing) = send(&api, reqwest::Method::POST, root, json!({})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        for field in ["name", "url", "secret", "events"] {
            assert_eq!(missing[field], json!(["This field is required."]), "{missing}");
        }
        let bad = json!({"name": "h", "url": "ftp://example.com/x", "secret": "short", "events": ["task.exploded"], "filters": {"colour": ["red"]}, "enabled": "yes"});
        let (status, errors) = send(&api, reqwest::Method::POST, root, bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        for field in ["url", "secret", "events", "filters", "enabled"] {
            assert!(errors[field].is_array(), "{field} not refused: {errors}");
        }
        let (status, errors) = send(&api, reqwest::Method::POST, root, json!({"name": "h", "url": "http://127.0.0.1:9/", "secret": SECRET, "events": []})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(errors["events"].is_array());
        let good = json!({"name": "h", "url": "http://127.0.0.1:9/hook", "secret": SECRET, "events": ["task.completed"], "filters": {"task_names": [builtin::NOOP]}});
        let (status, created) = send(&api, reqwest::Method::POST, root, good.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert!(created.get("secret").is_none(), "the secret is write-only: {created}");
        assert_eq!(created["enabled"], true);
        assert_eq!(created["filters"], json!({"task_names": [builtin::NOOP]}));
        let (status, dup) = send(&api, reqwest::Method::POST, root, good).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(dup["name"].is_array(), "{dup}");
        let href = created["pulp_href"].as_str().expect("href").to_string();
        let (status, patched) = send(&api, reqwest::Method::PATCH, &href, json!({"enabled": false, "events": ["task.failed", "publication.created"]})).await;
        assert_eq!(status, StatusCode::OK, "{patched}");
        assert_eq!(patched["enabled"], false);
        assert_eq!(patched["events"], json!(["task.failed", "publication.created"]));
        assert_eq!(patched["url"], "http://127.0.0.1:9/hook");
        let (status, errors) = send(&api, reqwest::Method::PUT, &href, json!({"name": "h"})).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(errors["url"].is_array() && errors["events"].is_array());
        let (status, unchanged) = get(&api, &href).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(unchanged["enabled"], false, "a refused update changes nothing");
        let (_, page) = get(&api, "/pulp/api/v3/webhooks/?enabled=false").await;
        assert_eq!(page["count"], 1);
        assert!(page["results"][0].get("secret").is_none());
        let (status, _) = send(&api, reqwest::Method::PATCH, "/pulp/api/v3/webhooks/not-an-id/", json!({})).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let del = client().delete(api.url(&href)).basic_auth("admin", Some(ADMIN_PASSWORD)).send().await.expect("DELETE");
        assert_eq!(del.status(), StatusCode::NO_CONTENT);
        let (status, _) = get(&api, &href).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        app.db().close().await;
    }

    async fn deliveries_are_signed_retried_while_the_receiver_is_down_and_recorded(t: &TestDatabase) {
        let app = app_with(t, Vec::new()).await;
        let api = serve_api(&app).await;
        // A port that is closed now: the receiver is down.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let url = format!("http://{addr}/hook");
        let hook = subscribe(&api, &url, json!(["task.completed", "task.failed"])).await;
        // Another subscription whose filter does not match: nothing is written for it.
        let (status, _) = send(&api, reqwest::Method::POST, "/pulp/api/v3/webhooks/", json!({"name": "other", "url": url, "secret": SECRET, "events": ["task.completed"], "filters": {"task_names": ["something.else"]}})).await;
        assert_eq!(status, StatusCode::CREATED);
        let task = dispatch(&app, DispatchRequest::new(builtin::NOOP).logging_cid("cid-webhook")).await.expect("dispatch");
        drain(&app).await;
        assert_eq!(Task::get(app.db(), task.pulp_id).await.expect("task").state, TaskState::Completed);
        assert_eq!(deliveries(&app).await, [("task.completed".to_string(), "pending".to_string(), 0, None)]);
        // Down: the attempt fails and is recorded, with a retry due later.
        assert_eq!(pulp_core::webhooks::deliver_due(&app).await.expect("deliver"), 1);
        assert_eq!(deliveries(&app).await, [("task.completed".to_string(), "pending".to_string(), 1, None)]);
        assert_eq!(pulp_core::webhooks::deliver_due(&app).await.expect("deliver"), 0, "not due before its backoff");
        // Up again, on the same port; the running worker's delivery loop retries.
        let seen: Seen = Default::default();
        let listener = tokio::net::TcpListener::bind(addr).await.expect("rebind");
        let _receiver = receive(listener, seen.clone(), false);
        let stop = CancellationToken::new();
        let running = tokio::spawn(worker(&app, "deliverer@test", false).run(stop.clone()));
        let deadline = Instant::now() + Duration::from_secs(20);
        while deliveries(&app).await[0].1 != "delivered" {
            assert!(Instant::now() < deadline, "not delivered: {:?}", deliveries(&app).await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.cancel();
        running.await.expect("join").expect("worker");
        assert_eq!(deliveries(&app).await, [("task.completed".to_string(), "delivered".to_string(), 2, Some(200))]);
        let seen = seen.lock().expect("lock").clone();
        assert_eq!(seen.len(), 1);
        let (headers, body) = &seen[0];
        assert!(verify(SECRET, headers, body), "signature does not verify: {headers:?}");
        assert!(!verify("another-secret-entirely", headers, body));
        assert_eq!(headers["pulp-webhook-event"], "task.completed");
        let payload: Value = serde_json::from_slice(body).expect("JSON body");
        assert_eq!(payload["event"], "task.completed");
        assert_eq!(payload["data"]["task"]["pulp_href"], format!("/pulp/api/v3/tasks/{}/", task.pulp_id));
        assert_eq!(payload["data"]["task"]["logging_cid"], "cid-webhook");
        assert_eq!(headers["pulp-webhook-id"].to_str().expect("id"), payload["id"].as_str().expect("id"));
        // Recorded, and listed by the API.
        let (status, page) = get(&api, &format!("{}deliveries/", hook["pulp_href"].as_str().expect("href"))).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["count"], 1);
        assert_eq!(page["results"][0]["state"], "delivered");
        assert_eq!(page["results"][0]["attempts"], 2);
        assert_eq!(page["results"][0]["last_status"], 200);
        app.db().close().await;
    }

    async fn a_hanging_receiver_does_not_hold_up_tasks_and_repeated_failures_give_up(t: &TestDatabase) {
        let app = app_with(t, Vec::new()).await;
        let api = serve_api(&app).await;
        let seen: Seen = Default::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let _receiver = receive(listener, seen.clone(), true);
        subscribe(&api, &url, json!(["task.completed", "task.failed"])).await;
        // The task ends (and the next runs) while deliveries wait on the receiver.
        let stop = CancellationToken::new();
        let running = tokio::spawn(worker(&app, "w@test", false).run(stop.clone()));
        let started = Instant::now();
        let first = dispatch(&app, DispatchRequest::new(builtin::NOOP)).await.expect("dispatch");
        let deadline = Instant::now() + Duration::from_secs(20);
        while seen.lock().expect("lock").is_empty() {
            assert!(Instant::now() < deadline, "no delivery attempted");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // The receiver holds the first delivery; a second task still runs to its end.
        let second = dispatch(&app, DispatchRequest::new(builtin::NOOP)).await.expect("dispatch");
        loop {
            let state = Task::get(app.db(), second.pulp_id).await.expect("task").state;
            if state == TaskState::Completed {
                break;
            }
            assert!(Instant::now() < deadline, "a task waited on a webhook receiver");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(Task::get(app.db(), first.pulp_id).await.expect("task").state, TaskState::Completed);
        stop.cancel();
        running.await.expect("join").expect("worker");
        // With the timeout as the failure, attempts run out and the delivery is given up.
        let mut settings = app.settings().clone();
        settings.webhooks.max_attempts = 2;
        settings.webhooks.timeout = 0.2;
        settings.webhooks.retry_delay = 0.05;
        settings.webhooks.max_retry_delay = 0.05;
        let quick = App::builder(SettingsSources::defaults_only()).plugin(plugin_schedules).build_with(settings).await.expect("app");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            pulp_core::on_pool!(quick.db(), pool => {
                sqlx::query("UPDATE core_webhookdelivery SET claimed_until = NULL WHERE state = 'pending'").execute(pool).await.expect("unclaim");
            });
            pulp_core::webhooks::deliver_due(&quick).await.expect("deliver");
            let states = deliveries(&quick).await;
            if states.iter().all(|d| d.1 == "failed") {
                assert!(states.iter().all(|d| d.2 >= 2 && d.3.is_none()), "{states:?}");
                break;
            }
            assert!(Instant::now() < deadline, "deliveries never given up: {states:?}");
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        quick.db().close().await;
        app.db().close().await;
    }
}
