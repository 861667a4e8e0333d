//! `/exporters/core/pulp/`, `/exporters/core/filesystem/`, `/importers/core/pulp/` (with
//! their exports and imports) and `/importers/core/pulp/import-check/`, with the tasks they
//! dispatch. The work itself is [`crate::importexport`]'s.

use std::collections::BTreeMap;
use std::path::PathBuf;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use chrono::Utc;
use serde_json::{json, Map, Value};

use super::generic::refs::{href_of, parse_master, parse_version};
use super::generic::task_response;
use super::list::{Page, Paging, QueryParams};
use super::openapi::{
    field_params, list_params, name_params, Operation, RequestBody, Response as Doc,
};
use super::request::path_id;
use super::timestamp::format as ts;
use super::{base_url, parse_json, select_fields, ApiError, ApiRoutes, API_ROOT};
use crate::app::App;
use crate::db::PulpId;
use crate::importexport::records::{self, Export, Exporter, Import, Importer};
use crate::importexport::{
    allowed_path, export_versions, filesystem_export, import_repository_version, prepare_import,
    read_export, ExportContents, ExportFiles, ExportRequest, FilesystemMethod, FilesystemSource,
    ImportExportError, PathKind, RepositoryImport, TableOfContents,
};
use crate::repository::{get_version, get_version_by_id, latest_version, RepositoryVersion};
use crate::tasking::{
    create_task_group, dispatch, mark_group_dispatched, DispatchRequest, TaskContext, TaskError,
    TaskFunctions, TaskOutput,
};

/// Pulp's name of the Pulp export task.
pub const PULP_EXPORT_TASK: &str = "pulpcore.app.tasks.export.pulp_export";
/// Pulp's name of the filesystem export task of a repository version.
pub const FS_VERSION_EXPORT_TASK: &str = "pulpcore.app.tasks.export.fs_repo_version_export";
/// Pulp's name of the filesystem export task of a publication.
pub const FS_PUBLICATION_EXPORT_TASK: &str = "pulpcore.app.tasks.export.fs_publication_export";
/// Pulp's name of the import task.
pub const PULP_IMPORT_TASK: &str = "pulpcore.app.tasks.importer.pulp_import";
/// Pulp's name of the task importing one repository version.
pub const IMPORT_VERSION_TASK: &str = "pulpcore.app.tasks.importer.import_repository_version";
/// The task deleting an exporter.
pub const DELETE_EXPORTER_TASK: &str = "pulp_rs.importexport.delete_exporter";

const PULP_EXPORTERS: &str = "/pulp/api/v3/exporters/core/pulp/";
const FS_EXPORTERS: &str = "/pulp/api/v3/exporters/core/filesystem/";
const IMPORTERS: &str = "/pulp/api/v3/importers/core/pulp/";

impl From<ImportExportError> for ApiError {
    fn from(e: ImportExportError) -> Self {
        match e {
            ImportExportError::PathNotAllowed(m) => ApiError::field("path", m),
            ImportExportError::Model(m) => ApiError::Internal(m.to_string()),
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

fn task_error(e: ImportExportError) -> TaskError {
    TaskError::new(e.to_string())
}

/// Registers the export and import tasks.
pub(crate) fn register_tasks(tasks: &mut TaskFunctions) {
    tasks.register(PULP_EXPORT_TASK, pulp_export_task);
    tasks.register(FS_VERSION_EXPORT_TASK, fs_export_task);
    tasks.register(FS_PUBLICATION_EXPORT_TASK, fs_export_task);
    tasks.register(PULP_IMPORT_TASK, pulp_import_task);
    tasks.register(IMPORT_VERSION_TASK, import_version_task);
    tasks.register(DELETE_EXPORTER_TASK, delete_exporter_task);
}

/// Which exporter a route serves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pulp,
    Filesystem,
}

impl Kind {
    fn pulp_type(self) -> &'static str {
        match self {
            Kind::Pulp => records::PULP_TYPE,
            Kind::Filesystem => records::FILESYSTEM_TYPE,
        }
    }
    fn base(self) -> &'static str {
        match self {
            Kind::Pulp => PULP_EXPORTERS,
            Kind::Filesystem => FS_EXPORTERS,
        }
    }
    fn prn(self) -> &'static str {
        match self {
            Kind::Pulp => "pulpexporter",
            Kind::Filesystem => "filesystemexporter",
        }
    }
    fn export_prn(self) -> &'static str {
        match self {
            Kind::Pulp => "pulpexport",
            Kind::Filesystem => "filesystemexport",
        }
    }
}

fn exporter_href(kind: Kind, id: PulpId) -> String {
    format!("{}{id}/", kind.base())
}

fn export_href(kind: Kind, exporter: PulpId, id: PulpId) -> String {
    format!("{}{exporter}/exports/{id}/", kind.base())
}

fn importer_href(id: PulpId) -> String {
    format!("{IMPORTERS}{id}/")
}

fn import_href(importer: PulpId, id: PulpId) -> String {
    format!("{IMPORTERS}{importer}/imports/{id}/")
}

fn task_href(id: Option<PulpId>) -> Value {
    id.map(|id| Value::String(format!("{API_ROOT}/tasks/{id}/")))
        .unwrap_or(Value::Null)
}

async fn repository_href(app: &App, id: PulpId) -> Result<String, ApiError> {
    let master = crate::models::get_master::<crate::models::RepositoryKind>(app.db(), id).await?;
    href_of(app, "core_repository", &master.pulp_type, id).ok_or(ApiError::NotFound)
}

async fn exporter_response(app: &App, kind: Kind, e: &Exporter) -> Result<Value, ApiError> {
    let mut out = json!({
        "pulp_href": exporter_href(kind, e.pulp_id),
        "prn": format!("prn:core.{}:{}", kind.prn(), e.pulp_id),
        "pulp_created": ts(&e.pulp_created),
        "pulp_last_updated": ts(&e.pulp_last_updated),
        "name": e.name,
        "path": e.path,
    });
    match kind {
        Kind::Pulp => {
            let mut repositories = Vec::new();
            for id in &e.repositories {
                if let Ok(href) = repository_href(app, *id).await {
                    repositories.push(href);
                }
            }
            out["repositories"] = json!(repositories);
            out["last_export"] = e
                .last_export
                .map(|id| Value::String(export_href(kind, e.pulp_id, id)))
                .unwrap_or(Value::Null);
        }
        Kind::Filesystem => {
            out["method"] = json!(e.method.clone().unwrap_or_else(|| "write".into()));
        }
    }
    Ok(out)
}

fn export_response(kind: Kind, e: &Export) -> Value {
    let mut out = json!({
        "pulp_href": export_href(kind, e.exporter_id, e.pulp_id),
        "prn": format!("prn:core.{}:{}", kind.export_prn(), e.pulp_id),
        "pulp_created": ts(&e.pulp_created),
        "pulp_last_updated": ts(&e.pulp_last_updated),
        "task": task_href(e.task_id),
        "exported_resources": e.exported_resources,
        "params": e.params,
    });
    if kind == Kind::Pulp {
        out["output_file_info"] = e.output_file_info.clone().unwrap_or(Value::Null);
        out["toc_info"] = e.toc_info.clone().unwrap_or(Value::Null);
    }
    out
}

