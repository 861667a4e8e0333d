//! `/artifacts/`: list with Pulp's filters, upload (multipart, streamed to storage), read and
//! delete of artifacts no content uses.

use std::collections::BTreeMap;

use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Json;
use serde_json::{json, Value};

use super::generic::page;
use super::generic::refs::parse_version;
use super::list::{in_id_order, ordering, Page, Paging, QueryParams, SqlValue, SqlWhere};
use super::multipart::{check_length, part_stream, part_text, upload_limit};
use super::openapi::{
    field_params, list_params, Field, FieldType, Operation, Param, RequestBody, Response as Doc,
    Schema,
};
use super::request::path_id;
use super::{base_url, select_fields, ApiError, ApiRoutes, API_ROOT};
use crate::app::App;
use crate::db::PulpId;
use crate::models::{artifacts_by_id, find_artifact, save_artifact, Artifact};
use crate::storage::{ChecksumType, ExpectedArtifact};

/// Mounts `/artifacts/`, documented.
pub(crate) fn mount(routes: &mut ApiRoutes) {
    let collection = format!("{API_ROOT}/artifacts/");
    let digest = |name: &str| {
        Field::new(name, FieldType::String)
            .nullable()
            .doc(&format!("The {name} checksum of the file if available."))
    };
    let mut fields = vec![
        Field::new("pulp_href", FieldType::Href).read_only(),
        Field::new("prn", FieldType::String)
            .read_only()
            .doc("The Pulp Resource Name (PRN)."),
        Field::new("pulp_created", FieldType::DateTime)
            .read_only()
            .doc("Timestamp of creation."),
        Field::new("pulp_last_updated", FieldType::DateTime)
            .read_only()
            .doc("Timestamp of the last time this resource was updated."),
        Field::new("file", FieldType::String)
            .required()
            .doc("The stored file."),
        Field::new("size", FieldType::Integer).doc("The size of the file in bytes."),
    ];
    fields.extend(ChecksumType::ALL.iter().map(|k| digest(k.as_str())));
    let schema = Schema::new("Artifact", fields);
    routes.schema(&schema, false).page_schema(&schema);
    // In requests `file` is the uploaded part, not the storage path.
    let mut properties = serde_json::Map::new();
    properties.insert(
        "file".into(),
        json!({"type": "string", "format": "binary", "description": "The stored file."}),
    );
    properties.insert(
        "size".into(),
        json!({"type": "integer", "format": "int64", "description": "The size of the file in bytes."}),
    );
    for kind in ChecksumType::ALL {
        properties.insert(
            kind.as_str().into(),
            json!({"type": ["string", "null"], "minLength": 1,
                   "description": format!("The {} checksum of the file if available.", kind.as_str())}),
        );
    }
    routes.raw_schema(
        "Artifact",
        json!({"type": "object", "properties": properties, "required": ["file"]}),
    );

    let mut filters = list_params(&["pulp_created"]);
    for kind in ChecksumType::ALL {
        filters.push(Param::query(
            kind.as_str(),
            FieldType::String,
            &format!("Filter results where {} matches value", kind.as_str()),
        ));
    }
    filters.extend([
        Param::query(
            "repository_version",
            FieldType::Href,
            "Repository Version referenced by HREF/PRN",
        ),
        Param::query(
            "orphaned_for",
            FieldType::Number,
            "Minutes Artifacts have been orphaned for. -1 uses ORPHAN_PROTECTION_TIME.",
        ),
    ]);
    filters.extend(crate::api::openapi::reference_filter_params());
    routes.route(
        &collection,
        get(list).post(create).layer(DefaultBodyLimit::disable()),
        [
            Operation::new("get", &collection, "artifacts_list", "Artifacts")
                .summary("List artifacts")
                .params(filters)
                .response(200, Doc::Schema(schema.page_name())),
            Operation::new("post", &collection, "artifacts_create", "Artifacts")
                .summary("Create an artifact")
                .body(RequestBody::Multipart("Artifact".into()))
                .response(201, Doc::Schema(schema.response_name())),
        ],
    );
    routes.route(
        &format!("{API_ROOT}/artifacts/{{id}}/"),
        get(read).delete(delete),
        [
            Operation::new("get", "{artifact_href}", "artifacts_read", "Artifacts")
                .summary("Inspect an artifact")
                .params(field_params())
                .response(200, Doc::Schema(schema.response_name())),
            Operation::new("delete", "{artifact_href}", "artifacts_delete", "Artifacts")
                .summary("Delete an artifact")
                .response(204, Doc::Empty),
        ],
    );
}

