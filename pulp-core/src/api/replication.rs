//! `/upstream-pulps/` (CRUD) and `{upstream_pulp_href}replicate/`, which dispatches a
//! replication as a task group. The replication itself is [`crate::replication`]'s.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use chrono::Utc;
use serde_json::{json, Map, Value};

use super::generic::page;
use super::list::{
    in_id_order, ordering, text_filters, time_filters, Page, Paging, QueryParams, SqlWhere,
};
use super::openapi::{field_params, list_params, Operation, RequestBody, Response as Doc};
use super::request::path_id;
use super::timestamp::format as ts;
use super::{base_url, parse_json, select_fields, ApiError, ApiRoutes, API_ROOT};
use crate::app::App;
use crate::db::PulpId;
use crate::replication::records::{self, Policy, UpstreamPulp};
use crate::replication::tasks::{ReplicateArgs, SERVERS_LOCK};
use crate::replication::{ReplicationError, REPLICATE_TASK};
use crate::tasking::{create_task_group, dispatch, mark_group_dispatched, DispatchRequest};

const BASE: &str = "/pulp/api/v3/upstream-pulps/";
const TAG: &str = "Upstream Pulps";
/// The write-only fields (listed in `hidden_fields`).
const SECRETS: [&str; 3] = ["client_key", "username", "password"];
const REMOTE_POLICIES: [&str; 3] = ["immediate", "on_demand", "streamed"];

impl From<ReplicationError> for ApiError {
    fn from(e: ReplicationError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

fn response(u: &UpstreamPulp) -> Value {
    let hidden: Vec<Value> = SECRETS
        .iter()
        .map(|name| {
            let set = match *name {
                "client_key" => u.client_key.is_some(),
                "username" => u.username.is_some(),
                _ => u.password.is_some(),
            };
            json!({"name": name, "is_set": set})
        })
        .collect();
    json!({
        "pulp_href": u.href(),
        "prn": format!("prn:core.upstreampulp:{}", u.pulp_id),
        "pulp_created": ts(&u.pulp_created),
        "pulp_last_updated": ts(&u.pulp_last_updated),
        "name": u.name,
        "base_url": u.base_url,
        "api_root": u.api_root,
        "domain": u.domain,
        "ca_cert": u.ca_cert,
        "client_cert": u.client_cert,
        "tls_validation": u.tls_validation,
        "download_concurrency": u.download_concurrency,
        "max_retries": u.max_retries,
        "total_timeout": u.total_timeout,
        "connect_timeout": u.connect_timeout,
        "sock_connect_timeout": u.sock_connect_timeout,
        "sock_read_timeout": u.sock_read_timeout,
        "remote_policy": u.remote_policy,
        "hidden_fields": hidden,
        "q_select": u.q_select,
        "last_replication": u.last_replication.as_ref().map(ts),
        "policy": u.policy.as_str(),
    })
}

fn object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match parse_json::<Value>(body)? {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::BadRequest("Expected a JSON object.".into())),
    }
}

/// Collects field errors, so that one answer names every bad field.
#[derive(Default)]
struct Errors(std::collections::BTreeMap<String, Vec<String>>);

