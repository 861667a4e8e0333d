//! `/users/`: user accounts (administrators only, as in Pulp). `password` is write-only;
//! `null` disables password login.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde_json::{json, Map, Value};

use super::{page_schema, read_only, schema, string, text_field};
use crate::api::generic::page;
use crate::api::list::{
    in_id_order, ordering, parse_bool, text_filters, Page, Paging, QueryParams, SqlValue, SqlWhere,
};
use crate::api::openapi::{
    field_params, list_params, FieldType, Operation, Param, RequestBody, Response as Doc,
};
use crate::api::request::path_id;
use crate::api::{base_url, parse_json, select_fields, ApiError, ApiRoutes, API_ROOT};
use crate::app::App;
use crate::auth::accounts::{self, Account, AccountChanges};
use crate::db::PulpId;
use crate::wire::timestamp::format as ts;

const TAG: &str = "Users";

/// The href of user `id`.
pub(super) fn user_href(id: PulpId) -> String {
    format!("{API_ROOT}/users/{id}/")
}

pub(super) fn mount(routes: &mut ApiRoutes) {
    let writable = [
        ("username", string()),
        (
            "password",
            json!({"type": ["string", "null"], "writeOnly": true, "description": "Users password. Set to ``null`` to disable password authentication."}),
        ),
        ("first_name", string()),
        ("last_name", string()),
        ("email", json!({"type": "string", "format": "email"})),
        ("is_staff", json!({"type": "boolean", "default": false})),
        ("is_active", json!({"type": "boolean", "default": true})),
    ];
    let mut response: Vec<(&str, Value)> = vec![
        (
            "pulp_href",
            read_only(json!({"type": "string", "format": "uri"})),
        ),
        ("prn", read_only(string())),
        ("id", read_only(json!({"type": "string"}))),
    ];
    response.extend(writable.iter().filter(|(n, _)| *n != "password").cloned());
    response.push((
        "date_joined",
        read_only(json!({"type": "string", "format": "date-time"})),
    ));
    response.push((
        "groups",
        read_only(json!({"type": "array", "items": {"type": "object"}})),
    ));
    routes
        .raw_schema(
            "User",
            schema("Serializer for User.", &writable, &["username"]),
        )
        .raw_schema(
            "PatchedUser",
            schema("Serializer for User.", &writable, &[]),
        )
        .raw_schema(
            "UserResponse",
            schema("Serializer for User.", &response, &["username"]),
        );
    page_schema(routes, "UserResponse");
    let collection = format!("{API_ROOT}/users/");
    let object = format!("{API_ROOT}/users/{{id}}/");
    let mut filters = list_params(&["username"]);
    for field in ["username", "first_name", "last_name", "email"] {
        for lookup in ["", "__iexact", "__in", "__contains", "__icontains"] {
            filters.push(Param::query(
                &format!("{field}{lookup}"),
                if lookup == "__in" {
                    FieldType::StringList
                } else {
                    FieldType::String
                },
                &format!("Filter results by {field}"),
            ));
        }
    }
    for flag in ["is_active", "is_staff"] {
        filters.push(Param::query(
            flag,
            FieldType::Boolean,
            &format!("Filter results by {flag}"),
        ));
    }
    routes.route(
        &collection,
        get(list).post(create),
        [
            Operation::new("get", &collection, "users_list", TAG)
                .summary("List users")
                .params(filters)
                .response(200, Doc::Schema("PaginatedUserResponseList".into())),
            Operation::new("post", &collection, "users_create", TAG)
                .summary("Create an user")
                .body(RequestBody::Schema("User".into()))
                .response(201, Doc::Schema("UserResponse".into())),
        ],
    );
    let href = "{auth_user_href}";
    routes.route(
        &object,
        get(read).put(update).patch(partial_update).delete(delete),
        [
            Operation::new("get", href, "users_read", TAG)
                .summary("Inspect an user")
                .params(field_params())
                .response(200, Doc::Schema("UserResponse".into())),
            Operation::new("put", href, "users_update", TAG)
                .summary("Update an user")
                .body(RequestBody::Schema("User".into()))
                .response(200, Doc::Schema("UserResponse".into())),
            Operation::new("patch", href, "users_partial_update", TAG)
                .summary("Update an user")
                .body(RequestBody::Schema("PatchedUser".into()))
                .response(200, Doc::Schema("UserResponse".into())),
            Operation::new("delete", href, "users_delete", TAG)
                .summary("Delete an user")
                .response(204, Doc::Empty),
        ],
    );
}