const ORDERING: &[(&str, &str)] = &[
    ("pk", "m.pulp_id"),
    ("pulp_id", "m.pulp_id"),
    ("pulp_created", "m.pulp_created"),
    ("pulp_last_updated", "m.pulp_last_updated"),
    ("timestamp_of_interest", "m.pulp_created"),
    ("file", "m.file"),
    ("size", "m.size"),
    ("md5", "m.md5"),
    ("sha1", "m.sha1"),
    ("sha224", "m.sha224"),
    ("sha256", "m.sha256"),
    ("sha384", "m.sha384"),
    ("sha512", "m.sha512"),
];

/// The path of an href or absolute URL (`http://host/pulp/…` → `/pulp/…`).
pub(crate) fn url_path(reference: &str) -> &str {
    match reference.find("://") {
        Some(i) => {
            let rest = &reference[i + 3..];
            rest.find('/').map(|j| &rest[j..]).unwrap_or("")
        }
        None => reference,
    }
}

/// The id in an artifact href, absolute URL or PRN.
pub(crate) fn artifact_reference(reference: &str) -> Option<PulpId> {
    if let Some(id) = reference.strip_prefix("prn:core.artifact:") {
        return uuid::Uuid::parse_str(id).ok().map(PulpId);
    }
    crate::models::artifact_id_from_href(url_path(reference))
}

/// Marks an artifact as just used, so that orphan cleanup leaves it alone for the
/// protection time (Pulp's `timestamp_of_interest`).
pub(crate) async fn touch(app: &App, id: PulpId) -> Result<(), ApiError> {
    crate::on_pool!(app.db(), pool => {
        sqlx::query("UPDATE core_artifact SET pulp_last_updated = $2 WHERE pulp_id = $1")
            .bind(id)
            .bind(chrono::Utc::now())
            .execute(pool)
            .await?;
    });
    Ok(())
}

/// The artifact with this id.
pub(crate) async fn artifact(app: &App, id: PulpId) -> Result<Option<Artifact>, ApiError> {
    Ok(artifacts_by_id(app.db(), &[id]).await?.pop())
}

async fn list(
    State(app): State<App>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let query = QueryParams::parse(raw.as_deref());
    let paging = Paging::from_query(&query)?;
    let mut filter = SqlWhere::new(app.db().backend());
    filter.add(
        "m.pulp_domain = ?",
        [SqlValue::Text(Some("default".into()))],
    );
    for kind in ChecksumType::ALL {
        if let Some(value) = query.get(kind.as_str()) {
            filter.add(
                &format!("m.{} = ?", kind.as_str()),
                [SqlValue::Text(Some(value.to_ascii_lowercase()))],
            );
        }
    }
    crate::api::list::reference_filters(
        &mut filter,
        &query,
        artifact_reference,
        crate::api::list::BadIds::Refuse,
    )?;
    if let Some(reference) = query.get("repository_version") {
        let (repository, number) = parse_version(&app, reference).ok_or_else(|| {
            ApiError::field("repository_version", "Invalid hyperlink - No URL match.")
        })?;
        filter.add(
            "m.pulp_id IN (SELECT ca.artifact_id FROM core_contentartifact ca \
             JOIN core_repositorycontent rc ON rc.content_id = ca.content_id \
             WHERE rc.repository_id = ? AND rc.version_added <= ? \
             AND (rc.version_removed IS NULL OR rc.version_removed > ?))",
            [
                SqlValue::Id(Some(repository)),
                SqlValue::Int(Some(number)),
                SqlValue::Int(Some(number)),
            ],
        );
    }
    if let Some(raw_minutes) = query.get("orphaned_for") {
        let minutes = raw_minutes
            .parse::<f64>()
            .ok()
            .filter(|m| m.is_finite() && *m >= -1.0)
            .ok_or_else(|| ApiError::field("orphaned_for", "Enter a number."))?;
        let minutes = if minutes == -1.0 {
            app.settings().orphan_protection_time as f64
        } else {
            minutes
        };
        let cutoff = chrono::Utc::now() - chrono::Duration::seconds((minutes * 60.0) as i64);
        filter.add(
            "NOT EXISTS (SELECT 1 FROM core_contentartifact ca WHERE ca.artifact_id = m.pulp_id) \
             AND NOT EXISTS (SELECT 1 FROM core_publishedmetadata pm WHERE pm.artifact_id = m.pulp_id) \
             AND m.pulp_last_updated < ?",
            [SqlValue::Time(Some(cutoff))],
        );
    }
    let order = ordering(&query, ORDERING, "m.pulp_created, m.pulp_id")?;
    let app = &app;
    let (count, results) = page(
        app,
        "core_artifact m",
        &filter,
        &order,
        paging,
        |ids| async move {
            let found = artifacts_by_id(app.db(), &ids).await?;
            Ok(in_id_order(&ids, found, |a| a.pulp_id)
                .iter()
                .map(|a| select_fields(a.to_response(), raw.as_deref()))
                .collect::<Vec<Value>>())
        },
    )
    .await?;
    let base = format!("{}{API_ROOT}/artifacts/", base_url(&headers));
    Ok(Json(Page::new(results, count, paging, &base, &query)).into_response())
}

