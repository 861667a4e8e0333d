//! What every repository type gets besides CRUD: its versions (list, read, delete, repair),
//! `modify/` (add and remove content) and `sync/` (the plugin's sync task); and what every
//! publication type gets: create (the plugin's publish task).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use serde_json::{json, Value};

use super::crud::{existing, resource, task_response};
use super::kinds::Target;
use super::mount::names;
use super::refs::{parse_master, resolve};
use crate::api::list::{ordering, Page, Paging, QueryParams, SqlValue, SqlWhere};
use crate::api::openapi::{
    field_params, list_params, FieldType, Operation, Param, RequestBody, Response as Answer,
};
use crate::api::routes_doc::ApiRoutes;
use crate::api::timestamp::format as ts;
use crate::api::{base_url, parse_json, select_fields, ApiError};
use crate::app::App;
use crate::db::PulpId;
use crate::models::{self, Detail, MasterKind, PublicationKind, RepositoryKind};
use crate::repository::{
    content_summary, get_version, latest_version, NewVersion, RepositoryVersion, VersionError,
};
use crate::tasking::{dispatch, DispatchRequest, TaskContext, TaskError, TaskOutput};

/// Task name of `modify/`.
pub const ADD_AND_REMOVE: &str = "pulpcore.app.tasks.repository.add_and_remove";
/// Task name of a version delete.
pub const DELETE_VERSION: &str = "pulpcore.app.tasks.repository.delete_version";
/// Task name of `repair/`.
pub const REPAIR_VERSION: &str = "pulpcore.app.tasks.repository.repair_version";

/// The response of a repository version.
pub fn version_response(app: &App, repository_href: &str, version: &RepositoryVersion) -> Value {
    let href = format!("{repository_href}versions/{}/", version.number);
    let base = version.base_version_id.map(|_| Value::Null);
    json!({
        "pulp_href": href,
        "prn": version.prn(),
        "pulp_created": ts(&version.pulp_created),
        "pulp_last_updated": ts(&version.pulp_created),
        "number": version.number,
        "repository": repository_href,
        "base_version": base.unwrap_or(Value::Null),
        "content_summary": content_summary(app, version, &href),
        "vuln_report": Value::Null,
    })
}

async fn list_versions<T: Detail<Kind = RepositoryKind>>(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let repository = existing::<T>(&app, &id).await?;
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let mut filter = SqlWhere::new(app.db().backend());
    filter.add(
        "repository_id = ?",
        [SqlValue::Id(Some(repository.pulp_id()))],
    );
    filter.add("complete", []);
    for (suffix, op) in [
        ("", "="),
        ("__gt", ">"),
        ("__gte", ">="),
        ("__lt", "<"),
        ("__lte", "<="),
    ] {
        let name = format!("number{suffix}");
        if let Some(raw) = query.get(&name) {
            let n: i64 = raw
                .parse()
                .map_err(|_| ApiError::field(&name, "Enter a number."))?;
            filter.add(&format!("number {op} ?"), [SqlValue::Int(Some(n))]);
        }
    }
    if let Some(content) = query.get("content") {
        let id = parse_master(&app, content, "core_content")
            .ok_or_else(|| ApiError::field("content", "Invalid hyperlink - No URL match."))?;
        filter.add(
            "EXISTS (SELECT 1 FROM core_repositorycontent rc WHERE rc.repository_id = core_repositoryversion.repository_id \
             AND rc.content_id = ? AND rc.version_added <= core_repositoryversion.number \
             AND (rc.version_removed IS NULL OR rc.version_removed > core_repositoryversion.number))",
            [SqlValue::Id(Some(id))],
        );
    }
    let order = ordering(
        &query,
        &[
            ("number", "number"),
            ("pulp_created", "pulp_created"),
            ("pk", "pulp_id"),
        ],
        "number DESC",
    )?;
    let versions = page_versions(&app, &filter, &order, paging).await?;
    let repository_href = repository.pulp_href();
    let results: Vec<Value> = versions
        .1
        .iter()
        .map(|v| select_fields(version_response(&app, &repository_href, v), raw.as_deref()))
        .collect();
    let base = format!("{}{repository_href}versions/", base_url(&headers));
    Ok(Json(Page::new(results, versions.0, paging, &base, &query)).into_response())
}

