//! Create, read, update, delete and labels of any detail type, as routes and as the
//! `general_*` tasks Pulp runs them in.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures::future::BoxFuture;
use serde_json::{json, Value};

use super::body::{body_object, parse_parts};
use super::kinds::kind_info;
use super::render::render;
use crate::api::list::{
    ordering, text_filters, time_filters, Page, Paging, QueryParams, SqlValue, SqlWhere,
};
use crate::api::request::path_id;
use crate::api::{base_url, parse_json, select_fields, ApiError, API_ROOT};
use crate::app::App;
use crate::db::PulpId;
use crate::models::{self, Detail, MasterKind, Model};
use crate::tasking::{dispatch, DispatchRequest, Task, TaskContext, TaskError, TaskOutput};

/// Task names of the generic operations (Pulp's).
pub const GENERAL_CREATE: &str = "pulpcore.app.tasks.base.general_create";
/// See [`GENERAL_CREATE`].
pub const GENERAL_UPDATE: &str = "pulpcore.app.tasks.base.general_update";
/// See [`GENERAL_CREATE`].
pub const GENERAL_DELETE: &str = "pulpcore.app.tasks.base.general_delete";

/// The future of a type-erased operation.
pub type OpFuture = BoxFuture<'static, Result<Value, ApiError>>;

/// The future of type-erased rendering: the responses of several objects.
pub type RenderFuture = BoxFuture<'static, Result<Vec<Value>, ApiError>>;

/// The generic operations of one detail type, callable without knowing the type (what the
/// `general_*` tasks run).
#[derive(Clone, Copy)]
pub struct DetailOps {
    /// Creates from a body; the response of the new object.
    pub create: fn(App, Value) -> OpFuture,
    /// Updates object `id` from a body (`partial` for PATCH); its response.
    pub update: fn(App, PulpId, Value, bool) -> OpFuture,
    /// Deletes object `id`.
    pub delete: fn(App, PulpId) -> OpFuture,
    /// The responses of objects `ids` (in that order; missing ones left out).
    pub render: fn(App, Vec<PulpId>) -> RenderFuture,
}

impl std::fmt::Debug for DetailOps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DetailOps")
    }
}

impl DetailOps {
    /// The operations of `T`.
    pub fn of<T: Detail>() -> Self {
        Self {
            create: |app, body| Box::pin(async move { create_now::<T>(&app, body).await }),
            update: |app, id, body, partial| {
                Box::pin(async move { update_now::<T>(&app, id, body, partial).await })
            },
            delete: |app, id| {
                Box::pin(async move {
                    models::delete::<T::Kind>(app.db(), id).await?;
                    served_objects_changed::<T>(&app);
                    Ok(Value::Null)
                })
            },
            render: |app, ids| {
                Box::pin(async move {
                    let models = models::get_many::<T>(app.db(), &ids).await?;
                    render(&app, &models).await
                })
            },
        }
    }
}

async fn create_now<T: Detail>(app: &App, body: Value) -> Result<Value, ApiError> {
    remote_url_allowed::<T>(app, &body)?;
    let (labels, fields, detail) = parse_parts::<T>(app, body, None, false).await?;
    let model = models::create::<T>(app.db(), labels, fields, detail).await?;
    served_objects_changed::<T>(app);
    single(app, &model).await
}

/// A change to what the content app serves is seen by this process at once (others see it
/// when their cache expires).
fn served_objects_changed<T: Detail>(app: &App) {
    let table = <T::Kind as MasterKind>::TABLE;
    if matches!(
        table,
        "core_distribution" | "core_publication" | "core_repository" | "core_contentguard"
    ) {
        app.served_objects_changed();
    }
}

async fn update_now<T: Detail>(
    app: &App,
    id: PulpId,
    body: Value,
    partial: bool,
) -> Result<Value, ApiError> {
    remote_url_allowed::<T>(app, &body)?;
    let model = models::get::<T>(app.db(), id).await?;
    let (labels, fields, detail) = parse_parts::<T>(app, body, Some(&model), partial).await?;
    let mut model = model;
    model.master.pulp_labels = labels;
    model.master.fields = fields;
    model.detail = detail;
    let model = models::update::<T>(app.db(), model).await?;
    served_objects_changed::<T>(app);
    single(app, &model).await
}