async fn read(
    State(app): State<App>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let artifact = artifact(&app, path_id(&id)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(select_fields(artifact.to_response(), raw.as_deref())).into_response())
}

/// What the client said about the file besides sending it.
fn expectations(fields: BTreeMap<String, String>) -> Result<ExpectedArtifact, ApiError> {
    let mut expected = ExpectedArtifact::any();
    for (name, value) in fields {
        if name == "size" {
            let size = value
                .trim()
                .parse::<u64>()
                .map_err(|_| ApiError::field("size", "A valid integer is required."))?;
            expected = expected.with_size(size);
        } else if let Ok(kind) = name.parse::<ChecksumType>() {
            if !value.is_empty() {
                expected = expected.with_digest(kind, value.trim());
            }
        } else {
            return Err(ApiError::field(&name, "Unexpected field"));
        }
    }
    Ok(expected)
}

async fn create(
    State(app): State<App>,
    headers: HeaderMap,
    request: Request,
) -> Result<Response, ApiError> {
    let limit = upload_limit(&app);
    check_length(&headers, limit)?;
    let mut multipart = Multipart::from_request(request, &app)
        .await
        .map_err(|e| ApiError::BadRequest(e.body_text()))?;
    let mut received = None;
    let mut fields = BTreeMap::new();
    while let Some(field) = multipart.next_field().await.map_err(ApiError::from)? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "file" {
            if received.is_some() {
                return Err(ApiError::field("file", "Only one file may be sent."));
            }
            let file = app
                .storage()
                .receive(part_stream(field), limit)
                .await
                .map_err(ApiError::from)?;
            received = Some(file);
        } else {
            fields.insert(name, part_text(field).await?);
        }
    }
    let received = received.ok_or_else(|| ApiError::field("file", "No file was submitted."))?;
    let expected = expectations(fields)?;
    if let Some(size) = expected.size {
        if size != received.size() {
            return Err(ApiError::field(
                "size",
                "The size did not match actual size of file.",
            ));
        }
    }
    for (kind, value) in &expected.digests {
        let allowed = app.storage().allowed_checksums().types().contains(kind);
        if !allowed {
            return Err(ApiError::field(
                kind.as_str(),
                format!(
                    "Checksum algorithm {} forbidden for this Pulp instance.",
                    kind.as_str()
                ),
            ));
        }
        if received.digests().get(kind) != Some(value) {
            return Err(ApiError::field(
                kind.as_str(),
                format!("The {} checksum did not match.", kind.as_str()),
            ));
        }
    }
    let sha256 = received
        .digests()
        .get(&ChecksumType::Sha256)
        .cloned()
        .unwrap_or_default();
    if find_artifact(app.db(), &sha256).await?.is_some() {
        return Err(ApiError::field(
            "non_field_errors",
            format!("Artifact with sha256 checksum of '{sha256}' already exists."),
        ));
    }
    let stored = app
        .storage()
        .commit_received(received, &ExpectedArtifact::any())
        .await
        .map_err(ApiError::from)?;
    let artifact = save_artifact(app.db(), &stored).await?;
    Ok((StatusCode::CREATED, Json(artifact.to_response())).into_response())
}

/// Whether content or published metadata use the artifact.
async fn in_use(app: &App, id: PulpId) -> Result<bool, ApiError> {
    let n: i64 = crate::on_pool!(app.db(), pool => {
        sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM core_contentartifact WHERE artifact_id = $1) \
             + (SELECT COUNT(*) FROM core_publishedmetadata WHERE artifact_id = $1)",
        )
        .bind(id)
        .fetch_one(pool)
        .await?
    });
    Ok(n > 0)
}

async fn delete(State(app): State<App>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let artifact = artifact(&app, path_id(&id)?)
        .await?
        .ok_or(ApiError::NotFound)?;
    let conflict = || {
        ApiError::Conflict(
            "The Artifact cannot be deleted because it is associated with Content.".into(),
        )
    };
    if in_use(&app, artifact.pulp_id).await? {
        return Err(conflict());
    }
    let deleted = crate::on_pool!(app.db(), pool => {
        sqlx::query(
            "DELETE FROM core_artifact WHERE pulp_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM core_contentartifact WHERE artifact_id = $1) \
             AND NOT EXISTS (SELECT 1 FROM core_publishedmetadata WHERE artifact_id = $1)",
        )
        .bind(artifact.pulp_id)
        .execute(pool)
        .await?
        .rows_affected()
    });
    if deleted == 0 {
        return Err(conflict());
    }
    app.storage()
        .delete_artifact(artifact.sha256())
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