impl Errors {
    fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_default()
            .push(message.into());
    }
    fn into_result(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

/// A string field: `Some(None)` when null (if `nullable`), `None` when absent.
fn string(
    map: &Map<String, Value>,
    name: &str,
    nullable: bool,
    blank: bool,
    errors: &mut Errors,
) -> Option<Option<String>> {
    match map.get(name)? {
        Value::Null if nullable => Some(None),
        Value::Null => {
            errors.add(name, "This field may not be null.");
            None
        }
        Value::String(s) if s.is_empty() && !blank => {
            errors.add(name, "This field may not be blank.");
            None
        }
        Value::String(s) => Some(Some(s.clone())),
        _ => {
            errors.add(name, "Not a valid string.");
            None
        }
    }
}

fn integer(
    map: &Map<String, Value>,
    name: &str,
    min: Option<i64>,
    errors: &mut Errors,
) -> Option<Option<i64>> {
    match map.get(name)? {
        Value::Null => Some(None),
        v => match v
            .as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        {
            Some(n) if min.is_some_and(|m| n < m) => {
                errors.add(
                    name,
                    format!(
                        "Ensure this value is greater than or equal to {}.",
                        min.unwrap_or(0)
                    ),
                );
                None
            }
            Some(n) => Some(Some(n)),
            None => {
                errors.add(name, "A valid integer is required.");
                None
            }
        },
    }
}

fn seconds(map: &Map<String, Value>, name: &str, errors: &mut Errors) -> Option<Option<f64>> {
    match map.get(name)? {
        Value::Null => Some(None),
        v => match v
            .as_f64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        {
            Some(n) if !n.is_finite() || n < 0.0 => {
                errors.add(name, "Ensure this value is greater than or equal to 0.0.");
                None
            }
            Some(n) => Some(Some(n)),
            None => {
                errors.add(name, "A valid number is required.");
                None
            }
        },
    }
}

fn boolean(map: &Map<String, Value>, name: &str, errors: &mut Errors) -> Option<bool> {
    match map.get(name)? {
        Value::Bool(b) => Some(*b),
        Value::String(s) if matches!(s.as_str(), "true" | "True" | "1") => Some(true),
        Value::String(s) if matches!(s.as_str(), "false" | "False" | "0") => Some(false),
        _ => {
            errors.add(name, "Must be a valid boolean.");
            None
        }
    }
}

/// Checks a `q` expression as the upstream's distribution list would (syntax and filter
/// names); a bad one is a 400 on `field`.
async fn check_q(app: &App, field: &str, q: &str) -> Result<(), ApiError> {
    let mut filter = SqlWhere::new(app.db().backend());
    let query = QueryParams::from_pairs(vec![("q".to_string(), q.to_string())]);
    let checked = super::generic::apply_q(&mut filter, &query, |mut f, q| {
        let app = app.clone();
        async move {
            super::generic::common_filters(&app, &mut f, &q, "core_distribution")?;
            Ok(f)
        }
    })
    .await;
    match checked {
        Ok(()) => Ok(()),
        Err(ApiError::Validation(fields)) => Err(ApiError::Validation(
            [(field.to_string(), fields.into_values().flatten().collect())].into(),
        )),
        Err(e) => Err(e),
    }
}

/// Applies a body to `u` (all required fields present unless `partial`).
async fn apply(
    app: &App,
    u: &mut UpstreamPulp,
    map: &Map<String, Value>,
    partial: bool,
) -> Result<(), ApiError> {
    let mut errors = Errors::default();
    for required in ["name", "base_url", "api_root"] {
        if !partial && map.get(required).is_none_or(Value::is_null) {
            errors.add(required, "This field is required.");
        }
    }
    if let Some(Some(v)) = string(map, "name", false, false, &mut errors) {
        u.name = v;
    }
    if let Some(Some(v)) = string(map, "base_url", false, false, &mut errors) {
        match url::Url::parse(&v) {
            Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => u.base_url = v,
            _ => errors.add("base_url", "Enter a valid URL (http or https)."),
        }
    }
    if let Some(Some(v)) = string(map, "api_root", false, false, &mut errors) {
        u.api_root = v;
    }
    if let Some(v) = string(map, "domain", true, false, &mut errors) {
        u.domain = v;
    }
    if let Some(v) = string(map, "ca_cert", true, false, &mut errors) {
        u.ca_cert = v;
    }
    if let Some(v) = string(map, "client_cert", true, false, &mut errors) {
        u.client_cert = v;
    }
    if let Some(v) = string(map, "client_key", true, false, &mut errors) {
        u.client_key = v;
    }
    if let Some(v) = string(map, "username", true, false, &mut errors) {
        u.username = v;
    }
    if let Some(v) = string(map, "password", true, false, &mut errors) {
        u.password = v;
    }
    if let Some(v) = boolean(map, "tls_validation", &mut errors) {
        u.tls_validation = v;
    }
    if let Some(v) = integer(map, "download_concurrency", Some(1), &mut errors) {
        u.download_concurrency = v;
    }
    if let Some(v) = integer(map, "max_retries", Some(0), &mut errors) {
        u.max_retries = v;
    }
    if let Some(v) = seconds(map, "total_timeout", &mut errors) {
        u.total_timeout = v;
    }
    if let Some(v) = seconds(map, "connect_timeout", &mut errors) {
        u.connect_timeout = v;
    }
    if let Some(v) = seconds(map, "sock_connect_timeout", &mut errors) {
        u.sock_connect_timeout = v;
    }
    if let Some(v) = seconds(map, "sock_read_timeout", &mut errors) {
        u.sock_read_timeout = v;
    }
    if let Some(v) = string(map, "remote_policy", true, false, &mut errors) {
        match v {
            Some(p) if !REMOTE_POLICIES.contains(&p.as_str()) => {
                errors.add("remote_policy", format!("\"{p}\" is not a valid choice."))
            }
            other => u.remote_policy = other,
        }
    }
    if let Some(v) = string(map, "policy", false, false, &mut errors) {
        match v.as_deref().and_then(Policy::parse) {
            Some(p) => u.policy = p,
            None => errors.add(
                "policy",
                format!("\"{}\" is not a valid choice.", v.unwrap_or_default()),
            ),
        }
    }
    if let Some(v) = string(map, "q_select", true, true, &mut errors) {
        u.q_select = v;
    }
    if (u.client_cert.is_some()) != (u.client_key.is_some())
        && (map.contains_key("client_cert") || map.contains_key("client_key"))
    {
        errors.add(
            "non_field_errors",
            "client_cert and client_key must be given together.",
        );
    }
    errors.into_result()?;
    if let Some(q) = u.q_select.as_deref().filter(|q| !q.is_empty()) {
        check_q(app, "q_select", q).await?;
    }
    Ok(())
}

async fn save(app: &App, u: &UpstreamPulp) -> Result<(), ApiError> {
    match records::save(app.db(), u).await {
        Err(e) if records::is_name_taken(&e) => {
            Err(ApiError::field("name", "This field must be unique."))
        }
        other => Ok(other?),
    }
}

async fn existing(app: &App, raw: &str) -> Result<UpstreamPulp, ApiError> {
    records::get(app.db(), path_id(raw)?)
        .await?
        .ok_or(ApiError::NotFound)
}

async fn create(State(app): State<App>, body: Bytes) -> Result<Response, ApiError> {
    let map = object(&body)?;
    let mut u = UpstreamPulp::new("", "");
    apply(&app, &mut u, &map, false).await?;
    save(&app, &u).await?;
    let object = crate::rbac::ObjectRef {
        content_type: "core.upstreampulp".into(),
        object_id: u.pulp_id.to_string(),
    };
    crate::rbac::object_created(app.db(), "upstream-pulps", &object).await?;
    Ok((StatusCode::CREATED, Json(response(&u))).into_response())
}

async fn read(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let u = existing(&app, &id).await?;
    Ok(Json(select_fields(response(&u), raw.as_deref())).into_response())
}

async fn change(app: App, id: String, body: Bytes, partial: bool) -> Result<Response, ApiError> {
    let mut u = existing(&app, &id).await?;
    let map = object(&body)?;
    apply(&app, &mut u, &map, partial).await?;
    u.pulp_last_updated = Utc::now();
    save(&app, &u).await?;
    Ok(Json(response(&u)).into_response())
}

async fn update(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    change(app, id, body, false).await
}

async fn partial_update(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    change(app, id, body, true).await
}

async fn destroy(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let u = existing(&app, &id).await?;
    records::delete(app.db(), u.pulp_id).await?;
    crate::rbac::forget_object(app.db(), &u.pulp_id.to_string()).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

const ORDERING: &[(&str, &str)] = &[
    ("pk", "m.pulp_id"),
    ("pulp_id", "m.pulp_id"),
    ("pulp_created", "m.pulp_created"),
    ("pulp_last_updated", "m.pulp_last_updated"),
    ("name", "m.name"),
    ("base_url", "m.base_url"),
    ("api_root", "m.api_root"),
    ("last_replication", "m.last_replication"),
    ("policy", "m.policy"),
];

fn reference(reference: &str) -> Option<PulpId> {
    super::list::core_object_reference(reference, "upstreampulp", "upstream-pulps")
}

async fn list(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    scope: Option<axum::Extension<super::authorize::ListScope>>,
) -> Result<Response, ApiError> {
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let mut filter = SqlWhere::new(app.db().backend());
    super::authorize::scope_list(scope.as_deref(), &mut filter, "m.pulp_id");
    let lookups = &[
        "",
        "__contains",
        "__icontains",
        "__iexact",
        "__in",
        "__startswith",
        "__istartswith",
    ];
    text_filters(&mut filter, &query, "name", "m.name", lookups);
    text_filters(&mut filter, &query, "base_url", "m.base_url", lookups);
    time_filters(
        &mut filter,
        &query,
        "last_replication",
        "m.last_replication",
    )?;
    if let Some(v) = query.get("last_replication__isnull") {
        match v {
            "true" | "True" | "1" => filter.add("m.last_replication IS NULL", []),
            "false" | "False" | "0" => filter.add("m.last_replication IS NOT NULL", []),
            _ => {
                return Err(ApiError::field(
                    "last_replication__isnull",
                    "Enter a valid boolean.",
                ))
            }
        }
    }
    super::list::reference_filters(&mut filter, &query, reference, super::list::BadIds::Ignore)?;
    let order = ordering(&query, ORDERING, "m.pulp_created DESC, m.pulp_id")?;
    let app = &app;
    let (count, results) = page(
        app,
        "core_upstreampulp m",
        &filter,
        &order,
        paging,
        |ids| async move {
            let found = records::get_many(app.db(), &ids).await?;
            Ok(in_id_order(&ids, found, |u| u.pulp_id)
                .iter()
                .map(|u| select_fields(response(u), raw.as_deref()))
                .collect::<Vec<Value>>())
        },
    )
    .await?;
    let base = format!("{}{BASE}", base_url(&headers));
    Ok(Json(Page::new(results, count, paging, &base, &query)).into_response())
}

async fn replicate(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let u = existing(&app, &id).await?;
    let map = object(&body)?;
    let mut errors = Errors::default();
    let q_select = string(&map, "q_select", true, true, &mut errors).flatten();
    errors.into_result()?;
    let q_select = q_select.filter(|q| !q.is_empty());
    if let Some(q) = &q_select {
        check_q(&app, "q_select", q).await?;
    }
    let group = create_task_group(app.db(), &format!("Replication of {}", u.name)).await?;
    let args = ReplicateArgs {
        server_pk: u.pulp_id,
        q_select,
        task_group: group,
    };
    let args = serde_json::to_value(&args).map_err(|e| ApiError::Internal(e.to_string()))?;
    let dispatched = dispatch(
        &app,
        DispatchRequest::new(REPLICATE_TASK)
            .args(args)
            .exclusive([SERVERS_LOCK])
            .shared([u.href()])
            .task_group(group),
    )
    .await;
    if let Err(e) = dispatched {
        let _ = mark_group_dispatched(app.db(), group).await;
        return Err(e.into());
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"task_group": format!("{API_ROOT}/task-groups/{group}/")})),
    )
        .into_response())
}

