//! `/tasks/`, `/task-groups/` and `/workers/`.

use std::collections::HashMap;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Json;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::list::{
    id_from_reference, ordering, parse_bool, text_filters, time_filters, Page, Paging, QueryParams,
    SqlValue, SqlWhere,
};
use super::request::path_id;
use super::timestamp::format as ts;
use super::{base_url, select_fields, ApiError, API_ROOT};
use crate::app::App;
use crate::db::PulpId;
use crate::tasking::{cancel, ProgressReport, Task, TaskGroup, TaskState};

/// Mounts tasks, task groups and workers, documented.
pub(crate) fn mount(routes: &mut super::ApiRoutes) {
    use super::openapi::{
        field_params, list_params, FieldType, Operation, Param, RequestBody, Response,
    };
    let q = |name: &str, ty: FieldType| Param::query(name, ty, "");
    let mut task_filters = list_params(&["pulp_created"]);
    let mut names: Vec<(String, FieldType)> = Vec::new();
    for (name, ty) in [
        ("state", FieldType::String),
        ("state__in", FieldType::StringList),
        ("state__ne", FieldType::String),
        ("name", FieldType::String),
        ("name__contains", FieldType::String),
        ("name__in", FieldType::StringList),
        ("name__ne", FieldType::String),
        ("worker", FieldType::String),
        ("logging_cid", FieldType::String),
        ("logging_cid__contains", FieldType::String),
        ("parent_task", FieldType::String),
        ("child_tasks", FieldType::String),
        ("task_group", FieldType::String),
        ("reserved_resources", FieldType::String),
        ("reserved_resources__in", FieldType::StringList),
        ("exclusive_resources", FieldType::String),
        ("exclusive_resources__in", FieldType::StringList),
        ("shared_resources", FieldType::String),
        ("shared_resources__in", FieldType::StringList),
        ("created_resources", FieldType::String),
        ("pulp_href__in", FieldType::StringList),
        ("pulp_id__in", FieldType::StringList),
        ("prn__in", FieldType::StringList),
    ] {
        names.push((name.to_string(), ty));
    }
    for field in ["started_at", "finished_at", "pulp_created", "unblocked_at"] {
        for suffix in ["", "__gt", "__gte", "__lt", "__lte"] {
            names.push((format!("{field}{suffix}"), FieldType::DateTime));
        }
        names.push((format!("{field}__isnull"), FieldType::Boolean));
        names.push((format!("{field}__range"), FieldType::StringList));
    }
    for (name, ty) in names {
        task_filters.push(q(&name, ty));
    }
    routes.raw_schema("PatchedTaskCancel", serde_json::json!({
        "type": "object",
        "properties": {"state": {"type": "string", "description": "The desired state of the task. Only 'canceled' is accepted."}},
        "required": ["state"],
    }));
    routes.raw_schema(
        "Purge",
        serde_json::json!({
            "type": "object",
            "properties": {
                "finished_before": {"type": "string", "format": "date-time"},
                "states": {"type": "array", "items": {"type": "string"}},
            },
        }),
    );
    routes.route(
        &format!("{API_ROOT}/tasks/"),
        get(list_tasks),
        [
            Operation::new("get", &format!("{API_ROOT}/tasks/"), "tasks_list", "Tasks")
                .summary("List tasks")
                .params(task_filters)
                .response(200, Response::Json),
        ],
    );
    routes.route(
        &format!("{API_ROOT}/tasks/{{id}}/"),
        get(read_task).patch(cancel_task).delete(delete_task),
        [
            Operation::new("get", "{task_href}", "tasks_read", "Tasks")
                .summary("Inspect a task")
                .params(field_params())
                .response(200, Response::Json),
            Operation::new("patch", "{task_href}", "tasks_cancel", "Tasks")
                .summary("Cancel a task")
                .body(RequestBody::Schema("PatchedTaskCancel".into()))
                .response(200, Response::Json),
            Operation::new("delete", "{task_href}", "tasks_delete", "Tasks")
                .summary("Delete a task")
                .response(204, Response::Empty),
        ],
    );
    routes.route(
        &format!("{API_ROOT}/tasks/purge/"),
        axum::routing::post(purge_tasks),
        [Operation::new(
            "post",
            &format!("{API_ROOT}/tasks/purge/"),
            "tasks_purge",
            "Tasks",
        )
        .summary("Purge Completed Tasks")
        .body(RequestBody::Schema("Purge".into()))
        .response(202, Response::Task)],
    );
    routes.route(
        &format!("{API_ROOT}/task-groups/"),
        get(list_groups),
        [Operation::new(
            "get",
            &format!("{API_ROOT}/task-groups/"),
            "task_groups_list",
            "Task-Groups",
        )
        .summary("List task groups")
        .params(list_params(&[]))
        .response(200, Response::Json)],
    );
    routes.route(
        &format!("{API_ROOT}/task-groups/{{id}}/"),
        get(read_group),
        [Operation::new(
            "get",
            "{task_group_href}",
            "task_groups_read",
            "Task-Groups",
        )
        .summary("Inspect a task group")
        .params(field_params())
        .response(200, Response::Json)],
    );
    let mut worker_filters = list_params(&["pulp_created"]);
    for (name, ty) in [
        ("online", FieldType::Boolean),
        ("missing", FieldType::Boolean),
        ("name", FieldType::String),
        ("name__contains", FieldType::String),
        ("name__in", FieldType::StringList),
        ("name__icontains", FieldType::String),
        ("name__iexact", FieldType::String),
        ("name__startswith", FieldType::String),
    ] {
        worker_filters.push(q(name, ty));
    }
    worker_filters.extend(super::openapi::time_params("last_heartbeat"));
    routes.route(
        &format!("{API_ROOT}/workers/"),
        get(list_workers),
        [Operation::new(
            "get",
            &format!("{API_ROOT}/workers/"),
            "workers_list",
            "Workers",
        )
        .summary("List workers")
        .params(worker_filters)
        .response(200, Response::Json)],
    );
    routes.route(
        &format!("{API_ROOT}/workers/{{id}}/"),
        get(read_worker),
        [
            Operation::new("get", "{worker_href}", "workers_read", "Workers")
                .summary("Inspect a worker")
                .params(field_params())
                .response(200, Response::Json),
        ],
    );
}