/// The response of one model.
pub async fn single<T: Detail>(app: &App, model: &Model<T>) -> Result<Value, ApiError> {
    render(app, std::slice::from_ref(model))
        .await?
        .pop()
        .ok_or_else(|| ApiError::Internal("rendering produced nothing".into()))
}

/// `202 {"task": href}`.
pub fn task_response(task: &Task) -> Response {
    (
        StatusCode::ACCEPTED,
        Json(json!({ "task": format!("{API_ROOT}/tasks/{}/", task.pulp_id) })),
    )
        .into_response()
}

/// The id in a path, if an object of type `T` has it.
pub async fn existing<T: Detail>(app: &App, raw: &str) -> Result<Model<T>, ApiError> {
    Ok(models::get::<T>(app.db(), path_id(raw)?).await?)
}

/// The resource string tasks reserve for object `id` of type `T` (its href).
pub fn resource<T: Detail>(id: PulpId) -> String {
    models::href::<T>(id)
}

/// The list handler of `T`.
pub async fn list<T: Detail>(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    scope: Option<axum::Extension<crate::api::authorize::ListScope>>,
) -> Result<Response, ApiError> {
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let table = <T::Kind as MasterKind>::TABLE;
    let mut filter = SqlWhere::new(app.db().backend());
    filter.add(
        "m.pulp_type = ?",
        [SqlValue::Text(Some(T::PULP_TYPE.into()))],
    );
    crate::api::authorize::scope_list(scope.as_deref(), &mut filter, "m.pulp_id");
    let mut filter = type_filters::<T>(app.clone(), filter, query.clone()).await?;
    super::q::apply_q(&mut filter, &query, |f, q| {
        type_filters::<T>(app.clone(), f, q)
    })
    .await?;
    let order = ordering(
        &query,
        &ordering_columns(table),
        "m.pulp_created, m.pulp_id",
    )?;
    // The detail table is joined only when a filter or the ordering reads it.
    let needs_detail = T::API_FILTERS
        .iter()
        .any(|(param, _)| query.has_prefix(param))
        || order.contains("d.")
        || query.get("q").is_some();
    let from = if needs_detail {
        format!("{table} m JOIN {} d ON d.pulp_id = m.pulp_id", T::TABLE)
    } else {
        format!("{table} m")
    };
    let app = &app;
    let (count, rendered) = page(app, &from, &filter, &order, paging, |ids| async move {
        let models = models::get_many::<T>(app.db(), &ids).await?;
        render(app, &models).await
    })
    .await?;
    let results: Vec<Value> = rendered
        .into_iter()
        .map(|v| select_fields(v, raw.as_deref()))
        .collect();
    let base = format!(
        "{}{API_ROOT}/{}/{}/",
        base_url(&headers),
        <T::Kind as MasterKind>::ENDPOINT,
        T::ENDPOINT
    );
    Ok(Json(Page::new(results, count, paging, &base, &query)).into_response())
}

/// Every filter of `T`'s list that `query` names, added to `filter`.
async fn type_filters<T: Detail>(
    app: App,
    mut filter: SqlWhere,
    query: QueryParams,
) -> Result<SqlWhere, ApiError> {
    let table = <T::Kind as MasterKind>::TABLE;
    common_filters(&app, &mut filter, &query, table)?;
    for (param, column) in T::API_FILTERS {
        text_filters(
            &mut filter,
            &query,
            param,
            &format!("d.{column}"),
            &["", "__in", "__contains"],
        );
        crate::api::list::regex_filters(&mut filter, &query, param, &format!("d.{column}"))?;
    }
    if table == "core_content" {
        super::content::version_filters(&app, &mut filter, &query).await?;
    }
    if table == "core_publication" {
        publication_filters(&app, &mut filter, &query).await?;
    }
    Ok(filter)
}

