//! `/roles/`: roles and their permissions; locked roles refuse every change.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde_json::{json, Map, Value};

use super::{
    nullable_string, page_schema, read_only, schema, string, strings, text_field, text_list,
};
use crate::api::generic::page;
use crate::api::list::{
    core_object_reference, in_id_order, ordering, parse_bool, reference_filters, text_filters,
    BadIds, Page, Paging, QueryParams, SqlValue, SqlWhere,
};
use crate::api::openapi::{
    field_params, list_params, reference_filter_params, FieldType, Operation, Param, RequestBody,
    Response as Doc,
};
use crate::api::request::path_id;
use crate::api::{base_url, parse_json, select_fields, ApiError, ApiRoutes, API_ROOT};
use crate::app::App;
use crate::db::PulpId;
use crate::rbac::{roles, Role, RoleChanges};
use crate::wire::timestamp::format as ts;

const TAG: &str = "Roles";

pub(super) fn mount(routes: &mut ApiRoutes) {
    let writable = [
        ("name", string()),
        ("description", nullable_string()),
        ("permissions", strings()),
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
    response.push(("locked", read_only(json!({"type": "boolean"}))));
    routes
        .raw_schema(
            "Role",
            schema("Serializer for Role.", &writable, &["name", "permissions"]),
        )
        .raw_schema(
            "PatchedRole",
            schema("Serializer for Role.", &writable, &[]),
        )
        .raw_schema(
            "RoleResponse",
            schema("Serializer for Role.", &response, &["name", "permissions"]),
        );
    page_schema(routes, "RoleResponse");
    let collection = format!("{API_ROOT}/roles/");
    let object = format!("{API_ROOT}/roles/{{id}}/");
    let mut filters = list_params(&["name"]);
    for lookup in [
        "",
        "__iexact",
        "__in",
        "__contains",
        "__icontains",
        "__startswith",
        "__istartswith",
    ] {
        filters.push(Param::query(
            &format!("name{lookup}"),
            if lookup == "__in" {
                FieldType::StringList
            } else {
                FieldType::String
            },
            "Filter results by name",
        ));
    }
    for lookup in ["", "__iexact", "__contains", "__icontains"] {
        filters.push(Param::query(
            &format!("description{lookup}"),
            if lookup == "__in" {
                FieldType::StringList
            } else {
                FieldType::String
            },
            "Filter results by description",
        ));
    }
    filters.push(Param::query(
        "locked",
        FieldType::Boolean,
        "Filter results by locked",
    ));
    filters.push(Param::query(
        "contains_permission",
        FieldType::StringList,
        "Filter roles holding one of these permissions",
    ));
    filters.push(Param::query(
        "for_object_type",
        FieldType::String,
        "Filter roles that only have permissions for the specified object HREF.",
    ));
    filters.extend(reference_filter_params());
    routes.route(
        &collection,
        get(list).post(create),
        [
            Operation::new("get", &collection, "roles_list", TAG)
                .summary("List roles")
                .params(filters)
                .response(200, Doc::Schema("PaginatedRoleResponseList".into())),
            Operation::new("post", &collection, "roles_create", TAG)
                .summary("Create a role")
                .body(RequestBody::Schema("Role".into()))
                .response(201, Doc::Schema("RoleResponse".into())),
        ],
    );
    let href = "{role_href}";
    routes.route(
        &object,
        get(read).put(update).patch(update).delete(destroy),
        [
            Operation::new("get", href, "roles_read", TAG)
                .summary("Inspect a role")
                .params(field_params())
                .response(200, Doc::Schema("RoleResponse".into())),
            Operation::new("put", href, "roles_update", TAG)
                .summary("Update a role")
                .body(RequestBody::Schema("Role".into()))
                .response(200, Doc::Schema("RoleResponse".into())),
            Operation::new("patch", href, "roles_partial_update", TAG)
                .summary("Update a role")
                .body(RequestBody::Schema("PatchedRole".into()))
                .response(200, Doc::Schema("RoleResponse".into())),
            Operation::new("delete", href, "roles_delete", TAG)
                .summary("Delete a role")
                .response(204, Doc::Empty),
        ],
    );
}

fn response(role: &Role) -> Value {
    json!({
        "pulp_href": format!("{API_ROOT}/roles/{}/", role.pulp_id),
        "prn": format!("prn:core.role:{}", role.pulp_id),
        "pulp_created": ts(&role.pulp_created),
        "pulp_last_updated": ts(&role.pulp_last_updated),
        "name": role.name,
        "description": role.description,
        "permissions": role.permissions,
        "locked": role.locked,
    })
}

async fn list(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let mut filter = SqlWhere::new(app.db().backend());
    text_filters(
        &mut filter,
        &query,
        "name",
        "m.name",
        &[
            "",
            "__iexact",
            "__in",
            "__contains",
            "__icontains",
            "__startswith",
        ],
    );
    if let Some(prefix) = query.get("name__istartswith") {
        filter.add(
            "LOWER(m.name) LIKE ? ESCAPE '\\'",
            [SqlValue::Text(Some(format!(
                "{}%",
                crate::api::list::escape_like(&prefix.to_lowercase())
            )))],
        );
    }
    text_filters(
        &mut filter,
        &query,
        "description",
        "m.description",
        &["", "__iexact", "__contains", "__icontains"],
    );
    if let Some(locked) = query.get("locked") {
        filter.add(
            "m.locked = ?",
            [SqlValue::Bool(Some(parse_bool("locked", locked)?))],
        );
    }
    for permission in query.list("contains_permission") {
        let (label, codename) = permission
            .split_once('.')
            .unwrap_or(("", permission.as_str()));
        filter.add(
            "m.pulp_id IN (SELECT rp.role_id FROM core_role_permissions rp JOIN core_permission p \
             ON p.id = rp.permission_id WHERE p.app_label = ? AND p.codename = ?)",
            [
                SqlValue::Text(Some(label.into())),
                SqlValue::Text(Some(codename.into())),
            ],
        );
    }
    if let Some(href) = query.get("for_object_type") {
        // Roles all of whose permissions are on the href's type.
        let content_type = app
            .object_types()
            .into_iter()
            .find(|t| {
                href.trim_end_matches('/')
                    .ends_with(&format!("/{}", t.viewset))
            })
            .map(|t| t.content_type)
            .ok_or_else(|| ApiError::field("for_object_type", "Invalid value."))?;
        filter.add(
            "m.pulp_id IN (SELECT rp.role_id FROM core_role_permissions rp JOIN core_permission p ON p.id = rp.permission_id \
             GROUP BY rp.role_id HAVING SUM(CASE WHEN p.app_label || '.' || p.model = ? THEN 0 ELSE 1 END) = 0)",
            [SqlValue::Text(Some(content_type))],
        );
    }
    reference_filters(
        &mut filter,
        &query,
        |r| core_object_reference(r, "role", "roles"),
        BadIds::Ignore,
    )?;
    let order = ordering(
        &query,
        &[
            ("name", "m.name"),
            ("pulp_created", "m.pulp_created"),
            ("locked", "m.locked"),
            ("pk", "m.pulp_id"),
        ],
        "m.name, m.pulp_id",
    )?;
    let app = &app;
    let (count, results) = page(
        app,
        "core_role m",
        &filter,
        &order,
        paging,
        |ids| async move {
            let found = roles::get_many(app.db(), &ids).await?;
            Ok(in_id_order(&ids, found, |r| r.pulp_id)
                .iter()
                .map(|r| select_fields(response(r), raw.as_deref()))
                .collect::<Vec<Value>>())
        },
    )
    .await?;
    let base = format!("{}{API_ROOT}/roles/", base_url(&headers));
    Ok(Json(Page::new(results, count, paging, &base, &query)).into_response())
}

fn changes(body: &Map<String, Value>, partial: bool) -> Result<RoleChanges, ApiError> {
    let name = text_field(body, "name")?;
    if name.is_none() && !partial {
        return Err(ApiError::field("name", "This field is required."));
    }
    if !partial && !body.contains_key("permissions") {
        return Err(ApiError::field("permissions", "This field is required."));
    }
    let description = match body.get("description") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(Some(s.clone())),
        Some(_) => return Err(ApiError::field("description", "Not a valid string.")),
    };
    let permissions = if body.contains_key("permissions") {
        Some(text_list(body, "permissions")?)
    } else {
        None
    };
    Ok(RoleChanges {
        name,
        description,
        permissions,
    })
}

async fn create(State(app): State<App>, body: Bytes) -> Result<Response, ApiError> {
    let body: Map<String, Value> = parse_json(&body)?;
    let changes = changes(&body, false)?;
    let role = roles::create(
        app.db(),
        changes.name.as_deref().unwrap_or_default(),
        changes.description.flatten(),
        &changes.permissions.unwrap_or_default(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(response(&role))).into_response())
}

fn role_id(raw: &str) -> Result<PulpId, ApiError> {
    path_id(raw)
}

async fn read(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let role = roles::get(app.db(), role_id(&id)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(select_fields(response(&role), raw.as_deref())).into_response())
}

async fn update(
    State(app): State<App>,
    method: axum::http::Method,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let id = role_id(&id)?;
    let role = roles::get(app.db(), id).await?.ok_or(ApiError::NotFound)?;
    if role.locked {
        return Err(crate::rbac::RbacError::Locked.into());
    }
    let body: Map<String, Value> = parse_json(&body)?;
    let changes = changes(&body, method == axum::http::Method::PATCH)?;
    let role = roles::update(app.db(), id, changes).await?;
    Ok(Json(response(&role)).into_response())
}

async fn destroy(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    roles::delete(app.db(), role_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