fn importer_response(i: &Importer) -> Value {
    json!({
        "pulp_href": importer_href(i.pulp_id),
        "prn": format!("prn:core.pulpimporter:{}", i.pulp_id),
        "pulp_created": ts(&i.pulp_created),
        "pulp_last_updated": ts(&i.pulp_last_updated),
        "name": i.name,
        "repo_mapping": i.repo_mapping,
    })
}

fn import_response(i: &Import) -> Value {
    json!({
        "pulp_href": import_href(i.importer_id, i.pulp_id),
        "prn": format!("prn:core.pulpimport:{}", i.pulp_id),
        "pulp_created": ts(&i.pulp_created),
        "pulp_last_updated": ts(&i.pulp_created),
        "task": task_href(i.task_id),
        "params": i.params,
    })
}

fn object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    match parse_json::<Value>(body)? {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::BadRequest("Expected a JSON object.".into())),
    }
}

fn text_field(
    map: &Map<String, Value>,
    name: &str,
    required: bool,
) -> Result<Option<String>, ApiError> {
    match map.get(name) {
        None | Some(Value::Null) if required => {
            Err(ApiError::field(name, "This field is required."))
        }
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => {
            Err(ApiError::field(name, "This field may not be blank."))
        }
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::field(name, "Not a valid string.")),
    }
}

fn href_list(map: &Map<String, Value>, name: &str) -> Result<Option<Vec<String>>, ApiError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| ApiError::field(name, "Expected a list of hrefs."))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(ApiError::field(name, "Expected a list of items.")),
    }
}

fn page_of(
    headers: &HeaderMap,
    uri_path: &str,
    query: &QueryParams,
    paging: Paging,
    count: i64,
    results: Vec<Value>,
    raw: Option<&str>,
) -> Response {
    let base = format!("{}{uri_path}", base_url(headers));
    let page = Page::new(results, count, paging, &base, query);
    let value = serde_json::to_value(page).unwrap_or(Value::Null);
    Json(select_fields(value, raw)).into_response()
}

// ---- exporters ------------------------------------------------------------------------

async fn load_exporter(app: &App, kind: Kind, raw: &str) -> Result<Exporter, ApiError> {
    records::get_exporter(app.db(), kind.pulp_type(), path_id(raw)?)
        .await?
        .ok_or(ApiError::NotFound)
}

async fn apply_exporter_fields(
    app: &App,
    kind: Kind,
    exporter: &mut Exporter,
    map: &Map<String, Value>,
    partial: bool,
) -> Result<(), ApiError> {
    if let Some(name) = text_field(map, "name", !partial)? {
        exporter.name = name;
    }
    if let Some(path) = text_field(map, "path", !partial)? {
        allowed_path(app.settings(), PathKind::Export, &path)?;
        exporter.path = path;
    }
    match kind {
        Kind::Pulp => {
            match href_list(map, "repositories")? {
                Some(hrefs) => {
                    let mut ids = Vec::with_capacity(hrefs.len());
                    for href in hrefs {
                        let id = parse_master(app, &href, "core_repository").ok_or_else(|| {
                            ApiError::field(
                                "repositories",
                                format!("Invalid hyperlink - Object does not exist: {href}"),
                            )
                        })?;
                        crate::models::get_master::<crate::models::RepositoryKind>(app.db(), id)
                            .await
                            .map_err(|_| {
                                ApiError::field(
                                    "repositories",
                                    format!("Invalid hyperlink - Object does not exist: {href}"),
                                )
                            })?;
                        ids.push(id);
                    }
                    exporter.repositories = ids;
                }
                None if !partial => {
                    return Err(ApiError::field("repositories", "This field is required."))
                }
                None => {}
            }
            if let Some(value) = map.get("last_export") {
                exporter.last_export = match value {
                    Value::Null => None,
                    Value::String(href) => Some(
                        href.trim_end_matches('/')
                            .rsplit('/')
                            .next()
                            .and_then(|id| uuid::Uuid::parse_str(id).ok())
                            .map(PulpId)
                            .ok_or_else(|| ApiError::field("last_export", "Invalid hyperlink."))?,
                    ),
                    _ => return Err(ApiError::field("last_export", "Invalid hyperlink.")),
                };
            }
        }
        Kind::Filesystem => match map.get("method") {
            None | Some(Value::Null) if !partial => exporter.method = Some("write".into()),
            None | Some(Value::Null) => {}
            Some(Value::String(m)) if FilesystemMethod::parse(m).is_some() => {
                exporter.method = Some(m.clone())
            }
            Some(other) => {
                return Err(ApiError::field(
                    "method",
                    format!(
                        "\"{}\" is not a valid choice.",
                        other.as_str().unwrap_or("")
                    ),
                ))
            }
        },
    }
    Ok(())
}

async fn save_exporter(app: &App, exporter: &Exporter) -> Result<(), ApiError> {
    match records::save_exporter(app.db(), exporter).await {
        Err(e) if records::is_name_taken(&e) => {
            Err(ApiError::field("name", "This field must be unique."))
        }
        other => Ok(other?),
    }
}

async fn create_exporter(app: App, kind: Kind, body: Bytes) -> Result<Response, ApiError> {
    let map = object(&body)?;
    let now = Utc::now();
    let mut exporter = Exporter {
        pulp_id: PulpId::new(),
        pulp_created: now,
        pulp_last_updated: now,
        pulp_type: kind.pulp_type().into(),
        name: String::new(),
        path: String::new(),
        method: None,
        repositories: Vec::new(),
        last_export: None,
    };
    apply_exporter_fields(&app, kind, &mut exporter, &map, false).await?;
    save_exporter(&app, &exporter).await?;
    Ok((
        StatusCode::CREATED,
        Json(exporter_response(&app, kind, &exporter).await?),
    )
        .into_response())
}

async fn list_exporters(
    app: App,
    kind: Kind,
    headers: HeaderMap,
    raw: Option<String>,
) -> Result<Response, ApiError> {
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let (count, exporters) = records::list_exporters(
        app.db(),
        kind.pulp_type(),
        query.get("name"),
        paging.limit,
        paging.offset,
    )
    .await?;
    let mut results = Vec::with_capacity(exporters.len());
    for e in &exporters {
        results.push(exporter_response(&app, kind, e).await?);
    }
    Ok(page_of(
        &headers,
        kind.base(),
        &query,
        paging,
        count,
        results,
        raw.as_deref(),
    ))
}

async fn update_exporter(
    app: App,
    kind: Kind,
    id: String,
    body: Bytes,
    partial: bool,
) -> Result<Response, ApiError> {
    let mut exporter = load_exporter(&app, kind, &id).await?;
    let map = object(&body)?;
    apply_exporter_fields(&app, kind, &mut exporter, &map, partial).await?;
    exporter.pulp_last_updated = Utc::now();
    save_exporter(&app, &exporter).await?;
    Ok(Json(exporter_response(&app, kind, &exporter).await?).into_response())
}

async fn delete_exporter(app: App, kind: Kind, id: String) -> Result<Response, ApiError> {
    let exporter = load_exporter(&app, kind, &id).await?;
    let task = dispatch(
        &app,
        DispatchRequest::new(DELETE_EXPORTER_TASK)
            .args(json!({"exporter_pk": exporter.pulp_id}))
            .exclusive([exporter_href(kind, exporter.pulp_id)]),
    )
    .await?;
    Ok(task_response(&task))
}

