//! `/groups/` and `/groups/{id}/users/`: groups of users and their members.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Extension, Json};
use serde_json::{json, Map, Value};

use super::{page_schema, read_only, schema, string, text_field};
use crate::api::authorize::ListScope;
use crate::api::list::{ordering, text_filters, Page, Paging, QueryParams, SqlValue, SqlWhere};
use crate::api::openapi::{
    field_params, list_params, FieldType, Operation, Param, RequestBody, Response as Doc,
};
use crate::api::request::path_id;
use crate::api::{base_url, parse_json, select_fields, ApiError, ApiRoutes, API_ROOT};
use crate::app::App;
use crate::rbac::{groups, Group, ObjectRef};

const TAG: &str = "Groups";

/// The href of group `id`.
pub(super) fn group_href(id: i64) -> String {
    format!("{API_ROOT}/groups/{id}/")
}

pub(super) fn mount(routes: &mut ApiRoutes) {
    let writable = [("name", string())];
    routes
        .raw_schema(
            "Group",
            schema("Serializer for Group.", &writable, &["name"]),
        )
        .raw_schema(
            "PatchedGroup",
            schema("Serializer for Group.", &writable, &[]),
        )
        .raw_schema(
            "GroupResponse",
            schema(
                "Serializer for Group.",
                &[
                    ("name", string()),
                    (
                        "pulp_href",
                        read_only(json!({"type": "string", "format": "uri"})),
                    ),
                    ("prn", read_only(string())),
                    ("id", read_only(json!({"type": "integer"}))),
                ],
                &["name"],
            ),
        )
        .raw_schema(
            "GroupUser",
            schema(
                "Serializer for Users that belong to a Group.",
                &[("username", string())],
                &["username"],
            ),
        )
        .raw_schema(
            "GroupUserResponse",
            schema(
                "Serializer for Users that belong to a Group.",
                &[
                    ("username", string()),
                    (
                        "pulp_href",
                        read_only(json!({"type": "string", "format": "uri"})),
                    ),
                    ("prn", read_only(string())),
                ],
                &["username"],
            ),
        );
    page_schema(routes, "GroupResponse");
    page_schema(routes, "GroupUserResponse");
    let collection = format!("{API_ROOT}/groups/");
    let object = format!("{API_ROOT}/groups/{{id}}/");
    let mut filters = list_params(&["name"]);
    filters.push(Param::query(
        "id",
        FieldType::Integer,
        "Filter results by id",
    ));
    filters.push(Param::query(
        "id__in",
        FieldType::StringList,
        "Multiple values may be separated by commas.",
    ));
    for lookup in ["", "__iexact", "__in", "__contains", "__icontains"] {
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
    routes.route(
        &collection,
        get(list).post(create),
        [
            Operation::new("get", &collection, "groups_list", TAG)
                .summary("List groups")
                .params(filters)
                .response(200, Doc::Schema("PaginatedGroupResponseList".into())),
            Operation::new("post", &collection, "groups_create", TAG)
                .summary("Create a group")
                .body(RequestBody::Schema("Group".into()))
                .response(201, Doc::Schema("GroupResponse".into())),
        ],
    );
    let href = "{group_href}";
    routes.route(
        &object,
        get(read).put(update).patch(update).delete(destroy),
        [
            Operation::new("get", href, "groups_read", TAG)
                .summary("Inspect a group")
                .params(field_params())
                .response(200, Doc::Schema("GroupResponse".into())),
            Operation::new("put", href, "groups_update", TAG)
                .summary("Update a group")
                .body(RequestBody::Schema("Group".into()))
                .response(200, Doc::Schema("GroupResponse".into())),
            Operation::new("patch", href, "groups_partial_update", TAG)
                .summary("Update a group")
                .body(RequestBody::Schema("PatchedGroup".into()))
                .response(200, Doc::Schema("GroupResponse".into())),
            Operation::new("delete", href, "groups_delete", TAG)
                .summary("Delete a group")
                .response(204, Doc::Empty),
        ],
    );
    let users = format!("{API_ROOT}/groups/{{id}}/users/");
    routes.route(
        &users,
        get(list_users).post(add_user),
        [
            Operation::new(
                "get",
                &format!("{href}users/"),
                "groups_users_list",
                "Groups: Users",
            )
            .summary("List users")
            .params(list_params(&[]))
            .response(200, Doc::Schema("PaginatedGroupUserResponseList".into())),
            Operation::new(
                "post",
                &format!("{href}users/"),
                "groups_users_create",
                "Groups: Users",
            )
            .summary("Create an user")
            .body(RequestBody::Schema("GroupUser".into()))
            .response(201, Doc::Schema("GroupUserResponse".into())),
        ],
    );
    routes.route(
        &format!("{API_ROOT}/groups/{{id}}/users/{{user}}/"),
        delete(remove_user),
        [Operation::new(
            "delete",
            "{groups_user_href}",
            "groups_users_delete",
            "Groups: Users",
        )
        .summary("Delete an user")
        .response(204, Doc::Empty)],
    );
}

fn response(group: &Group) -> Value {
    json!({
        "name": group.name,
        "pulp_href": group_href(group.id),
        "prn": format!("prn:auth.group:{}", group.id),
        "id": group.id,
    })
}

fn group_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>().map_err(|_| ApiError::NotFound)
}