fn task_href(id: PulpId) -> String {
    format!("{API_ROOT}/tasks/{id}/")
}

fn group_href(id: PulpId) -> String {
    format!("{API_ROOT}/task-groups/{id}/")
}

fn worker_href(id: PulpId) -> String {
    format!("{API_ROOT}/workers/{id}/")
}

/// Worker ids by name, for the names in `tasks`.
async fn worker_ids(app: &App, names: Vec<String>) -> Result<HashMap<String, PulpId>, ApiError> {
    if names.is_empty() {
        return Ok(HashMap::new());
    }
    let mut filter = SqlWhere::new(app.db().backend());
    filter.add("app_type = 'worker'", []);
    filter.add_in(
        "name",
        names.into_iter().map(|v| SqlValue::Text(Some(v))).collect(),
    );
    let sql = format!("SELECT name, pulp_id FROM core_appstatus {}", filter.sql());
    let rows: Vec<(String, PulpId)> = crate::on_pool!(app.db(), pool => {
        crate::bind_values!(sqlx::query_as(&sql), filter.values()).fetch_all(pool).await?
    });
    Ok(rows.into_iter().collect())
}

/// Pulp's `TaskResponse` for each task (progress reports and children fetched in bulk).
async fn render_tasks(app: &App, tasks: Vec<Task>) -> Result<Vec<Value>, ApiError> {
    let ids: Vec<SqlValue> = tasks
        .iter()
        .map(|t| SqlValue::Id(Some(t.pulp_id)))
        .collect();
    let mut children: HashMap<PulpId, Vec<String>> = HashMap::new();
    let mut reports: HashMap<PulpId, Vec<ProgressReport>> = HashMap::new();
    if !ids.is_empty() {
        let mut filter = SqlWhere::new(app.db().backend());
        filter.add_in("parent_task", ids.clone());
        let sql = format!(
            "SELECT parent_task, pulp_id FROM core_task {} ORDER BY seq",
            filter.sql()
        );
        let rows: Vec<(PulpId, PulpId)> = crate::on_pool!(app.db(), pool => {
            crate::bind_values!(sqlx::query_as(&sql), filter.values()).fetch_all(pool).await?
        });
        for (parent, child) in rows {
            children.entry(parent).or_default().push(task_href(child));
        }
        let mut filter = SqlWhere::new(app.db().backend());
        filter.add_in("task", ids);
        let sql = format!(
            "SELECT task, message, code, state, total, done, suffix FROM core_progressreport {} ORDER BY pulp_created, pulp_id",
            filter.sql()
        );
        let rows: Vec<ReportRow> = crate::on_pool!(app.db(), pool => {
            crate::bind_values!(sqlx::query_as(&sql), filter.values()).fetch_all(pool).await?
        });
        for (task, message, code, state, total, done, suffix) in rows {
            reports.entry(task).or_default().push(ProgressReport {
                message,
                code,
                state,
                total,
                done,
                suffix,
            });
        }
    }
    let workers = worker_ids(app, tasks.iter().filter_map(|t| t.worker.clone()).collect()).await?;
    // `created_by`: the user who dispatched the task, while that user exists.
    let mut creators: HashMap<PulpId, PulpId> = HashMap::new();
    if !tasks.is_empty() {
        let mut filter = SqlWhere::new(app.db().backend());
        filter.add_in(
            "t.pulp_id",
            tasks
                .iter()
                .map(|t| SqlValue::Id(Some(t.pulp_id)))
                .collect(),
        );
        let sql = format!(
            "SELECT t.pulp_id, u.pulp_id FROM core_task t JOIN core_user u ON u.pulp_id = t.user_id {}",
            filter.sql()
        );
        let rows: Vec<(PulpId, PulpId)> = crate::on_pool!(app.db(), pool => {
            crate::bind_values!(sqlx::query_as(&sql), filter.values()).fetch_all(pool).await?
        });
        creators.extend(rows);
    }
    let prns = created_prns(app, tasks.iter().flat_map(|t| t.created_resources.iter())).await?;
    let time = |t: &Option<DateTime<Utc>>| t.as_ref().map(ts);
    Ok(tasks
        .into_iter()
        .map(|task| {
            json!({
                "pulp_href": task_href(task.pulp_id),
                "prn": format!("prn:core.task:{}", task.pulp_id),
                "pulp_created": ts(&task.pulp_created),
                "pulp_last_updated": ts(&task.pulp_last_updated),
                "state": task.state,
                "name": task.name,
                "logging_cid": task.logging_cid,
                "created_by": creators.get(&task.pulp_id).map(|u| format!("{API_ROOT}/users/{u}/")),
                "unblocked_at": time(&task.unblocked_at),
                "started_at": time(&task.started_at),
                "finished_at": time(&task.finished_at),
                "error": task.error,
                "worker": task.worker.as_ref().and_then(|w| workers.get(w)).map(|id| worker_href(*id)),
                "parent_task": task.parent_task.map(task_href),
                "child_tasks": children.remove(&task.pulp_id).unwrap_or_default(),
                "task_group": task.task_group.map(group_href),
                "progress_reports": reports.remove(&task.pulp_id).unwrap_or_default(),
                "created_resources": task.created_resources,
                "created_resource_prns": task
                    .created_resources
                    .iter()
                    .filter_map(|href| prns.get(href).cloned())
                    .collect::<Vec<String>>(),
                "reserved_resources_record": task.reserved_resources_record,
                "result": task.result,
            })
        })
        .collect())
}