async fn delete_exporter_task(ctx: TaskContext) -> TaskOutput {
    #[derive(serde::Deserialize)]
    struct Args {
        exporter_pk: PulpId,
    }
    let args: Args = ctx.parse_args()?;
    records::delete_exporter(ctx.app().db(), args.exporter_pk)
        .await
        .map_err(task_error)?;
    Ok(None)
}

// ---- exports --------------------------------------------------------------------------

/// Pulp's chunk sizes: a number of bytes with an optional unit (B, KB, MB, GB, TB; powers
/// of 1024), at most 1 TB.
fn parse_chunk_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().ok()?;
    let factor: u64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        "TB" => 1 << 40,
        _ => return None,
    };
    let size = number.checked_mul(factor)?;
    (size > 0 && size <= 1 << 40).then_some(size)
}

async fn versions_of(
    app: &App,
    field: &str,
    hrefs: &[String],
    allowed: &[PulpId],
) -> Result<Vec<RepositoryVersion>, ApiError> {
    let mut out = Vec::with_capacity(hrefs.len());
    for href in hrefs {
        let (repository, number) = parse_version(app, href).ok_or_else(|| {
            ApiError::field(
                field,
                format!("Invalid hyperlink - Object does not exist: {href}"),
            )
        })?;
        let version = get_version(app.db(), repository, number)
            .await
            .map_err(|_| {
                ApiError::field(
                    field,
                    format!("Invalid hyperlink - Object does not exist: {href}"),
                )
            })?;
        if !allowed.contains(&repository) {
            return Err(ApiError::field(
                field,
                "Requested RepositoryVersions must belong to the Repositories named by the Exporter!",
            ));
        }
        if out
            .iter()
            .any(|v: &RepositoryVersion| v.repository_id == repository)
        {
            return Err(ApiError::field(
                field,
                "Only one version per repository may be given.",
            ));
        }
        out.push(version);
    }
    Ok(out)
}

async fn create_export(
    app: App,
    kind: Kind,
    id: String,
    body: Bytes,
) -> Result<Response, ApiError> {
    let exporter = load_exporter(&app, kind, &id).await?;
    let map = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        object(&body)?
    };
    allowed_path(app.settings(), PathKind::Export, &exporter.path)?;
    let (name, args) = match kind {
        Kind::Pulp => {
            if let Some(hrefs) = href_list(&map, "versions")? {
                versions_of(&app, "versions", &hrefs, &exporter.repositories).await?;
            }
            if let Some(hrefs) = href_list(&map, "start_versions")? {
                versions_of(&app, "start_versions", &hrefs, &exporter.repositories).await?;
            }
            if let Some(size) = map.get("chunk_size") {
                let ok = size.as_str().and_then(parse_chunk_size).is_some();
                if !ok {
                    return Err(ApiError::field(
                        "chunk_size",
                        "Chunk size must be a number of bytes with an optional unit (B/KB/MB/GB/TB), at most 1TB.",
                    ));
                }
            }
            // `dry_run` is accepted and, as in pulpcore 3.123 (which declares it and never
            // reads it), changes nothing.
            for flag in ["full", "dry_run"] {
                if map.get(flag).is_some_and(|v| !v.is_boolean()) {
                    return Err(ApiError::field(flag, "Must be a valid boolean."));
                }
            }
            if let Some(meta) = map.get("meta") {
                if !meta.is_object() {
                    return Err(ApiError::field("meta", "Expected a dictionary of items."));
                }
            }
            (
                PULP_EXPORT_TASK,
                json!({"exporter_pk": exporter.pulp_id, "params": map}),
            )
        }
        Kind::Filesystem => {
            let publication = text_field(&map, "publication", false)?;
            let version = text_field(&map, "repository_version", false)?;
            let mut args = json!({"exporter_pk": exporter.pulp_id});
            match (publication, version) {
                (Some(p), None) => {
                    let id = parse_master(&app, &p, "core_publication").ok_or_else(|| {
                        ApiError::field("publication", "Invalid hyperlink - Object does not exist.")
                    })?;
                    crate::models::get_master::<crate::models::PublicationKind>(app.db(), id)
                        .await
                        .map_err(|_| {
                            ApiError::field(
                                "publication",
                                "Invalid hyperlink - Object does not exist.",
                            )
                        })?;
                    args["publication_pk"] = json!(id);
                }
                (None, Some(v)) => {
                    let (repository, number) = parse_version(&app, &v).ok_or_else(|| {
                        ApiError::field(
                            "repository_version",
                            "Invalid hyperlink - Object does not exist.",
                        )
                    })?;
                    let version =
                        get_version(app.db(), repository, number)
                            .await
                            .map_err(|_| {
                                ApiError::field(
                                    "repository_version",
                                    "Invalid hyperlink - Object does not exist.",
                                )
                            })?;
                    args["repo_version_pk"] = json!(version.pulp_id);
                }
                _ => {
                    return Err(ApiError::field(
                        "non_field_errors",
                        "publication or repository_version must either be supplied but not both.",
                    ))
                }
            }
            if let Some(start) = text_field(&map, "start_repository_version", false)? {
                let (repository, number) = parse_version(&app, &start).ok_or_else(|| {
                    ApiError::field(
                        "start_repository_version",
                        "Invalid hyperlink - Object does not exist.",
                    )
                })?;
                let version = get_version(app.db(), repository, number)
                    .await
                    .map_err(|_| {
                        ApiError::field(
                            "start_repository_version",
                            "Invalid hyperlink - Object does not exist.",
                        )
                    })?;
                args["start_repo_version_pk"] = json!(version.pulp_id);
            }
            let name = if args.get("publication_pk").is_some() {
                FS_PUBLICATION_EXPORT_TASK
            } else {
                FS_VERSION_EXPORT_TASK
            };
            (name, args)
        }
    };
    let mut shared: Vec<String> = Vec::new();
    for id in &exporter.repositories {
        if let Ok(href) = repository_href(&app, *id).await {
            shared.push(href);
        }
    }
    let task = dispatch(
        &app,
        DispatchRequest::new(name)
            .args(args)
            .exclusive([exporter_href(kind, exporter.pulp_id)])
            .shared(shared),
    )
    .await?;
    Ok(task_response(&task))
}

async fn new_export(
    ctx: &TaskContext,
    exporter: &Exporter,
    params: Value,
) -> Result<Export, TaskError> {
    let now = Utc::now();
    let export = Export {
        pulp_id: PulpId::new(),
        pulp_created: now,
        pulp_last_updated: now,
        exporter_id: exporter.pulp_id,
        task_id: Some(ctx.task_id()),
        params,
        output_file_info: None,
        toc_info: None,
        exported_resources: Vec::new(),
    };
    records::save_export(ctx.app().db(), &export)
        .await
        .map_err(task_error)?;
    Ok(export)
}

async fn version_href(app: &App, version: &RepositoryVersion) -> String {
    match repository_href(app, version.repository_id).await {
        Ok(href) => format!("{href}versions/{}/", version.number),
        Err(_) => String::new(),
    }
}

