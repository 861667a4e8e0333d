//! `/uploads/`: chunked uploads. Each chunk is kept as a shared temporary file
//! (`tmp/<chunk id>` in the artifact storage, so any process on the same storage can read it)
//! and recorded in `core_uploadchunk`; committing assembles the chunks in order into an
//! artifact in a task (`pulpcore.app.tasks.upload.commit`).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde_json::{json, Value};

use super::generic::{page, task_response};
use super::list::{in_id_order, ordering, Page, Paging, QueryParams, SqlValue, SqlWhere};
use super::multipart::{check_length, part_stream, part_text, upload_limit};
use super::openapi::{
    field_params, list_params, FieldType, Operation, Param, ParamIn, RequestBody, Response as Doc,
};
use super::request::path_id;
use super::timestamp::format as ts;
use super::{base_url, parse_json, select_fields, ApiError, ApiRoutes, API_ROOT};
use crate::app::App;
use crate::db::PulpId;
use crate::models::{save_artifact, Artifact};
use crate::storage::{ChecksumType, ExpectedArtifact, StorageError};
use crate::tasking::{dispatch, DispatchRequest, TaskContext, TaskError, TaskOutput};

/// Pulp's name of the commit task (args `{"upload_pk", "sha256"}`).
pub const COMMIT_TASK: &str = "pulpcore.app.tasks.upload.commit";

/// Mounts `/uploads/`, documented.
pub(crate) fn mount(routes: &mut ApiRoutes) {
    let collection = format!("{API_ROOT}/uploads/");
    let object = format!("{API_ROOT}/uploads/{{id}}/");
    let common = json!({
        "pulp_href": {"type": "string", "format": "uri", "readOnly": true},
        "prn": {"type": "string", "readOnly": true, "description": "The Pulp Resource Name (PRN)."},
        "pulp_created": {"type": "string", "format": "date-time", "readOnly": true, "description": "Timestamp of creation."},
        "pulp_last_updated": {"type": "string", "format": "date-time", "readOnly": true, "description": "Timestamp of the last time this resource was updated."},
        "size": {"type": "integer", "format": "int64", "description": "The size of the upload in bytes."},
        "completed": {"type": ["string", "null"], "format": "date-time", "readOnly": true, "description": "Timestamp when upload is committed."},
    });
    let mut detail = common.clone();
    detail["chunks"] = json!({"type": "array", "readOnly": true, "items": {"$ref": "#/components/schemas/UploadChunkResponse"}});
    routes
        .raw_schema("Upload", json!({
            "type": "object", "description": "Serializer for chunked uploads.",
            "properties": {"size": {"type": "integer", "format": "int64", "description": "The size of the upload in bytes."}},
            "required": ["size"],
        }))
        .raw_schema("UploadResponse", json!({"type": "object", "description": "Serializer for chunked uploads.", "properties": common, "required": ["size"]}))
        .raw_schema("UploadDetailResponse", json!({"type": "object", "description": "Serializer for chunked uploads.", "properties": detail, "required": ["size"]}))
        .raw_schema("PaginatedUploadResponseList", json!({
            "type": "object", "required": ["count", "results"],
            "properties": {
                "count": {"type": "integer"},
                "next": {"type": ["string", "null"], "format": "uri"},
                "previous": {"type": ["string", "null"], "format": "uri"},
                "results": {"type": "array", "items": {"$ref": "#/components/schemas/UploadResponse"}},
            },
        }))
        .raw_schema("UploadChunk", json!({
            "type": "object",
            "properties": {
                "file": {"type": "string", "format": "binary", "writeOnly": true, "description": "A chunk of the uploaded file."},
                "sha256": {"type": ["string", "null"], "writeOnly": true, "minLength": 1, "description": "The SHA-256 checksum of the chunk if available."},
            },
            "required": ["file"],
        }))
        .raw_schema("UploadChunkResponse", json!({
            "type": "object",
            "properties": {
                "offset": {"type": "integer", "format": "int64", "readOnly": true},
                "size": {"type": "integer", "format": "int64", "readOnly": true},
            },
        }))
        .raw_schema("UploadCommit", json!({
            "type": "object",
            "properties": {"sha256": {"type": "string", "minLength": 1, "description": "The expected sha256 checksum for the file."}},
            "required": ["sha256"],
        }));
    let mut filters = list_params(&["pulp_created"]);
    filters.extend([
        Param::query(
            "size",
            FieldType::Integer,
            "Filter results where size matches value",
        ),
        Param::query(
            "size__gt",
            FieldType::Integer,
            "Filter results where size is greater than value",
        ),
        Param::query(
            "size__lt",
            FieldType::Integer,
            "Filter results where size is less than value",
        ),
    ]);
    filters.extend(crate::api::openapi::reference_filter_params());
    routes.route(
        &collection,
        get(list).post(create),
        [
            Operation::new("get", &collection, "uploads_list", "Uploads")
                .summary("List uploads")
                .params(filters)
                .response(200, Doc::Schema("PaginatedUploadResponseList".into())),
            Operation::new("post", &collection, "uploads_create", "Uploads")
                .summary("Create an upload")
                .body(RequestBody::Schema("Upload".into()))
                .response(201, Doc::Schema("UploadResponse".into())),
        ],
    );
    routes.route(
        &object,
        get(read)
            .put(update)
            .delete(delete)
            .layer(DefaultBodyLimit::disable()),
        [
            Operation::new("get", "{upload_href}", "uploads_read", "Uploads")
                .summary("Inspect an upload")
                .params(field_params())
                .response(200, Doc::Schema("UploadDetailResponse".into())),
            Operation::new("put", "{upload_href}", "uploads_update", "Uploads")
                .summary("Upload a file chunk")
                .params([Param {
                    name: "Content-Range".into(),
                    location: ParamIn::Header,
                    ty: FieldType::String,
                    description: "The Content-Range header specifies the location of the file chunk within the file.".into(),
                }])
                .body(RequestBody::Multipart("UploadChunk".into()))
                .response(200, Doc::Schema("UploadResponse".into())),
            Operation::new("delete", "{upload_href}", "uploads_delete", "Uploads")
                .summary("Delete an upload")
                .response(204, Doc::Empty),
        ],
    );
    routes.route(
        &format!("{object}commit/"),
        post(commit),
        [
            Operation::new("post", "{upload_href}commit/", "uploads_commit", "Uploads")
                .summary("Finish an Upload")
                .body(RequestBody::Schema("UploadCommit".into()))
                .response(202, Doc::Task),
        ],
    );
}

