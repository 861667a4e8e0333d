//! `/webhooks/` (a pulp-rs extension): subscriptions of URLs to events, and their
//! deliveries. Superusers only (the secrets sign what Pulp says about itself).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Json;
use chrono::Utc;
use serde_json::{json, Map, Value};

use super::list::{ordering, text_filters, Page, Paging, QueryParams, SqlValue, SqlWhere};
use super::request::{parse_json, path_id};
use super::timestamp::format as ts;
use super::{base_url, select_fields, ApiError, API_ROOT};
use crate::app::App;
use crate::db::PulpId;
use crate::webhooks::{Delivery, Webhook, DELIVERY_COLUMNS, EVENTS, WEBHOOK_COLUMNS};

/// Shortest secret accepted (HMAC keys should not be guessable).
const MIN_SECRET: usize = 16;

/// Mounts `/webhooks/`, documented.
pub(crate) fn mount(routes: &mut super::ApiRoutes) {
    use super::openapi::{
        field_params, list_params, FieldType, Operation, Param, RequestBody, Response,
    };
    let writable = json!({
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "url": {"type": "string", "format": "uri", "description": "http(s) URL deliveries are posted to."},
        "secret": {"type": "string", "writeOnly": true, "minLength": MIN_SECRET, "description": "HMAC-SHA256 key of the Pulp-Webhook-Signature header."},
        "events": {"type": "array", "items": {"type": "string", "enum": EVENTS}, "minItems": 1},
        "filters": {"type": "object", "properties": {
            "task_names": {"type": "array", "items": {"type": "string"}},
            "resources": {"type": "array", "items": {"type": "string"}},
        }},
        "enabled": {"type": "boolean"},
    });
    routes.raw_schema(
        "Webhook",
        json!({"type": "object", "properties": writable, "required": ["name", "url", "secret", "events"]}),
    );
    routes.raw_schema(
        "PatchedWebhook",
        json!({"type": "object", "properties": writable}),
    );
    let mut filters = list_params(&["name", "pulp_created"]);
    for (name, ty) in [
        ("name", FieldType::String),
        ("name__contains", FieldType::String),
        ("enabled", FieldType::Boolean),
    ] {
        filters.push(Param::query(name, ty, ""));
    }
    let root = format!("{API_ROOT}/webhooks/");
    routes.route(
        &root,
        get(list_webhooks).post(create_webhook),
        [
            Operation::new("get", &root, "webhooks_list", "Webhooks")
                .summary("List webhooks")
                .params(filters)
                .response(200, Response::Json),
            Operation::new("post", &root, "webhooks_create", "Webhooks")
                .summary("Create a webhook")
                .body(RequestBody::Schema("Webhook".into()))
                .response(201, Response::Json),
        ],
    );
    routes.route(
        &format!("{API_ROOT}/webhooks/{{id}}/"),
        get(read_webhook)
            .patch(patch_webhook)
            .put(put_webhook)
            .delete(delete_webhook),
        [
            Operation::new("get", "{webhook_href}", "webhooks_read", "Webhooks")
                .summary("Inspect a webhook")
                .params(field_params())
                .response(200, Response::Json),
            Operation::new(
                "patch",
                "{webhook_href}",
                "webhooks_partial_update",
                "Webhooks",
            )
            .summary("Update a webhook")
            .body(RequestBody::Schema("PatchedWebhook".into()))
            .response(200, Response::Json),
            Operation::new("put", "{webhook_href}", "webhooks_update", "Webhooks")
                .summary("Replace a webhook")
                .body(RequestBody::Schema("Webhook".into()))
                .response(200, Response::Json),
            Operation::new("delete", "{webhook_href}", "webhooks_delete", "Webhooks")
                .summary("Delete a webhook and its deliveries")
                .response(204, Response::Empty),
        ],
    );
    let mut delivery_filters = list_params(&["pulp_created"]);
    for (name, ty) in [("state", FieldType::String), ("event", FieldType::String)] {
        delivery_filters.push(Param::query(name, ty, ""));
    }
    routes.route(
        &format!("{API_ROOT}/webhooks/{{id}}/deliveries/"),
        get(list_deliveries),
        [Operation::new(
            "get",
            "{webhook_href}deliveries/",
            "webhooks_deliveries_list",
            "Webhooks",
        )
        .summary("List the deliveries of a webhook")
        .params(delivery_filters)
        .response(200, Response::Json)],
    );
}

