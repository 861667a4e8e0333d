//! `/users/{id}/roles/` and `/groups/{id}/roles/`: role assignments, global (`content_object`
//! `null`) or on one object (an href or a PRN).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde_json::{json, Map, Value};

use super::{nullable_string, page_schema, read_only, schema, string, strings, text_field};
use crate::api::generic::page;
use crate::api::list::{
    in_id_order, ordering, text_filters, Page, Paging, QueryParams, SqlValue, SqlWhere,
};
use crate::api::openapi::{
    field_params, list_params, FieldType, Operation, Param, RequestBody, Response as Doc,
};
use crate::api::request::path_id;
use crate::api::{base_url, parse_json, select_fields, ApiError, ApiRoutes, API_ROOT};
use crate::app::App;
use crate::rbac::{self, Assignment, ObjectRef, Principal};
use crate::wire::timestamp::format as ts;

pub(super) fn mount(routes: &mut ApiRoutes) {
    let writable = [
        ("role", string()),
        ("content_object", nullable_string()),
        ("content_object_prn", nullable_string()),
        ("domain", nullable_string()),
    ];
    let mut response: Vec<(&str, Value)> = vec![
        (
            "pulp_href",
            read_only(json!({"type": "string", "format": "uri"})),
        ),
        ("prn", read_only(string())),
        (
            "pulp_created",
            read_only(json!({"type": "string", "format": "date-time"})),
        ),
        (
            "pulp_last_updated",
            read_only(json!({"type": "string", "format": "date-time"})),
        ),
    ];
    response.extend(writable.iter().cloned());
    response.push(("description", read_only(string())));
    response.push(("permissions", read_only(strings())));
    for (kind, tag, parent_href, object_href) in [
        (
            "user",
            "Users: Roles",
            "{auth_user_href}",
            "{auth_users_user_role_href}",
        ),
        (
            "group",
            "Groups: Roles",
            "{group_href}",
            "{groups_group_role_href}",
        ),
    ] {
        let title = if kind == "user" {
            "UserRole"
        } else {
            "GroupRole"
        };
        routes
            .raw_schema(
                title,
                schema(&format!("Serializer for {title}."), &writable, &["role"]),
            )
            .raw_schema(
                &format!("{title}Response"),
                schema(&format!("Serializer for {title}."), &response, &["role"]),
            );
        page_schema(routes, &format!("{title}Response"));
        let plural = format!("{kind}s");
        let mut filters = list_params(&["role"]);
        for lookup in ["", "__in", "__contains", "__icontains", "__startswith"] {
            filters.push(Param::query(
                &format!("role{lookup}"),
                if lookup == "__in" {
                    FieldType::StringList
                } else {
                    FieldType::String
                },
                "Filter results by role",
            ));
        }
        filters.push(Param::query(
            "content_object",
            FieldType::String,
            "content_object",
        ));
        filters.push(Param::query(
            "domain",
            FieldType::String,
            "Filter results by domain",
        ));
        let (list_handler, read_handler) = if kind == "user" {
            (
                get(list_user).post(create_user),
                get(read_user).delete(delete_user),
            )
        } else {
            (
                get(list_group).post(create_group),
                get(read_group).delete(delete_group),
            )
        };
        routes.route(
            &format!("{API_ROOT}/{plural}/{{id}}/roles/"),
            list_handler,
            [
                Operation::new(
                    "get",
                    &format!("{parent_href}roles/"),
                    &format!("{plural}_roles_list"),
                    tag,
                )
                .summary(&format!("List {} roles", kind))
                .params(filters)
                .response(200, Doc::Schema(format!("Paginated{title}ResponseList"))),
                Operation::new(
                    "post",
                    &format!("{parent_href}roles/"),
                    &format!("{plural}_roles_create"),
                    tag,
                )
                .summary(&format!("Create a {} role", kind))
                .body(RequestBody::Schema(title.into()))
                .response(201, Doc::Schema(format!("{title}Response"))),
            ],
        );
        routes.route(
            &format!("{API_ROOT}/{plural}/{{id}}/roles/{{role}}/"),
            read_handler,
            [
                Operation::new("get", object_href, &format!("{plural}_roles_read"), tag)
                    .summary(&format!("Inspect a {} role", kind))
                    .params(field_params())
                    .response(200, Doc::Schema(format!("{title}Response"))),
                Operation::new(
                    "delete",
                    object_href,
                    &format!("{plural}_roles_delete"),
                    tag,
                )
                .summary(&format!("Delete a {} role", kind))
                .response(204, Doc::Empty),
            ],
        );
    }
}