/// The PRN of each created resource (by href) that names an object this server knows:
/// a detail type's object, a repository version (its id, one query for all), or one of
/// core's (`artifacts`, `uploads`, `tasks`, exports, imports).
async fn created_prns<'a>(
    app: &App,
    hrefs: impl Iterator<Item = &'a String>,
) -> Result<HashMap<String, String>, ApiError> {
    let mut out = HashMap::new();
    let mut versions: Vec<(String, PulpId, i64)> = Vec::new();
    for href in hrefs {
        if out.contains_key(href) {
            continue;
        }
        if let Some((repository, number)) = crate::api::generic::refs::parse_version(app, href) {
            versions.push((href.clone(), repository, number));
            continue;
        }
        let object = [
            "core_content",
            "core_remote",
            "core_repository",
            "core_publication",
            "core_distribution",
            "core_contentguard",
        ]
        .into_iter()
        .find_map(|table| {
            let id = crate::api::generic::refs::parse_master(app, href, table)?;
            let prefix = href.strip_suffix(&format!("{id}/"))?;
            app.detail_types()
                .iter()
                .find(|d| {
                    d.master_table == table
                        && prefix.ends_with(&format!("/{}/{}/", d.kind_endpoint, d.endpoint))
                })
                .map(|d| crate::wire::prn(d.prn_model, id))
        });
        let core = || {
            let path = href
                .strip_prefix(&format!("{API_ROOT}/"))?
                .strip_suffix('/')?;
            let (head, id) = path.rsplit_once('/')?;
            let id = PulpId(uuid::Uuid::parse_str(id).ok()?);
            let model = match head {
                "artifacts" => "core.artifact",
                "uploads" => "core.upload",
                "tasks" => "core.task",
                "task-groups" => "core.taskgroup",
                h if h.starts_with("exporters/core/pulp/") && h.ends_with("/exports") => {
                    "core.pulpexport"
                }
                h if h.starts_with("exporters/core/filesystem/") && h.ends_with("/exports") => {
                    "core.filesystemexport"
                }
                h if h.starts_with("importers/core/pulp/") && h.ends_with("/imports") => {
                    "core.pulpimport"
                }
                "exporters/core/pulp" => "core.pulpexporter",
                "exporters/core/filesystem" => "core.filesystemexporter",
                "importers/core/pulp" => "core.pulpimporter",
                _ => return None,
            };
            Some(crate::wire::prn(model, id))
        };
        if let Some(prn) = object.or_else(core) {
            out.insert(href.clone(), prn);
        }
    }
    if !versions.is_empty() {
        let mut filter = SqlWhere::new(app.db().backend());
        filter.add_in(
            "repository_id",
            versions
                .iter()
                .map(|(_, r, _)| SqlValue::Id(Some(*r)))
                .collect(),
        );
        filter.add_in(
            "number",
            versions
                .iter()
                .map(|(_, _, n)| SqlValue::Int(Some(*n)))
                .collect(),
        );
        let sql = format!(
            "SELECT pulp_id, repository_id, number FROM core_repositoryversion {}",
            filter.sql()
        );
        let rows: Vec<(PulpId, PulpId, i64)> = crate::on_pool!(app.db(), pool => {
            crate::bind_values!(sqlx::query_as(&sql), filter.values()).fetch_all(pool).await?
        });
        for (href, repository, number) in versions {
            if let Some((id, _, _)) = rows
                .iter()
                .find(|(_, r, n)| *r == repository && *n == number)
            {
                out.insert(href, crate::wire::prn("core.repositoryversion", *id));
            }
        }
    }
    Ok(out)
}