/// The total and one page of the complete versions `filter` selects from
/// `core_repositoryversion` (unqualified columns), read in one query.
pub(super) async fn page_versions(
    app: &App,
    filter: &SqlWhere,
    order: &str,
    paging: Paging,
) -> Result<(i64, Vec<RepositoryVersion>), ApiError> {
    let count_sql = format!(
        "SELECT COUNT(*) FROM core_repositoryversion {}",
        filter.sql()
    );
    let n = filter.len();
    let sql = format!(
        "SELECT {} FROM core_repositoryversion {} {order} LIMIT ${} OFFSET ${}",
        crate::repository::VERSION_COLUMNS,
        filter.sql(),
        n + 1,
        n + 2
    );
    let (count, rows): (i64, Vec<crate::repository::VersionRow>) = crate::on_pool!(app.db(), pool => {
        let count = crate::bind_values!(sqlx::query_scalar(&count_sql), filter.values()).fetch_one(pool).await?;
        let rows = crate::bind_values!(sqlx::query_as(&sql), filter.values())
            .bind(paging.limit).bind(paging.offset).fetch_all(pool).await?;
        (count, rows)
    });
    Ok((
        count,
        rows.into_iter()
            .map(crate::repository::version_from_row)
            .collect(),
    ))
}

fn version_number(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or(ApiError::NotFound)
}