async fn pulp_export_task(ctx: TaskContext) -> TaskOutput {
    #[derive(serde::Deserialize)]
    struct Args {
        exporter_pk: PulpId,
        params: Map<String, Value>,
    }
    let args: Args = ctx.parse_args()?;
    let app = ctx.app().clone();
    let mut exporter = records::get_exporter(app.db(), records::PULP_TYPE, args.exporter_pk)
        .await
        .map_err(task_error)?
        .ok_or_else(|| TaskError::new("the exporter is gone"))?;
    let directory =
        allowed_path(app.settings(), PathKind::Export, &exporter.path).map_err(task_error)?;
    let params = args.params;
    let mut export = new_export(&ctx, &exporter, Value::Object(params.clone())).await?;
    ctx.add_created_resource(export_href(Kind::Pulp, exporter.pulp_id, export.pulp_id));
    let hrefs = |name: &str| -> Vec<String> {
        params
            .get(name)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let version_list = |field: &'static str, hrefs: Vec<String>| {
        let app = app.clone();
        let repositories = exporter.repositories.clone();
        async move {
            versions_of(&app, field, &hrefs, &repositories)
                .await
                .map_err(|e| TaskError::new(format!("{field}: {e}")))
        }
    };
    let versions = if params.contains_key("versions") {
        version_list("versions", hrefs("versions")).await?
    } else {
        let mut out = Vec::new();
        for id in &exporter.repositories {
            out.push(
                latest_version(app.db(), *id)
                    .await
                    .map_err(|e| TaskError::new(e.to_string()))?,
            );
        }
        out
    };
    let full = params.get("full").and_then(Value::as_bool).unwrap_or(true);
    let start_versions = if full {
        None
    } else if params.contains_key("start_versions") {
        Some(version_list("start_versions", hrefs("start_versions")).await?)
    } else if let Some(last) = exporter.last_export {
        // The versions the last export wrote.
        let previous = records::get_export(app.db(), exporter.pulp_id, last)
            .await
            .map_err(task_error)?;
        let mut out = Vec::new();
        if let Some(previous) = previous {
            if let Some(ids) = previous
                .params
                .get("_version_ids")
                .and_then(Value::as_array)
            {
                for id in ids.iter().filter_map(|v| v.as_str()) {
                    if let Ok(uuid) = uuid::Uuid::parse_str(id) {
                        if let Ok(v) = get_version_by_id(app.db(), PulpId(uuid)).await {
                            out.push(v);
                        }
                    }
                }
            }
        }
        Some(out)
    } else {
        None
    };
    let chunk_size = params
        .get("chunk_size")
        .and_then(Value::as_str)
        .and_then(parse_chunk_size)
        .unwrap_or(0);
    let meta = params
        .get("meta")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let output = export_versions(
        &app,
        ExportRequest {
            export_id: export.pulp_id,
            directory,
            versions: versions.clone(),
            start_versions,
            chunk_size,
            meta: meta.clone(),
        },
    )
    .await
    .map_err(task_error)?;
    let mut resources = Vec::new();
    for v in &versions {
        resources.push(version_href(&app, v).await);
    }
    export.exported_resources = resources;
    export.output_file_info = Some(json!(output.output_file_info));
    export.toc_info = Some(json!({
        "file": output.toc_path.display().to_string(),
        "sha256": output.toc_sha256,
        "meta": meta,
    }));
    // The versions written, for the next incremental export without start_versions.
    if let Value::Object(p) = &mut export.params {
        p.insert(
            "_version_ids".into(),
            json!(versions
                .iter()
                .map(|v| v.pulp_id.to_string())
                .collect::<Vec<_>>()),
        );
    }
    export.pulp_last_updated = Utc::now();
    records::save_export(app.db(), &export)
        .await
        .map_err(task_error)?;
    exporter.last_export = Some(export.pulp_id);
    exporter.pulp_last_updated = Utc::now();
    records::save_exporter(app.db(), &exporter)
        .await
        .map_err(task_error)?;
    Ok(None)
}

async fn fs_export_task(ctx: TaskContext) -> TaskOutput {
    #[derive(serde::Deserialize)]
    struct Args {
        exporter_pk: PulpId,
        publication_pk: Option<PulpId>,
        repo_version_pk: Option<PulpId>,
        start_repo_version_pk: Option<PulpId>,
    }
    let args: Args = ctx.parse_args()?;
    let app = ctx.app().clone();
    let exporter = records::get_exporter(app.db(), records::FILESYSTEM_TYPE, args.exporter_pk)
        .await
        .map_err(task_error)?
        .ok_or_else(|| TaskError::new("the exporter is gone"))?;
    let directory =
        allowed_path(app.settings(), PathKind::Export, &exporter.path).map_err(task_error)?;
    let method = exporter
        .method
        .as_deref()
        .and_then(FilesystemMethod::parse)
        .unwrap_or(FilesystemMethod::Write);
    let start = match args.start_repo_version_pk {
        Some(id) => Some(
            get_version_by_id(app.db(), id)
                .await
                .map_err(|e| TaskError::new(e.to_string()))?,
        ),
        None => None,
    };
    let (source, params, resource) = match (args.publication_pk, args.repo_version_pk) {
        (Some(p), _) => {
            let master = crate::models::get_master::<crate::models::PublicationKind>(app.db(), p)
                .await
                .map_err(|e| TaskError::new(e.to_string()))?;
            let href = href_of(&app, "core_publication", &master.pulp_type, p).unwrap_or_default();
            (
                FilesystemSource::Publication(p),
                json!({"publication": p}),
                href,
            )
        }
        (None, Some(v)) => {
            let version = get_version_by_id(app.db(), v)
                .await
                .map_err(|e| TaskError::new(e.to_string()))?;
            let href = version_href(&app, &version).await;
            (
                FilesystemSource::RepositoryVersion(version),
                json!({"repository_version": v}),
                href,
            )
        }
        (None, None) => return Err(TaskError::new("nothing to export")),
    };
    let mut params = params;
    if let Some(s) = &start {
        params["start_repository_version"] = json!(s.pulp_id);
    }
    let mut export = new_export(&ctx, &exporter, params).await?;
    export.exported_resources = vec![resource];
    records::save_export(app.db(), &export)
        .await
        .map_err(task_error)?;
    ctx.add_created_resource(export_href(
        Kind::Filesystem,
        exporter.pulp_id,
        export.pulp_id,
    ));
    filesystem_export(&app, &directory, method, &source, start.as_ref())
        .await
        .map_err(task_error)?;
    Ok(None)
}

async fn list_exports(
    app: App,
    kind: Kind,
    id: String,
    headers: HeaderMap,
    raw: Option<String>,
) -> Result<Response, ApiError> {
    let exporter = load_exporter(&app, kind, &id).await?;
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let (count, exports) =
        records::list_exports(app.db(), exporter.pulp_id, paging.limit, paging.offset).await?;
    let results = exports.iter().map(|e| export_response(kind, e)).collect();
    let path = format!("{}{}/exports/", kind.base(), exporter.pulp_id);
    Ok(page_of(
        &headers,
        &path,
        &query,
        paging,
        count,
        results,
        raw.as_deref(),
    ))
}