/// Builds the `WHERE` of a task list from Pulp's filters.
fn task_filters(app: &App, query: &QueryParams) -> Result<SqlWhere, ApiError> {
    let mut filter = SqlWhere::new(app.db().backend());
    let state = |field: &str, raw: &str| {
        TaskState::parse(raw)
            .map(|s| SqlValue::Text(Some(s.as_str().into())))
            .ok_or_else(|| {
                ApiError::field(
                    field,
                    format!("Select a valid choice. {raw} is not one of the available choices."),
                )
            })
    };
    if let Some(raw) = query.get("state") {
        filter.add("state = ?", [state("state", raw)?]);
    }
    if let Some(raw) = query.get("state__ne") {
        filter.add("state <> ?", [state("state__ne", raw)?]);
    }
    let states = query.list("state__in");
    if !states.is_empty() {
        let values = states
            .iter()
            .map(|s| state("state__in", s))
            .collect::<Result<Vec<_>, _>>()?;
        filter.add_in("state", values);
    }
    text_filters(
        &mut filter,
        query,
        "name",
        "name",
        &["", "__ne", "__contains", "__in"],
    );
    text_filters(
        &mut filter,
        query,
        "logging_cid",
        "logging_cid",
        &["", "__contains"],
    );
    for (param, kind, prn, clause) in REFERENCE_FILTERS {
        if let Some(reference) = query.get(param) {
            let id = id_from_reference(param, reference, &format!("{API_ROOT}/{kind}"), prn)?;
            filter.add(clause, [SqlValue::Id(Some(id))]);
        }
    }
    let mut ids: Vec<SqlValue> = Vec::new();
    for href in query
        .list("pulp_href__in")
        .iter()
        .chain(query.list("prn__in").iter())
    {
        ids.push(SqlValue::Id(Some(id_from_reference(
            "pulp_href__in",
            href,
            &format!("{API_ROOT}/tasks/"),
            "core.task",
        )?)));
    }
    for raw in query.list("pulp_id__in") {
        let id = uuid::Uuid::parse_str(&raw)
            .map_err(|_| ApiError::field("pulp_id__in", format!("'{raw}' is not a valid UUID.")))?;
        ids.push(SqlValue::Id(Some(PulpId(id))));
    }
    if query.get("pulp_href__in").is_some()
        || query.get("prn__in").is_some()
        || query.get("pulp_id__in").is_some()
    {
        filter.add_in("pulp_id", ids);
    }
    let column = "reserved_resources_record";
    if let Some(resource) = query.get("reserved_resources") {
        filter.add_json_contains_any(
            column,
            vec![resource.to_string(), format!("shared:{resource}")],
        );
    }
    if let Some(resource) = query.get("exclusive_resources") {
        filter.add_json_contains_any(column, vec![resource.to_string()]);
    }
    if let Some(resource) = query.get("shared_resources") {
        filter.add_json_contains_any(column, vec![format!("shared:{resource}")]);
    }
    let held = query.list("reserved_resources__in");
    if !held.is_empty() {
        let values = held
            .iter()
            .flat_map(|r| [r.clone(), format!("shared:{r}")])
            .collect();
        filter.add_json_contains_any(column, values);
    }
    let exclusive = query.list("exclusive_resources__in");
    if !exclusive.is_empty() {
        filter.add_json_contains_any(column, exclusive);
    }
    let shared = query.list("shared_resources__in");
    if !shared.is_empty() {
        filter.add_json_contains_any(
            column,
            shared.iter().map(|r| format!("shared:{r}")).collect(),
        );
    }
    if let Some(href) = query.get("created_resources") {
        filter.add_json_contains_any("created_resources", vec![href.to_string()]);
    }
    for field in ["started_at", "finished_at", "pulp_created", "unblocked_at"] {
        time_filters(&mut filter, query, field, field)?;
    }
    Ok(filter)
}