fn href(id: PulpId) -> String {
    format!("{API_ROOT}/webhooks/{id}/")
}

fn render(w: &Webhook) -> Value {
    json!({
        "pulp_href": href(w.pulp_id),
        "prn": format!("prn:core.webhook:{}", w.pulp_id),
        "pulp_created": ts(&w.pulp_created),
        "pulp_last_updated": ts(&w.pulp_last_updated),
        "name": w.name,
        "url": w.url,
        "events": w.events.0,
        "filters": w.filters.0,
        "enabled": w.enabled,
    })
}

fn render_delivery(d: &Delivery) -> Value {
    json!({
        "pulp_id": d.pulp_id.to_string(),
        "pulp_created": ts(&d.pulp_created),
        "webhook": href(d.webhook),
        "event": d.event,
        "state": d.state,
        "attempts": d.attempts,
        "last_status": d.last_status,
        "last_error": d.last_error,
        "last_attempt_at": d.last_attempt_at.as_ref().map(ts),
        "next_attempt_at": d.next_attempt_at.as_ref().map(ts),
        "delivered_at": d.delivered_at.as_ref().map(ts),
        "payload": d.payload.0,
    })
}

/// The fields of a create or update, checked; `base` holds the current values (update).
struct Fields {
    name: String,
    url: String,
    secret: String,
    events: Vec<String>,
    filters: Value,
    enabled: bool,
}

fn strings(field: &str, value: &Value) -> Result<Vec<String>, String> {
    let Some(items) = value.as_array() else {
        return Err(format!("{field}: expected a list of strings"));
    };
    items
        .iter()
        .map(|v| {
            v.as_str()
                .map(String::from)
                .ok_or_else(|| format!("{field}: expected a list of strings"))
        })
        .collect()
}

fn validate(body: &Map<String, Value>, base: Option<&Webhook>) -> Result<Fields, ApiError> {
    let mut errors: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut error = |field: &str, message: String| {
        errors.entry(field.into()).or_default().push(message);
    };
    let text = |key: &str| -> Option<Result<String, ()>> {
        body.get(key)
            .map(|v| v.as_str().map(String::from).ok_or(()))
    };
    let mut name = base.map(|b| b.name.clone()).unwrap_or_default();
    match text("name") {
        Some(Ok(v)) if !v.trim().is_empty() && v.len() <= 255 => name = v,
        Some(_) => error("name", "Enter a name of 1 to 255 characters.".into()),
        None if base.is_none() => error("name", "This field is required.".into()),
        None => {}
    }
    let mut url = base.map(|b| b.url.clone()).unwrap_or_default();
    match text("url") {
        Some(Ok(v)) => match url::Url::parse(&v) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => url = v,
            _ => error("url", "Enter a valid http or https URL.".into()),
        },
        Some(Err(())) => error("url", "Enter a valid http or https URL.".into()),
        None if base.is_none() => error("url", "This field is required.".into()),
        None => {}
    }
    let mut secret = base.map(|b| b.secret.clone()).unwrap_or_default();
    match text("secret") {
        Some(Ok(v)) if v.chars().count() >= MIN_SECRET => secret = v,
        Some(_) => error(
            "secret",
            format!("Ensure this field has at least {MIN_SECRET} characters."),
        ),
        None if base.is_none() => error("secret", "This field is required.".into()),
        None => {}
    }
    let mut events = base.map(|b| b.events.0.clone()).unwrap_or_default();
    match body.get("events").map(|v| strings("events", v)) {
        Some(Ok(list)) if list.is_empty() => {
            error("events", "Subscribe to at least one event.".into())
        }
        Some(Ok(list)) => match list.iter().find(|e| !EVENTS.contains(&e.as_str())) {
            Some(bad) => error(
                "events",
                format!(
                    "\"{bad}\" is not a valid choice; choose from {}.",
                    EVENTS.join(", ")
                ),
            ),
            None => {
                events = list;
                events.dedup();
            }
        },
        Some(Err(_)) => error("events", "Expected a list of event names.".into()),
        None if base.is_none() => error("events", "This field is required.".into()),
        None => {}
    }
    let mut filters = base
        .map(|b| b.filters.0.clone())
        .unwrap_or_else(|| json!({}));
    if let Some(value) = body.get("filters") {
        match value.as_object() {
            Some(map) => {
                let mut clean = Map::new();
                for (key, v) in map {
                    match key.as_str() {
                        "task_names" | "resources" => match strings(key, v) {
                            Ok(list) => {
                                if key == "resources" && list.iter().any(|h| !h.starts_with('/')) {
                                    error("filters", "resources: hrefs start with '/'.".into());
                                }
                                clean.insert(key.clone(), json!(list));
                            }
                            Err(message) => error("filters", message),
                        },
                        other => error(
                            "filters",
                            format!("Unknown filter \"{other}\"; use task_names or resources."),
                        ),
                    }
                }
                filters = Value::Object(clean);
            }
            None => error("filters", "Expected an object.".into()),
        }
    }
    let mut enabled = base.map(|b| b.enabled).unwrap_or(true);
    match body.get("enabled") {
        Some(Value::Bool(b)) => enabled = *b,
        Some(_) => error("enabled", "Must be a valid boolean.".into()),
        None => {}
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    Ok(Fields {
        name,
        url,
        secret,
        events,
        filters,
        enabled,
    })
}