pub(super) async fn existing(app: &App, raw: &str) -> Result<Group, ApiError> {
    groups::get(app.db(), group_id(raw)?)
        .await?
        .ok_or(ApiError::NotFound)
}

async fn list(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    scope: Option<Extension<ListScope>>,
) -> Result<Response, ApiError> {
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let mut filter = SqlWhere::new(app.db().backend());
    text_filters(
        &mut filter,
        &query,
        "name",
        "m.name",
        &["", "__iexact", "__in", "__contains", "__icontains"],
    );
    if let Some(id) = query.get("id") {
        filter.add(
            "m.id = ?",
            [SqlValue::Int(Some(id.parse().map_err(|_| {
                ApiError::field("id", "Enter a number.")
            })?))],
        );
    }
    let ids = query.list("id__in");
    if !ids.is_empty() {
        let ids: Result<Vec<SqlValue>, ApiError> = ids
            .iter()
            .map(|i| {
                i.parse()
                    .map(|v| SqlValue::Int(Some(v)))
                    .map_err(|_| ApiError::field("id__in", "Enter a number."))
            })
            .collect();
        filter.add_in("m.id", ids?);
    }
    if let Some(scope) = scope {
        // Group ids are numbers: the scope compares them as text.
        scope.apply(&mut filter, "CAST(m.id AS TEXT)");
    }
    let order = ordering(
        &query,
        &[("name", "m.name"), ("id", "m.id"), ("pk", "m.id")],
        "m.name",
    )?;
    let n = filter.len();
    let count_sql = format!("SELECT COUNT(*) FROM core_group m {}", filter.sql());
    let page_sql = format!(
        "SELECT m.id, m.name FROM core_group m {} {order} LIMIT ${} OFFSET ${}",
        filter.sql(),
        n + 1,
        n + 2
    );
    let (count, rows): (i64, Vec<(i64, String)>) = crate::on_pool!(app.db(), pool => {
        let count = crate::bind_values!(sqlx::query_scalar(&count_sql), filter.values()).fetch_one(pool).await?;
        let rows = crate::bind_values!(sqlx::query_as(&page_sql), filter.values())
            .bind(paging.limit)
            .bind(paging.offset)
            .fetch_all(pool)
            .await?;
        (count, rows)
    });
    let results: Vec<Value> = rows
        .into_iter()
        .map(|(id, name)| select_fields(response(&Group { id, name }), raw.as_deref()))
        .collect();
    let base = format!("{}{API_ROOT}/groups/", base_url(&headers));
    Ok(Json(Page::new(results, count, paging, &base, &query)).into_response())
}

fn name_of(body: &Map<String, Value>, partial: bool) -> Result<Option<String>, ApiError> {
    match text_field(body, "name")? {
        None if partial => Ok(None),
        None => Err(ApiError::field("name", "This field is required.")),
        Some(name) if name.trim().is_empty() => {
            Err(ApiError::field("name", "This field may not be blank."))
        }
        Some(name) if name.chars().count() > 150 => Err(ApiError::field(
            "name",
            "Ensure this field has no more than 150 characters.",
        )),
        Some(name) => Ok(Some(name)),
    }
}