fn schemas(routes: &mut ApiRoutes) {
    let nullable = |description: &str| json!({"type": ["string", "null"], "minLength": 1, "description": description});
    let secret = |description: &str| json!({"type": ["string", "null"], "minLength": 1, "writeOnly": true, "description": description});
    let number = json!({"type": ["number", "null"], "format": "double", "minimum": 0.0});
    let writable = json!({
        "name": {"type": "string", "minLength": 1, "description": "A unique name for this Pulp server."},
        "base_url": {"type": "string", "minLength": 1, "description": "The transport, hostname, and an optional port of the Pulp server. e.g. https://example.com"},
        "api_root": {"type": "string", "minLength": 1, "description": "The API root. Defaults to '/pulp/'."},
        "domain": nullable("The domain of the Pulp server if enabled."),
        "ca_cert": nullable("A PEM encoded CA certificate used to validate the server certificate presented by the remote server."),
        "client_cert": nullable("A PEM encoded client certificate used for authentication."),
        "client_key": secret("A PEM encoded private key used for authentication."),
        "tls_validation": {"type": "boolean", "description": "If True, TLS peer validation must be performed."},
        "username": secret("The username to be used for authentication when syncing."),
        "password": secret("The password to be used for authentication when syncing."),
        "download_concurrency": {"type": ["integer", "null"], "format": "int64", "minimum": 1},
        "max_retries": {"type": ["integer", "null"], "format": "int64"},
        "total_timeout": number,
        "connect_timeout": number,
        "sock_connect_timeout": number,
        "sock_read_timeout": number,
        "remote_policy": {"type": ["string", "null"], "enum": ["immediate", "on_demand", "streamed", null], "description": "Download policy for remotes created during replication (unset: on_demand)."},
        "q_select": {"type": ["string", "null"], "description": "Filter distributions on the upstream Pulp using complex filtering. E.g. pulp_label_select=\"foo\" OR pulp_label_select=\"key=val\""},
        "policy": {"type": "string", "enum": ["all", "labeled", "nodelete"], "description": "Policy for how replicate will manage the local objects within the domain."},
    });
    let mut read = Map::new();
    for (k, v) in [
        (
            "pulp_href",
            json!({"type": "string", "format": "uri", "readOnly": true}),
        ),
        ("prn", json!({"type": "string", "readOnly": true})),
        (
            "pulp_created",
            json!({"type": "string", "format": "date-time", "readOnly": true}),
        ),
        (
            "pulp_last_updated",
            json!({"type": "string", "format": "date-time", "readOnly": true}),
        ),
    ] {
        read.insert(k.into(), v);
    }
    if let Value::Object(w) = &writable {
        for (k, v) in w {
            if !SECRETS.contains(&k.as_str()) {
                read.insert(k.clone(), v.clone());
            }
        }
    }
    read.insert("hidden_fields".into(), json!({"type": "array", "readOnly": true, "items": {"type": "object", "properties": {"name": {"type": "string"}, "is_set": {"type": "boolean"}}, "required": ["is_set", "name"]}}));
    read.insert(
        "last_replication".into(),
        json!({"type": ["string", "null"], "format": "date-time", "readOnly": true}),
    );
    routes.raw_schema(
        "UpstreamPulp",
        json!({"type": "object", "properties": writable, "required": ["api_root", "base_url", "name"]}),
    );
    routes.raw_schema(
        "PatchedUpstreamPulp",
        json!({"type": "object", "properties": writable}),
    );
    routes.raw_schema(
        "UpstreamPulpResponse",
        json!({"type": "object", "properties": read, "required": ["api_root", "base_url", "name"]}),
    );
    routes.raw_schema(
        "UpstreamPulpReplicate",
        json!({"type": "object", "properties": {"q_select": {"type": ["string", "null"]}}}),
    );
    routes.raw_schema(
        "PaginatedUpstreamPulpResponseList",
        json!({
            "type": "object", "required": ["count", "results"],
            "properties": {
                "count": {"type": "integer"},
                "next": {"type": ["string", "null"], "format": "uri"},
                "previous": {"type": ["string", "null"], "format": "uri"},
                "results": {"type": "array", "items": {"$ref": "#/components/schemas/UpstreamPulpResponse"}},
            },
        }),
    );
    routes.raw_schema(
        "TaskGroupOperationResponse",
        json!({"type": "object", "properties": {
        "task_group": {"type": "string", "format": "uri"}}, "required": ["task_group"]}),
    );
}