async fn get_webhook(app: &App, id: PulpId) -> Result<Webhook, ApiError> {
    let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM core_webhook WHERE pulp_id = $1");
    let row: Option<Webhook> = crate::on_pool!(app.db(), pool => {
        sqlx::query_as(&sql).bind(id).fetch_optional(pool).await?
    });
    row.ok_or(ApiError::NotFound)
}

async fn name_taken(app: &App, name: &str, except: Option<PulpId>) -> Result<bool, ApiError> {
    let found: Option<PulpId> = crate::on_pool!(app.db(), pool => {
        sqlx::query_scalar("SELECT pulp_id FROM core_webhook WHERE name = $1")
            .bind(name)
            .fetch_optional(pool)
            .await?
    });
    Ok(found.is_some_and(|id| Some(id) != except))
}

fn taken() -> ApiError {
    ApiError::field("name", "webhook with this name already exists.")
}

async fn create_webhook(
    State(app): State<App>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    let body: Map<String, Value> = parse_json(&body)?;
    let fields = validate(&body, None)?;
    if name_taken(&app, &fields.name, None).await? {
        return Err(taken());
    }
    let id = PulpId::new();
    let now = Utc::now();
    let inserted = crate::on_pool!(app.db(), pool => {
        sqlx::query(
            "INSERT INTO core_webhook (pulp_id, pulp_created, pulp_last_updated, name, url, secret, events, filters, enabled)
             VALUES ($1, $2, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (name) DO NOTHING",
        )
        .bind(id)
        .bind(now)
        .bind(&fields.name)
        .bind(&fields.url)
        .bind(&fields.secret)
        .bind(sqlx::types::Json(&fields.events))
        .bind(sqlx::types::Json(&fields.filters))
        .bind(fields.enabled)
        .execute(pool)
        .await?
        .rows_affected()
    });
    if inserted == 0 {
        // Created by a concurrent request between the check and the insert.
        return Err(taken());
    }
    let created = get_webhook(&app, id).await?;
    Ok((StatusCode::CREATED, Json(render(&created))))
}

async fn update(app: App, id: String, body: Bytes, partial: bool) -> Result<Json<Value>, ApiError> {
    let id = path_id(&id)?;
    let current = get_webhook(&app, id).await?;
    let body: Map<String, Value> = parse_json(&body)?;
    // A full update needs every writable field except the secret, which is kept if absent.
    let base = if partial {
        Some(&current)
    } else {
        let missing: Vec<&str> = ["name", "url", "events"]
            .into_iter()
            .filter(|k| !body.contains_key(*k))
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::Validation(
                missing
                    .into_iter()
                    .map(|k| (k.to_string(), vec!["This field is required.".to_string()]))
                    .collect(),
            ));
        }
        Some(&current)
    };
    let fields = validate(&body, base)?;
    if name_taken(&app, &fields.name, Some(id)).await? {
        return Err(taken());
    }
    let result = crate::on_pool!(app.db(), pool => {
        sqlx::query(
            "UPDATE core_webhook SET name = $1, url = $2, secret = $3, events = $4, filters = $5,
                 enabled = $6, pulp_last_updated = $7 WHERE pulp_id = $8",
        )
        .bind(&fields.name)
        .bind(&fields.url)
        .bind(&fields.secret)
        .bind(sqlx::types::Json(&fields.events))
        .bind(sqlx::types::Json(&fields.filters))
        .bind(fields.enabled)
        .bind(Utc::now())
        .bind(id)
        .execute(pool)
        .await
        .map(|_| ())
    });
    match result {
        Ok(()) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Err(taken()),
        Err(e) => return Err(e.into()),
    }
    Ok(Json(render(&get_webhook(&app, id).await?)))
}