async fn read_version<T: Detail<Kind = RepositoryKind>>(
    State(app): State<App>,
    Path((id, number)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let repository = existing::<T>(&app, &id).await?;
    let version = get_version(app.db(), repository.pulp_id(), version_number(&number)?).await?;
    let value = version_response(&app, &repository.pulp_href(), &version);
    Ok(Json(select_fields(value, raw.as_deref())).into_response())
}

async fn delete_version<T: Detail<Kind = RepositoryKind>>(
    State(app): State<App>,
    Path((id, number)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let repository = existing::<T>(&app, &id).await?;
    let version = get_version(app.db(), repository.pulp_id(), version_number(&number)?).await?;
    let task = dispatch(
        &app,
        DispatchRequest::new(DELETE_VERSION)
            .args(json!({"repository_pk": repository.pulp_id(), "number": version.number}))
            .exclusive([resource::<T>(repository.pulp_id())])
            .immediate(true),
    )
    .await?;
    Ok(task_response(&task))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RepairBody {
    #[serde(default = "yes")]
    verify_checksums: bool,
}

fn yes() -> bool {
    true
}

async fn repair_version<T: Detail<Kind = RepositoryKind>>(
    State(app): State<App>,
    Path((id, number)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let repository = existing::<T>(&app, &id).await?;
    let version = get_version(app.db(), repository.pulp_id(), version_number(&number)?).await?;
    let body: RepairBody = if body.is_empty() {
        RepairBody {
            verify_checksums: true,
        }
    } else {
        parse_json(&body)?
    };
    let task = dispatch(
        &app,
        DispatchRequest::new(REPAIR_VERSION)
            .args(json!({
                "repository_pk": repository.pulp_id(),
                "number": version.number,
                "verify_checksums": body.verify_checksums,
            }))
            .shared([resource::<T>(repository.pulp_id())])
            .immediate(false),
    )
    .await?;
    Ok(task_response(&task))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ModifyBody {
    #[serde(default)]
    add_content_units: Vec<String>,
    #[serde(default)]
    remove_content_units: Vec<String>,
    #[serde(default)]
    base_version: Option<String>,
    #[serde(default)]
    overwrite: Option<bool>,
}

async fn content_ids(app: &App, field: &str, hrefs: &[String]) -> Result<Vec<PulpId>, ApiError> {
    let mut ids = Vec::with_capacity(hrefs.len());
    for href in hrefs {
        ids.push(parse_master(app, href, "core_content").ok_or_else(|| {
            ApiError::field(
                field,
                format!("Invalid hyperlink - '{href}' is not a content unit."),
            )
        })?);
    }
    if ids.is_empty() {
        return Ok(ids);
    }
    let mut filter = SqlWhere::new(app.db().backend());
    filter.add_in(
        "pulp_id",
        ids.iter().copied().map(|v| SqlValue::Id(Some(v))).collect(),
    );
    let sql = format!("SELECT COUNT(*) FROM core_content {}", filter.sql());
    let found: i64 = crate::on_pool!(app.db(), pool => {
        crate::bind_values!(sqlx::query_scalar(&sql), filter.values()).fetch_one(pool).await?
    });
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    if found != unique.len() as i64 {
        return Err(ApiError::field(
            field,
            "Invalid hyperlink - Object does not exist.",
        ));
    }
    Ok(unique)
}

async fn modify<T: Detail<Kind = RepositoryKind>>(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let repository = existing::<T>(&app, &id).await?;
    let body: ModifyBody = parse_json(&body)?;
    let add = content_ids(&app, "add_content_units", &body.add_content_units).await?;
    let remove_all = body.remove_content_units.iter().any(|h| h == "*");
    let remove = if remove_all {
        Vec::new()
    } else {
        content_ids(&app, "remove_content_units", &body.remove_content_units).await?
    };
    let base = match &body.base_version {
        Some(href) => Some(resolve(&app, "base_version", href, Target::Version).await?),
        None => None,
    };
    let task = dispatch(
        &app,
        DispatchRequest::new(ADD_AND_REMOVE)
            .args(json!({
                "repository_pk": repository.pulp_id(),
                "add_content_units": add,
                "remove_content_units": remove,
                "remove_all": remove_all,
                "base_version_pk": base,
                "overwrite": body.overwrite.unwrap_or(true),
            }))
            .exclusive([resource::<T>(repository.pulp_id())])
            .immediate(true),
    )
    .await?;
    Ok(task_response(&task))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SyncBody {
    #[serde(default)]
    remote: Option<String>,
    #[serde(default)]
    mirror: Option<bool>,
    /// pulp_file's `optimize` (default true): skip the sync when nothing changed upstream.
    #[serde(default)]
    optimize: Option<bool>,
}

async fn sync<T: Detail<Kind = RepositoryKind>>(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let repository = existing::<T>(&app, &id).await?;
    let body: SyncBody = if body.is_empty() {
        SyncBody {
            remote: None,
            mirror: None,
            optimize: None,
        }
    } else {
        parse_json(&body)?
    };
    let remote = match &body.remote {
        Some(href) => resolve(&app, "remote", href, Target::Master("core_remote")).await?,
        None => repository.master.fields.remote_id.ok_or_else(|| {
            ApiError::field(
                "remote",
                "A remote must be specified either on the repository or in the request.",
            )
        })?,
    };
    let remote_master = models::get_master::<crate::models::RemoteKind>(app.db(), remote).await?;
    let remote_href = super::refs::href_of(&app, "core_remote", &remote_master.pulp_type, remote)
        .unwrap_or_default();
    let task_name = app.sync_task(T::PULP_TYPE).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "repositories of type {} cannot be synced",
            T::PULP_TYPE
        ))
    })?;
    let task = dispatch(
        &app,
        DispatchRequest::new(task_name)
            .args(json!({
                "remote_pk": remote,
                "repository_pk": repository.pulp_id(),
                "mirror": body.mirror.unwrap_or(false),
                "optimize": body.optimize.unwrap_or(true),
            }))
            .exclusive([resource::<T>(repository.pulp_id())])
            .shared([remote_href]),
    )
    .await?;
    Ok(task_response(&task))
}

/// Mounts versions, `modify/` and `sync/` of repository type `T`.
pub fn mount_repository<T: Detail<Kind = RepositoryKind>>(routes: &mut ApiRoutes) {
    mount_repository_with::<T>(routes, true)
}

/// Mounts versions, `modify/` (when `generic_modify`) and `sync/` of repository type `T`.
pub fn mount_repository_with<T: Detail<Kind = RepositoryKind>>(
    routes: &mut ApiRoutes,
    generic_modify: bool,
) {
    let n = names::<T>();
    let href = format!("{{{}}}", n.href);
    let version_href = format!("{{{}_version_href}}", n.href.trim_end_matches("_href"));
    let versions_op = format!("{}_versions", n.op);
    let mut version_filters = list_params(&["number"]);
    for (name, ty) in [
        ("number", FieldType::Integer),
        ("number__gt", FieldType::Integer),
        ("number__gte", FieldType::Integer),
        ("number__lt", FieldType::Integer),
        ("number__lte", FieldType::Integer),
        ("content", FieldType::Href),
    ] {
        version_filters.push(Param::query(name, ty, ""));
    }
    routes.raw_schema(
        "RepositoryVersionResponse",
        json!({"type": "object", "properties": {
            "pulp_href": {"type": "string", "format": "uri", "readOnly": true},
            "prn": {"type": "string", "readOnly": true},
            "pulp_created": {"type": "string", "format": "date-time", "readOnly": true},
            "pulp_last_updated": {"type": "string", "format": "date-time", "readOnly": true},
            "number": {"type": "integer", "readOnly": true},
            "repository": {"type": "string", "format": "uri", "readOnly": true},
            "base_version": {"type": ["string", "null"], "format": "uri"},
            "content_summary": {"type": "object", "readOnly": true},
            "vuln_report": {"type": ["string", "null"], "readOnly": true},
        }}),
    );
    routes.raw_schema(
        "PaginatedRepositoryVersionResponseList",
        json!({"type": "object", "required": ["count", "results"], "properties": {
            "count": {"type": "integer"},
            "next": {"type": ["string", "null"], "format": "uri"},
            "previous": {"type": ["string", "null"], "format": "uri"},
            "results": {"type": "array", "items": {"$ref": "#/components/schemas/RepositoryVersionResponse"}},
        }}),
    );
    routes.raw_schema(
        "RepositoryAddRemoveContent",
        json!({"type": "object", "properties": {
            "add_content_units": {"type": "array", "items": {"type": "string"}},
            "remove_content_units": {"type": "array", "items": {"type": "string"}},
            "base_version": {"type": "string", "format": "uri"},
            "overwrite": {"type": "boolean", "default": true, "description": "When set to true, existing content in the repository with the same unique key will be silently overwritten. When set to false, the task will fail if content would be overwritten. Defaults to true."},
        }}),
    );
    routes.raw_schema(
        "Repair",
        json!({"type": "object", "properties": {"verify_checksums": {"type": "boolean"}}}),
    );
    let sync_schema = format!("{}RepositorySyncURL", title_of::<T>());
    routes.raw_schema(
        &sync_schema,
        json!({"type": "object", "properties": {
            "remote": {"type": "string", "format": "uri"},
            "mirror": {"type": "boolean", "default": false},
            "optimize": {"type": "boolean", "default": true, "description": "Whether or not to optimize sync."},
        }}),
    );
    routes.route(
        &format!("{}versions/", n.object),
        get(list_versions::<T>),
        [Operation::new(
            "get",
            &format!("{href}versions/"),
            &format!("{versions_op}_list"),
            &n.tag,
        )
        .summary("List repository versions")
        .params(version_filters)
        .response(
            200,
            Answer::Schema("PaginatedRepositoryVersionResponseList".into()),
        )],
    );
    routes.route(
        &format!("{}versions/{{number}}/", n.object),
        get(read_version::<T>).delete(delete_version::<T>),
        [
            Operation::new("get", &version_href, &format!("{versions_op}_read"), &n.tag)
                .summary("Inspect a repository version")
                .params(field_params())
                .response(200, Answer::Schema("RepositoryVersionResponse".into())),
            Operation::new(
                "delete",
                &version_href,
                &format!("{versions_op}_delete"),
                &n.tag,
            )
            .summary("Delete a repository version")
            .response(202, Answer::Task),
        ],
    );
    routes.route(
        &format!("{}versions/{{number}}/repair/", n.object),
        post(repair_version::<T>),
        [Operation::new(
            "post",
            &format!("{version_href}repair/"),
            &format!("{versions_op}_repair"),
            &n.tag,
        )
        .summary("Repair a repository version")
        .body(RequestBody::Schema("Repair".into()))
        .response(202, Answer::Task)],
    );
    if generic_modify {
        routes.route(
            &format!("{}modify/", n.object),
            post(modify::<T>),
            [Operation::new(
                "post",
                &format!("{href}modify/"),
                &format!("{}_modify", n.op),
                &n.tag,
            )
            .summary("Modify repository")
            .body(RequestBody::Schema("RepositoryAddRemoveContent".into()))
            .response(202, Answer::Task)],
        );
    }
    routes.route(
        &format!("{}sync/", n.object),
        post(sync::<T>),
        [Operation::new(
            "post",
            &format!("{href}sync/"),
            &format!("{}_sync", n.op),
            &n.tag,
        )
        .summary("Sync from a remote")
        .body(RequestBody::Schema(sync_schema.clone()))
        .response(202, Answer::Task)],
    );
}

fn title_of<T: Detail>() -> String {
    std::any::type_name::<T>()
        .rsplit("::")
        .next()
        .unwrap_or_default()
        .trim_end_matches("Repository")
        .to_string()
}

/// The `modify/` task: a new version from the latest (or `base_version`) with units added
/// and removed.
pub async fn add_and_remove(ctx: TaskContext) -> TaskOutput {
    #[derive(serde::Deserialize)]
    struct Args {
        repository_pk: PulpId,
        #[serde(default)]
        add_content_units: Vec<PulpId>,
        #[serde(default)]
        remove_content_units: Vec<PulpId>,
        #[serde(default)]
        remove_all: bool,
        #[serde(default)]
        base_version_pk: Option<PulpId>,
        #[serde(default = "yes")]
        overwrite: bool,
    }
    let args: Args = ctx.parse_args()?;
    let app = ctx.app().clone();
    let err = |e: VersionError| TaskError::new(e.to_string());
    let mut version = NewVersion::start(&app, args.repository_pk)
        .await
        .map_err(err)?;
    version.set_overwrite(args.overwrite);
    if let Some(base) = args.base_version_pk {
        let number: Option<i64> = crate::on_pool!(app.db(), pool => {
            sqlx::query_scalar("SELECT number FROM core_repositoryversion WHERE pulp_id = $1 AND repository_id = $2")
                .bind(base).bind(args.repository_pk).fetch_optional(pool).await?
        });
        let number = number.ok_or_else(|| {
            TaskError::new("the base version is not a version of this repository")
        })?;
        let base_version = get_version(app.db(), args.repository_pk, number)
            .await
            .map_err(err)?;
        let ids = crate::repository::version_content_ids(app.db(), &base_version, i64::MAX, 0)
            .await
            .map_err(err)?;
        version.remove_all_content().await.map_err(err)?;
        version.add_content(&ids).await.map_err(err)?;
    }
    if args.remove_all {
        version.remove_all_content().await.map_err(err)?;
    } else {
        version
            .remove_content(&args.remove_content_units)
            .await
            .map_err(err)?;
    }
    version
        .add_content(&args.add_content_units)
        .await
        .map_err(err)?;
    let repository = models::get_master::<RepositoryKind>(app.db(), args.repository_pk)
        .await
        .map_err(|e| TaskError::new(e.to_string()))?;
    if let Some(created) = version.commit().await.map_err(err)? {
        if let Some(href) = super::refs::href_of(
            &app,
            "core_repository",
            &repository.pulp_type,
            repository.pulp_id,
        ) {
            ctx.add_created_resource_first(format!("{href}versions/{}/", created.number));
        }
    }
    Ok(None)
}

/// The version-delete task.
pub async fn delete_version_task(ctx: TaskContext) -> TaskOutput {
    #[derive(serde::Deserialize)]
    struct Args {
        repository_pk: PulpId,
        number: i64,
    }
    let args: Args = ctx.parse_args()?;
    crate::repository::delete_version(ctx.app().db(), args.repository_pk, args.number)
        .await
        .map_err(|e| TaskError::new(e.to_string()))?;
    Ok(None)
}

/// The repair task (Pulp's `repair_version`): every artifact of the version that is missing
/// from storage (or, with `verify_checksums`, whose bytes no longer have its sha256) is
/// removed and downloaded again from one of the remotes that provide it; the task fails
/// naming how many could not be repaired.
pub async fn repair_version_task(ctx: TaskContext) -> TaskOutput {
    #[derive(serde::Deserialize)]
    struct Args {
        repository_pk: PulpId,
        number: i64,
        #[serde(default)]
        verify_checksums: bool,
    }
    let args: Args = ctx.parse_args()?;
    let app = ctx.app().clone();
    let version = get_version(app.db(), args.repository_pk, args.number)
        .await
        .map_err(|e| TaskError::new(e.to_string()))?;
    let ids = crate::repository::version_content_ids(app.db(), &version, i64::MAX, 0)
        .await
        .map_err(|e| TaskError::new(e.to_string()))?;
    // (content artifact, sha256, size) of every stored artifact of the version.
    let mut stored: Vec<(PulpId, String, i64)> = Vec::new();
    for chunk in ids.chunks(500) {
        let mut filter = SqlWhere::new(app.db().backend());
        filter.add_in(
            "ca.content_id",
            chunk
                .iter()
                .copied()
                .map(|v| SqlValue::Id(Some(v)))
                .collect(),
        );
        let sql = format!(
            "SELECT ca.pulp_id, a.sha256, a.size FROM core_contentartifact ca \
             JOIN core_artifact a ON a.pulp_id = ca.artifact_id {}",
            filter.sql()
        );
        let rows: Vec<(PulpId, String, i64)> = crate::on_pool!(app.db(), pool => {
            crate::bind_values!(sqlx::query_as(&sql), filter.values()).fetch_all(pool).await?
        });
        stored.extend(rows);
    }
    let identify = ctx
        .progress(
            "Identify corrupted units",
            "repair.corrupted",
            Some(stored.len() as u64),
        )
        .await?;
    let mut damaged = Vec::new();
    for (content_artifact, sha256, size) in stored {
        let ok = if args.verify_checksums {
            match app.storage().read_artifact(&sha256).await {
                Ok(bytes) => {
                    use sha2::Digest;
                    bytes.len() as i64 == size
                        && hex::encode(sha2::Sha256::digest(&bytes)) == sha256
                }
                Err(_) => false,
            }
        } else {
            app.storage().contains(&sha256).await.unwrap_or(false)
        };
        if !ok {
            damaged.push((content_artifact, sha256, size));
        }
        identify.increment(1).await?;
    }
    identify.complete().await?;
    let repair = ctx
        .progress(
            "Repair corrupted units",
            "repair.repaired",
            Some(damaged.len() as u64),
        )
        .await?;
    let sources = models::remote_artifacts(
        app.db(),
        &damaged.iter().map(|(ca, _, _)| *ca).collect::<Vec<_>>(),
    )
    .await
    .map_err(|e| TaskError::new(e.to_string()))?;
    let mut downloaders: std::collections::HashMap<PulpId, crate::download::Downloader> =
        std::collections::HashMap::new();
    let mut failed = 0u64;
    for (content_artifact, sha256, size) in &damaged {
        let _ = app.storage().delete_artifact(sha256).await;
        let expected = crate::storage::ExpectedArtifact::any()
            .with_size(*size as u64)
            .with_digest(crate::storage::ChecksumType::Sha256, sha256.clone());
        let mut repaired = false;
        for source in sources
            .iter()
            .filter(|r| r.content_artifact_id == *content_artifact)
        {
            let downloader = match downloaders.entry(source.remote_id) {
                std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
                std::collections::hash_map::Entry::Vacant(entry) => {
                    let Ok(remote) =
                        models::get_master::<crate::models::RemoteKind>(app.db(), source.remote_id)
                            .await
                    else {
                        continue;
                    };
                    let Ok(downloader) = crate::download::Downloader::for_remote(&remote.fields)
                    else {
                        continue;
                    };
                    entry.insert(downloader)
                }
            };
            match downloader
                .fetch_artifact(&source.url, &expected, app.storage())
                .await
            {
                Ok(_) => {
                    repaired = true;
                    break;
                }
                Err(e) => tracing::warn!(url = %source.url, error = %e, "repair download failed"),
            }
        }
        if repaired {
            repair.increment(1).await?;
        } else {
            failed += 1;
        }
    }
    repair.complete().await?;
    if failed > 0 {
        return Err(TaskError::new(format!(
            "{failed} of {} missing or corrupted artifact(s) could not be downloaded again from a remote",
            damaged.len()
        )));
    }
    Ok(None)
}

#[derive(serde::Deserialize)]
struct PublishBody {
    #[serde(default)]
    repository: Option<String>,
    #[serde(default)]
    repository_version: Option<String>,
    #[serde(default)]
    checkpoint: Option<bool>,
    #[serde(flatten)]
    detail: serde_json::Map<String, Value>,
}

async fn create_publication<T: Detail<Kind = PublicationKind>>(
    State(app): State<App>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body: PublishBody = parse_json(&body)?;
    let allowed: Vec<String> = T::COLUMNS.iter().map(|c| c.name.to_string()).collect();
    let mut errors = crate::validation::ValidationErrors::new();
    for key in body.detail.keys() {
        if !allowed.contains(key) {
            errors.add(key, "Unexpected field.");
        }
    }
    errors.into_result()?;
    let _ = body.checkpoint;
    let version_id = match (&body.repository, &body.repository_version) {
        (Some(_), Some(_)) => {
            return Err(ApiError::field(
                "non_field_errors",
                "Only one of 'repository' and 'repository_version' may be given.",
            ))
        }
        (None, None) => {
            return Err(ApiError::field(
                "non_field_errors",
                "Either the 'repository' or 'repository_version' need to be specified",
            ))
        }
        (None, Some(v)) => resolve(&app, "repository_version", v, Target::Version).await?,
        (Some(r), None) => {
            let id = resolve(&app, "repository", r, Target::Master("core_repository")).await?;
            latest_version(app.db(), id).await?.pulp_id
        }
    };
    let detail: T = serde_json::from_value(Value::Object(body.detail.clone()))
        .map_err(|e| ApiError::field("non_field_errors", e.to_string()))?;
    let mut errors = crate::validation::ValidationErrors::new();
    crate::validation::Validate::validate(&detail, &mut errors);
    errors.into_result()?;
    let repository: PulpId = crate::on_pool!(app.db(), pool => {
        sqlx::query_scalar("SELECT repository_id FROM core_repositoryversion WHERE pulp_id = $1")
            .bind(version_id).fetch_one(pool).await?
    });
    let master = models::get_master::<RepositoryKind>(app.db(), repository).await?;
    let repository_href =
        super::refs::href_of(&app, "core_repository", &master.pulp_type, repository)
            .unwrap_or_default();
    let task_name = app.publish_task(T::PULP_TYPE).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "publications of type {} cannot be created",
            T::PULP_TYPE
        ))
    })?;
    let mut args = body.detail;
    args.insert("repository_version_pk".into(), json!(version_id));
    let task = dispatch(
        &app,
        DispatchRequest::new(task_name)
            .args(Value::Object(args))
            .shared([repository_href]),
    )
    .await?;
    Ok(task_response(&task))
}

/// Mounts the create of publication type `T`.
pub fn mount_publication<T: Detail<Kind = PublicationKind>>(routes: &mut ApiRoutes) {
    let n = names::<T>();
    routes.route(
        &n.collection,
        post(create_publication::<T>),
        [
            Operation::new("post", &n.collection, &format!("{}_create", n.op), &n.tag)
                .summary(&format!("Create a {}", n.words))
                .body(RequestBody::Schema(n.schema.clone()))
                .response(202, Answer::Task),
        ],
    );
    let _ = <T::Kind as MasterKind>::TABLE;
}