/// Mounts `/upstream-pulps/`, documented.
pub(crate) fn mount(routes: &mut ApiRoutes) {
    schemas(routes);
    let href = "{upstream_pulp_href}";
    let mut filters = super::openapi::name_params();
    filters.extend(
        [
            "",
            "__contains",
            "__icontains",
            "__iexact",
            "__in",
            "__startswith",
            "__istartswith",
        ]
        .iter()
        .map(|lookup| {
            let kind = if *lookup == "__in" {
                super::openapi::FieldType::StringList
            } else {
                super::openapi::FieldType::String
            };
            super::openapi::Param::query(
                &format!("base_url{lookup}"),
                kind,
                "Filter results where base_url matches value",
            )
        }),
    );
    filters.extend(super::openapi::time_params("last_replication"));
    routes.route(
        BASE,
        get(list).post(create),
        [
            Operation::new("get", BASE, "upstream_pulps_list", TAG)
                .summary("List upstream pulps")
                .params(list_params(&[
                    "name",
                    "base_url",
                    "pulp_created",
                    "last_replication",
                ]))
                .params(filters)
                .response(200, Doc::Schema("PaginatedUpstreamPulpResponseList".into())),
            Operation::new("post", BASE, "upstream_pulps_create", TAG)
                .summary("Create an upstream pulp")
                .body(RequestBody::Schema("UpstreamPulp".into()))
                .response(201, Doc::Schema("UpstreamPulpResponse".into())),
        ],
    );
    routes.route(
        &format!("{BASE}{{id}}/"),
        get(read).put(update).patch(partial_update).delete(destroy),
        [
            Operation::new("get", href, "upstream_pulps_read", TAG)
                .summary("Inspect an upstream pulp")
                .params(field_params())
                .response(200, Doc::Schema("UpstreamPulpResponse".into())),
            Operation::new("put", href, "upstream_pulps_update", TAG)
                .summary("Update an upstream pulp")
                .body(RequestBody::Schema("UpstreamPulp".into()))
                .response(200, Doc::Schema("UpstreamPulpResponse".into())),
            Operation::new("patch", href, "upstream_pulps_partial_update", TAG)
                .summary("Update an upstream pulp")
                .body(RequestBody::Schema("PatchedUpstreamPulp".into()))
                .response(200, Doc::Schema("UpstreamPulpResponse".into())),
            Operation::new("delete", href, "upstream_pulps_delete", TAG)
                .summary("Delete an upstream pulp")
                .response(204, Doc::Empty),
        ],
    );
    let replicate_path = format!("{href}replicate/");
    routes.route(
        &format!("{BASE}{{id}}/replicate/"),
        post(replicate),
        [
            Operation::new("post", &replicate_path, "upstream_pulps_replicate", TAG)
                .summary("Replicate")
                .body(RequestBody::Schema("UpstreamPulpReplicate".into()))
                .response(202, Doc::Schema("TaskGroupOperationResponse".into())),
        ],
    );
}