/// Task filters that take a reference (href or PRN): parameter, href kind, PRN kind, clause.
const REFERENCE_FILTERS: &[(&str, &str, &str, &str)] = &[
    (
        "worker",
        "workers/",
        "core.worker",
        "worker IN (SELECT name FROM core_appstatus WHERE pulp_id = ?)",
    ),
    ("parent_task", "tasks/", "core.task", "parent_task = ?"),
    (
        "child_tasks",
        "tasks/",
        "core.task",
        "pulp_id IN (SELECT parent_task FROM core_task WHERE pulp_id = ?)",
    ),
    (
        "task_group",
        "task-groups/",
        "core.taskgroup",
        "task_group = ?",
    ),
];

const TASK_ORDERING: &[(&str, &str)] = &[
    ("pulp_created", "pulp_created"),
    ("pulp_last_updated", "pulp_last_updated"),
    ("started_at", "started_at"),
    ("finished_at", "finished_at"),
    ("unblocked_at", "unblocked_at"),
    ("name", "name"),
    ("state", "state"),
    ("pk", "seq"),
];

async fn list_tasks(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    scope: Option<axum::Extension<super::authorize::ListScope>>,
) -> Result<impl IntoResponse, ApiError> {
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let mut filter = task_filters(&app, &query)?;
    // Qualified: the scope's subqueries have `pulp_id` columns of their own.
    super::authorize::scope_list(scope.as_deref(), &mut filter, "core_task.pulp_id");
    let order = ordering(&query, TASK_ORDERING, "pulp_created DESC, seq DESC")?;
    let count_sql = format!("SELECT COUNT(*) FROM core_task {}", filter.sql());
    let n = filter.len();
    let page_sql = format!(
        "SELECT {} FROM core_task {} {order} LIMIT ${} OFFSET ${}",
        crate::tasking::TASK_COLUMNS,
        filter.sql(),
        n + 1,
        n + 2
    );
    let (count, rows): (i64, Vec<crate::tasking::TaskRow>) = crate::on_pool!(app.db(), pool => {
        let count = crate::bind_values!(sqlx::query_scalar(&count_sql), filter.values()).fetch_one(pool).await?;
        let rows = crate::bind_values!(sqlx::query_as(&page_sql), filter.values())
            .bind(paging.limit)
            .bind(paging.offset)
            .fetch_all(pool)
            .await?;
        (count, rows)
    });
    let tasks = rows.into_iter().map(Task::from).collect();
    let results: Vec<Value> = render_tasks(&app, tasks)
        .await?
        .into_iter()
        .map(|v| select_fields(v, raw.as_deref()))
        .collect();
    let base = format!("{}{API_ROOT}/tasks/", base_url(&headers));
    Ok(Json(Page::new(results, count, paging, &base, &query)))
}