async fn create(State(app): State<App>, body: Bytes) -> Result<Response, ApiError> {
    let body: Map<String, Value> = parse_json(&body)?;
    let name = name_of(&body, false)?.unwrap_or_default();
    let group = groups::create(app.db(), &name).await?;
    let object = ObjectRef {
        content_type: "core.group".into(),
        object_id: group.id.to_string(),
    };
    crate::rbac::object_created(app.db(), "groups", &object).await?;
    Ok((StatusCode::CREATED, Json(response(&group))).into_response())
}

async fn read(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let group = existing(&app, &id).await?;
    Ok(Json(select_fields(response(&group), raw.as_deref())).into_response())
}

async fn update(
    State(app): State<App>,
    method: axum::http::Method,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let group = existing(&app, &id).await?;
    let body: Map<String, Value> = parse_json(&body)?;
    let group = match name_of(&body, method == axum::http::Method::PATCH)? {
        Some(name) => groups::rename(app.db(), group.id, &name).await?,
        None => group,
    };
    Ok(Json(response(&group)).into_response())
}

async fn destroy(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let group = existing(&app, &id).await?;
    groups::delete(app.db(), group.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn member(group: i64, id: crate::db::PulpId, username: &str) -> Value {
    json!({
        "username": username,
        "pulp_href": format!("{API_ROOT}/groups/{group}/users/{id}/"),
        "prn": format!("prn:auth.user:{id}"),
    })
}

async fn list_users(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let group = existing(&app, &id).await?;
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let (count, rows): (i64, Vec<(crate::db::PulpId, String)>) = crate::on_pool!(app.db(), pool => {
        let count = sqlx::query_scalar("SELECT COUNT(*) FROM core_user_groups WHERE group_id = $1")
            .bind(group.id)
            .fetch_one(pool)
            .await?;
        let rows = sqlx::query_as(
            "SELECT u.pulp_id, u.username FROM core_user u JOIN core_user_groups ug ON ug.user_id = u.pulp_id \
             WHERE ug.group_id = $1 ORDER BY u.username LIMIT $2 OFFSET $3",
        )
        .bind(group.id)
        .bind(paging.limit)
        .bind(paging.offset)
        .fetch_all(pool)
        .await?;
        (count, rows)
    });
    let results: Vec<Value> = rows
        .iter()
        .map(|(u, name)| select_fields(member(group.id, *u, name), raw.as_deref()))
        .collect();
    let base = format!(
        "{}{API_ROOT}/groups/{}/users/",
        base_url(&headers),
        group.id
    );
    Ok(Json(Page::new(results, count, paging, &base, &query)).into_response())
}

async fn add_user(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let group = existing(&app, &id).await?;
    let body: Map<String, Value> = parse_json(&body)?;
    let missing = || {
        ApiError::BadRequest(
            "Please provide one of the following values for User: 'pk', 'id', 'username'".into(),
        )
    };
    let user = if let Some(username) = text_field(&body, "username")? {
        crate::auth::Users::new(app.db())
            .stored_any(&username)
            .await?
            .map(|id| (id, username.clone()))
            .ok_or_else(|| {
                ApiError::field(
                    "non_field_errors",
                    format!("Could not find user {username}"),
                )
            })?
    } else if let Some(raw) = body
        .get("pk")
        .or_else(|| body.get("id"))
        .and_then(Value::as_str)
    {
        let id = path_id(raw)
            .map_err(|_| ApiError::field("non_field_errors", "Could not find user None"))?;
        let account = crate::auth::accounts::get(app.db(), id)
            .await?
            .ok_or_else(|| ApiError::field("non_field_errors", "Could not find user None"))?;
        (account.id, account.username)
    } else {
        return Err(missing());
    };
    groups::add_member(app.db(), group.id, user.0).await?;
    Ok((StatusCode::CREATED, Json(member(group.id, user.0, &user.1))).into_response())
}

async fn remove_user(
    State(app): State<App>,
    Path((id, user)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let group = existing(&app, &id).await?;
    let user = path_id(&user)?;
    crate::auth::accounts::get(app.db(), user)
        .await?
        .ok_or(ApiError::NotFound)?;
    groups::remove_member(app.db(), group.id, user).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