async fn load_export(app: &App, kind: Kind, exporter: &str, id: &str) -> Result<Export, ApiError> {
    let exporter = load_exporter(app, kind, exporter).await?;
    records::get_export(app.db(), exporter.pulp_id, path_id(id)?)
        .await?
        .ok_or(ApiError::NotFound)
}

// ---- importers ------------------------------------------------------------------------

async fn load_importer(app: &App, raw: &str) -> Result<Importer, ApiError> {
    records::get_importer(app.db(), path_id(raw)?)
        .await?
        .ok_or(ApiError::NotFound)
}

async fn repository_exists(app: &App, name: &str) -> Result<bool, ApiError> {
    let n: i64 = crate::on_pool!(app.db(), pool => {
        sqlx::query_scalar("SELECT COUNT(*) FROM core_repository WHERE name = $1")
            .bind(name.to_string())
            .fetch_one(pool)
            .await?
    });
    Ok(n > 0)
}

async fn parse_mapping(app: &App, value: &Value) -> Result<BTreeMap<String, String>, ApiError> {
    let mapping: BTreeMap<String, String> = match value {
        Value::Null => BTreeMap::new(),
        Value::Object(_) => serde_json::from_value(value.clone()).map_err(|_| {
            ApiError::field("repo_mapping", "Expected a dictionary of repository names.")
        })?,
        _ => {
            return Err(ApiError::field(
                "repo_mapping",
                "Expected a dictionary of repository names.",
            ))
        }
    };
    let mut missing = Vec::new();
    for name in mapping.values() {
        if !repository_exists(app, name).await? {
            missing.push(name.clone());
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::field(
            "repo_mapping",
            format!("Repository {} does not exist.", missing.join(", ")),
        ));
    }
    Ok(mapping)
}

async fn apply_importer_fields(
    app: &App,
    importer: &mut Importer,
    map: &Map<String, Value>,
    partial: bool,
) -> Result<(), ApiError> {
    if let Some(name) = text_field(map, "name", !partial)? {
        importer.name = name;
    }
    if let Some(value) = map.get("repo_mapping") {
        importer.repo_mapping = parse_mapping(app, value).await?;
    }
    Ok(())
}

async fn save_importer(app: &App, importer: &Importer) -> Result<(), ApiError> {
    match records::save_importer(app.db(), importer).await {
        Err(e) if records::is_name_taken(&e) => {
            Err(ApiError::field("name", "This field must be unique."))
        }
        other => Ok(other?),
    }
}

async fn create_importer(State(app): State<App>, body: Bytes) -> Result<Response, ApiError> {
    let map = object(&body)?;
    let now = Utc::now();
    let mut importer = Importer {
        pulp_id: PulpId::new(),
        pulp_created: now,
        pulp_last_updated: now,
        name: String::new(),
        repo_mapping: BTreeMap::new(),
    };
    apply_importer_fields(&app, &mut importer, &map, false).await?;
    save_importer(&app, &importer).await?;
    Ok((StatusCode::CREATED, Json(importer_response(&importer))).into_response())
}

async fn list_importers(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let (count, importers) =
        records::list_importers(app.db(), query.get("name"), paging.limit, paging.offset).await?;
    let results = importers.iter().map(importer_response).collect();
    Ok(page_of(
        &headers,
        IMPORTERS,
        &query,
        paging,
        count,
        results,
        raw.as_deref(),
    ))
}

async fn read_importer(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let importer = load_importer(&app, &id).await?;
    Ok(Json(select_fields(importer_response(&importer), raw.as_deref())).into_response())
}

async fn update_importer_with(
    app: App,
    id: String,
    body: Bytes,
    partial: bool,
) -> Result<Response, ApiError> {
    let mut importer = load_importer(&app, &id).await?;
    let map = object(&body)?;
    apply_importer_fields(&app, &mut importer, &map, partial).await?;
    importer.pulp_last_updated = Utc::now();
    save_importer(&app, &importer).await?;
    Ok(Json(importer_response(&importer)).into_response())
}

async fn update_importer(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    update_importer_with(app, id, body, false).await
}

async fn partial_update_importer(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    update_importer_with(app, id, body, true).await
}