async fn read_task(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let task = Task::get(app.db(), path_id(&id)?).await?;
    let rendered = render_tasks(&app, vec![task])
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    Ok(Json(select_fields(rendered, raw.as_deref())))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    state: String,
}

async fn cancel_task(
    State(app): State<App>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let id = path_id(&id)?;
    let body: CancelBody = super::parse_json(&body)?;
    if body.state != "canceled" {
        return Err(ApiError::field(
            "state",
            format!(
                "\"{}\" is not a valid choice; the only valid value is \"canceled\".",
                body.state
            ),
        ));
    }
    let task = cancel(&app, id).await?;
    let rendered = render_tasks(&app, vec![task])
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    Ok(Json(rendered))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PurgeBody {
    finished_before: Option<String>,
    states: Option<Vec<String>>,
}

/// `POST /tasks/purge/`: dispatches the purge of ended tasks; 202 `{"task": href}`.
async fn purge_tasks(
    State(app): State<App>,
    body: axum::body::Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let body: PurgeBody = if body.is_empty() {
        PurgeBody {
            finished_before: None,
            states: None,
        }
    } else {
        super::parse_json(&body)?
    };
    let finished_before = match body.finished_before.as_deref() {
        Some(raw) => super::list::parse_time("finished_before", raw)?,
        None => Utc::now() - chrono::Duration::days(30),
    };
    let states = body.states.unwrap_or_else(|| vec!["completed".into()]);
    for state in &states {
        match TaskState::parse(state) {
            Some(s) if s.is_final() => {}
            _ => {
                return Err(ApiError::field(
                    "states",
                    format!("\"{state}\" is not a valid choice; use completed, failed, canceled or skipped."),
                ))
            }
        }
    }
    let request = crate::tasking::DispatchRequest::new(crate::tasking::builtin::PURGE)
        .args(json!({ "finished_before": finished_before, "states": states }))
        .exclusive([format!("{API_ROOT}/tasks/purge/")]);
    let task = crate::tasking::dispatch(&app, request).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "task": task_href(task.pulp_id) })),
    ))
}