/// Filters every list of masters has: name lookups, hrefs/ids/PRNs, timestamps.
pub fn common_filters(
    app: &App,
    filter: &mut SqlWhere,
    query: &QueryParams,
    table: &str,
) -> Result<(), ApiError> {
    if kind_info(table).named {
        text_filters(
            filter,
            query,
            "name",
            "m.name",
            crate::api::list::TEXT_LOOKUPS,
        );
        crate::api::list::regex_filters(filter, query, "name", "m.name")?;
        if let Some(v) = query.get("name__istartswith") {
            filter.add(
                "LOWER(m.name) LIKE ? ESCAPE '\\'",
                [SqlValue::Text(Some(format!(
                    "{}%",
                    crate::api::list::escape_like(&v.to_lowercase())
                )))],
            );
        }
    }
    if table == "core_distribution" {
        text_filters(
            filter,
            query,
            "base_path",
            "m.base_path",
            &["", "__contains", "__icontains", "__in"],
        );
    }
    crate::api::list::reference_filters(
        filter,
        query,
        |reference| super::refs::parse_master(app, reference, table),
        crate::api::list::BadIds::Ignore,
    )?;
    time_filters(filter, query, "pulp_created", "m.pulp_created")?;
    time_filters(filter, query, "pulp_last_updated", "m.pulp_last_updated")?;
    if let Some(types) = Some(query.list("pulp_type__in")).filter(|t| !t.is_empty()) {
        filter.add_in(
            "m.pulp_type",
            types.into_iter().map(|v| SqlValue::Text(Some(v))).collect(),
        );
    }
    label_filter(app, filter, query)?;
    Ok(())
}

/// `pulp_label_select=key=value,other,!absent` (Pulp's label selector; `~` is "contains").
fn label_filter(app: &App, filter: &mut SqlWhere, query: &QueryParams) -> Result<(), ApiError> {
    let Some(select) = query.get("pulp_label_select") else {
        return Ok(());
    };
    let postgres = app.db().backend() == crate::db::Backend::Postgres;
    let value_of = |key_bind: &str| {
        if postgres {
            format!("(m.pulp_labels ->> {key_bind})")
        } else {
            format!("json_extract(m.pulp_labels, '$.\"' || {key_bind} || '\"')")
        }
    };
    let has_key = |key_bind: &str| {
        if postgres {
            format!("jsonb_exists(m.pulp_labels, {key_bind})")
        } else {
            format!(
                "EXISTS (SELECT 1 FROM json_each(m.pulp_labels) WHERE json_each.key = {key_bind})"
            )
        }
    };
    for term in select.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        if let Some((key, value)) = term.split_once("!=") {
            let clause = format!("({} IS NULL OR {} <> ?)", value_of("?"), value_of("?"));
            filter.add(
                &clause,
                [
                    SqlValue::Text(Some(key.trim().into())),
                    SqlValue::Text(Some(key.trim().into())),
                    SqlValue::Text(Some(value.trim().into())),
                ],
            );
        } else if let Some((key, value)) = term.split_once("~") {
            let clause = format!("{} LIKE ?", value_of("?"));
            filter.add(
                &clause,
                [
                    SqlValue::Text(Some(key.trim().into())),
                    SqlValue::Text(Some(format!("%{}%", value.trim()))),
                ],
            );
        } else if let Some((key, value)) = term.split_once('=') {
            let clause = format!("{} = ?", value_of("?"));
            filter.add(
                &clause,
                [
                    SqlValue::Text(Some(key.trim().into())),
                    SqlValue::Text(Some(value.trim().into())),
                ],
            );
        } else if let Some(key) = term.strip_prefix('!') {
            let clause = format!("NOT {}", has_key("?"));
            filter.add(&clause, [SqlValue::Text(Some(key.trim().into()))]);
        } else {
            // The key is present, with a value or without (`null`).
            filter.add(&has_key("?"), [SqlValue::Text(Some(term.into()))]);
        }
    }
    Ok(())
}