/// The href of an object roles are assigned on.
pub(super) fn object_href(app: &App, object: &ObjectRef) -> Option<String> {
    app.object_types()
        .into_iter()
        .find(|t| t.content_type == object.content_type)
        .map(|t| format!("{API_ROOT}/{}/{}/", t.viewset, object.object_id))
}

fn base_of(who: Principal) -> String {
    match who {
        Principal::User(id) => format!("{API_ROOT}/users/{id}/roles/"),
        Principal::Group(id) => format!("{API_ROOT}/groups/{id}/roles/"),
    }
}

fn response(app: &App, who: Principal, a: &Assignment) -> Value {
    let model = match who {
        Principal::User(_) => "userrole",
        Principal::Group(_) => "grouprole",
    };
    json!({
        "pulp_href": format!("{}{}/", base_of(who), a.pulp_id),
        "prn": format!("prn:core.{model}:{}", a.pulp_id),
        "pulp_created": ts(&a.pulp_created),
        "pulp_last_updated": ts(&a.pulp_last_updated),
        "role": a.role,
        "content_object": a.object.as_ref().and_then(|o| object_href(app, o)),
        "content_object_prn": a.object.as_ref().map(|o| format!("prn:{}:{}", o.content_type, o.object_id)),
        "description": a.description,
        "permissions": a.permissions,
        "domain": null,
    })
}

async fn principal(app: &App, kind: &str, raw: &str) -> Result<Principal, ApiError> {
    if kind == "user" {
        let id = path_id(raw)?;
        crate::auth::accounts::get(app.db(), id)
            .await?
            .ok_or(ApiError::NotFound)?;
        Ok(Principal::User(id))
    } else {
        Ok(Principal::Group(
            super::groups::existing(app, raw).await?.id,
        ))
    }
}

/// The object named by `content_object` (an href) or `content_object_prn`; `None` for null.
pub(super) fn named_object(
    app: &App,
    body: &Map<String, Value>,
) -> Result<Option<ObjectRef>, ApiError> {
    let (field, value) = match (body.get("content_object"), body.get("content_object_prn")) {
        (Some(v), _) if !v.is_null() => ("content_object", v),
        (_, Some(v)) if !v.is_null() => ("content_object_prn", v),
        (None, None) => {
            return Err(ApiError::field(
                "non_field_errors",
                "Either 'content_object' or 'content_object_prn' needs to be specified. Use 'null' for global or domain level access.",
            ))
        }
        _ => return Ok(None),
    };
    let text = value
        .as_str()
        .ok_or_else(|| ApiError::field(field, "Not a valid string."))?;
    let (_, object) = app
        .object_of_href(text)
        .ok_or_else(|| ApiError::field(field, format!("Invalid value: {text}.")))?;
    Ok(Some(object))
}

/// Whether the object exists (an href to nothing is refused).
pub(super) async fn object_exists(app: &App, object: &ObjectRef) -> Result<bool, ApiError> {
    let table = match object.content_type.as_str() {
        "core.task" => "core_task",
        "core.taskgroup" => "core_taskgroup",
        "core.upload" => "core_upload",
        "core.upstreampulp" => "core_upstreampulp",
        "core.group" => {
            let id: i64 = object.object_id.parse().map_err(|_| ApiError::NotFound)?;
            return Ok(rbac::groups::get(app.db(), id).await?.is_some());
        }
        other => match app.detail_types().iter().find(|d| d.prn_model == other) {
            Some(d) => d.master_table,
            None => return Ok(false),
        },
    };
    let id = path_id(&object.object_id)?;
    let sql = format!("SELECT COUNT(*) FROM {table} WHERE pulp_id = $1");
    let n: i64 = crate::on_pool!(app.db(), pool => {
        sqlx::query_scalar(&sql).bind(id).fetch_one(pool).await?
    });
    Ok(n > 0)
}