async fn delete_task(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let task = Task::get(app.db(), path_id(&id)?).await?;
    if !task.state.is_final() {
        return Err(ApiError::Conflict(format!(
            "Task {} is {}; only finished tasks can be deleted (cancel it first).",
            task.pulp_id, task.state
        )));
    }
    crate::on_pool!(app.db(), pool => {
        sqlx::query("DELETE FROM core_task WHERE pulp_id = $1 AND state IN ('completed', 'failed', 'canceled', 'skipped')")
            .bind(task.pulp_id)
            .execute(pool)
            .await?;
    });
    crate::rbac::forget_object(app.db(), &task.pulp_id.to_string()).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn render_group(app: &App, group: TaskGroup) -> Result<Value, ApiError> {
    let counts: Vec<(String, i64)> = crate::on_pool!(app.db(), pool => {
        sqlx::query_as("SELECT state, COUNT(*) FROM core_task WHERE task_group = $1 GROUP BY state")
            .bind(group.pulp_id)
            .fetch_all(pool)
            .await?
    });
    let ids: Vec<PulpId> = crate::on_pool!(app.db(), pool => {
        sqlx::query_scalar("SELECT pulp_id FROM core_task WHERE task_group = $1 ORDER BY seq")
            .bind(group.pulp_id)
            .fetch_all(pool)
            .await?
    });
    let mut body = json!({
        "pulp_href": group_href(group.pulp_id),
        "prn": format!("prn:core.taskgroup:{}", group.pulp_id),
        "description": group.description,
        "all_tasks_dispatched": group.all_tasks_dispatched,
        "group_progress_reports": TaskGroup::progress(app.db(), group.pulp_id).await?,
        "tasks": ids.into_iter().map(|id| json!({ "pulp_href": task_href(id) })).collect::<Vec<_>>(),
    });
    for state in TaskState::ALL {
        let count = counts
            .iter()
            .find(|(s, _)| s == state.as_str())
            .map(|(_, c)| *c)
            .unwrap_or(0);
        body[state.as_str()] = json!(count);
    }
    Ok(body)
}

async fn list_groups(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    scope: Option<axum::Extension<super::authorize::ListScope>>,
) -> Result<impl IntoResponse, ApiError> {
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let mut filter = SqlWhere::new(app.db().backend());
    super::authorize::scope_list(scope.as_deref(), &mut filter, "core_taskgroup.pulp_id");
    let n = filter.len();
    let count_sql = format!("SELECT COUNT(*) FROM core_taskgroup {}", filter.sql());
    let page_sql = format!(
        "SELECT pulp_id FROM core_taskgroup {} ORDER BY pulp_created DESC, pulp_id LIMIT ${} OFFSET ${}",
        filter.sql(),
        n + 1,
        n + 2
    );
    let (count, ids): (i64, Vec<PulpId>) = crate::on_pool!(app.db(), pool => {
        let count = crate::bind_values!(sqlx::query_scalar(&count_sql), filter.values()).fetch_one(pool).await?;
        let ids = crate::bind_values!(sqlx::query_scalar(&page_sql), filter.values())
            .bind(paging.limit)
            .bind(paging.offset)
            .fetch_all(pool)
            .await?;
        (count, ids)
    });
    let mut results = Vec::new();
    for id in ids {
        let group = TaskGroup::get(app.db(), id).await?;
        results.push(select_fields(
            render_group(&app, group).await?,
            raw.as_deref(),
        ));
    }
    let base = format!("{}{API_ROOT}/task-groups/", base_url(&headers));
    Ok(Json(Page::new(results, count, paging, &base, &query)))
}

async fn read_group(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let group = TaskGroup::get(app.db(), path_id(&id)?).await?;
    Ok(Json(select_fields(
        render_group(&app, group).await?,
        raw.as_deref(),
    )))
}

/// A progress report with the id of its task.
type ReportRow = (
    PulpId,
    String,
    String,
    String,
    Option<i64>,
    i64,
    Option<String>,
);

type WorkerRow = (
    PulpId,
    String,
    DateTime<Utc>,
    DateTime<Utc>,
    sqlx::types::Json<Value>,
);

async fn render_workers(app: &App, rows: Vec<WorkerRow>) -> Result<Vec<Value>, ApiError> {
    let mut current: HashMap<String, PulpId> = HashMap::new();
    if !rows.is_empty() {
        let mut filter = SqlWhere::new(app.db().backend());
        filter.add("state IN ('running', 'canceling')", []);
        filter.add_in(
            "worker",
            rows.iter()
                .map(|r| SqlValue::Text(Some(r.1.clone())))
                .collect(),
        );
        let sql = format!("SELECT worker, pulp_id FROM core_task {}", filter.sql());
        let running: Vec<(String, PulpId)> = crate::on_pool!(app.db(), pool => {
            crate::bind_values!(sqlx::query_as(&sql), filter.values()).fetch_all(pool).await?
        });
        current.extend(running);
    }
    Ok(rows
        .into_iter()
        .map(|(id, name, created, heartbeat, versions)| {
            json!({
                "pulp_href": worker_href(id),
                "prn": format!("prn:core.worker:{id}"),
                "pulp_created": ts(&created),
                "pulp_last_updated": ts(&heartbeat),
                "name": name,
                "last_heartbeat": ts(&heartbeat),
                "versions": versions.0,
                "current_task": current.get(&name).map(|t| task_href(*t)),
            })
        })
        .collect())
}

const WORKER_COLUMNS: &str = "pulp_id, name, pulp_created, last_heartbeat, versions";

async fn list_workers(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let mut filter = SqlWhere::new(app.db().backend());
    filter.add("app_type = 'worker'", []);
    let cutoff = Utc::now() - chrono::Duration::seconds(app.settings().worker_ttl as i64);
    if let Some(raw) = query.get("online") {
        let op = if parse_bool("online", raw)? {
            ">="
        } else {
            "<"
        };
        filter.add(
            &format!("last_heartbeat {op} ?"),
            [SqlValue::Time(Some(cutoff))],
        );
    }
    if let Some(raw) = query.get("missing") {
        let op = if parse_bool("missing", raw)? {
            "<"
        } else {
            ">="
        };
        filter.add(
            &format!("last_heartbeat {op} ?"),
            [SqlValue::Time(Some(cutoff))],
        );
    }
    text_filters(
        &mut filter,
        &query,
        "name",
        "name",
        crate::api::list::TEXT_LOOKUPS,
    );
    time_filters(&mut filter, &query, "last_heartbeat", "last_heartbeat")?;
    let order = ordering(
        &query,
        &[
            ("name", "name"),
            ("last_heartbeat", "last_heartbeat"),
            ("pulp_created", "pulp_created"),
        ],
        "name",
    )?;
    let n = filter.len();
    let count_sql = format!("SELECT COUNT(*) FROM core_appstatus {}", filter.sql());
    let page_sql = format!(
        "SELECT {WORKER_COLUMNS} FROM core_appstatus {} {order} LIMIT ${} OFFSET ${}",
        filter.sql(),
        n + 1,
        n + 2
    );
    let (count, rows): (i64, Vec<WorkerRow>) = crate::on_pool!(app.db(), pool => {
        let count = crate::bind_values!(sqlx::query_scalar(&count_sql), filter.values()).fetch_one(pool).await?;
        let rows = crate::bind_values!(sqlx::query_as(&page_sql), filter.values())
            .bind(paging.limit)
            .bind(paging.offset)
            .fetch_all(pool)
            .await?;
        (count, rows)
    });
    let results = render_workers(&app, rows)
        .await?
        .into_iter()
        .map(|v| select_fields(v, raw.as_deref()))
        .collect();
    let base = format!("{}{API_ROOT}/workers/", base_url(&headers));
    Ok(Json(Page::new(results, count, paging, &base, &query)))
}

async fn read_worker(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let id = path_id(&id)?;
    let sql = format!(
        "SELECT {WORKER_COLUMNS} FROM core_appstatus WHERE app_type = 'worker' AND pulp_id = $1"
    );
    let row: Option<WorkerRow> = crate::on_pool!(app.db(), pool => {
        sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
    });
    let row = row.ok_or(ApiError::NotFound)?;
    let rendered = render_workers(&app, vec![row])
        .await?
        .pop()
        .ok_or(ApiError::NotFound)?;
    Ok(Json(select_fields(rendered, raw.as_deref())))
}