pub(super) fn response(user: &Account) -> Value {
    json!({
        "pulp_href": user_href(user.id),
        "prn": format!("prn:auth.user:{}", user.id),
        "id": user.id.to_string(),
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_staff": user.is_staff,
        "is_active": user.is_active,
        "date_joined": ts(&user.date_joined),
        "groups": user.groups.iter().map(|(id, name)| json!({
            "name": name,
            "pulp_href": format!("{API_ROOT}/groups/{id}/"),
        })).collect::<Vec<_>>(),
        "hidden_fields": [{"name": "password", "is_null": false}],
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
    for field in ["username", "first_name", "last_name", "email"] {
        text_filters(
            &mut filter,
            &query,
            field,
            &format!("m.{field}"),
            &["", "__iexact", "__in", "__contains", "__icontains"],
        );
    }
    for flag in ["is_active", "is_staff"] {
        if let Some(value) = query.get(flag) {
            filter.add(
                &format!("m.{flag} = ?"),
                [SqlValue::Bool(Some(parse_bool(flag, value)?))],
            );
        }
    }
    let order = ordering(
        &query,
        &[
            ("username", "m.username"),
            ("date_joined", "m.date_joined"),
            ("pk", "m.pulp_id"),
            ("id", "m.pulp_id"),
        ],
        "m.date_joined DESC, m.pulp_id",
    )?;
    let app = &app;
    let (count, results) = page(
        app,
        "core_user m",
        &filter,
        &order,
        paging,
        |ids| async move {
            let users = accounts::get_many(app.db(), &ids).await?;
            Ok(in_id_order(&ids, users, |u| u.id)
                .iter()
                .map(|u| select_fields(response(u), raw.as_deref()))
                .collect::<Vec<Value>>())
        },
    )
    .await?;
    let base = format!("{}{API_ROOT}/users/", base_url(&headers));
    Ok(Json(Page::new(results, count, paging, &base, &query)).into_response())
}

/// Reads a create/update body; `partial` leaves absent fields alone.
pub(super) fn changes(
    body: &Map<String, Value>,
    partial: bool,
) -> Result<AccountChanges, ApiError> {
    let mut errors = std::collections::BTreeMap::<String, Vec<String>>::new();
    for key in body.keys() {
        if !matches!(
            key.as_str(),
            "username"
                | "password"
                | "first_name"
                | "last_name"
                | "email"
                | "is_staff"
                | "is_active"
        ) {
            errors
                .entry(key.clone())
                .or_default()
                .push("Unexpected field.".into());
        }
    }
    let username = text_field(body, "username")?;
    match &username {
        None if !partial => {
            errors
                .entry("username".into())
                .or_default()
                .push("This field is required.".into());
        }
        Some(name)
            if name.is_empty()
                || name.len() > 150
                || !name
                    .chars()
                    .all(|c| c.is_alphanumeric() || "@.+-_".contains(c)) =>
        {
            errors.entry("username".into()).or_default().push(
                "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.".into(),
            );
        }
        _ => {}
    }
    let password = match body.get("password") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(p)) => Some(Some(p.clone())),
        Some(_) => return Err(ApiError::field("password", "Not a valid string.")),
    };
    let flag = |name: &str| -> Result<Option<bool>, ApiError> {
        match body.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(ApiError::field(name, "Must be a valid boolean.")),
        }
    };
    let email = text_field(body, "email")?;
    if let Some(email) = &email {
        if !email.is_empty() && !email.contains('@') {
            errors
                .entry("email".into())
                .or_default()
                .push("Enter a valid email address.".into());
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(AccountChanges {
        username,
        password,
        first_name: text_field(body, "first_name")?,
        last_name: text_field(body, "last_name")?,
        email,
        is_staff: flag("is_staff")?,
        is_active: flag("is_active")?,
    })
}

async fn create(State(app): State<App>, body: Bytes) -> Result<Response, ApiError> {
    let body: Map<String, Value> = parse_json(&body)?;
    let user = accounts::create(app.db(), changes(&body, false)?).await?;
    Ok((StatusCode::CREATED, Json(response(&user))).into_response())
}

async fn existing(app: &App, raw: &str) -> Result<Account, ApiError> {
    accounts::get(app.db(), path_id(raw)?)
        .await?
        .ok_or(ApiError::NotFound)
}

async fn read(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let user = existing(&app, &id).await?;
    Ok(Json(select_fields(response(&user), raw.as_deref())).into_response())
}

async fn write(app: App, id: String, body: Bytes, partial: bool) -> Result<Response, ApiError> {
    let user = existing(&app, &id).await?;
    let body: Map<String, Value> = parse_json(&body)?;
    let changes = changes(&body, partial)?;
    let user = accounts::update(app.db(), user.id, changes).await?;
    Ok(Json(response(&user)).into_response())
}

async fn update(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    write(app, id, body, false).await
}

async fn partial_update(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    write(app, id, body, true).await
}

async fn delete(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let user = existing(&app, &id).await?;
    accounts::delete(app.db(), user.id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