async fn list(
    app: App,
    headers: HeaderMap,
    kind: &str,
    raw_id: String,
    raw: Option<String>,
) -> Result<Response, ApiError> {
    let who = principal(&app, kind, &raw_id).await?;
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let mut filter = SqlWhere::new(app.db().backend());
    match who {
        Principal::User(id) => filter.add("m.user_id = ?", [SqlValue::Id(Some(id))]),
        Principal::Group(id) => filter.add("m.group_id = ?", [SqlValue::Int(Some(id))]),
    }
    text_filters(
        &mut filter,
        &query,
        "role",
        "r.name",
        &["", "__in", "__contains", "__icontains", "__startswith"],
    );
    if let Some(object) = query.get("content_object") {
        if object == "null" {
            filter.add("m.object_id IS NULL", []);
        } else {
            let (_, object) = app
                .object_of_href(object)
                .ok_or_else(|| ApiError::field("content_object", "Invalid value."))?;
            filter.add(
                "m.object_id = ? AND m.content_type = ?",
                [
                    SqlValue::Text(Some(object.object_id)),
                    SqlValue::Text(Some(object.content_type)),
                ],
            );
        }
    }
    let order = ordering(
        &query,
        &[("role", "r.name"), ("pulp_created", "m.pulp_created")],
        "m.pulp_created, m.pulp_id",
    )?;
    let table = match who {
        Principal::User(_) => "core_userrole",
        Principal::Group(_) => "core_grouprole",
    };
    let from = format!("{table} m JOIN core_role r ON r.pulp_id = m.role_id");
    let app = &app;
    let (count, results) = page(app, &from, &filter, &order, paging, |ids| async move {
        let found = rbac::get_assignments(app.db(), who, &ids).await?;
        Ok(in_id_order(&ids, found, |a| a.pulp_id)
            .iter()
            .map(|a| select_fields(response(app, who, a), raw.as_deref()))
            .collect::<Vec<Value>>())
    })
    .await?;
    let base = format!("{}{}", base_url(&headers), base_of(who));
    Ok(Json(Page::new(results, count, paging, &base, &query)).into_response())
}

async fn create(app: App, kind: &str, raw_id: String, body: Bytes) -> Result<Response, ApiError> {
    let who = principal(&app, kind, &raw_id).await?;
    let body: Map<String, Value> = parse_json(&body)?;
    let role = text_field(&body, "role")?
        .ok_or_else(|| ApiError::field("role", "This field is required."))?;
    if body.get("domain").is_some_and(|d| !d.is_null()) {
        return Err(ApiError::field("domain", "Domains are not enabled."));
    }
    let object = named_object(&app, &body)?;
    if let Some(object) = &object {
        if !object_exists(&app, object).await? {
            return Err(ApiError::field(
                "content_object",
                "Invalid value: the object does not exist.",
            ));
        }
    }
    let assignment = rbac::assign(app.db(), who, &role, object).await?;
    Ok((StatusCode::CREATED, Json(response(&app, who, &assignment))).into_response())
}

async fn read(
    app: App,
    kind: &str,
    raw_id: String,
    role: String,
    raw: Option<String>,
) -> Result<Response, ApiError> {
    let who = principal(&app, kind, &raw_id).await?;
    let assignment = rbac::get_assignment(app.db(), who, path_id(&role)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(select_fields(
        response(&app, who, &assignment),
        raw.as_deref(),
    ))
    .into_response())
}

async fn delete(app: App, kind: &str, raw_id: String, role: String) -> Result<Response, ApiError> {
    let who = principal(&app, kind, &raw_id).await?;
    rbac::remove_assignment(app.db(), who, path_id(&role)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_user(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    list(app, headers, "user", id, raw).await
}
async fn list_group(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    list(app, headers, "group", id, raw).await
}
async fn create_user(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    create(app, "user", id, body).await
}
async fn create_group(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    create(app, "group", id, body).await
}
async fn read_user(
    State(app): State<App>,
    Path((id, role)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    read(app, "user", id, role, raw).await
}
async fn read_group(
    State(app): State<App>,
    Path((id, role)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    read(app, "group", id, role, raw).await
}
async fn delete_user(
    State(app): State<App>,
    Path((id, role)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    delete(app, "user", id, role).await
}
async fn delete_group(
    State(app): State<App>,
    Path((id, role)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    delete(app, "group", id, role).await
}