async fn delete_importer(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let importer = load_importer(&app, &id).await?;
    records::delete_importer(app.db(), importer.pulp_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Checks an import's `path` or `toc`: allowed, an existing file.
fn import_file(app: &App, field: &str, value: &str) -> Result<PathBuf, ApiError> {
    let path = allowed_path(app.settings(), PathKind::Import, value)
        .map_err(|e| ApiError::field(field, e.to_string()))?;
    if !path.is_file() {
        return Err(ApiError::field(
            field,
            format!("File {value} does not exist."),
        ));
    }
    Ok(path)
}

async fn create_import(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let importer = load_importer(&app, &id).await?;
    let map = object(&body)?;
    let path = text_field(&map, "path", false)?;
    let toc = text_field(&map, "toc", false)?;
    let create = match map.get("create_repositories") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            return Err(ApiError::field(
                "create_repositories",
                "Must be a valid boolean.",
            ))
        }
    };
    let (path, toc) = match (path, toc) {
        (Some(_), Some(_)) => {
            return Err(ApiError::field(
                "non_field_errors",
                "Only one of 'path' and 'toc' may be specified.",
            ))
        }
        (None, None) => {
            return Err(ApiError::field(
                "non_field_errors",
                "One of 'path' or 'toc' must be specified.",
            ))
        }
        (Some(p), None) => (Some(import_file(&app, "path", &p)?), None),
        (None, Some(t)) => (None, Some(import_file(&app, "toc", &t)?)),
    };
    let group = create_task_group(app.db(), "Import").await?;
    let dispatched = dispatch(
        &app,
        DispatchRequest::new(PULP_IMPORT_TASK)
            .args(json!({
                "importer_pk": importer.pulp_id,
                "path": path,
                "toc": toc,
                "create_repositories": create,
                "task_group": group,
            }))
            .exclusive([importer_href(importer.pulp_id)])
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

/// Where the import task leaves each repository's files for its task.
fn staging_dir(app: &App, import: PulpId) -> PathBuf {
    app.settings()
        .effective_working_directory()
        .join("imports")
        .join(import.to_string())
}

async fn pulp_import_task(ctx: TaskContext) -> TaskOutput {
    #[derive(serde::Deserialize)]
    struct Args {
        importer_pk: PulpId,
        path: Option<PathBuf>,
        toc: Option<PathBuf>,
        create_repositories: bool,
        task_group: PulpId,
    }
    let args: Args = ctx.parse_args()?;
    let app = ctx.app().clone();
    let result = run_import(
        &ctx,
        &args.importer_pk,
        args.path,
        args.toc,
        args.create_repositories,
        args.task_group,
    )
    .await;
    // Every task of the group is dispatched (or none will be).
    mark_group_dispatched(app.db(), args.task_group)
        .await
        .map_err(|e| TaskError::new(e.to_string()))?;
    result
}

async fn run_import(
    ctx: &TaskContext,
    importer_id: &PulpId,
    path: Option<PathBuf>,
    toc: Option<PathBuf>,
    create: bool,
    group: PulpId,
) -> TaskOutput {
    let app = ctx.app().clone();
    let importer = records::get_importer(app.db(), *importer_id)
        .await
        .map_err(task_error)?
        .ok_or_else(|| TaskError::new("the importer is gone"))?;
    let (files, shown) = match (&path, &toc) {
        (_, Some(toc)) => {
            let checked = allowed_path(app.settings(), PathKind::Import, &toc.to_string_lossy())
                .map_err(task_error)?;
            let parsed = TableOfContents::read(&checked).map_err(task_error)?;
            let dir = checked
                .parent()
                .map(|p| p.to_path_buf())
                .unwrap_or_default();
            parsed.validate(&dir).map_err(task_error)?;
            (ExportFiles::Chunks(parsed.chunk_paths(&dir)), checked)
        }
        (Some(path), None) => {
            let checked = allowed_path(app.settings(), PathKind::Import, &path.to_string_lossy())
                .map_err(task_error)?;
            (ExportFiles::Tar(checked.clone()), checked)
        }
        (None, None) => return Err(TaskError::new("One of 'path' or 'toc' must be specified.")),
    };
    let import = Import {
        pulp_id: PulpId::new(),
        pulp_created: Utc::now(),
        importer_id: importer.pulp_id,
        task_id: Some(ctx.task_id()),
        params: json!({"path": shown.display().to_string()}),
    };
    records::save_import(app.db(), &import)
        .await
        .map_err(task_error)?;
    ctx.add_created_resource(import_href(importer.pulp_id, import.pulp_id));
    let read_files = files.clone();
    let contents = tokio::task::spawn_blocking(move || read_export(&read_files))
        .await
        .map_err(|e| TaskError::new(e.to_string()))?
        .map_err(task_error)?;
    let plan = prepare_import(&app, &contents, &importer.repo_mapping, create)
        .await
        .map_err(task_error)?;
    let progress = ctx
        .progress(
            "Importing Artifacts",
            "import.artifacts",
            Some(plan.artifacts.len() as u64),
        )
        .await
        .ok();
    plan.import_artifacts(&app, &files)
        .await
        .map_err(task_error)?;
    if let Some(p) = progress {
        let _ = p.increment(plan.artifacts.len() as u64).await;
        let _ = p.complete().await;
    }
    let staging = staging_dir(&app, import.pulp_id);
    for repository in &plan.repositories {
        let dir = staging.join(&repository.dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| TaskError::new(format!("staging the import: {e}")))?;
        if let Some(files) = contents.version_dirs.get(&repository.dir) {
            for (name, bytes) in files {
                std::fs::write(dir.join(name), bytes)
                    .map_err(|e| TaskError::new(format!("staging the import: {e}")))?;
            }
        }
        let mut exclusive = vec![format!("import-{}", repository.dest_name)];
        if let Some(id) = repository.dest_id {
            if let Ok(href) = repository_href(&app, id).await {
                exclusive.push(href);
            }
        }
        ctx.dispatch_child(
            DispatchRequest::new(IMPORT_VERSION_TASK)
                .args(json!({
                    "importer_pk": importer.pulp_id,
                    "repository": repository,
                    "staging": dir,
                }))
                .exclusive(exclusive)
                .task_group(group),
        )
        .await
        .map_err(|e| TaskError::new(e.to_string()))?;
    }
    Ok(None)
}

async fn import_version_task(ctx: TaskContext) -> TaskOutput {
    #[derive(serde::Deserialize)]
    struct Args {
        repository: RepositoryImport,
        staging: PathBuf,
    }
    let args: Args = ctx.parse_args()?;
    let app = ctx.app().clone();
    let mut contents = ExportContents::default();
    let mut files = BTreeMap::new();
    let read = std::fs::read_dir(&args.staging)
        .map_err(|e| TaskError::new(format!("reading the staged import: {e}")))?;
    for entry in read.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let bytes = std::fs::read(entry.path())
            .map_err(|e| TaskError::new(format!("reading the staged import: {e}")))?;
        files.insert(name, bytes);
    }
    contents
        .version_dirs
        .insert(args.repository.dir.clone(), files);
    let result = import_repository_version(&app, &contents, &args.repository).await;
    let _ = std::fs::remove_dir_all(&args.staging);
    if let Some(parent) = args.staging.parent() {
        let _ = std::fs::remove_dir(parent);
    }
    let (repository, number) = result.map_err(task_error)?;
    if let Some(number) = number {
        if let Ok(href) = repository_href(&app, repository).await {
            ctx.add_created_resource(format!("{href}versions/{number}/"));
        }
    }
    Ok(None)
}

async fn list_imports(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let importer = load_importer(&app, &id).await?;
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let (count, imports) =
        records::list_imports(app.db(), importer.pulp_id, paging.limit, paging.offset).await?;
    let results = imports.iter().map(import_response).collect();
    let path = format!("{IMPORTERS}{}/imports/", importer.pulp_id);
    Ok(page_of(
        &headers,
        &path,
        &query,
        paging,
        count,
        results,
        raw.as_deref(),
    ))
}

async fn read_import(
    State(app): State<App>,
    Path((importer, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let importer = load_importer(&app, &importer).await?;
    let import = records::get_import(app.db(), importer.pulp_id, path_id(&id)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(select_fields(import_response(&import), raw.as_deref())).into_response())
}

async fn delete_import(
    State(app): State<App>,
    Path((importer, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let importer = load_importer(&app, &importer).await?;
    let import = records::get_import(app.db(), importer.pulp_id, path_id(&id)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    records::delete_import(app.db(), import.pulp_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `import-check`: evaluates `path`, `toc` and `repo_mapping` without importing.
async fn import_check(State(app): State<App>, body: Bytes) -> Result<Response, ApiError> {
    let map = object(&body)?;
    let path = text_field(&map, "path", false)?;
    let toc = text_field(&map, "toc", false)?;
    let mapping = text_field(&map, "repo_mapping", false)?;
    if path.is_none() && toc.is_none() && mapping.is_none() {
        return Err(ApiError::field(
            "non_field_errors",
            "One of path, toc, or repo_mapping must be specified.",
        ));
    }
    let evaluate = |context: &str, messages: Vec<String>| json!({"context": context, "is_valid": messages.is_empty(), "messages": messages});
    let file_messages = |value: &str| -> Vec<String> {
        match allowed_path(app.settings(), PathKind::Import, value) {
            Err(e) => vec![e.to_string()],
            Ok(p) if !p.is_file() => vec![format!("File {value} does not exist.")],
            Ok(p) => match std::fs::File::open(&p) {
                Ok(_) => Vec::new(),
                Err(_) => vec![format!("File {value} exists but cannot be read.")],
            },
        }
    };
    let mut out = Map::new();
    if let Some(p) = &path {
        out.insert("path".into(), evaluate(p, file_messages(p)));
    }
    if let Some(t) = &toc {
        let mut messages = file_messages(t);
        if messages.is_empty() {
            if let Err(e) = TableOfContents::read(std::path::Path::new(t)) {
                messages.push(e.to_string());
            }
        }
        out.insert("toc".into(), evaluate(t, messages));
    }
    if let Some(m) = &mapping {
        let messages = match serde_json::from_str::<Value>(m) {
            Ok(v @ Value::Object(_)) => match parse_mapping(&app, &v).await {
                Ok(_) => Vec::new(),
                Err(ApiError::Validation(fields)) => fields.into_values().flatten().collect(),
                Err(e) => vec![e.to_string()],
            },
            _ => vec!["invalid JSON".to_string()],
        };
        out.insert("repo_mapping".into(), evaluate(m, messages));
    }
    Ok(Json(Value::Object(out)).into_response())
}

// ---- routes ---------------------------------------------------------------------------

fn schemas(routes: &mut ApiRoutes) {
    let href = json!({"type": "string", "format": "uri"});
    let common = json!({
        "pulp_href": {"type": "string", "format": "uri", "readOnly": true},
        "prn": {"type": "string", "readOnly": true},
        "pulp_created": {"type": "string", "format": "date-time", "readOnly": true},
        "pulp_last_updated": {"type": "string", "format": "date-time", "readOnly": true},
    });
    let with_common = |extra: Value| {
        let mut props = common.as_object().cloned().unwrap_or_default();
        if let Value::Object(e) = extra {
            props.extend(e);
        }
        Value::Object(props)
    };
    let pulp_exporter = json!({
        "name": {"type": "string", "minLength": 1},
        "path": {"type": "string", "minLength": 1},
        "repositories": {"type": "array", "items": href},
        "last_export": {"type": ["string", "null"], "format": "uri"},
    });
    let fs_exporter = json!({
        "name": {"type": "string", "minLength": 1},
        "path": {"type": "string", "minLength": 1},
        "method": {"type": "string", "enum": ["write", "hardlink", "symlink"], "default": "write"},
    });
    let importer = json!({
        "name": {"type": "string", "minLength": 1},
        "repo_mapping": {"type": "object", "additionalProperties": {"type": "string"}},
    });
    routes.raw_schema("PulpExporter", json!({"type": "object", "properties": pulp_exporter, "required": ["name", "path", "repositories"]}));
    routes.raw_schema(
        "PatchedPulpExporter",
        json!({"type": "object", "properties": pulp_exporter}),
    );
    routes.raw_schema(
        "PulpExporterResponse",
        json!({"type": "object", "properties": with_common(pulp_exporter.clone())}),
    );
    routes.raw_schema(
        "FilesystemExporter",
        json!({"type": "object", "properties": fs_exporter, "required": ["name", "path"]}),
    );
    routes.raw_schema(
        "PatchedFilesystemExporter",
        json!({"type": "object", "properties": fs_exporter}),
    );
    routes.raw_schema(
        "FilesystemExporterResponse",
        json!({"type": "object", "properties": with_common(fs_exporter.clone())}),
    );
    routes.raw_schema(
        "PulpImporter",
        json!({"type": "object", "properties": importer, "required": ["name"]}),
    );
    routes.raw_schema(
        "PatchedPulpImporter",
        json!({"type": "object", "properties": importer}),
    );
    routes.raw_schema(
        "PulpImporterResponse",
        json!({"type": "object", "properties": with_common(importer.clone())}),
    );
    routes.raw_schema(
        "PulpExport",
        json!({"type": "object", "properties": {
            "full": {"type": "boolean", "writeOnly": true, "default": true},
            "dry_run": {"type": "boolean", "writeOnly": true, "default": false},
            "versions": {"type": "array", "items": href, "writeOnly": true},
            "chunk_size": {"type": "string", "writeOnly": true, "minLength": 1},
            "start_versions": {"type": "array", "items": href, "writeOnly": true},
            "meta": {"type": "object", "writeOnly": true},
        }}),
    );
    routes.raw_schema(
        "PulpExportResponse",
        json!({"type": "object", "properties": with_common(json!({
            "task": {"type": ["string", "null"], "format": "uri"},
            "exported_resources": {"type": "array", "items": href},
            "params": {"type": "object"},
            "output_file_info": {"type": "object"},
            "toc_info": {"type": "object"},
        }))}),
    );
    routes.raw_schema(
        "FilesystemExport",
        json!({"type": "object", "properties": {
            "publication": {"type": "string", "format": "uri", "writeOnly": true},
            "repository_version": {"type": "string", "format": "uri", "writeOnly": true},
            "start_repository_version": {"type": "string", "format": "uri", "writeOnly": true},
        }}),
    );
    routes.raw_schema(
        "FilesystemExportResponse",
        json!({"type": "object", "properties": with_common(json!({
            "task": {"type": ["string", "null"], "format": "uri"},
            "exported_resources": {"type": "array", "items": href},
            "params": {"type": "object"},
        }))}),
    );
    routes.raw_schema(
        "PulpImport",
        json!({"type": "object", "properties": {
            "path": {"type": "string", "minLength": 1},
            "toc": {"type": "string", "minLength": 1},
            "create_repositories": {"type": "boolean", "default": false},
        }}),
    );
    routes.raw_schema(
        "PulpImportResponse",
        json!({"type": "object", "properties": with_common(json!({
            "task": {"type": ["string", "null"], "format": "uri"},
            "params": {"type": "object"},
        }))}),
    );
    routes.raw_schema(
        "PulpImportCheck",
        json!({"type": "object", "properties": {
            "path": {"type": "string", "minLength": 1},
            "toc": {"type": "string", "minLength": 1},
            "repo_mapping": {"type": "string", "minLength": 1},
        }}),
    );
    routes.raw_schema(
        "TaskGroupOperationResponse",
        json!({"type": "object", "properties": {
        "task_group": {"type": "string", "format": "uri"}}, "required": ["task_group"]}),
    );
    for name in [
        "PulpExporterResponse",
        "FilesystemExporterResponse",
        "PulpImporterResponse",
        "PulpExportResponse",
        "FilesystemExportResponse",
        "PulpImportResponse",
    ] {
        routes.raw_schema(&format!("Paginated{name}List"), json!({
            "type": "object", "required": ["count", "results"],
            "properties": {
                "count": {"type": "integer"},
                "next": {"type": ["string", "null"], "format": "uri"},
                "previous": {"type": ["string", "null"], "format": "uri"},
                "results": {"type": "array", "items": {"$ref": format!("#/components/schemas/{name}")}},
            },
        }));
    }
}

macro_rules! exporter_routes {
    ($routes:expr, $kind:expr, $slug:literal, $schema:literal, $export_schema:literal, $tag:literal) => {{
        const KIND: Kind = $kind;
        let base = KIND.base();
        let object = format!("{base}{{id}}/");
        let exports = format!("{base}{{id}}/exports/");
        let export = format!("{base}{{id}}/exports/{{export}}/");
        let href = concat!("{", $slug, "_exporter_href}");
        let export_href = concat!("{", $slug, "_", $slug, "_export_href}");
        let op = |m: &'static str, p: &str, action: &str| {
            Operation::new(m, p, &format!("exporters_core_{}_{action}", $slug), $tag)
        };
        $routes.route(
            base,
            get(|State(app): State<App>, headers: HeaderMap, RawQuery(raw): RawQuery| list_exporters(app, KIND, headers, raw))
                .post(|State(app): State<App>, body: Bytes| create_exporter(app, KIND, body)),
            [
                op("get", base, "list").summary("List exporters").params(list_params(&["name", "pulp_created"])).params(name_params())
                    .response(200, Doc::Schema(format!("Paginated{}ResponseList", $schema))),
                op("post", base, "create").summary("Create an exporter").body(RequestBody::Schema($schema.into()))
                    .response(201, Doc::Schema(format!("{}Response", $schema))),
            ],
        );
        $routes.route(
            &object,
            get(|State(app): State<App>, Path(id): Path<String>, RawQuery(raw): RawQuery| async move {
                let e = load_exporter(&app, KIND, &id).await?;
                Ok::<_, ApiError>(Json(select_fields(exporter_response(&app, KIND, &e).await?, raw.as_deref())).into_response())
            })
            .put(|State(app): State<App>, Path(id): Path<String>, body: Bytes| update_exporter(app, KIND, id, body, false))
            .patch(|State(app): State<App>, Path(id): Path<String>, body: Bytes| update_exporter(app, KIND, id, body, true))
            .delete(|State(app): State<App>, Path(id): Path<String>| delete_exporter(app, KIND, id)),
            [
                op("get", href, "read").summary("Inspect an exporter").params(field_params())
                    .response(200, Doc::Schema(format!("{}Response", $schema))),
                op("put", href, "update").summary("Update an exporter").body(RequestBody::Schema($schema.into()))
                    .response(200, Doc::Schema(format!("{}Response", $schema))),
                op("patch", href, "partial_update").summary("Update an exporter").body(RequestBody::Schema(format!("Patched{}", $schema)))
                    .response(200, Doc::Schema(format!("{}Response", $schema))),
                op("delete", href, "delete").summary("Delete an exporter").response(202, Doc::Task),
            ],
        );
        $routes.route(
            &exports,
            get(|State(app): State<App>, Path(id): Path<String>, headers: HeaderMap, RawQuery(raw): RawQuery| list_exports(app, KIND, id, headers, raw))
                .post(|State(app): State<App>, Path(id): Path<String>, body: Bytes| create_export(app, KIND, id, body)),
            [
                op("get", &format!("{href}exports/"), "exports_list").summary("List exports").params(list_params(&["pulp_created"]))
                    .response(200, Doc::Schema(format!("Paginated{}ResponseList", $export_schema))),
                op("post", &format!("{href}exports/"), "exports_create").summary("Create an export")
                    .body(RequestBody::Schema($export_schema.into())).response(202, Doc::Task),
            ],
        );
        $routes.route(
            &export,
            get(|State(app): State<App>, Path((id, export)): Path<(String, String)>, RawQuery(raw): RawQuery| async move {
                let e = load_export(&app, KIND, &id, &export).await?;
                Ok::<_, ApiError>(Json(select_fields(export_response(KIND, &e), raw.as_deref())).into_response())
            })
            .delete(|State(app): State<App>, Path((id, export)): Path<(String, String)>| async move {
                let e = load_export(&app, KIND, &id, &export).await?;
                records::delete_export(app.db(), e.pulp_id).await?;
                Ok::<_, ApiError>(StatusCode::NO_CONTENT.into_response())
            }),
            [
                op("get", export_href, "exports_read").summary("Inspect an export").params(field_params())
                    .response(200, Doc::Schema(format!("{}Response", $export_schema))),
                op("delete", export_href, "exports_delete").summary("Delete an export").response(204, Doc::Empty),
            ],
        );
    }};
}

/// Mounts the exporter and importer routes, documented.
pub(crate) fn mount(routes: &mut ApiRoutes) {
    schemas(routes);
    exporter_routes!(
        routes,
        Kind::Pulp,
        "pulp",
        "PulpExporter",
        "PulpExport",
        "Exporters: Pulp"
    );
    exporter_routes!(
        routes,
        Kind::Filesystem,
        "filesystem",
        "FilesystemExporter",
        "FilesystemExport",
        "Exporters: Filesystem"
    );
    let tag = "Importers: Pulp";
    let href = "{pulp_importer_href}";
    let import_href = "{pulp_pulp_import_href}";
    routes.route(
        IMPORTERS,
        get(list_importers).post(create_importer),
        [
            Operation::new("get", IMPORTERS, "importers_core_pulp_list", tag)
                .summary("List PulpImporters")
                .params(list_params(&["name", "pulp_created"]))
                .params(name_params())
                .response(200, Doc::Schema("PaginatedPulpImporterResponseList".into())),
            Operation::new("post", IMPORTERS, "importers_core_pulp_create", tag)
                .summary("Create a PulpImporter")
                .body(RequestBody::Schema("PulpImporter".into()))
                .response(201, Doc::Schema("PulpImporterResponse".into())),
        ],
    );
    let object = format!("{IMPORTERS}{{id}}/");
    routes.route(
        &object,
        get(read_importer)
            .put(update_importer)
            .patch(partial_update_importer)
            .delete(delete_importer),
        [
            Operation::new("get", href, "importers_core_pulp_read", tag)
                .summary("Inspect a PulpImporter")
                .params(field_params())
                .response(200, Doc::Schema("PulpImporterResponse".into())),
            Operation::new("put", href, "importers_core_pulp_update", tag)
                .summary("Update a PulpImporter")
                .body(RequestBody::Schema("PulpImporter".into()))
                .response(200, Doc::Schema("PulpImporterResponse".into())),
            Operation::new("patch", href, "importers_core_pulp_partial_update", tag)
                .summary("Update a PulpImporter")
                .body(RequestBody::Schema("PatchedPulpImporter".into()))
                .response(200, Doc::Schema("PulpImporterResponse".into())),
            Operation::new("delete", href, "importers_core_pulp_delete", tag)
                .summary("Delete a PulpImporter")
                .response(204, Doc::Empty),
        ],
    );
    routes.route(
        &format!("{IMPORTERS}{{id}}/imports/"),
        get(list_imports).post(create_import),
        [
            Operation::new(
                "get",
                &format!("{href}imports/"),
                "importers_core_pulp_imports_list",
                tag,
            )
            .summary("List PulpImports")
            .params(list_params(&["pulp_created"]))
            .response(200, Doc::Schema("PaginatedPulpImportResponseList".into())),
            Operation::new(
                "post",
                &format!("{href}imports/"),
                "importers_core_pulp_imports_create",
                tag,
            )
            .summary("Create a PulpImport")
            .body(RequestBody::Schema("PulpImport".into()))
            .response(202, Doc::Schema("TaskGroupOperationResponse".into())),
        ],
    );
    routes.route(
        &format!("{IMPORTERS}{{id}}/imports/{{import}}/"),
        get(read_import).delete(delete_import),
        [
            Operation::new("get", import_href, "importers_core_pulp_imports_read", tag)
                .summary("Inspect a PulpImport")
                .params(field_params())
                .response(200, Doc::Schema("PulpImportResponse".into())),
            Operation::new(
                "delete",
                import_href,
                "importers_core_pulp_imports_delete",
                tag,
            )
            .summary("Delete a PulpImport")
            .response(204, Doc::Empty),
        ],
    );
    let check = format!("{IMPORTERS}import-check/");
    routes.route(
        &check,
        post(import_check),
        [Operation::new(
            "post",
            &check,
            "pulp_import_check_post",
            "Importers: Pulp Import Check",
        )
        .summary("Validate the parameters to be used for a PulpImport call")
        .body(RequestBody::Schema("PulpImportCheck".into()))
        .response(200, Doc::Json)],
    );
}