async fn publication_filters(
    app: &App,
    filter: &mut SqlWhere,
    query: &QueryParams,
) -> Result<(), ApiError> {
    if let Some(v) = query.get("repository_version") {
        let id = super::refs::resolve(app, "repository_version", v, super::kinds::Target::Version)
            .await?;
        filter.add("m.repository_version_id = ?", [SqlValue::Id(Some(id))]);
    }
    if let Some(r) = query.get("repository") {
        let id = super::refs::parse_master(app, r, "core_repository")
            .ok_or_else(|| ApiError::field("repository", "Invalid hyperlink - No URL match."))?;
        filter.add(
            "m.repository_version_id IN (SELECT pulp_id FROM core_repositoryversion WHERE repository_id = ?)",
            [SqlValue::Id(Some(id))],
        );
    }
    Ok(())
}

/// The orderings a kind's lists accept.
pub fn ordering_columns(table: &str) -> Vec<(&'static str, &'static str)> {
    let mut columns = vec![
        ("pulp_id", "m.pulp_id"),
        ("pk", "m.pulp_id"),
        ("pulp_created", "m.pulp_created"),
        ("pulp_last_updated", "m.pulp_last_updated"),
        ("pulp_type", "m.pulp_type"),
    ];
    if kind_info(table).named {
        columns.push(("name", "m.name"));
    }
    if table == "core_distribution" {
        columns.push(("base_path", "m.base_path"));
    }
    columns
}

/// One page of `SELECT m.pulp_id FROM <from> <filter> <order>`, turned into results by
/// `load`, and the total of the list, counted meanwhile on another connection: a list's
/// exact `COUNT(*)` walks every matching row and is most of the time of a page of a big
/// table, and nothing on the page depends on it.
pub async fn page<R, F, Fut>(
    app: &App,
    from: &str,
    filter: &SqlWhere,
    order: &str,
    paging: Paging,
    load: F,
) -> Result<(i64, R), ApiError>
where
    F: FnOnce(Vec<PulpId>) -> Fut,
    Fut: std::future::Future<Output = Result<R, ApiError>>,
{
    let rows = async {
        let ids = page_of_ids(app, from, filter, order, paging).await?;
        load(ids).await
    };
    tokio::try_join!(count_rows(app, from, filter), rows)
}

/// `SELECT COUNT(*) FROM <from> <filter>`.
async fn count_rows(app: &App, from: &str, filter: &SqlWhere) -> Result<i64, ApiError> {
    let sql = format!("SELECT COUNT(*) FROM {from} {}", filter.sql());
    let count = crate::on_pool!(app.db(), pool => {
        crate::bind_values!(sqlx::query_scalar(&sql), filter.values()).fetch_one(pool).await?
    });
    Ok(count)
}

/// The ids of one page of `SELECT m.pulp_id FROM <from> <filter> <order>`.
async fn page_of_ids(
    app: &App,
    from: &str,
    filter: &SqlWhere,
    order: &str,
    paging: Paging,
) -> Result<Vec<PulpId>, ApiError> {
    let n = filter.len();
    let sql = format!(
        "SELECT m.pulp_id FROM {from} {} {order} LIMIT ${} OFFSET ${}",
        filter.sql(),
        n + 1,
        n + 2
    );
    let ids = crate::on_pool!(app.db(), pool => {
        crate::bind_values!(sqlx::query_scalar(&sql), filter.values())
            .bind(paging.limit)
            .bind(paging.offset)
            .fetch_all(pool)
            .await?
    });
    Ok(ids)
}

/// The read handler of `T`.
pub async fn read<T: Detail>(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let model = existing::<T>(&app, &id).await?;
    let value = single(&app, &model).await?;
    Ok(Json(select_fields(value, raw.as_deref())).into_response())
}