async fn patch_webhook(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    update(app, id, body, true).await
}

async fn put_webhook(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<impl IntoResponse, ApiError> {
    update(app, id, body, false).await
}

async fn delete_webhook(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = path_id(&id)?;
    let deleted = crate::on_pool!(app.db(), pool => {
        // Deliveries go with it (also by the foreign key; SQLite enforces it only when
        // foreign keys are on).
        sqlx::query("DELETE FROM core_webhookdelivery WHERE webhook = $1").bind(id).execute(pool).await?;
        sqlx::query("DELETE FROM core_webhook WHERE pulp_id = $1").bind(id).execute(pool).await?.rows_affected()
    });
    if deleted == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn read_webhook(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let id = path_id(&id)?;
    let hook = get_webhook(&app, id).await?;
    Ok(Json(select_fields(render(&hook), raw.as_deref())))
}

async fn list_webhooks(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let mut filter = SqlWhere::new(app.db().backend());
    text_filters(&mut filter, &query, "name", "name", &["", "__contains"]);
    if let Some(raw_enabled) = query.get("enabled") {
        let enabled = super::list::parse_bool("enabled", raw_enabled)?;
        filter.add("enabled = ?", [SqlValue::Bool(Some(enabled))]);
    }
    let order = ordering(
        &query,
        &[("name", "name"), ("pulp_created", "pulp_created")],
        "name",
    )?;
    let n = filter.len();
    let count_sql = format!("SELECT COUNT(*) FROM core_webhook {}", filter.sql());
    let page_sql = format!(
        "SELECT {WEBHOOK_COLUMNS} FROM core_webhook {} {order} LIMIT ${} OFFSET ${}",
        filter.sql(),
        n + 1,
        n + 2
    );
    let (count, rows): (i64, Vec<Webhook>) = crate::on_pool!(app.db(), pool => {
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
        .map(|w| select_fields(render(w), raw.as_deref()))
        .collect();
    let base = format!("{}{API_ROOT}/webhooks/", base_url(&headers));
    Ok(Json(Page::new(results, count, paging, &base, &query)))
}

async fn list_deliveries(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<impl IntoResponse, ApiError> {
    let id = path_id(&id)?;
    get_webhook(&app, id).await?;
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let mut filter = SqlWhere::new(app.db().backend());
    filter.add("webhook = ?", [SqlValue::Id(Some(id))]);
    text_filters(&mut filter, &query, "state", "state", &[""]);
    text_filters(&mut filter, &query, "event", "event", &[""]);
    let order = ordering(
        &query,
        &[("pulp_created", "pulp_created")],
        "pulp_created DESC, pulp_id",
    )?;
    let n = filter.len();
    let count_sql = format!("SELECT COUNT(*) FROM core_webhookdelivery {}", filter.sql());
    let page_sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM core_webhookdelivery {} {order} LIMIT ${} OFFSET ${}",
        filter.sql(),
        n + 1,
        n + 2
    );
    let (count, rows): (i64, Vec<Delivery>) = crate::on_pool!(app.db(), pool => {
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
        .map(|d| select_fields(render_delivery(d), raw.as_deref()))
        .collect();
    let base = format!("{}{}deliveries/", base_url(&headers), href(id));
    Ok(Json(Page::new(results, count, paging, &base, &query)))
}
