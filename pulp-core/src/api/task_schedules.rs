//! `/task-schedules/` (list, read), as in Pulp; schedules are declared by settings and
//! plugins, not made through the API.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Json;
use serde_json::{json, Value};

use super::list::{
    ordering, reference_filters, text_filters, BadIds, Page, Paging, QueryParams, SqlWhere,
};
use super::request::path_id;
use super::timestamp::format as ts;
use super::{base_url, select_fields, ApiError, API_ROOT};
use crate::app::App;
use crate::db::PulpId;
use crate::tasking::{StoredSchedule, SCHEDULE_COLUMNS};

/// Mounts `/task-schedules/`, documented.
pub(crate) fn mount(routes: &mut super::ApiRoutes) {
    use super::openapi::{field_params, list_params, FieldType, Operation, Param, Response};
    let mut filters = list_params(&["name", "task_name", "next_dispatch", "pulp_created"]);
    for (name, ty) in [
        ("name", FieldType::String),
        ("name__contains", FieldType::String),
        ("task_name", FieldType::String),
        ("task_name__contains", FieldType::String),
        ("pulp_href__in", FieldType::StringList),
        ("pulp_id__in", FieldType::StringList),
        ("prn__in", FieldType::StringList),
    ] {
        filters.push(Param::query(name, ty, ""));
    }
    routes.route(
        &format!("{API_ROOT}/task-schedules/"),
        get(list_schedules),
        [Operation::new(
            "get",
            &format!("{API_ROOT}/task-schedules/"),
            "task_schedules_list",
            "Task-Schedules",
        )
        .summary("List task schedules")
        .params(filters)
        .response(200, Response::Json)],
    );
    routes.route(
        &format!("{API_ROOT}/task-schedules/{{id}}/"),
        get(read_schedule),
        [Operation::new(
            "get",
            "{task_schedule_href}",
            "task_schedules_read",
            "Task-Schedules",
        )
        .summary("Inspect a task schedule")
        .params(field_params())
        .response(200, Response::Json)],
    );
}

fn href(id: PulpId) -> String {
    format!("{API_ROOT}/task-schedules/{id}/")
}

/// Django's `DurationField` text (`"1 00:00:00"`, `"00:05:00"`), as Pulp shows intervals.
fn duration_string(seconds: i64) -> String {
    let (days, rest) = (seconds / 86_400, seconds % 86_400);
    let clock = format!(
        "{:02}:{:02}:{:02}",
        rest / 3600,
        (rest % 3600) / 60,
        rest % 60
    );
    if days > 0 {
        format!("{days} {clock}")
    } else {
        clock
    }
}

fn render(s: &StoredSchedule) -> Value {
    json!({
        "pulp_href": href(s.pulp_id),
        "prn": format!("prn:core.taskschedule:{}", s.pulp_id),
        "pulp_created": ts(&s.pulp_created),
        "pulp_last_updated": ts(&s.pulp_last_updated),
        "name": s.name,
        "task_name": s.task_name,
        "dispatch_interval": s.dispatch_interval_seconds.map(duration_string),
        "next_dispatch": s.next_dispatch.as_ref().map(ts),
        "last_task": s.last_task.map(|t| format!("{API_ROOT}/tasks/{t}/")),
    })
}

fn schedule_reference(reference: &str) -> Option<PulpId> {
    super::list::id_from_reference(
        "pulp_href__in",
        reference,
        &format!("{API_ROOT}/task-schedules/"),
        "core.taskschedule",
    )
    .ok()
}

async fn list_schedules(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let mut filter = SqlWhere::new(app.db().backend());
    let lookups = &["", "__contains"];
    text_filters(&mut filter, &query, "name", "m.name", lookups);
    text_filters(&mut filter, &query, "task_name", "m.task_name", lookups);
    reference_filters(&mut filter, &query, schedule_reference, BadIds::Refuse)?;
    let order = ordering(
        &query,
        &[
            ("name", "m.name"),
            ("task_name", "m.task_name"),
            ("next_dispatch", "m.next_dispatch"),
            ("pulp_created", "m.pulp_created"),
        ],
        "name",
    )?;
    let n = filter.len();
    let columns = SCHEDULE_COLUMNS
        .split(", ")
        .map(|c| format!("m.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ");
    let count_sql = format!("SELECT COUNT(*) FROM core_taskschedule m {}", filter.sql());
    let page_sql = format!(
        "SELECT {columns} FROM core_taskschedule m {} {order} LIMIT ${} OFFSET ${}",
        filter.sql(),
        n + 1,
        n + 2
    );
    let (count, rows): (i64, Vec<StoredSchedule>) = crate::on_pool!(app.db(), pool => {
        let count = crate::bind_values!(sqlx::query_scalar(&count_sql), filter.values()).fetch_one(pool).await?;
        let rows = crate::bind_values!(sqlx::query_as(&page_sql), filter.values())
            .bind(paging.limit)
            .bind(paging.offset)
            .fetch_all(pool)
            .await?;
        (count, rows)
    });
    let results = rows
        .iter()
        .map(|s| select_fields(render(s), raw.as_deref()))
        .collect();
    let base = format!("{}{API_ROOT}/task-schedules/", base_url(&headers));
    Ok(Json(Page::new(results, count, paging, &base, &query)))
}

async fn read_schedule(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let id = path_id(&id)?;
    let sql = format!("SELECT {SCHEDULE_COLUMNS} FROM core_taskschedule WHERE pulp_id = $1");
    let row: Option<StoredSchedule> = crate::on_pool!(app.db(), pool => {
        sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
    });
    let row = row.ok_or(ApiError::NotFound)?;
    Ok(Json(select_fields(render(&row), raw.as_deref())))
}

#[cfg(test)]
mod tests {
    #[test]
    fn intervals_read_as_django_durations() {
        assert_eq!(super::duration_string(86_400), "1 00:00:00");
        assert_eq!(super::duration_string(90), "00:01:30");
        assert_eq!(super::duration_string(2 * 86_400 + 3661), "2 01:01:01");
    }
}