/// An upload row.
#[derive(Debug, Clone)]
struct Upload {
    pulp_id: PulpId,
    pulp_created: DateTime<Utc>,
    pulp_last_updated: DateTime<Utc>,
    size: i64,
}

type UploadRow = (PulpId, DateTime<Utc>, DateTime<Utc>, i64);

/// The href of upload `id`.
pub(crate) fn upload_href(id: PulpId) -> String {
    format!("{API_ROOT}/uploads/{id}/")
}

/// The id in an upload href, absolute URL or PRN.
pub(crate) fn upload_reference(reference: &str) -> Option<PulpId> {
    crate::api::list::core_object_reference(reference, "upload", "uploads")
}

fn response(upload: &Upload) -> Value {
    json!({
        "pulp_href": upload_href(upload.pulp_id),
        "prn": format!("prn:core.upload:{}", upload.pulp_id),
        "pulp_created": ts(&upload.pulp_created),
        "pulp_last_updated": ts(&upload.pulp_last_updated),
        "size": upload.size,
        "completed": null,
    })
}

async fn uploads(app: &App, ids: &[PulpId]) -> Result<Vec<Upload>, ApiError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut filter = SqlWhere::new(app.db().backend());
    filter.add_in(
        "pulp_id",
        ids.iter().map(|id| SqlValue::Id(Some(*id))).collect(),
    );
    let sql = format!(
        "SELECT pulp_id, pulp_created, pulp_last_updated, size FROM core_upload {}",
        filter.sql()
    );
    let rows: Vec<UploadRow> = crate::on_pool!(app.db(), pool => {
        crate::bind_values!(sqlx::query_as(&sql), filter.values()).fetch_all(pool).await?
    });
    Ok(rows
        .into_iter()
        .map(|(pulp_id, pulp_created, pulp_last_updated, size)| Upload {
            pulp_id,
            pulp_created,
            pulp_last_updated,
            size,
        })
        .collect())
}

/// The upload with this id, if any.
pub(crate) async fn exists(app: &App, id: PulpId) -> Result<bool, ApiError> {
    Ok(!uploads(app, &[id]).await?.is_empty())
}

async fn existing(app: &App, raw: &str) -> Result<Upload, ApiError> {
    uploads(app, &[path_id(raw)?])
        .await?
        .pop()
        .ok_or(ApiError::NotFound)
}