/// Checks what a body can be checked for before a task runs it: the body parses, validates
/// and its name is free.
async fn precheck<T: Detail>(
    app: &App,
    body: &Value,
    base: Option<&Model<T>>,
    partial: bool,
) -> Result<(), ApiError> {
    let (labels, fields, detail) = parse_parts::<T>(app, body.clone(), base, partial).await?;
    let mut errors = crate::validation::ValidationErrors::new();
    crate::validation::Validate::validate(&fields, &mut errors);
    crate::validation::Validate::validate(&detail, &mut errors);
    let _ = labels;
    errors.into_result()?;
    let table = <T::Kind as MasterKind>::TABLE;
    if kind_info(table).named {
        if let Some(Value::String(name)) = body.get("name") {
            let sql = format!("SELECT COUNT(*) FROM {table} WHERE name = $1 AND pulp_id <> $2");
            let other = base
                .map(|b| b.pulp_id())
                .unwrap_or(PulpId(uuid::Uuid::nil()));
            let n: i64 = crate::on_pool!(app.db(), pool => {
                sqlx::query_scalar(&sql).bind(name.clone()).bind(other).fetch_one(pool).await?
            });
            if n > 0 {
                return Err(ApiError::field("name", "This field must be unique."));
            }
        }
    }
    if table == "core_distribution" {
        if let Some(Value::String(base_path)) = body.get("base_path") {
            crate::content_app::check_base_path(app.db(), base_path, base.map(|b| b.pulp_id()))
                .await?;
        }
    }
    Ok(())
}

fn remote_url_allowed<T: Detail>(app: &App, body: &Value) -> Result<(), ApiError> {
    if <T::Kind as MasterKind>::TABLE == "core_remote" {
        if let Some(Value::String(url)) = body.get("url") {
            check_file_url(app, url)?;
        }
    }
    Ok(())
}

/// A `file://` remote URL must name an absolute path below `allowed_import_paths`, as
/// pulpcore requires (a remote could otherwise read any file of the server).
fn check_file_url(app: &App, url: &str) -> Result<(), ApiError> {
    let Some(path) = url
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("file://"))
        .map(|_| &url[7..])
    else {
        return Ok(());
    };
    let path = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    crate::importexport::allowed_path(app.settings(), crate::importexport::PathKind::Import, &path)
        .map(|_| ())
        .map_err(|e| ApiError::field("url", e.to_string()))
}

/// The create handler of `T` (201, or 202 and a task for kinds Pulp creates in tasks).
pub async fn create<T: Detail>(State(app): State<App>, body: Bytes) -> Result<Response, ApiError> {
    let body: Value = parse_json(&body)?;
    body_object(body.clone())?;
    let table = <T::Kind as MasterKind>::TABLE;
    if kind_info(table).async_create {
        precheck::<T>(&app, &body, None, false).await?;
        let task = dispatch(
            &app,
            DispatchRequest::new(GENERAL_CREATE)
                .args(json!({"table": table, "pulp_type": T::PULP_TYPE, "data": body}))
                .exclusive([format!("{API_ROOT}/{}/", <T::Kind as MasterKind>::ENDPOINT)])
                .immediate(true),
        )
        .await?;
        return Ok(task_response(&task));
    }
    let value = create_now::<T>(&app, body).await?;
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

async fn change<T: Detail>(
    app: App,
    id: String,
    body: Bytes,
    partial: bool,
) -> Result<Response, ApiError> {
    let model = existing::<T>(&app, &id).await?;
    let body: Value = parse_json(&body)?;
    body_object(body.clone())?;
    let table = <T::Kind as MasterKind>::TABLE;
    if kind_info(table).async_change {
        precheck::<T>(&app, &body, Some(&model), partial).await?;
        let task = dispatch(
            &app,
            DispatchRequest::new(GENERAL_UPDATE)
                .args(json!({
                    "table": table, "pulp_type": T::PULP_TYPE, "id": model.pulp_id(),
                    "data": body, "partial": partial,
                }))
                .exclusive([resource::<T>(model.pulp_id())])
                .immediate(true),
        )
        .await?;
        return Ok(task_response(&task));
    }
    let value = update_now::<T>(&app, model.pulp_id(), body, partial).await?;
    Ok(Json(value).into_response())
}

/// The PUT handler of `T`.
pub async fn update<T: Detail>(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    change::<T>(app, id, body, false).await
}

/// The PATCH handler of `T`.
pub async fn partial_update<T: Detail>(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    change::<T>(app, id, body, true).await
}

/// The DELETE handler of `T` (204, or 202 and a task).
pub async fn delete<T: Detail>(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let model = existing::<T>(&app, &id).await?;
    let table = <T::Kind as MasterKind>::TABLE;
    if kind_info(table).async_change {
        let task = dispatch(
            &app,
            DispatchRequest::new(GENERAL_DELETE)
                .args(json!({"table": table, "pulp_type": T::PULP_TYPE, "id": model.pulp_id()}))
                .exclusive([resource::<T>(model.pulp_id())])
                .immediate(true),
        )
        .await?;
        return Ok(task_response(&task));
    }
    models::delete::<T::Kind>(app.db(), model.pulp_id()).await?;
    served_objects_changed::<T>(&app);
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SetLabel {
    key: String,
    value: Option<String>,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct UnsetLabel {
    key: String,
}

fn check_label_key(key: &str) -> Result<(), ApiError> {
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./ ".contains(c));
    if valid {
        Ok(())
    } else {
        Err(ApiError::field(
            "key",
            "Key can only contain alphanumeric characters, underscores, dashes, dots, slashes and spaces.",
        ))
    }
}

/// `set_label/`.
pub async fn set_label<T: Detail>(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut model = existing::<T>(&app, &id).await?;
    let body: SetLabel = parse_json(&body)?;
    check_label_key(&body.key)?;
    model
        .master
        .pulp_labels
        .insert(body.key.clone(), body.value.clone());
    models::update::<T>(app.db(), model).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"key": body.key, "value": body.value})),
    )
        .into_response())
}

/// `unset_label/`.
pub async fn unset_label<T: Detail>(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut model = existing::<T>(&app, &id).await?;
    let body: UnsetLabel = parse_json(&body)?;
    let Some(value) = model.master.pulp_labels.remove(&body.key) else {
        return Err(ApiError::field(
            "key",
            format!("Label with key '{}' does not exist.", body.key),
        ));
    };
    models::update::<T>(app.db(), model).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"key": body.key, "value": value})),
    )
        .into_response())
}

#[derive(serde::Deserialize)]
struct GeneralArgs {
    table: String,
    pulp_type: String,
    #[serde(default)]
    id: Option<PulpId>,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    partial: bool,
}

fn ops_of(ctx: &TaskContext, args: &GeneralArgs) -> Result<DetailOps, TaskError> {
    ctx.app()
        .detail_ops(&args.table, &args.pulp_type)
        .ok_or_else(|| TaskError::new(format!("no type {} in {}", args.pulp_type, args.table)))
}

fn task_error(e: ApiError) -> TaskError {
    match e {
        ApiError::Validation(fields) => {
            TaskError::new(crate::validation::ValidationErrors::from_map(fields).to_string())
        }
        other => TaskError::new(other.to_string()),
    }
}

/// `general_create`: creates an object of any type from a body.
pub async fn general_create(ctx: TaskContext) -> TaskOutput {
    let args: GeneralArgs = ctx.parse_args()?;
    let ops = ops_of(&ctx, &args)?;
    let created = (ops.create)(ctx.app().clone(), args.data)
        .await
        .map_err(task_error)?;
    if let Some(href) = created.get("pulp_href").and_then(Value::as_str) {
        ctx.add_created_resource(href);
    }
    Ok(None)
}

/// `general_update`: updates an object of any type from a body.
pub async fn general_update(ctx: TaskContext) -> TaskOutput {
    let args: GeneralArgs = ctx.parse_args()?;
    let ops = ops_of(&ctx, &args)?;
    let id = args.id.ok_or_else(|| TaskError::new("no id given"))?;
    (ops.update)(ctx.app().clone(), id, args.data, args.partial)
        .await
        .map_err(task_error)?;
    Ok(None)
}

/// `general_delete`: deletes an object of any type.
pub async fn general_delete(ctx: TaskContext) -> TaskOutput {
    let args: GeneralArgs = ctx.parse_args()?;
    let ops = ops_of(&ctx, &args)?;
    let id = args.id.ok_or_else(|| TaskError::new("no id given"))?;
    (ops.delete)(ctx.app().clone(), id)
        .await
        .map_err(task_error)?;
    Ok(None)
}