/// `(chunk id, offset, size)` of an upload's chunks, by offset.
async fn chunks(app: &App, upload: PulpId) -> Result<Vec<(PulpId, i64, i64)>, sqlx::Error> {
    let rows = crate::on_pool!(app.db(), pool => {
        sqlx::query_as(
            "SELECT pulp_id, \"offset\", size FROM core_uploadchunk WHERE upload_id = $1 \
             ORDER BY \"offset\", pulp_created",
        )
        .bind(upload)
        .fetch_all(pool)
        .await?
    });
    Ok(rows)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUpload {
    size: i64,
}

async fn create(State(app): State<App>, body: Bytes) -> Result<Response, ApiError> {
    let body: NewUpload = parse_json(&body)?;
    if body.size < 0 {
        return Err(ApiError::field(
            "size",
            "Ensure this value is greater than or equal to 0.",
        ));
    }
    let now = Utc::now();
    let upload = Upload {
        pulp_id: PulpId::new(),
        pulp_created: now,
        pulp_last_updated: now,
        size: body.size,
    };
    crate::on_pool!(app.db(), pool => {
        sqlx::query(
            "INSERT INTO core_upload (pulp_id, pulp_created, pulp_last_updated, pulp_domain, size, file) \
             VALUES ($1, $2, $2, 'default', $3, $4)",
        )
        .bind(upload.pulp_id)
        .bind(now)
        .bind(upload.size)
        .bind(format!("tmp/upload/{}", upload.pulp_id))
        .execute(pool)
        .await?;
    });
    let object = crate::rbac::ObjectRef {
        content_type: "core.upload".into(),
        object_id: upload.pulp_id.to_string(),
    };
    crate::rbac::object_created(app.db(), "uploads", &object).await?;
    Ok((StatusCode::CREATED, Json(response(&upload))).into_response())
}

async fn list(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    scope: Option<axum::Extension<crate::api::authorize::ListScope>>,
) -> Result<Response, ApiError> {
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let mut filter = SqlWhere::new(app.db().backend());
    crate::api::authorize::scope_list(scope.as_deref(), &mut filter, "m.pulp_id");
    for (param, clause) in [
        ("size", "m.size = ?"),
        ("size__gt", "m.size > ?"),
        ("size__lt", "m.size < ?"),
    ] {
        if let Some(raw_value) = query.get(param) {
            let n = raw_value
                .parse::<i64>()
                .map_err(|_| ApiError::field(param, "Enter a number."))?;
            filter.add(clause, [SqlValue::Int(Some(n))]);
        }
    }
    crate::api::list::reference_filters(
        &mut filter,
        &query,
        upload_reference,
        crate::api::list::BadIds::Ignore,
    )?;
    let order = ordering(
        &query,
        &[
            ("pk", "m.pulp_id"),
            ("pulp_id", "m.pulp_id"),
            ("pulp_created", "m.pulp_created"),
            ("pulp_last_updated", "m.pulp_last_updated"),
            ("size", "m.size"),
        ],
        "m.pulp_created, m.pulp_id",
    )?;
    let app = &app;
    let (count, results) = page(
        app,
        "core_upload m",
        &filter,
        &order,
        paging,
        |ids| async move {
            let found = uploads(app, &ids).await?;
            Ok(in_id_order(&ids, found, |u| u.pulp_id)
                .iter()
                .map(|u| select_fields(response(u), raw.as_deref()))
                .collect::<Vec<Value>>())
        },
    )
    .await?;
    let base = format!("{}{API_ROOT}/uploads/", base_url(&headers));
    Ok(Json(Page::new(results, count, paging, &base, &query)).into_response())
}

async fn read(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let upload = existing(&app, &id).await?;
    let mut value = response(&upload);
    value["chunks"] = chunks(&app, upload.pulp_id)
        .await?
        .into_iter()
        .map(|(_, offset, size)| json!({"offset": offset, "size": size}))
        .collect();
    Ok(Json(select_fields(value, raw.as_deref())).into_response())
}

/// `bytes start-end/total` → `(start, end)`.
fn content_range(headers: &HeaderMap) -> Result<(u64, u64), ApiError> {
    let invalid = || ApiError::BadRequest("Invalid or missing content range header.".into());
    let value = headers
        .get(axum::http::header::CONTENT_RANGE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(invalid)?;
    let range = value.trim().strip_prefix("bytes ").ok_or_else(invalid)?;
    let (span, total) = range.split_once('/').ok_or_else(invalid)?;
    if total != "*" && total.parse::<u64>().is_err() {
        return Err(invalid());
    }
    let (start, end) = span.split_once('-').ok_or_else(invalid)?;
    let start = start.trim().parse::<u64>().map_err(|_| invalid())?;
    let end = end.trim().parse::<u64>().map_err(|_| invalid())?;
    if end < start {
        return Err(invalid());
    }
    Ok((start, end))
}

async fn update(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let upload = existing(&app, &id).await?;
    let limit = upload_limit(&app);
    check_length(&headers, limit)?;
    let (start, end) = content_range(&headers)?;
    if end as i128 > upload.size as i128 - 1 {
        return Err(ApiError::field(
            "non_field_errors",
            "End byte is greater than upload size.",
        ));
    }
    let expected_len = end - start + 1;
    let mut multipart = Multipart::from_request(request, &app)
        .await
        .map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let mut saved = None;
    let mut sha256 = None;
    let mismatch = || {
        ApiError::field(
            "non_field_errors",
            "Chunk size does not match content range.",
        )
    };
    let result: Result<(), ApiError> = async {
        while let Some(field) = multipart.next_field().await.map_err(ApiError::from)? {
            match field.name().unwrap_or_default() {
                "file" if saved.is_none() => {
                    let cap = limit.map_or(expected_len, |l| l.min(expected_len));
                    let file = app
                        .storage()
                        .save_temporary(part_stream(field), Some(cap))
                        .await
                        .map_err(|e| match e {
                            StorageError::TooLarge { .. }
                                if limit.is_some_and(|l| l < expected_len) =>
                            {
                                ApiError::from(e)
                            }
                            StorageError::TooLarge { .. } => mismatch(),
                            other => ApiError::from(other),
                        })?;
                    saved = Some(file);
                }
                "file" => return Err(ApiError::field("file", "Only one file may be sent.")),
                "sha256" => sha256 = Some(part_text(field).await?),
                other => return Err(ApiError::field(other, "Unexpected field")),
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        discard(&app, saved.as_ref()).await;
        return Err(e);
    }
    let Some(file) = saved.clone() else {
        return Err(ApiError::field("file", "No file was submitted."));
    };
    if file.size != expected_len {
        discard(&app, saved.as_ref()).await;
        return Err(mismatch());
    }
    if let Some(expected) = sha256.filter(|s| !s.is_empty()) {
        if !expected.trim().eq_ignore_ascii_case(&file.sha256) {
            discard(&app, saved.as_ref()).await;
            return Err(ApiError::field(
                "non_field_errors",
                "Checksum does not match chunk upload.",
            ));
        }
    }
    // A chunk sent again for the same offset replaces the earlier one.
    let replaced: Vec<PulpId> = chunks(&app, upload.pulp_id)
        .await?
        .into_iter()
        .filter(|(_, offset, _)| *offset == start as i64)
        .map(|(id, _, _)| id)
        .collect();
    let now = Utc::now();
    let chunk_id = PulpId(file.id);
    let mut tx = app.db().begin_write().await?;
    crate::on_tx!(&mut tx, conn => {
        for old in &replaced {
            sqlx::query("DELETE FROM core_uploadchunk WHERE pulp_id = $1")
                .bind(*old)
                .execute(&mut *conn)
                .await?;
        }
        sqlx::query(
            "INSERT INTO core_uploadchunk (pulp_id, pulp_created, upload_id, \"offset\", size) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(chunk_id)
        .bind(now)
        .bind(upload.pulp_id)
        .bind(start as i64)
        .bind(file.size as i64)
        .execute(&mut *conn)
        .await?;
        sqlx::query("UPDATE core_upload SET pulp_last_updated = $2 WHERE pulp_id = $1")
            .bind(upload.pulp_id)
            .bind(now)
            .execute(&mut *conn)
            .await?;
    });
    tx.commit().await?;
    for old in replaced {
        let _ = app.storage().delete_temporary(old.0).await;
    }
    let upload = Upload {
        pulp_last_updated: now,
        ..upload
    };
    Ok(Json(response(&upload)).into_response())
}

async fn discard(app: &App, file: Option<&crate::storage::TemporaryFile>) {
    if let Some(file) = file {
        let _ = app.storage().delete_temporary(file.id).await;
    }
}

/// Deletes an upload and its chunks' files.
pub(crate) async fn delete_upload(app: &App, id: PulpId) -> Result<(), ApiError> {
    let parts = chunks(app, id).await?;
    crate::on_pool!(app.db(), pool => {
        sqlx::query("DELETE FROM core_upload WHERE pulp_id = $1")
            .bind(id)
            .execute(pool)
            .await?;
    });
    crate::rbac::forget_object(app.db(), &id.to_string()).await?;
    for (chunk, _, _) in parts {
        if let Err(e) = app.storage().delete_temporary(chunk.0).await {
            tracing::warn!(%chunk, error = %e, "cannot delete an upload chunk");
        }
    }
    Ok(())
}

async fn delete(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let upload = existing(&app, &id).await?;
    delete_upload(&app, upload.pulp_id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Commit {
    sha256: String,
}

async fn commit(
    State(app): State<App>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let upload = existing(&app, &id).await?;
    let body: Commit = parse_json(&body)?;
    if body.sha256.trim().is_empty() {
        return Err(ApiError::field("sha256", "This field may not be blank."));
    }
    let task = dispatch(
        &app,
        DispatchRequest::new(COMMIT_TASK)
            .args(json!({"upload_pk": upload.pulp_id, "sha256": body.sha256.trim().to_ascii_lowercase()}))
            .exclusive([upload_href(upload.pulp_id)]),
    )
    .await?;
    Ok(task_response(&task))
}

/// Why an upload could not be assembled.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AssembleError {
    /// No such upload.
    #[error("upload {0} does not exist")]
    Missing(PulpId),
    /// The chunks do not cover the upload exactly.
    #[error(
        "the chunks of upload {upload} do not cover its {size} bytes without gaps or overlaps"
    )]
    Incomplete {
        /// The upload.
        upload: PulpId,
        /// Its size.
        size: i64,
    },
    /// The assembled file is not the one expected.
    #[error("the uploaded file's sha256 is {actual}, not the expected {expected}")]
    Digest {
        /// Expected.
        expected: String,
        /// Received.
        actual: String,
    },
    /// Storage or database failure.
    #[error("{0}")]
    Other(String),
}

impl From<AssembleError> for TaskError {
    fn from(e: AssembleError) -> Self {
        TaskError::new(e.to_string())
    }
}

/// Assembles upload `id` (its chunks in order) into an artifact, verified against `sha256`
/// when given; the upload is deleted once the artifact is recorded.
pub(crate) async fn assemble(
    app: &App,
    id: PulpId,
    sha256: Option<&str>,
) -> Result<Artifact, AssembleError> {
    let upload = uploads(app, &[id])
        .await
        .map_err(other)?
        .pop()
        .ok_or(AssembleError::Missing(id))?;
    let parts = chunks(app, id).await.map_err(other)?;
    let mut next = 0i64;
    for (_, offset, size) in &parts {
        if *offset != next {
            break;
        }
        next += size;
    }
    if next != upload.size || parts.iter().map(|(_, _, s)| s).sum::<i64>() != upload.size {
        return Err(AssembleError::Incomplete {
            upload: id,
            size: upload.size,
        });
    }
    let storage = app.storage().clone();
    let store = storage.object_store();
    let keys: Vec<_> = parts
        .iter()
        .map(|(chunk, _, _)| storage.key(&format!("tmp/{chunk}")))
        .collect();
    // The chunks are read one after the other by a task feeding a channel.
    let (mut sender, stream) = futures::channel::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    tokio::spawn(async move {
        use futures::SinkExt;
        for key in keys {
            let mut body = match store.get(&key).await {
                Ok(result) => result.into_stream(),
                Err(e) => {
                    let _ = sender.send(Err(std::io::Error::other(e))).await;
                    return;
                }
            };
            while let Some(item) = body.next().await {
                let failed = item.is_err();
                if sender
                    .send(item.map_err(std::io::Error::other))
                    .await
                    .is_err()
                    || failed
                {
                    return;
                }
            }
        }
    });
    let mut expected = ExpectedArtifact::any().with_size(upload.size as u64);
    if let Some(sha256) = sha256 {
        expected = expected.with_digest(ChecksumType::Sha256, sha256);
    }
    let stored = storage
        .ingest_stream(stream, &expected)
        .await
        .map_err(|e| match e {
            StorageError::DigestMismatch {
                expected, actual, ..
            } => AssembleError::Digest { expected, actual },
            other => AssembleError::Other(other.to_string()),
        })?;
    let artifact = save_artifact(app.db(), &stored).await.map_err(other)?;
    super::artifacts::touch(app, artifact.pulp_id)
        .await
        .map_err(other)?;
    delete_upload(app, id).await.map_err(other)?;
    Ok(artifact)
}

fn other(e: impl std::fmt::Display) -> AssembleError {
    AssembleError::Other(e.to_string())
}

#[derive(serde::Deserialize)]
struct CommitArgs {
    upload_pk: PulpId,
    sha256: String,
}

/// `pulpcore.app.tasks.upload.commit`: the upload's chunks become an artifact (in
/// `created_resources`), verified against the sha256 given.
pub async fn commit_task(ctx: TaskContext) -> TaskOutput {
    let args: CommitArgs = ctx.parse_args()?;
    let artifact = assemble(ctx.app(), args.upload_pk, Some(&args.sha256)).await?;
    ctx.add_created_resource(artifact.pulp_href());
    Ok(None)
}
